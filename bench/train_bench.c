/* One training step of the MMDiT on the CPU at the released width (bench/train.sh compiles and runs this
 * beside the same step in PyTorch, bench/train_torch.py), on the model and inputs that `mmdit_bench make`
 * wrote (bench/mmdit_bench.h):
 *   train_bench run DIR N  writes DIR/target.f32 (the velocity target), then takes 1 + N steps: forward,
 *                          MSE loss, backward, global-norm clipping to 1.0, AdamW (lr 1e-5, betas 0.9 and
 *                          0.999, eps 1e-15, no weight decay: Open-Sora 2.0's settings). Prints
 *                          "sora SECONDS FORWARD BACKWARD OPTIMIZER" (medians of the N steps after the
 *                          first), "first LOSS GRAD_NORM" (the first step's, before clipping), "gflop
 *                          FORWARD_GFLOP", "params N" and "peak_kib VmHWM", and writes CHECK_TENSOR after
 *                          the first step to DIR/w_sora.f32. */
#include "flow/train.h"
#include "mmdit_bench.h"
#include "models/mmdit_train.h"
#include "nn/ops_optim.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The tensor whose updated values both sides write: the first block's image query, so its gradient has
 * come back through the whole model (both blocks, attention, the final layer). */
#define CHECK_TENSOR "double_blocks.0.img_attn.q_proj.weight"

typedef struct found {
	const float *data;
	int64_t n;
} found;

static int find(void *ctx, const char *name, sora_tensor *t, sora_err *e)
{
	found *f = ctx;
	if (strcmp(name, CHECK_TENSOR) == 0) {
		f->data = t->data;
		f->n = sora_tensor_numel(t);
		return 1; /* stops the walk */
	}
	return 0;
}

/* Peak resident set of this process in KiB (VmHWM: the weights' file pages count while mapped). */
static long peak_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "VmHWM:", 6) == 0) {
			kib = strtol(line + 6, NULL, 10);
			break;
		}
	if (f)
		fclose(f);
	return kib;
}

static int write_f32(const char *dir, const char *name, const float *p, size_t n, sora_err *e)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	CHECK(e, f, "cannot create %s", path);
	const int ok = fwrite(p, sizeof *p, n, f) == n;
	CHECK(e, fclose(f) == 0 && ok, "cannot write %s", path);
	return 0;
fail:
	return -1;
}

typedef struct trainer {
	sora_mmdit p, g; /* f32 views of w and gw */
	float *w, *gw, *m1, *m2, *target, *pred, *dpred;
	size_t n;
	sora_mmdit_tape *tp;
} trainer;

/* One step as Open-Sora 2.0's train.py takes it; t[0..2] get the seconds of the forward with the loss, of
 * the backward (zeroing the gradients first, since backward adds into them) and of clipping with AdamW. */
static int step(trainer *s, const sora_mmdit_input *x, int64_t k, double *loss, double *norm, double *t,
		sora_err *e)
{
	const int64_t n_out = (int64_t)L * IN;
	const double t0 = bench_now();
	TRY(sora_mmdit_train_forward(&s->p, s->tp, x, s->pred, e));
	*loss = sora_flow_mse(s->pred, s->target, n_out, s->dpred);
	const double t1 = bench_now();
	memset(s->gw, 0, s->n * sizeof *s->gw);
	TRY(sora_mmdit_backward(&s->p, &s->g, s->tp, x, s->dpred, NULL, e));
	const double t2 = bench_now();
	/* torch.nn.utils.clip_grad_norm_(params, 1.0), applied by AdamW as it reads g (grad_scale). */
	double sumsq;
	TRY(sora_cpu_sumsq(&sumsq, s->gw, s->n, e));
	*norm = sqrt(sumsq);
	const sora_adamw_args a = {.lr = 1e-5,
				   .beta1 = 0.9,
				   .beta2 = 0.999,
				   .eps = 1e-15,
				   .weight_decay = 0,
				   .step = k,
				   .grad_scale = (float)sora_clip_coef(*norm, 1.0)};
	TRY(sora_cpu_adamw(s->w, s->gw, s->m1, s->m2, s->n, &a, e));
	const double t3 = bench_now();
	t[0] = t1 - t0, t[1] = t2 - t1, t[2] = t3 - t2;
	return 0;
fail:
	return -1;
}

static void trainer_free(trainer *s)
{
	sora_mmdit_tape_free(s->tp);
	sora_mmdit_free(&s->p);
	sora_mmdit_free(&s->g);
	float *bufs[] = {s->w, s->gw, s->m1, s->m2, s->target, s->pred, s->dpred};
	for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
		free(bufs[i]);
}

