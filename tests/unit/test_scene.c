#include "scene/clips.h"
#include "scene/content.h"
#include "scene/detect.h"
#include "scene/dissolve.h"
#include "scene/fade.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* Golden values from OpenCV 4.6 cvtColor(COLOR_RGB2HSV); our conversion also matched it on 262,144
 * random and gridded pixels when written. */
Test(scene, hsv_matches_opencv)
{
	static const uint8_t cases[][2][3] = {
	    {{255, 0, 0}, {0, 255, 255}},    {{0, 255, 0}, {60, 255, 255}},    {{0, 0, 255}, {120, 255, 255}},
	    {{10, 20, 30}, {105, 170, 30}},  {{200, 100, 50}, {10, 191, 200}}, {{128, 128, 128}, {0, 0, 128}},
	    {{1, 0, 0}, {0, 255, 1}},        {{255, 254, 0}, {30, 255, 255}},  {{0, 0, 0}, {0, 0, 0}},
	    {{37, 201, 90}, {70, 208, 201}},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t hsv[3];
		sora_rgb_to_hsv(cases[i][0], 3, 1, 1, hsv);
		cr_expect(!memcmp(hsv, cases[i][1], 3), "case %zu: got %d %d %d", i, hsv[0], hsv[1], hsv[2]);
	}
}

Test(scene, content_score_is_mean_of_hsv_deltas)
{
	/* Two pixels: red vs blue, and equal gray: dH = 120/2, dS = 0, dV = 0 per pixel pair mean. */
	uint8_t a[6] = {255, 0, 0, 9, 9, 9}, b[6] = {0, 0, 255, 9, 9, 9}, ha[6], hb[6];
	sora_rgb_to_hsv(a, 6, 2, 1, ha);
	sora_rgb_to_hsv(b, 6, 2, 1, hb);
	cr_expect_float_eq(sora_content_score(ha, hb, 2), 60.0 / 3.0, 1e-12);
	cr_expect_float_eq(sora_rgb_mean(a, 6, 2, 1), (255.0 + 27.0) / 6.0, 1e-12);
}

static double *scores(int64_t n, const int64_t *at, const double *val, int k)
{
	double *s = calloc((size_t)n, sizeof *s);
	for (int64_t i = 1; i < n; i++)
		s[i] = 2.0 + (double)(i % 3); /* steady motion */
	for (int i = 0; i < k; i++)
		s[at[i]] = val[i];
	return s;
}

Test(scene, content_threshold_and_min_scene_len)
{
	int64_t at[] = {10, 40, 48, 90};
	double val[] = {30, 30, 30, 26.9};
	double *s = scores(120, at, val, 4);
	sora_cuts c = {0};
	sora_err e;
	cr_assert_eq(sora_detect_content(s, 120, 27, 15, &c, &e), 0);
	/* 10: too soon after the start; 40: a cut; 48: 8 frames later, merged (MERGE: the burst's last
	 * frame is emitted once 15 quiet frames passed and the burst spans 15 frames, which 40..48 does
	 * not); 90: below threshold. */
	cr_expect_eq(c.n, 1);
	cr_expect_eq(c.v[0], 40);
	sora_cuts_free(&c);
	cr_assert_eq(sora_detect_content(s, 120, 27, 0, &c, &e), 0);
	cr_expect_eq(c.n, 3, "min_scene_len 0: every frame above the threshold");
	sora_cuts_free(&c);
	free(s);
}

Test(scene, adaptive_ratio_and_min_content)
{
	int64_t at[] = {30, 60, 61, 100};
	double val[] = {40, 40, 40, 12};
	double *s = scores(130, at, val, 4);
	sora_cuts c = {0};
	sora_err e;
	sora_adaptive_opts o = {.ratio = 3, .min_content = 15, .window = 2, .min_len = 15};
	cr_assert_eq(sora_detect_adaptive(s, 130, &o, &c, &e), 0);
	/* 30: ratio 40/3 = 13; 60 and 61 are each other's neighbours (ratio ~3.5 for 60, then 61 is too
	 * close); 100: under min_content. */
	cr_expect_eq(c.n, 2);
	cr_expect_eq(c.v[0], 30);
	cr_expect_eq(c.v[1], 60);
	sora_cuts_free(&c);
	free(s);
}

Test(scene, fade_covers_the_ramps_and_cuts_mid_black)
{
	double m[40];
	for (int i = 0; i < 40; i++)
		m[i] = 100;
	for (int i = 10; i < 15; i++)
		m[i] = 100 - 20.0 * (i - 9); /* 80 60 40 20 0 */
	for (int i = 15; i < 20; i++)
		m[i] = 0;
	for (int i = 20; i < 24; i++)
		m[i] = 25.0 * (i - 19); /* 25 50 75 100 */
	sora_transitions t = {0};
	sora_err e;
	cr_assert_eq(sora_detect_fades(m, 40, 12, 100, &t, &e), 0);
	cr_assert_eq(t.n, 1);
	cr_expect_eq(t.v[0].start, 9);
	cr_expect_eq(t.v[0].end, 24);
	cr_expect_eq(t.v[0].cut, 14 + 3);
	cr_expect_eq(t.v[0].kind, SORA_TR_FADE);
	sora_transitions_free(&t);
}

