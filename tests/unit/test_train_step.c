/* One training step's inputs (common/train/train_step.c) against the official step of mmdit_tiny_io
 * (`train.*`: torch.manual_seed(2024), batch 2): t, x_t and the velocity target bit for bit from the same
 * generator; the loss equals the model's MSE on those inputs; dropout replaces the text by the empty
 * prompt's; condition types follow their weights; i2v_head's condition is the clip's first latent frame. */
#include "expect.h"
#include "io/safetensors.h"
#include "models/mmdit.h"
#include "models/mmdit_train.h"
#include "train/train_step.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const float *io_tensor(const sora_safetensors *io, const char *name, size_t n)
{
	const sora_st_tensor *t = sora_st_find(io, name);
	cr_assert(t, "fixture tensor %s is missing", name);
	cr_assert_eq(t->nbytes, n * sizeof(float), "%s: %zu bytes, want %zu", name, t->nbytes,
		     n * sizeof(float));
	return t->data;
}

typedef struct fx {
	sora_mmdit loaded, m, g;
	float *w, *gw;
	sora_safetensors *io;
	sora_train_batch b;
	sora_mmdit_tape *tp;
} fx;

static void fx_open(fx *f)
{
	char p[1024], cfg[] = "/tmp/sora-train-step-XXXXXX";
	const char axes[] = "{\"axes_dim\": [8, 12, 12]}";
	sora_err e = {0};
	memset(f, 0, sizeof *f);
	fixture_path(p, sizeof p, "video/mmdit_tiny.safetensors");
	const int fd = mkstemp(cfg);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, axes, strlen(axes)), (ssize_t)strlen(axes));
	close(fd);
	const int rc = sora_mmdit_load(&f->loaded, p, cfg, &e);
	unlink(cfg);
	cr_assert_eq(rc, 0, "%s", e.msg);
	const size_t n = (size_t)f->loaded.n_params;
	cr_assert((f->w = malloc(n * sizeof *f->w)) && (f->gw = calloc(n, sizeof *f->gw)));
	cr_assert_eq(sora_mmdit_view(&f->m, &f->loaded, f->w, 1, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_mmdit_view(&f->g, &f->loaded, f->gw, 0, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_st_open(&f->io, fixture_path(p, sizeof p, "video/mmdit_tiny_io.safetensors"), &e),
		     0, "%s", e.msg);
	f->b = (sora_train_batch){.B = 2,
				  .C = 16,
				  .T = 3,
				  .H = 8,
				  .W = 8,
				  .latent =
				      io_tensor(f->io, "train.in.video_latents", (size_t)2 * 16 * 3 * 8 * 8),
				  .Lt = 12,
				  .Dt = 48,
				  .t5 = io_tensor(f->io, "train.in.text_t5", (size_t)2 * 12 * 48),
				  .Dc = 32,
				  .clip = io_tensor(f->io, "train.in.text_clip", (size_t)2 * 32)};
	cr_assert((f->tp = sora_mmdit_tape_new(0, 0)));
}

static void fx_close(fx *f)
{
	sora_mmdit_tape_free(f->tp);
	sora_mmdit_free(&f->m);
	sora_mmdit_free(&f->g);
	sora_mmdit_free(&f->loaded);
	sora_st_close(f->io);
	free(f->w);
	free(f->gw);
}

Test(train_step, draws_as_the_official_step)
{
	fx f;
	fx_open(&f);
	sora_train_step_opts o = {.cond_weights = {1, 0, 0, 0}};
	sora_train_rng r = {.aux = 1};
	sora_train_scratch s = {0};
	sora_err e = {0};
	double loss;
	int64_t counts[SORA_TRAIN_NCOND] = {0};
	sora_torch_rng_seed(&r.torch, 2024);
	cr_assert_eq(sora_train_step(&f.m, &f.g, f.tp, &f.b, &o, &r, &s, &loss, counts, &e), 0, "%s", e.msg);
	const size_t n = (size_t)2 * 48 * 64;
	expect_cmp("t", cmp_exact(cmp_f32(s.t, 2), cmp_f32(io_tensor(f.io, "train.t", 2), 2)));
	expect_cmp("x_t", cmp_exact(cmp_f32(s.xt, n), cmp_f32(io_tensor(f.io, "train.x_t", n), n)));
	expect_cmp("target_v",
		   cmp_exact(cmp_f32(s.target, n), cmp_f32(io_tensor(f.io, "train.target_v", n), n)));
	cr_expect_eq(counts[SORA_TRAIN_T2V], 2);
	/* The loss is the model's MSE on those inputs with a zero condition. */
	float *pred = malloc(n * sizeof *pred), *zeros = calloc((size_t)2 * 48 * 68, sizeof *zeros);
	cr_assert(pred && zeros);
	const sora_mmdit_input in = {.B = 2,
				     .L = 48,
				     .Lt = 12,
				     .img = s.xt,
				     .img_ids = io_tensor(f.io, "train.img_ids", (size_t)2 * 48 * 3),
				     .txt = f.b.t5,
				     .txt_ids = io_tensor(f.io, "train.txt_ids", (size_t)2 * 12 * 3),
				     .timesteps = s.t,
				     .y_vec = f.b.clip,
				     .cond = zeros};
	cr_assert_eq(sora_mmdit_forward(&f.m, &in, pred, NULL, &e), 0, "%s", e.msg);
	double want = 0;
	for (size_t i = 0; i < n; i++)
		want += ((double)pred[i] - s.target[i]) * ((double)pred[i] - s.target[i]);
	want /= (double)n;
	/* sora_flow_mse forms each difference in f32, as torch does; here it is formed in double. */
	expect_cmp("loss = the inference forward's MSE", cmp_rel(cmp_f64(&loss, 1), cmp_f64(&want, 1), 1e-6));
	free(pred);
	free(zeros);
	sora_train_scratch_free(&s);
	fx_close(&f);
}

Test(train_step, dropout_and_condition_draws)
{
	fx f;
	fx_open(&f);
	float null_t5[5 * 48], null_clip[32];
	for (int r = 0; r < 5; r++) /* row r, column c holds 100·r + c */
		for (int c = 0; c < 48; c++)
			null_t5[r * 48 + c] = (float)(100 * r + c);
	for (int i = 0; i < 32; i++)
		null_clip[i] = -1.0f - (float)i;
	sora_train_step_opts o = {.dropout_t5 = 1,
				  .dropout_clip = 1,
				  .null_t5 = null_t5,
				  .null_t5_len = 5,
				  .null_clip = null_clip,
				  .cond_weights = {0, 1, 0, 0}};
	sora_train_rng r = {.aux = 7};
	sora_train_scratch s = {0};
	sora_err e = {0};
	double loss;
	int64_t counts[SORA_TRAIN_NCOND] = {0};
	sora_torch_rng_seed(&r.torch, 1);
	cr_assert_eq(sora_train_step(&f.m, &f.g, f.tp, &f.b, &o, &r, &s, &loss, counts, &e), 0, "%s", e.msg);
	/* 12 rows from a 5-row null: rows 0..4, then row 4 repeated. */
	for (int b = 0; b < 2; b++)
		for (int l = 0; l < 12; l++) {
			const int k = l < 5 ? l : 4;
			char what[64];
			snprintf(what, sizeof what, "sample %d row %d = the null row %d", b, l, k);
			expect_cmp(what, cmp_exact(cmp_f32(s.txt + ((size_t)b * 12 + l) * 48, 48),
						   cmp_f32(null_t5 + (size_t)k * 48, 48)));
		}
	expect_cmp("sample 1 CLIP = the null vector",
		   cmp_exact(cmp_f32(s.vec + 32, 32), cmp_f32(null_clip, 32)));
	cr_expect_eq(counts[SORA_TRAIN_I2V_HEAD], 2);
	/* i2v_head: features 0..3 of frame 0's tokens are the mask (1), the rest the first latent frame;
	 * later frames are all zero. Token 0 covers latent rows 0..1, columns 0..1 of frame 0. */
	const float *x = f.b.latent;
	cr_expect_eq(s.cond[0], 1.0f);
	cr_expect_eq(s.cond[4], x[0], "channel 0 at (0, 0) of frame 0");
	const float *late = s.cond + (size_t)16 * 68; /* token 16: frame 1 */
	for (int i = 0; i < 68; i++)
		cr_expect_eq(late[i], 0.0f);
	/* Draw frequencies follow the weights: 1:5:1:1 over 80000 draws, each within 1 % of its share. */
	const double w[SORA_TRAIN_NCOND] = {1, 5, 1, 1}, share[] = {1 / 8.0, 5 / 8.0, 1 / 8.0, 1 / 8.0};
	memset(counts, 0, sizeof counts);
	for (int i = 0; i < 80000; i++)
		counts[sora_train_draw_cond(&r, w)]++;
	for (int k = 0; k < SORA_TRAIN_NCOND; k++)
		cr_expect(fabs((double)counts[k] / 80000 - share[k]) < 0.01,
			  "type %d drawn %lld of 80000 times", k, (long long)counts[k]);
	sora_train_scratch_free(&s);
	fx_close(&f);
}
