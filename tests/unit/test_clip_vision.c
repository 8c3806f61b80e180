/* CLIP vision tower and CLIP preprocessing against transformers (clip_vision_tiny*.safetensors in
 * $SORA_FIXTURES/text, default ../shared/fixtures); without them each fixture test skips (fails under
 * CI=true). */
#include "expect.h"
#include "io/image_file.h"
#include "io/image_prep.h"
#include "io/jpeg.h"
#include "io/safetensors.h"
#include "models/clip_vision.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Sizes of the fixture tensors, in elements. */
static const size_t IMG = (size_t)240 * 320 * 3, CROP = (size_t)224 * 224 * 3, PX = (size_t)3 * 224 * 224,
		    LAST = (size_t)2 * 257 * 64;

/* $SORA_FIXTURES/text/NAME; the test ends (skipped, or failed under CI=true) when it is absent. */
static const char *fixture(char *buf, size_t n, const char *name)
{
	char rel[256];
	snprintf(rel, sizeof rel, "text/%s", name);
	return fixture_path(buf, n, rel);
}

static sora_safetensors *open_io(void)
{
	char p[1024];
	sora_safetensors *st;
	sora_err e = {0};
	cr_assert_eq(sora_st_open(&st, fixture(p, sizeof p, "clip_vision_tiny_io.safetensors"), &e), 0, "%s",
		     e.msg);
	return st;
}

static const void *data(const sora_safetensors *st, const char *name, size_t nbytes)
{
	const sora_st_tensor *t = sora_st_find(st, name);
	cr_assert(t, "%s missing", name);
	cr_assert_eq(t->nbytes, nbytes, "%s: %zu bytes", name, t->nbytes);
	return t->data;
}

/* The README's check: |got − want| ≤ 1e-4 + 1e-4·|want| everywhere. */
static void close_to(const float *got, const float *want, size_t n, const char *what)
{
	expect_cmp(what, cmp_each(cmp_f32(got, n), cmp_f32(want, n), 1e-4, 1e-4));
}

/* Pillow's bicubic resize bit for bit, then the normalised pixels as transformers computes them. */
Test(clip_vision, preprocessing_matches_pillow_and_transformers)
{
	sora_safetensors *io = open_io();
	const uint8_t *img = data(io, "preprocess.image_uint8_hwc", IMG);
	const uint8_t *want_crop = data(io, "preprocess.resized_cropped_uint8_hwc", CROP);
	const float *want_px = data(io, "batch.pixel_values", 2 * PX * sizeof(float));
	uint8_t *crop = malloc(CROP);
	float *px = malloc(PX * sizeof *px);
	sora_err e = {0};
	cr_assert_eq(sora_clip_preprocess(px, crop, 224, img, 320, 240, 320 * 3, &e), 0, "%s", e.msg);
	expect_cmp("resize vs Pillow", cmp_exact(cmp_u8(crop, CROP), cmp_u8(want_crop, CROP)));
	expect_cmp("pixel_values", cmp_each(cmp_f32(px, PX), cmp_f32(want_px, PX), 1e-6, 0));
	free(crop);
	free(px);
	sora_st_close(io);
}

/* Portrait, upscaling and no-op sizes go through the same resampler without reading out of bounds
 * (ASan), and an unchanged size is a copy. */