Test(scene, dissolve_found_cut_and_still_are_not)
{
	sora_dissolve_opts o = {.tw = 4, .th = 4, .k = 3, .min_diff = 20, .max_ratio = 0.25, .min_run = 3};
	sora_dissolve *d;
	sora_err e;
	cr_assert_eq(sora_dissolve_open(&d, &o, &e), 0);
	/* 0-19 still at 20, 20-39 a linear blend to 200, 40-59 still, 60 a hard cut to 0, 61-80 still. */
	for (int i = 0; i < 81; i++) {
		uint8_t th[16];
		int v = i < 20 ? 20 : i < 40 ? 20 + (180 * (i - 19)) / 21 : i < 60 ? 200 : 0;
		for (int p = 0; p < 16; p++)
			th[p] = (uint8_t)(p & 1 ? v : v / 2);
		cr_assert_eq(sora_dissolve_push(d, th, &e), 0);
	}
	sora_transitions t = {0};
	cr_assert_eq(sora_dissolve_finish(d, &t, &e), 0);
	cr_assert_eq(t.n, 1);
	cr_expect(t.v[0].start <= 20 && t.v[0].start >= 16, "start %lld", (long long)t.v[0].start);
	cr_expect(t.v[0].end >= 40 && t.v[0].end <= 44, "end %lld", (long long)t.v[0].end);
	cr_expect_eq(t.v[0].kind, SORA_TR_DISSOLVE);
	sora_transitions_free(&t);
	sora_dissolve_close(d);
}

/* 100 frames at 10 fps: frame i at i / 10 s. */
static double pts[100];
static void init_pts(void)
{
	for (int i = 0; i < 100; i++)
		pts[i] = i / 10.0;
}

Test(scene, clips_from_cuts_and_transitions, .init = init_pts)
{
	sora_cuts c = {0};
	sora_transitions t = {0};
	sora_clips k = {0};
	sora_err e;
	sora_cuts_push(&c, 30, &e);
	sora_cuts_push(&c, 55, &e); /* inside the dissolve: dropped */
	sora_transitions_push(
	    &t, (sora_transition){.start = 50, .end = 60, .cut = 55, .kind = SORA_TR_DISSOLVE}, &e);
	sora_transitions_push(&t, (sora_transition){.start = 52, .end = 65, .cut = 58, .kind = SORA_TR_FADE},
			      &e);
	sora_transitions_push(&t, (sora_transition){.start = 0, .end = 5, .cut = 2, .kind = SORA_TR_FADE},
			      &e);
	sora_clip_opts o = {.min_sec = 2.0};
	cr_assert_eq(sora_make_clips(100, pts, 10.0, &c, &t, &o, &k, &e), 0);
	cr_assert_eq(k.n, 3);
	cr_expect(k.v[0].start == 5 && k.v[0].end == 30 && k.v[0].before == SORA_TR_FADE &&
		  k.v[0].after == SORA_TR_CUT);
	cr_expect(k.v[1].start == 30 && k.v[1].end == 50 && k.v[1].after == SORA_TR_FADE &&
		  !k.v[1].too_short);
	cr_expect(k.v[2].start == 65 && k.v[2].end == 100 && k.v[2].end_sec == 10.0 &&
		  k.v[2].after == SORA_TR_NONE);
	cr_expect(k.v[0].index == 0 && k.v[2].index == 2);
	sora_clips_free(&k);

	/* Kept transitions: one cut at the merged transition's cut point; the leading fade stays in. */
	o.keep_transitions = 1;
	cr_assert_eq(sora_make_clips(100, pts, 10.0, &c, &t, &o, &k, &e), 0);
	cr_assert_eq(k.n, 3);
	cr_expect(k.v[0].start == 0 && k.v[0].end == 30 && k.v[0].before == SORA_TR_FADE);
	cr_expect(k.v[1].end == 58 && k.v[2].start == 58);
	sora_clips_free(&k);
	sora_cuts_free(&c);
	sora_transitions_free(&t);
}

Test(scene, clips_trim_chunk_and_filter, .init = init_pts)
{
	sora_cuts c = {0};
	sora_transitions t = {0};
	sora_clips k = {0};
	sora_err e;
	sora_cuts_push(&c, 15, &e);
	sora_clip_opts o = {.min_sec = 1.0, .max_sec = 3.0, .trim_sec = 0.2};
	cr_assert_eq(sora_make_clips(100, pts, 10.0, &c, &t, &o, &k, &e), 0);
	/* [0,15) trimmed to [2,13): 1.1 s. [15,100) trimmed to [17,98) = 8.1 s: chunks of 3, 3, 2.1 s. */
	cr_assert_eq(k.n, 4);
	cr_expect(k.v[0].start == 2 && k.v[0].end == 13 && !k.v[0].too_short);
	cr_expect(k.v[1].start == 17 && k.v[1].end == 47 && k.v[1].before == SORA_TR_CUT &&
		  k.v[1].after == SORA_TR_NONE);
	cr_expect(k.v[2].start == 47 && k.v[2].end == 77 && k.v[2].before == SORA_TR_NONE);
	cr_expect(k.v[3].start == 77 && k.v[3].end == 98 && k.v[3].after == SORA_TR_NONE);
	sora_clips_free(&k);
	o.min_sec = 2.5;
	cr_assert_eq(sora_make_clips(100, pts, 10.0, &c, &t, &o, &k, &e), 0);
	cr_expect(k.v[0].too_short && !k.v[1].too_short && k.v[3].too_short);
	sora_clips_free(&k);
	sora_cuts_free(&c);
}
