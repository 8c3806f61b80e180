#include "io/image_prep.h"
#include "io/safetensors.h"
#include "io/video.h"
#include "score/aes.h"
#include "score/freeze.h"
#include "score/luma.h"
#include "score/scores.h"

#include "expect.h"

#include <libavutil/pixfmt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

Test(scores, names)
{
	unsigned m;
	sora_err e;
	cr_expect_eq(sora_scores_parse("vmafmotion,blur,brightness", &m, &e), 0);
	cr_expect_eq(m, SORA_SCORE_VMAFMOTION | SORA_SCORE_BLUR | SORA_SCORE_BRIGHTNESS);
	cr_expect_eq(sora_scores_parse("freeze,black,flow,flow", &m, &e), 0);
	cr_expect_eq(m, SORA_SCORE_FREEZE | SORA_SCORE_BLACK | SORA_SCORE_FLOW);
	cr_expect_eq(sora_scores_parse("aes,blur", &m, &e), 0);
	cr_expect_eq(m, SORA_SCORE_AES | SORA_SCORE_BLUR);
	const char *bad[] = {"", "aesthetic", "vmafmotion,", ",blur", "blur,,flow", "Blur", "vmafmotionx"};
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

/* ---- aes ---- */

/* Open-Sora's extract_frames: int(p · n) for p = 0.1, 0.5, 0.9, at most n − 1. */
Test(aes, frame_index)
{
	static const struct {
		int64_t n, want[3];
	} cases[] = {{1, {0, 0, 0}},  {2, {0, 1, 1}},    {3, {0, 1, 2}},      {7, {0, 3, 6}},
		     {10, {1, 5, 9}}, {50, {5, 25, 45}}, {101, {10, 50, 90}}, {1000, {100, 500, 900}}};
	const double p[3] = {0.1, 0.5, 0.9};
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
		for (int i = 0; i < 3; i++)
			cr_expect_eq(sora_aes_frame_index(p[i], cases[c].n), cases[c].want[i],
				     "n %lld p %g: %lld", (long long)cases[c].n, p[i],
				     (long long)sora_aes_frame_index(p[i], cases[c].n));
}

Test(aes, image_extensions)
{
	const char *yes[] = {"a.png", "b/c.JPG", "x.jpeg", "y.webp", "z.TIFF", "p.ppm", "q.bmp"};
	const char *no[] = {"a.mp4", "png", "dir.png/clip", "a.png.mkv", "a.", ""};
	for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
		cr_expect(sora_aes_is_image(yes[i]), "%s", yes[i]);
	for (size_t i = 0; i < sizeof no / sizeof *no; i++)
		cr_expect(!sora_aes_is_image(no[i]), "%s", no[i]);
}

/* A CLIP folder in dir: the tiny fixture tower with a projection to 768, the width the published
 * aesthetic predictor takes (random, fixed: the predictor normalises what it gets). */
static void make_clip768(const char *dir, const char *tower)
{
	char p[256];
	sora_safetensors *st;
	sora_err e = {0};
	cr_assert_eq(sora_st_open(&st, tower, &e), 0, "%s", e.msg);
	const int n = sora_st_count(st);
	const char **names = calloc((size_t)n, sizeof *names);
	sora_tensor *t = calloc((size_t)n, sizeof *t);
	float *proj = malloc((size_t)768 * 64 * sizeof *proj);
	uint32_t x = 12345;
	for (int i = 0; i < 768 * 64; i++) {
		x = x * 1664525u + 1013904223u;
		proj[i] = ((float)(x >> 8) / 16777216.0f - 0.5f) * 0.25f;
	}
	for (int i = 0; i < n; i++) {
		const sora_st_tensor *s = sora_st_get(st, i);
		names[i] = s->name;
		if (!strcmp(s->name, "visual_projection.weight"))
			sora_tensor_view(&t[i], SORA_F32, 2, (int64_t[]){768, 64}, proj);
		else
			sora_tensor_view(&t[i], SORA_F32, s->ndim, s->shape, (void *)s->data);
	}
	snprintf(p, sizeof p, "%s/model.safetensors", dir);
	cr_assert_eq(sora_st_write(p, names, t, n, NULL, &e), 0, "%s", e.msg);
	sora_st_close(st);
	free(names), free(t), free(proj);
	snprintf(p, sizeof p, "%s/config.json", dir);
	FILE *f = fopen(p, "w");
	cr_assert(f);
	fputs("{\"hidden_size\": 64, \"image_size\": 224, \"intermediate_size\": 128, "
	      "\"num_attention_heads\": 4,"
	      " \"num_hidden_layers\": 3, \"patch_size\": 14, \"projection_dim\": 768}",
	      f);
	fclose(f);
}

static void rm_clip(const char *dir)
{
	char p[256];
	snprintf(p, sizeof p, "%s/model.safetensors", dir), unlink(p);
	snprintf(p, sizeof p, "%s/config.json", dir), unlink(p);
}

static sora_aes *open_aes(char *dir)
{
	char pa[1024], pt[1024];
	sora_aes *a;
	sora_err e = {0};
	/* both before the temporary folder, which a skip would leave behind */
	fixture_path(pa, sizeof pa, "aesthetic/sac+logos+ava1-l14-linearMSE.safetensors");
	fixture_path(pt, sizeof pt, "text/clip_vision_tiny.safetensors");
	cr_assert(mkdtemp(dir));
	make_clip768(dir, pt);
	cr_assert_eq(sora_aes_open(&a, dir, pa, &e), 0, "%s", e.msg);
	return a;
}

/* The centre crop as torchvision rounds it: with the short side already 224 nothing is resized, so the
 * result is the pixels of a 224 × 224 window; its left edge is round(d / 2), halves to even. */
Test(aes, crop_offset_rounds_half_to_even)
{
	char dir[] = "/tmp/sora_aes_XXXXXX";
	sora_aes *a = open_aes(dir);
	sora_err e = {0};
	enum { S = 224, PX = 3 * S * S };
	const int widths[] = {224, 225, 226, 227, 229, 231}, left[] = {0, 0, 1, 2, 2, 4};
	uint8_t *img = malloc((size_t)231 * S * 3);
	float *got = malloc(PX * sizeof *got), *want = malloc(PX * sizeof *want);
	for (size_t k = 0; k < sizeof widths / sizeof *widths; k++) {
		const int w = widths[k];
		for (int i = 0; i < w * S * 3; i++)
			img[i] = (uint8_t)(i * 7 + i / (w * 3) * 13);
		cr_assert_eq(sora_aes_preprocess(a, got, img, w, S, w * 3, &e), 0, "%s", e.msg);
		cr_assert_eq(sora_clip_preprocess(want, NULL, S, img + (size_t)left[k] * 3, S, S, w * 3, &e),
			     0, "%s", e.msg);
		char what[64];
		snprintf(what, sizeof what, "width %d, crop at column %d", w, left[k]);
		expect_cmp(what, cmp_exact(cmp_f32(got, PX), cmp_f32(want, PX)));
	}
	free(img), free(got), free(want);
	sora_aes_close(a);
	rm_clip(dir), rmdir(dir);
}

/* A clip's score is the mean of its three frames' scores, computed here from the frames decoded one by
 * one: bit for bit, for the whole clip and a range; an image is one frame. */
Test(aes, clip_is_the_mean_of_three_frames)
{
	char dir[] = "/tmp/sora_aes_XXXXXX", path[256];
	sora_aes *a = open_aes(dir);
	sora_aes_ws *ws;
	sora_err e = {0};
	enum { W = 200, H = 120, N = 12, PX = 3 * 224 * 224 };
	cr_assert_eq(sora_aes_ws_new(&ws, a, &e), 0, "%s", e.msg);
	/* 12 frames at 10 fps, each a different pattern: a wrong frame changes the score. */
	snprintf(path, sizeof path, "%s/c.mp4", dir);
	sora_video_writer *vw;
	const sora_writer_opts wo = {.width = W, .height = H, .fps_num = 10, .fps_den = 1, .crf = 1};
	uint8_t *rgb = malloc((size_t)W * H * 3);
	cr_assert_eq(sora_video_writer_open(&vw, path, &wo, &e), 0, "%s", e.msg);
	for (int f = 0; f < N; f++) {
		for (int i = 0; i < W * H * 3; i++)
			rgb[i] = (uint8_t)((i % (W * 3)) * (f + 1) / 3 + (i / (W * 3)) * (N - f));
		cr_assert_eq(sora_video_writer_put_rgb(vw, rgb, W * 3, &e), 0, "%s", e.msg);
	}
	cr_assert_eq(sora_video_writer_close(vw, &e), 0, "%s", e.msg);

	/* Whole clip: frames 1, 6, 10 of 12; [0.3, 1.0) s: frames 3..9, the 7 frames' 0, 3 and 6. */
	const struct {
		double start, end;
		int64_t frames, first, pick[3];
	} cases[] = {{0, INFINITY, N, 0, {1, 6, 10}}, {0.3, 1.0, 7, 3, {0, 3, 6}}};
	float *px = malloc((size_t)3 * PX * sizeof *px);
	for (size_t c = 0; c < 2; c++) {
		sora_aes_result got, want;
		cr_assert_eq(sora_aes_score(a, ws, path, cases[c].start, cases[c].end, &got, &e), 0, "%s",
			     e.msg);
		cr_expect_eq(got.frames, cases[c].frames, "%lld frames", (long long)got.frames);
		sora_video *v;
		sora_frame f;
		const sora_video_opts vo = {.threads = 1, .pix = SORA_PIX_RGB};
		cr_assert_eq(sora_video_open(&v, path, &vo, &e), 0, "%s", e.msg);
		for (int64_t i = 0, k = 0; k < 3 && sora_video_read(v, &f, &e) > 0; i++)
			for (; k < 3 && i == cases[c].first + cases[c].pick[k]; k++) {
				cr_expect_eq(got.index[k], cases[c].pick[k]);
				cr_assert_eq(sora_aes_preprocess(a, px + k * PX, f.data[0], f.width, f.height,
								 f.linesize[0], &e),
					     0, "%s", e.msg);
			}
		sora_video_close(v);
		cr_assert_eq(sora_aes_pixels(a, ws, px, 3, &want, &e), 0, "%s", e.msg);
		cr_expect(got.n == 3 && got.aes == want.aes, "case %zu: %d frames, %.9g, want %.9g", c, got.n,
			  got.aes, want.aes);
		expect_cmp("frame scores", cmp_exact(cmp_f32(got.score, 3), cmp_f32(want.score, 3)));
		cr_expect_eq(want.aes, ((double)want.score[0] + want.score[1] + want.score[2]) / 3);
		cr_log_info("aes of [%g, %g): %.9g = mean(%.9g, %.9g, %.9g)", cases[c].start, cases[c].end,
			    got.aes, got.score[0], got.score[1], got.score[2]);
	}
	/* An image: one frame, its range ignored. */
	snprintf(path, sizeof path, "%s/i.ppm", dir);
	FILE *fp = fopen(path, "wb");
	cr_assert(fp);
	fprintf(fp, "P6\n%d %d\n255\n", W, H);
	fwrite(rgb, 1, (size_t)W * H * 3, fp);
	fclose(fp);
	sora_aes_result got, want;
	cr_assert_eq(sora_aes_score(a, ws, path, 5, 6, &got, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_aes_preprocess(a, px, rgb, W, H, W * 3, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_aes_pixels(a, ws, px, 1, &want, &e), 0, "%s", e.msg);
	cr_expect(got.n == 1 && got.frames == 1 && got.aes == want.aes && got.aes == got.score[0]);
	unlink(path);
	snprintf(path, sizeof path, "%s/c.mp4", dir);
	/* A range with no frame, a missing file: errors, and the workspace still works. */
	cr_expect_lt(sora_aes_score(a, ws, path, 3, 4, &got, &e), 0);
	cr_expect(strstr(e.msg, "no frames in [3, 4)"), "%s", e.msg);
	cr_expect_lt(sora_aes_score(a, ws, "/nonexistent/x.mp4", 0, INFINITY, &got, &e), 0);
	cr_expect_eq(sora_aes_score(a, ws, path, 0, INFINITY, &got, &e), 0, "%s", e.msg);
	unlink(path);
	free(rgb), free(px);
	sora_aes_ws_free(ws);
	sora_aes_close(a);
	rm_clip(dir), rmdir(dir);
}

/* Each wrong model: one error naming the problem, before the CLIP checkpoint is read. */
Test(aes, wrong_models)
{
	char pa[1024], pt[1024], pc[1024], dir[] = "/tmp/sora_aes_XXXXXX", p[256];
	char at[PATH_MAX], ac[PATH_MAX];
	sora_aes *a = NULL;
	sora_err e = {0};
	fixture_path(pa, sizeof pa, "aesthetic/sac+logos+ava1-l14-linearMSE.safetensors");
	fixture_path(pt, sizeof pt, "text/clip_vision_tiny.safetensors");
	fixture_path(pc, sizeof pc, "text/clip_vision_tiny_config.json");
	cr_assert(realpath(pt, at) && realpath(pc, ac));
	cr_assert(mkdtemp(dir));
	/* The tiny CLIP projects to 32: the predictor takes 768. */
	snprintf(p, sizeof p, "%s/config.json", dir);
	cr_assert_eq(symlink(ac, p), 0);
	snprintf(p, sizeof p, "%s/model.safetensors", dir);
	cr_assert_eq(symlink(at, p), 0);
	cr_expect_lt(sora_aes_open(&a, dir, pa, &e), 0);
	cr_expect(strstr(e.msg, "projection_dim is 32") && strstr(e.msg, "takes 768"), "%s", e.msg);
	cr_expect_null(a);
	/* The predictor file is not one. */
	cr_expect_lt(sora_aes_open(&a, dir, pt, &e), 0);
	cr_expect(strstr(e.msg, "missing 'layers.0.weight'"), "%s", e.msg);
	cr_expect_lt(sora_aes_open(&a, dir, "/nonexistent/aes.safetensors", &e), 0);
	cr_expect(strstr(e.msg, "/nonexistent/aes.safetensors"), "%s", e.msg);
	rm_clip(dir);
	/* No CLIP folder. */
	cr_expect_lt(sora_aes_open(&a, dir, pa, &e), 0);
	cr_expect(strstr(e.msg, "config.json"), "%s", e.msg);
	sora_aes_memory m;
	cr_expect_lt(sora_aes_estimate(dir, &m, &e), 0);
	rmdir(dir);
}

/* The memory estimate counts the fixture's parameters and the real model's. */
Test(aes, memory_estimate)
{
	char dir[] = "/tmp/sora_aes_XXXXXX", p[256];
	sora_aes_memory m;
	sora_err e = {0};
	cr_assert(mkdtemp(dir));
	snprintf(p, sizeof p, "%s/config.json", dir);
	FILE *f = fopen(p, "w");
	cr_assert(f);
	/* openai/clip-vit-large-patch14's CLIPConfig, the parts that matter. */
	fputs("{\"projection_dim\": 768, \"vision_config\": {\"hidden_size\": 1024, \"image_size\": 224,"
	      " \"intermediate_size\": 4096, \"num_attention_heads\": 16, \"num_hidden_layers\": 24,"
	      " \"patch_size\": 14}}",
	      f);
	fclose(f);
	cr_assert_eq(sora_aes_estimate(dir, &m, &e), 0, "%s", e.msg);
	/* ViT-L/14 vision tower + projection: 303,966,208 parameters; the predictor 927,969. */
	cr_expect_eq(m.weights, (size_t)(303966208 + 927969) * 4, "%zu", m.weights);
	cr_log_info("aes with ViT-L/14: %.0f MiB of weights, %.0f MiB per worker", m.weights / 1048576.0,
		    m.per_worker / 1048576.0);
	unlink(p), rmdir(dir);
}