Test(clip_vision, resize_shapes)
{
	enum { W = 7, H = 5 };
	uint8_t src[H * W * 3], dst[40 * 30 * 3];
	sora_err e = {0};
	for (int i = 0; i < H * W * 3; i++)
		src[i] = (uint8_t)(i * 37);
	cr_assert_eq(sora_resize_bicubic_rgb(dst, W, H, src, W, H, W * 3, &e), 0, "%s", e.msg);
	cr_assert_eq(memcmp(dst, src, sizeof src), 0);
	cr_assert_eq(sora_resize_bicubic_rgb(dst, 40, 30, src, W, H, W * 3, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_resize_bicubic_rgb(dst, 3, H, src, W, H, W * 3, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_resize_bicubic_rgb(dst, W, 2, src, W, H, W * 3, &e), 0, "%s", e.msg);
	float px[3 * 4 * 4];
	cr_assert_eq(sora_clip_preprocess(px, NULL, 4, src, W, H, W * 3, &e), 0, "%s", e.msg);
	cr_assert_lt(sora_resize_bicubic_rgb(dst, 0, 2, src, W, H, W * 3, &e), 0);
}

/* The `batch` case: image_embeds, pooler_output and last_hidden_state against the float64 reference. */
Test(clip_vision, batch_matches_transformers)
{
	sora_safetensors *io = open_io();
	char pc[1024], pw[1024];
	sora_clip_vision *m;
	sora_err e = {0};
	char *report = NULL;
	cr_assert_eq(sora_clip_vision_load(&m, fixture(pc, sizeof pc, "clip_vision_tiny_config.json"),
					   fixture(pw, sizeof pw, "clip_vision_tiny.safetensors"), &report,
					   &e),
		     0, "%s\n%s", e.msg, report ? report : "");
	const sora_clip_vision_config *c = sora_clip_vision_get_config(m);
	cr_assert(c->hidden == 64 && c->heads == 4 && c->layers == 3 && c->projection_dim == 32 &&
		  c->patch_size == 14 && c->image_size == 224);
	const float *px = data(io, "batch.pixel_values", 2 * PX * sizeof(float));
	float emb[2 * 32], pooled[2 * 64], *last = malloc(LAST * sizeof *last);
	/* Twice: the second pass reuses the arena. */
	for (int pass = 0; pass < 2; pass++)
		cr_assert_eq(sora_clip_vision_forward(m, px, 2, emb, last, pooled, &e), 0, "%s", e.msg);
	close_to(emb, data(io, "batch.image_embeds_f64ref", sizeof emb), sizeof emb / sizeof *emb,
		 "image_embeds");
	close_to(pooled, data(io, "batch.pooler_output_f64ref", sizeof pooled),
		 sizeof pooled / sizeof *pooled, "pooler_output");
	close_to(last, data(io, "batch.last_hidden_state_f64ref", LAST * sizeof *last), LAST,
		 "last_hidden_state");
	/* One image alone gives the same embedding as in the batch. */
	float one[32];
	cr_assert_eq(sora_clip_vision_forward(m, px + PX, 1, one, NULL, NULL, &e), 0, "%s", e.msg);
	close_to(one, (const float *)data(io, "batch.image_embeds_f64ref", sizeof emb) + 32, 32,
		 "image_embeds (image 1 alone)");
	free(last);
	sora_clip_vision_free(m);
	sora_st_close(io);
}

/* Threads sharing one model, each with its own workspace, running batches of 1, 2 and 3 images. */
enum { THREADS = 4, ROUNDS = 3, EMB = 32 };

typedef struct job {
	const sora_clip_vision *m;
	const float *px; /* 3 images */
	float emb[ROUNDS][3 * EMB];
	int rc;
	sora_err e;
} job;

static void *run_job(void *p)
{
	job *j = p;
	sora_clip_vision_ws *ws = NULL;
	/* A workspace made for one image grows for the larger batches. */
	j->rc = sora_clip_vision_ws_new(&ws, j->m, 1, &j->e);
	for (int r = 0; r < ROUNDS && j->rc == 0; r++)
		j->rc = sora_clip_vision_forward_ws(j->m, ws, j->px, r + 1, j->emb[r], NULL, NULL, &j->e);
	sora_clip_vision_ws_free(ws);
	return NULL;
}

Test(clip_vision, threads_share_one_model)
{
	sora_safetensors *io = open_io();
	char pc[1024], pw[1024];
	sora_clip_vision *m;
	sora_err e = {0};
	cr_assert_eq(sora_clip_vision_load(&m, fixture(pc, sizeof pc, "clip_vision_tiny_config.json"),
					   fixture(pw, sizeof pw, "clip_vision_tiny.safetensors"), NULL, &e),
		     0, "%s", e.msg);
	const sora_clip_vision_config *c = sora_clip_vision_get_config(m);
	cr_assert_eq(sora_clip_vision_params(c), 156864, "params %lld (the fixture holds 156864)",
		     (long long)sora_clip_vision_params(c));
	/* Three images per thread: the fixture's two and a mix of them, in a different order per thread. */
	const float *fx = data(io, "batch.pixel_values", 2 * PX * sizeof(float));
	float *px = malloc((size_t)THREADS * 3 * PX * sizeof *px);
	for (int t = 0; t < THREADS; t++)
		for (int i = 0; i < 3; i++)
			for (size_t k = 0; k < PX; k++) {
				const float a = fx[k], b = fx[PX + k];
				const int which = (t + i) % 3;
				px[(t * 3 + i) * PX + k] = which == 0   ? a
							   : which == 1 ? b
									: 0.5f * a - 0.25f * b;
			}
	job *jobs = calloc(THREADS, sizeof *jobs), *want = calloc(THREADS, sizeof *want);
	for (int t = 0; t < THREADS; t++) {
		want[t] = (job){.m = m, .px = px + (size_t)t * 3 * PX};
		jobs[t] = want[t];
		run_job(&want[t]); /* one thread alone */
		cr_assert_eq(want[t].rc, 0, "%s", want[t].e.msg);
	}
	pthread_t th[THREADS];
	for (int t = 0; t < THREADS; t++)
		cr_assert_eq(pthread_create(&th[t], NULL, run_job, &jobs[t]), 0);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	/* "The same results" is bit for bit (-0 ≠ 0), and finite. */
	for (int t = 0; t < THREADS; t++) {
		char what[64];
		cr_assert_eq(jobs[t].rc, 0, "thread %d: %s", t, jobs[t].e.msg);
		snprintf(what, sizeof what, "thread %d vs the single-thread run", t);
		expect_cmp(what, cmp_exact(cmp_f32(jobs[t].emb[0], (size_t)ROUNDS * 3 * EMB),
					   cmp_f32(want[t].emb[0], (size_t)ROUNDS * 3 * EMB)));
	}
	/* The old single-workspace forward gives the same bits too. */
	float emb[3 * EMB];
	cr_assert_eq(sora_clip_vision_forward(m, px, 3, emb, NULL, NULL, &e), 0, "%s", e.msg);
	expect_cmp("single-workspace forward",
		   cmp_exact(cmp_f32(emb, (size_t)3 * EMB), cmp_f32(want[0].emb[2], (size_t)3 * EMB)));
	cr_log_info("clip vision: %d threads x %d batches on one model, bit-identical", THREADS, ROUNDS);
	free(px), free(jobs), free(want);
	sora_clip_vision_free(m);
	sora_st_close(io);
}

/* Weights are bound strictly: the T5 fixture is rejected with every vision name listed missing. */
Test(clip_vision, strict_names)
{
	sora_safetensors *io = open_io();
	sora_st_close(io);
	char pc[1024], pw[1024];
	sora_clip_vision *m = NULL;
	sora_err e = {0};
	char *report = NULL;
	cr_assert_lt(sora_clip_vision_load(&m, fixture(pc, sizeof pc, "clip_vision_tiny_config.json"),
					   fixture(pw, sizeof pw, "t5_tiny.safetensors"), &report, &e),
		     0);
	cr_assert_null(m);
	cr_assert(report && strstr(report, "missing 'vision_model.pre_layrnorm.weight'") &&
		      strstr(report, "unexpected 'shared.weight'"),
		  "%s", report ? report : e.msg);
	free(report);
}

/* Image files: a PPM decodes bit-exactly, a JPEG close to what was encoded; non-images are refused. */
Test(clip_vision, image_files)
{
	enum { W = 33, H = 21 };
	char dir[] = "/tmp/sora_image_XXXXXX", p[64];
	uint8_t src[H * W * 3], *rgb = NULL, *jpg = NULL;
	size_t jsize;
	int w = 0, h = 0;
	sora_err e = {0};
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
			for (int c = 0; c < 3; c++)
				src[(y * W + x) * 3 + c] = (uint8_t)(x * 3 + y * 2 + c * 20);
	cr_assert(mkdtemp(dir));
	snprintf(p, sizeof p, "%s/a.ppm", dir);
	FILE *f = fopen(p, "wb");
	cr_assert(f);
	fprintf(f, "P6\n%d %d\n255\n", W, H);
	fwrite(src, 1, sizeof src, f);
	fclose(f);
	cr_assert_eq(sora_image_load(p, &rgb, &w, &h, &e), 0, "%s", e.msg);
	cr_assert(w == W && h == H && !memcmp(rgb, src, sizeof src));
	free(rgb);
	unlink(p);

	/* A smooth ramp at the best JPEG quality comes back within a few levels. */
	cr_assert_eq(sora_jpeg_encode(src, W * 3, W, H, 2, &jpg, &jsize, &e), 0, "%s", e.msg);
	snprintf(p, sizeof p, "%s/a.jpg", dir);
	f = fopen(p, "wb");
	cr_assert(f);
	fwrite(jpg, 1, jsize, f);
	fclose(f);
	free(jpg);
	cr_assert_eq(sora_image_load(p, &rgb, &w, &h, &e), 0, "%s", e.msg);
	cr_assert(w == W && h == H);
	double mean = 0;
	for (int i = 0; i < H * W * 3; i++)
		mean += abs(rgb[i] - src[i]) / (double)(H * W * 3);
	cr_log_info("jpeg: mean |error| %.3g levels", mean);
	cr_assert(mean < 2, "jpeg: mean |error| %.3g levels", mean);
	free(rgb);
	unlink(p);

	cr_assert_lt(sora_image_load(dir, &rgb, &w, &h, &e), 0);
	cr_assert(strstr(e.msg, "not a regular file"), "%s", e.msg);
	snprintf(p, sizeof p, "%s/empty.png", dir);
	f = fopen(p, "wb");
	cr_assert(f);
	fclose(f);
	cr_assert_lt(sora_image_load(p, &rgb, &w, &h, &e), 0);
	cr_assert_null(rgb);
	unlink(p);
	rmdir(dir);
}

/* A whole CLIPConfig (vision_config nested, projection_dim at the top) and a whole CLIPModel checkpoint
 * (text tower, logit_scale and old position_ids beside the vision tower) load to the same model. */
Test(clip_vision, whole_clip_config_and_checkpoint)
{
	sora_safetensors *io = open_io(), *st;
	char pw[1024], dir[] = "/tmp/sora_clipv_XXXXXX", pc[64], pk[64];
	sora_err e = {0};
	fixture(pw, sizeof pw, "clip_vision_tiny.safetensors"); /* before the folder a skip would leave */
	cr_assert(mkdtemp(dir));
	snprintf(pc, sizeof pc, "%s/config.json", dir);
	snprintf(pk, sizeof pk, "%s/model.safetensors", dir);
	FILE *f = fopen(pc, "w");
	cr_assert(f);
	fputs("{\"projection_dim\": 32, \"text_config\": {\"hidden_size\": 8}, \"vision_config\": "
	      "{\"hidden_size\": 64,"
	      " \"image_size\": 224, \"intermediate_size\": 128, \"num_attention_heads\": 4, "
	      "\"num_hidden_layers\": 3,"
	      " \"patch_size\": 14, \"projection_dim\": 512}}",
	      f);
	fclose(f);
	cr_assert_eq(sora_st_open(&st, pw, &e), 0, "%s", e.msg);
	const int n = sora_st_count(st), extra = 3;
	const char **names = calloc((size_t)n + extra, sizeof *names);
	sora_tensor *t = calloc((size_t)n + extra, sizeof *t);
	float scale = 4.6f, tok[2 * 8] = {0};
	int64_t pos[257] = {0};
	for (int i = 0; i < n; i++) {
		const sora_st_tensor *s = sora_st_get(st, i);
		names[i] = s->name;
		sora_tensor_view(&t[i], SORA_F32, s->ndim, s->shape, (void *)s->data);
	}
	names[n] = "logit_scale", sora_tensor_view(&t[n], SORA_F32, 0, NULL, &scale);
	names[n + 1] = "text_model.embeddings.token_embedding.weight";
	sora_tensor_view(&t[n + 1], SORA_F32, 2, (int64_t[]){2, 8}, tok);
	names[n + 2] = "vision_model.embeddings.position_ids";
	sora_tensor_view(&t[n + 2], SORA_I64, 2, (int64_t[]){1, 257}, pos);
	cr_assert_eq(sora_st_write(pk, names, t, n + extra, NULL, &e), 0, "%s", e.msg);
	sora_st_close(st);
	free(names), free(t);

	sora_clip_vision *m;
	cr_assert_eq(sora_clip_vision_load(&m, pc, pk, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_clip_vision_get_config(m)->projection_dim, 32);
	float emb[2 * 32];
	const float *px = data(io, "batch.pixel_values", 2 * PX * sizeof(float));
	cr_assert_eq(sora_clip_vision_forward(m, px, 2, emb, NULL, NULL, &e), 0, "%s", e.msg);
	close_to(emb, data(io, "batch.image_embeds_f64ref", sizeof emb), sizeof emb / sizeof *emb,
		 "image_embeds (whole CLIP files)");
	sora_clip_vision_free(m);
	sora_st_close(io);
	unlink(pc), unlink(pk), rmdir(dir);
}