static int run(const char *dir, int n, sora_err *e)
{
	char path[4096];
	sora_mmdit loaded = {0};
	sora_safetensors *in = NULL;
	trainer s = {0};
	float *x1 = NULL;
	double sec[64][4], first[2];
	const size_t n_out = (size_t)L * IN;
	n = n < 1 ? 1 : n > 64 ? 64 : n;

	snprintf(path, sizeof path, "%s/model.safetensors", dir);
	TRY(sora_mmdit_load(&loaded, path, NULL, e));
	s.n = (size_t)loaded.n_params;
	/* As sora-train holds them (common/train/trainer.c): weights, gradients and both moments, f32. */
	CHECK_ALLOC(e, s.w = malloc(s.n * sizeof *s.w));
	CHECK_ALLOC(e, s.gw = calloc(s.n, sizeof *s.gw));
	CHECK_ALLOC(e, s.m1 = calloc(s.n, sizeof *s.m1));
	CHECK_ALLOC(e, s.m2 = calloc(s.n, sizeof *s.m2));
	TRY(sora_mmdit_view(&s.p, &loaded, s.w, 1, e));
	TRY(sora_mmdit_view(&s.g, &loaded, s.gw, 0, e));
	sora_mmdit_free(&loaded); /* the views copied what they need: the file's 2.1 GB of pages can go */
	CHECK_ALLOC(e,
		    s.tp = sora_mmdit_tape_new(0, 0)); /* no checkpointing: torch's side keeps it all too */
	CHECK_ALLOC(e, s.target = malloc(n_out * sizeof *s.target));
	CHECK_ALLOC(e, s.pred = malloc(n_out * sizeof *s.pred));
	CHECK_ALLOC(e, s.dpred = malloc(n_out * sizeof *s.dpred));
	CHECK_ALLOC(e, x1 = malloc(n_out * sizeof *x1));

	snprintf(path, sizeof path, "%s/inputs.safetensors", dir);
	TRY(sora_st_open(&in, path, e));
	const sora_mmdit_input x = bench_input(in);
	/* The velocity (1 − σ)·x_1 − x_0 of train.py, with the image input as x_0 and a noise of its own. */
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	bench_uniform(x1, (int64_t)n_out, 1.0f, &rng);
	sora_flow_target(s.target, x.img, x1, (int64_t)n_out);
	TRY(write_f32(dir, "target.f32", s.target, n_out, e));

	fprintf(stderr, "sora: %s, %d BLAS threads, %d OpenMP threads\n", openblas_get_config(),
		openblas_get_num_threads(), omp_get_max_threads());
	/* The first step also maps every buffer in and sizes the tape; it is the one both sides compare. */
	TRY(step(&s, &x, 1, &first[0], &first[1], sec[0], e));
	found f = {0};
	TRY(sora_mmdit_each(&s.p, find, &f, e) < 0 ? -1 : 0);
	CHECK(e, f.data, "no tensor %s in the model", CHECK_TENSOR);
	TRY(write_f32(dir, "w_sora.f32", f.data, (size_t)f.n, e));
	fprintf(stderr, "sora: the tape holds %.2f GB\n", (double)sora_mmdit_tape_bytes(s.tp) / 1e9);
	for (int r = 0; r < n; r++) {
		double loss, norm;
		TRY(step(&s, &x, 2 + r, &loss, &norm, sec[r], e));
		sec[r][3] = sec[r][0] + sec[r][1] + sec[r][2];
	}
	double med[4];
	for (int c = 0; c < 4; c++) {
		double col[64] = {0};
		for (int r = 0; r < n; r++)
			col[r] = sec[r][c];
		qsort(col, (size_t)n, sizeof *col, bench_cmp);
		med[c] = col[n / 2];
	}
	printf("sora %.4f %.4f %.4f %.4f\n", med[3], med[0], med[1], med[2]);
	printf("first %.9g %.9g\n", first[0], first[1]);
	printf("gflop %.2f\n", bench_forward_gflop());
	printf("params %zu\n", s.n);
	printf("peak_kib %ld\n", peak_kib());
	free(x1);
	sora_st_close(in);
	trainer_free(&s);
	return 0;
fail:
	free(x1);
	sora_st_close(in);
	sora_mmdit_free(&loaded);
	trainer_free(&s);
	return -1;
}

int main(int argc, char **argv)
{
	sora_err e = {0};
	if (argc >= 4 && !strcmp(argv[1], "run") && run(argv[2], (int)strtol(argv[3], NULL, 10), &e) == 0)
		return 0;
	if (argc < 4)
		fprintf(stderr, "usage: train_bench run DIR N\n");
	else
		fprintf(stderr, "train_bench: %s\n", e.msg);
	return 1;
}
