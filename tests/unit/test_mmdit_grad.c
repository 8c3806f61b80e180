/* The MMDiT's backward against the official training step (mmdit_tiny_io `train.*`, config A: the
 * prediction and loss, every one of the 106 parameter gradients and the four input gradients, each within
 * 1e-4 of its own tensor's largest value, as the fixture README advises), the same with gradient
 * checkpointing (bit for bit, with a smaller tape), the training forward against the inference forward,
 * accumulation over two backwards, and, for the FLUX layout (config B, whose fixture has no gradients), a
 * directional finite difference through the whole model. */
#include "expect.h"
#include "flow/train.h"
#include "io/safetensors.h"
#include "models/mmdit.h"
#include "models/mmdit_train.h"

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

/* The fixture's training step: model A (an f32 view), its inputs, and the official results. */
typedef struct step {
	sora_mmdit loaded, m, g;
	float *w, *gw;
	sora_safetensors *io;
	sora_mmdit_input in;
	size_t nout;
} step;

static void step_open(step *s, const char *model, const char *io)
{
	char p[1024];
	sora_err e = {0};
	memset(s, 0, sizeof *s);
	/* The tiny models' RoPE axes (16 + 56 + 56 is the released head size). */
	char cfg[] = "/tmp/sora-mmdit-grad-XXXXXX";
	const char axes[] = "{\"axes_dim\": [8, 12, 12]}";
	const int fd = mkstemp(cfg);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, axes, strlen(axes)), (ssize_t)strlen(axes));
	close(fd);
	const int rc = sora_mmdit_load(&s->loaded, fixture_path(p, sizeof p, model), cfg, &e);
	unlink(cfg);
	cr_assert_eq(rc, 0, "%s", e.msg);
	const size_t n = (size_t)s->loaded.n_params;
	s->w = malloc(n * sizeof *s->w);
	s->gw = calloc(n, sizeof *s->gw);
	cr_assert(s->w && s->gw);
	cr_assert_eq(sora_mmdit_view(&s->m, &s->loaded, s->w, 1, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_mmdit_view(&s->g, &s->loaded, s->gw, 0, &e), 0, "%s", e.msg);
	if (!io)
		return;
	cr_assert_eq(sora_st_open(&s->io, fixture_path(p, sizeof p, io), &e), 0, "%s", e.msg);
	const int B = 2, L = 48, Lt = 12;
	s->nout = (size_t)B * L * 64;
	s->in = (sora_mmdit_input){.B = B,
				   .L = L,
				   .Lt = Lt,
				   .img = io_tensor(s->io, "train.x_t", s->nout),
				   .img_ids = io_tensor(s->io, "train.img_ids", (size_t)B * L * 3),
				   .txt = io_tensor(s->io, "train.in.text_t5", (size_t)B * Lt * 48),
				   .txt_ids = io_tensor(s->io, "train.txt_ids", (size_t)B * Lt * 3),
				   .timesteps = io_tensor(s->io, "train.t", B),
				   .y_vec = io_tensor(s->io, "train.in.text_clip", (size_t)B * 32),
				   .cond = io_tensor(s->io, "train.in.cond", (size_t)B * L * 68)};
}

static void step_close(step *s)
{
	sora_mmdit_free(&s->m);
	sora_mmdit_free(&s->g);
	sora_mmdit_free(&s->loaded);
	sora_st_close(s->io);
	free(s->w);
	free(s->gw);
}

/* One forward and backward on the tape; pred and the input gradients into the caller's buffers. */
static void run_step(step *s, sora_mmdit_tape *tp, float *pred, float *dpred, sora_mmdit_input_grad *gin)
{
	sora_err e = {0};
	cr_assert_eq(sora_mmdit_train_forward(&s->m, tp, &s->in, pred, &e), 0, "%s", e.msg);
	sora_flow_mse(pred, io_tensor(s->io, "train.target_v", s->nout), (int64_t)s->nout, dpred);
	cr_assert_eq(sora_mmdit_backward(&s->m, &s->g, tp, &s->in, dpred, gin, &e), 0, "%s", e.msg);
}

typedef struct grad_check {
	const sora_safetensors *io;
	int compared, failed;
} grad_check;

static int check_grad(void *ctx, const char *name, sora_tensor *t, sora_err *e)
{
	(void)e;
	grad_check *c = ctx;
	char key[256];
	snprintf(key, sizeof key, "train.grad.%s", name);
	const size_t n = (size_t)sora_tensor_numel(t);
	cmp_report r =
	    expect_cmp(key, cmp_rel(cmp_f32(t->data, n), cmp_f32(io_tensor(c->io, key, n), n), 1e-4));
	c->compared++;
	c->failed += !r.ok;
	return 0;
}

