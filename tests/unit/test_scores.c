#include "score/freeze.h"
#include "score/luma.h"
#include "score/scores.h"

#include <criterion/criterion.h>
#include <libavutil/pixfmt.h>
#include <string.h>

Test(scores, names)
{
	unsigned m;
	sora_err e;
	cr_expect_eq(sora_scores_parse("vmafmotion,blur,brightness", &m, &e), 0);
	cr_expect_eq(m, SORA_SCORE_VMAFMOTION | SORA_SCORE_BLUR | SORA_SCORE_BRIGHTNESS);
	cr_expect_eq(sora_scores_parse("freeze,black,flow,flow", &m, &e), 0);
	cr_expect_eq(m, SORA_SCORE_FREEZE | SORA_SCORE_BLACK | SORA_SCORE_FLOW);
	const char *bad[] = {"", "aes", "vmafmotion,", ",blur", "blur,,flow", "Blur", "vmafmotionx"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		cr_expect_lt(sora_scores_parse(bad[i], &m, &e), 0, "'%s'", bad[i]);
		cr_expect(strstr(e.msg, "unknown score"), "%s", e.msg);
	}
}

/* blackdetect's pixel threshold: 16 + 0.1 * 219 truncated for limited range, 0.1 * 255 for yuvj, scaled
 * by 4 at 10 bits. */
Test(scores, black_thresholds)
{
	sora_luma_fmt f;
	sora_err e;
	cr_assert_eq(sora_luma_fmt_get(&f, AV_PIX_FMT_YUV420P, 0.10, &e), 0);
	cr_expect_eq(f.threshold, 37);
	cr_expect_eq(f.depth, 8);
	cr_assert_eq(sora_luma_fmt_get(&f, AV_PIX_FMT_YUVJ420P, 0.10, &e), 0);
	cr_expect_eq(f.threshold, 25);
	cr_assert_eq(sora_luma_fmt_get(&f, AV_PIX_FMT_YUV420P10LE, 0.10, &e), 0);
	cr_expect_eq(f.threshold, 151);
	cr_expect_eq(f.depth, 10);
	cr_assert_eq(sora_luma_fmt_get(&f, AV_PIX_FMT_NV12, 0.10, &e), 0);
	cr_expect_lt(sora_luma_fmt_get(&f, AV_PIX_FMT_RGB24, 0.10, &e), 0);
	cr_expect(strstr(e.msg, "rgb24"), "%s", e.msg);
	cr_expect_lt(sora_luma_fmt_get(&f, AV_PIX_FMT_YUYV422, 0.10, &e), 0);

	uint8_t px[2][4] = {{0, 37, 38, 255}, {16, 16, 200, 36}};
	uint64_t sum, black;
	cr_assert_eq(sora_luma_fmt_get(&f, AV_PIX_FMT_GRAY8, 0.10, &e), 0);
	sora_luma_stats(&f, &px[0][0], 4, 4, 2, &sum, &black);
	cr_expect_eq(sum, 0 + 37 + 38 + 255 + 16 + 16 + 200 + 36);
	cr_expect_eq(black, 5);
}

/* Gray 4x2 frames at 10 fps: value v everywhere. */
static void push(sora_freeze *f, uint8_t v, double t)
{
	uint8_t px[8];
	memset(px, v, sizeof px);
	uint8_t *data[4] = {px, NULL, NULL, NULL};
	const int ls[4] = {4, 0, 0, 0};
	sora_freeze_push(f, data, ls, t);
}

Test(scores, freeze_runs_as_freezedetect_reports_them)
{
	sora_freeze *f;
	sora_err e;
	/* Still frames 2..11 (1 s from the reference at 0.2 to the next change at 1.2): reported with d = 1.
	 */
	cr_assert_eq(sora_freeze_open(&f, AV_PIX_FMT_GRAY8, 4, 2, 0.001, 1.0, &e), 0, "%s", e.msg);
	push(f, 0, 0.0);
	push(f, 50, 0.1);
	for (int i = 2; i < 12; i++)
		push(f, 100, i / 10.0);
	push(f, 150, 1.2);
	push(f, 200, 1.3);
	cr_expect_float_eq(sora_freeze_ratio(f), 10 / 14.0, 1e-12);
	sora_freeze_close(f);

	/* The same run at the end of the clip lasts only 0.9 s by timestamps: not reported. */
	cr_assert_eq(sora_freeze_open(&f, AV_PIX_FMT_GRAY8, 4, 2, 0.001, 1.0, &e), 0);
	push(f, 0, 0.0);
	push(f, 50, 0.1);
	for (int i = 2; i < 12; i++)
		push(f, 100, i / 10.0);
	cr_expect_eq(sora_freeze_ratio(f), 0);
	push(f, 100, 1.2);
	cr_expect_float_eq(sora_freeze_ratio(f), 11 / 13.0, 1e-12);
	sora_freeze_close(f);

	/* Noise: a change of 1/256 of the range is above n = 0.001, so nothing is frozen. */
	cr_assert_eq(sora_freeze_open(&f, AV_PIX_FMT_GRAY8, 4, 2, 0.001, 0.5, &e), 0);
	for (int i = 0; i < 10; i++)
		push(f, (uint8_t)i, i / 10.0);
	cr_expect_eq(sora_freeze_ratio(f), 0);
	sora_freeze_close(f);
	/* With n = 0.04 the same drift is still: every frame stays within n of the first (9/256). */
	cr_assert_eq(sora_freeze_open(&f, AV_PIX_FMT_GRAY8, 4, 2, 0.04, 0.5, &e), 0);
	for (int i = 0; i < 10; i++)
		push(f, (uint8_t)i, i / 10.0);
	cr_expect_eq(sora_freeze_ratio(f), 1);
	sora_freeze_close(f);
}