Test(mmdit_grad, official_training_step)
{
	step s;
	step_open(&s, "video/mmdit_tiny.safetensors", "video/mmdit_tiny_io.safetensors");
	const int B = 2, L = 48, Lt = 12;
	float *pred = malloc(s.nout * sizeof *pred), *dpred = malloc(s.nout * sizeof *dpred);
	float *gimg = calloc(s.nout, sizeof *gimg), *gtxt = calloc((size_t)B * Lt * 48, sizeof *gtxt);
	float *gy = calloc((size_t)B * 32, sizeof *gy), *gcond = calloc((size_t)B * L * 68, sizeof *gcond);
	sora_mmdit_tape *tp = sora_mmdit_tape_new(0, 0);
	cr_assert(pred && dpred && gimg && gtxt && gy && gcond && tp);
	sora_mmdit_input_grad gin = {.img = gimg, .txt = gtxt, .y_vec = gy, .cond = gcond};
	run_step(&s, tp, pred, dpred, &gin);

	expect_cmp("pred", cmp_rel(cmp_f32(pred, s.nout),
				   cmp_f32(io_tensor(s.io, "train.pred", s.nout), s.nout), 1e-5));
	const double loss =
	    sora_flow_mse(pred, io_tensor(s.io, "train.target_v", s.nout), (int64_t)s.nout, NULL);
	expect_cmp("loss", cmp_rel(cmp_f64(&loss, 1), cmp_f32(io_tensor(s.io, "train.loss", 1), 1), 1e-5));
	expect_cmp("dloss/dpred",
		   cmp_rel(cmp_f32(dpred, s.nout),
			   cmp_f32(io_tensor(s.io, "train.dloss_dpred", s.nout), s.nout), 1e-5));
	grad_check c = {.io = s.io};
	sora_err e = {0};
	cr_assert_eq(sora_mmdit_each(&s.g, check_grad, &c, &e), 0, "%s", e.msg);
	cr_expect_eq(c.compared, 106, "compared %d parameter gradients, the fixture has 106", c.compared);
	cr_expect_eq(c.failed, 0, "%d of %d parameter gradients beyond 1e-4 of their largest value", c.failed,
		     c.compared);
	const struct {
		const char *name;
		const float *got;
		size_t n;
	} inputs[] = {{"train.grad_input.img", gimg, s.nout},
		      {"train.grad_input.txt", gtxt, (size_t)B * Lt * 48},
		      {"train.grad_input.y_vec", gy, (size_t)B * 32},
		      {"train.grad_input.cond", gcond, (size_t)B * L * 68}};
	for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++)
		expect_cmp(inputs[i].name,
			   cmp_rel(cmp_f32(inputs[i].got, inputs[i].n),
				   cmp_f32(io_tensor(s.io, inputs[i].name, inputs[i].n), inputs[i].n), 1e-4));
	cr_log_info("tape without checkpointing: %zu bytes", sora_mmdit_tape_bytes(tp));
	sora_mmdit_tape_free(tp);
	free(pred);
	free(dpred);
	free(gimg);
	free(gtxt);
	free(gy);
	free(gcond);
	step_close(&s);
}

Test(mmdit_grad, checkpointing_gives_the_same_bits)
{
	step s;
	step_open(&s, "video/mmdit_tiny.safetensors", "video/mmdit_tiny_io.safetensors");
	const size_t n = (size_t)s.loaded.n_params;
	float *pred = malloc(s.nout * sizeof *pred), *dpred = malloc(s.nout * sizeof *dpred);
	float *plain = malloc(n * sizeof *plain), *gimg = calloc(s.nout, sizeof *gimg);
	float *gimg2 = calloc(s.nout, sizeof *gimg2);
	sora_mmdit_tape *tp = sora_mmdit_tape_new(0, 0), *ck = sora_mmdit_tape_new(2, 1);
	cr_assert(pred && dpred && plain && gimg && gimg2 && tp && ck);
	run_step(&s, tp, pred, dpred, &(sora_mmdit_input_grad){.img = gimg});
	memcpy(plain, s.gw, n * sizeof *plain);
	memset(s.gw, 0, n * sizeof *s.gw);
	run_step(&s, ck, pred, dpred, &(sora_mmdit_input_grad){.img = gimg2});
	expect_cmp("every parameter gradient, 2 double + 1 single blocks checkpointed",
		   cmp_exact(cmp_f32(s.gw, n), cmp_f32(plain, n)));
	expect_cmp("input gradient", cmp_exact(cmp_f32(gimg2, s.nout), cmp_f32(gimg, s.nout)));
	cr_log_info("tape: %zu bytes, %zu with checkpointing", sora_mmdit_tape_bytes(tp),
		    sora_mmdit_tape_bytes(ck));
	cr_expect_lt(sora_mmdit_tape_bytes(ck), sora_mmdit_tape_bytes(tp));
	/* A second backward adds the same gradients again. */
	run_step(&s, ck, pred, dpred, NULL);
	for (size_t i = 0; i < n; i++)
		plain[i] *= 2;
	expect_cmp("two backwards accumulate", cmp_rel(cmp_f32(s.gw, n), cmp_f32(plain, n), 1e-6));
	sora_mmdit_tape_free(tp);
	sora_mmdit_tape_free(ck);
	free(pred);
	free(dpred);
	free(plain);
	free(gimg);
	free(gimg2);
	step_close(&s);
}

Test(mmdit_grad, training_forward_is_the_inference_forward)
{
	step s;
	step_open(&s, "video/mmdit_tiny.safetensors", "video/mmdit_tiny_io.safetensors");
	float *a = malloc(s.nout * sizeof *a), *b = malloc(s.nout * sizeof *b);
	sora_mmdit_tape *tp = sora_mmdit_tape_new(1, 1);
	sora_err e = {0};
	cr_assert(a && b && tp);
	cr_assert_eq(sora_mmdit_train_forward(&s.m, tp, &s.in, a, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_mmdit_forward(&s.m, &s.in, b, NULL, &e), 0, "%s", e.msg);
	expect_cmp("training forward vs inference forward",
		   cmp_exact(cmp_f32(a, s.nout), cmp_f32(b, s.nout)));
	sora_mmdit_tape_free(tp);
	free(a);
	free(b);
	step_close(&s);
}

/* The FLUX-layout fixture's forward inputs (config B: 24 image and 12 text tokens, a guidance). */
static sora_mmdit_input flux_input(const sora_safetensors *io)
{
	return (sora_mmdit_input){.B = 1,
				  .L = 24,
				  .Lt = 12,
				  .img = io_tensor(io, "in.img", (size_t)24 * 64),
				  .img_ids = io_tensor(io, "in.img_ids", (size_t)24 * 3),
				  .txt = io_tensor(io, "in.txt", (size_t)12 * 48),
				  .txt_ids = io_tensor(io, "in.txt_ids", (size_t)12 * 3),
				  .timesteps = io_tensor(io, "in.timesteps", 1),
				  .y_vec = io_tensor(io, "in.y_vec", 32),
				  .guidance = io_tensor(io, "in.guidance", 1)};
}

/* xorshift uniform in [-1, 1) */
static float urand(uint64_t *st)
{
	*st ^= *st << 13;
	*st ^= *st >> 7;
	*st ^= *st << 17;
	return (float)((*st >> 11) * 0x1p-53 * 2 - 1);
}

/* Σ dout·out, in double. */
static double project(sora_mmdit *m, const sora_mmdit_input *in, const float *dout, float *out, size_t n)
{
	sora_err e = {0};
	cr_assert_eq(sora_mmdit_forward(m, in, out, NULL, &e), 0, "%s", e.msg);
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += (double)dout[i] * out[i];
	return s;
}

/* The FLUX layout (fused qkv and linear1, interleaved RoPE, guidance_in): along a random direction u of
 * all parameters, (L(w + hu) − L(w − hu)) / 2h against ∂L/∂w · u, L = Σ dout·out. In f32 the difference
 * carries about ulp(L)/h of rounding, h = 1e-3 keeps it near 1e-4 of the derivative; 2e-3 refuses a
 * dropped term or a wrong sign in any part (each moves it by percent). */
Test(mmdit_grad, flux_layout_directional_derivative)
{
	step s;
	step_open(&s, "video/mmdit_tiny_flux.safetensors", NULL);
	char p[1024];
	sora_err e = {0};
	sora_safetensors *io = NULL;
	cr_assert_eq(sora_st_open(&io, fixture_path(p, sizeof p, "video/mmdit_tiny_flux_io.safetensors"), &e),
		     0, "%s", e.msg);
	const size_t nout = (size_t)24 * 64, n = (size_t)s.loaded.n_params;
	const sora_mmdit_input in = flux_input(io);
	float *out = malloc(nout * sizeof *out), *dout = malloc(nout * sizeof *dout),
	      *u = malloc(n * sizeof *u);
	float *w0 = malloc(n * sizeof *w0);
	sora_mmdit_tape *tp = sora_mmdit_tape_new(0, 0);
	cr_assert(out && dout && u && w0 && tp);
	uint64_t st = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < nout; i++)
		dout[i] = urand(&st);
	for (size_t i = 0; i < n; i++)
		u[i] = urand(&st);
	cr_assert_eq(sora_mmdit_train_forward(&s.m, tp, &in, out, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_mmdit_backward(&s.m, &s.g, tp, &in, dout, NULL, &e), 0, "%s", e.msg);
	double analytic = 0;
	for (size_t i = 0; i < n; i++)
		analytic += (double)s.gw[i] * u[i];
	memcpy(w0, s.w, n * sizeof *w0);
	const double h = 1e-3;
	for (size_t i = 0; i < n; i++)
		s.w[i] = (float)(w0[i] + h * u[i]);
	const double lp = project(&s.m, &in, dout, out, nout);
	for (size_t i = 0; i < n; i++)
		s.w[i] = (float)(w0[i] - h * u[i]);
	const double lm = project(&s.m, &in, dout, out, nout);
	const double numeric = (lp - lm) / (2 * h);
	expect_cmp("FLUX layout: ∂L/∂w·u against the central difference",
		   cmp_rel(cmp_f64(&analytic, 1), cmp_f64(&numeric, 1), 2e-3));
	sora_mmdit_tape_free(tp);
	sora_st_close(io);
	free(out);
	free(dout);
	free(u);
	free(w0);
	step_close(&s);
}

/* FLUX.1-dev's layout converted to Open-Sora 2.0's (split q/k/v, half-split RoPE on permuted q/k rows and
 * norm scales): with guidance kept, the same function as the FLUX model (the QK dot products sum over
 * the head's dims in another order: a few f32 roundings, far under 1e-5); with guidance dropped and a
 * zero cond_in added, the shapes the trainer saves. */
Test(mmdit_grad, flux_converts_to_the_open_sora_layout)
{
	step s;
	step_open(&s, "video/mmdit_tiny_flux.safetensors", NULL);
	char p[1024];
	sora_err e = {0};
	sora_safetensors *io = NULL;
	cr_assert_eq(sora_st_open(&io, fixture_path(p, sizeof p, "video/mmdit_tiny_flux_io.safetensors"), &e),
		     0, "%s", e.msg);
	const size_t nout = (size_t)24 * 64;
	const sora_mmdit_input in = flux_input(io);
	sora_mmdit conv, count;
	const sora_mmdit_config kept = sora_mmdit_flux_config(&s.loaded.cfg, 1, 0);
	cr_assert_eq(sora_mmdit_view_config(&count, &kept, NULL, &e), 0, "%s", e.msg);
	float *buf = malloc((size_t)count.n_params * sizeof *buf), *a = malloc(nout * sizeof *a);
	float *b = malloc(nout * sizeof *b);
	cr_assert(buf && a && b);
	cr_expect_eq(count.n_params, s.loaded.n_params, "the same parameters, split");
	sora_mmdit_free(&count);
	cr_assert_eq(sora_mmdit_from_flux(&conv, &s.loaded, buf, 1, 0, &e), 0, "%s", e.msg);
	cr_expect(!conv.cfg.fused_qkv && conv.cfg.liger_rope && conv.cfg.guidance_embed &&
		  !conv.cfg.cond_embed);
	cr_assert_eq(sora_mmdit_forward(&s.loaded, &in, a, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_mmdit_forward(&conv, &in, b, NULL, &e), 0, "%s", e.msg);
	expect_cmp("converted (guidance kept) vs FLUX forward",
		   cmp_rel(cmp_f32(b, nout), cmp_f32(a, nout), 1e-5));
	sora_mmdit_free(&conv);
	free(buf);
	/* As the trainer converts: no guidance_in, a zero cond_in. */
	const sora_mmdit_config os = sora_mmdit_flux_config(&s.loaded.cfg, 0, 1);
	cr_assert_eq(sora_mmdit_view_config(&count, &os, NULL, &e), 0, "%s", e.msg);
	cr_assert((buf = malloc((size_t)count.n_params * sizeof *buf)));
	cr_assert_eq(sora_mmdit_from_flux(&conv, &s.loaded, buf, 0, 1, &e), 0, "%s", e.msg);
	cr_expect(!conv.cfg.guidance_embed && conv.cfg.cond_embed);
	cr_expect_eq(conv.n_params, count.n_params);
	cr_expect_eq(((float *)conv.cond_in.w.data)[0], 0.0f);
	sora_mmdit_free(&count);
	sora_mmdit_free(&conv);
	sora_st_close(io);
	free(buf);
	free(a);
	free(b);
	step_close(&s);
}
