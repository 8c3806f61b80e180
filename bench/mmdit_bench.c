/* One MMDiT call on the CPU at the released width (bench/sample.sh compiles and runs this beside the same
 * blocks in PyTorch).
 *   mmdit_bench make DIR   writes DIR/model.safetensors (random f32 weights: 3072 wide, 24 heads, one double
 *                          and one single block, Open-Sora 2.0 layout) and DIR/inputs.safetensors (256 image
 *                          and 512 text tokens, a 256px 1:1 image);
 *   mmdit_bench run DIR N  prints "sora SECONDS GFLOP" (the median of N calls after a warm-up) and writes
 *                          the output to DIR/out_sora.f32. */
#include "mmdit_bench.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Uniform in ±scale from a fixed xorshift stream. */
static uint64_t rng = 0x2545f4914f6cdd1dull;
static int tensor(sora_tensor *t, int ndim, const int64_t *shape, float scale, sora_err *e)
{
	if (sora_tensor_alloc(t, SORA_F32, ndim, shape, e) < 0)
		return -1;
	bench_uniform(t->data, sora_tensor_numel(t), scale, &rng);
	return 0;
}

typedef struct list {
	char *names[80];
	sora_tensor t[80];
	int n;
} list;

/* A Linear's weight (PyTorch's default init range) and bias. */
static int linear(list *l, const char *prefix, int out, int in, sora_err *e)
{
	char name[128];
	float s = 1.0f / sqrtf((float)in);
	snprintf(name, sizeof name, "%s.weight", prefix);
	l->names[l->n] = strdup(name);
	if (tensor(&l->t[l->n++], 2, (int64_t[]){out, in}, s, e) < 0)
		return -1;
	snprintf(name, sizeof name, "%s.bias", prefix);
	l->names[l->n] = strdup(name);
	return tensor(&l->t[l->n++], 1, (int64_t[]){out}, s, e);
}

static int norm(list *l, const char *name, sora_err *e)
{
	l->names[l->n] = strdup(name);
	if (tensor(&l->t[l->n], 1, (int64_t[]){D}, 0.2f, e) < 0)
		return -1;
	for (int i = 0; i < D; i++)
		((float *)l->t[l->n].data)[i] += 1.0f;
	l->n++;
	return 0;
}

static int write(list *l, const char *path, sora_err *e)
{
	int rc = sora_st_write(path, (const char *const *)l->names, l->t, l->n, NULL, e);
	for (int i = 0; i < l->n; i++)
		free(l->names[i]), sora_tensor_free(&l->t[i]);
	l->n = 0;
	return rc;
}

static int make(const char *dir, sora_err *e)
{
	static list l;
	char path[4096];
	TRY(linear(&l, "img_in", C, IN, e));
	TRY(linear(&l, "cond_in", C, COND, e));
	TRY(linear(&l, "txt_in", C, CTX, e));
	TRY(linear(&l, "time_in.in_layer", C, 256, e));
	TRY(linear(&l, "time_in.out_layer", C, C, e));
	TRY(linear(&l, "vector_in.in_layer", C, VEC, e));
	TRY(linear(&l, "vector_in.out_layer", C, C, e));
	TRY(linear(&l, "final_layer.linear", IN, C, e));
	TRY(linear(&l, "final_layer.adaLN_modulation.1", 2 * C, C, e));
	for (int s = 0; s < 2; s++) {
		char p[128];
		const char *k = s ? "txt" : "img";
#define P(x) (snprintf(p, sizeof p, "double_blocks.0.%s_%s", k, x), p)
		TRY(linear(&l, P("mod.lin"), 6 * C, C, e));
		TRY(linear(&l, P("attn.q_proj"), C, C, e));
		TRY(linear(&l, P("attn.k_proj"), C, C, e));
		TRY(linear(&l, P("attn.v_proj"), C, C, e));
		TRY(linear(&l, P("attn.proj"), C, C, e));
		TRY(linear(&l, P("mlp.0"), M, C, e));
		TRY(linear(&l, P("mlp.2"), C, M, e));
		TRY(norm(&l, P("attn.norm.query_norm.scale"), e));
		TRY(norm(&l, P("attn.norm.key_norm.scale"), e));
#undef P
	}
	TRY(linear(&l, "single_blocks.0.q_proj", C, C, e));
	TRY(linear(&l, "single_blocks.0.k_proj", C, C, e));
	TRY(linear(&l, "single_blocks.0.v_mlp", C + M, C, e));
	TRY(linear(&l, "single_blocks.0.linear2", C, C + M, e));
	TRY(linear(&l, "single_blocks.0.modulation.lin", 3 * C, C, e));
	TRY(norm(&l, "single_blocks.0.norm.query_norm.scale", e));
	TRY(norm(&l, "single_blocks.0.norm.key_norm.scale", e));
	snprintf(path, sizeof path, "%s/model.safetensors", dir);
	TRY(write(&l, path, e));

	static const char *const names[] = {"img", "img_ids", "txt", "txt_ids", "timesteps", "y_vec", "cond"};
	const int64_t shapes[][3] = {{1, L, IN}, {1, L, 3}, {1, LT, CTX}, {1, LT, 3},
				     {1},        {1, VEC},  {1, L, COND}};
	const int ndims[] = {3, 3, 3, 3, 1, 2, 3};
	for (int i = 0; i < 7; i++) {
		l.names[l.n] = strdup(names[i]);
		TRY(tensor(&l.t[l.n], ndims[i], shapes[i], 1.0f, e));
		l.n++;
	}
	float *ids = l.t[1].data, *tids = l.t[3].data; /* a 1 × 16 × 16 token grid; text at the origin */
	for (int i = 0; i < L; i++) {
		int h = i / 16, w = i % 16;
		ids[(size_t)3 * i] = 0, ids[(size_t)3 * i + 1] = (float)h, ids[(size_t)3 * i + 2] = (float)w;
	}
	memset(tids, 0, sizeof(float) * LT * 3);
	*(float *)l.t[4].data = 0.7f;
	snprintf(path, sizeof path, "%s/inputs.safetensors", dir);
	TRY(write(&l, path, e));
	return 0;
fail:
	return -1;
}

static int run(const char *dir, int n, sora_err *e)
{
	char path[4096];
	sora_mmdit m = {0};
	sora_safetensors *in = NULL;
	float *out = malloc((size_t)L * IN * sizeof *out);
	double t[64];
	CHECK_ALLOC(e, out);
	snprintf(path, sizeof path, "%s/model.safetensors", dir);
	TRY(sora_mmdit_load(&m, path, NULL, e));
	snprintf(path, sizeof path, "%s/inputs.safetensors", dir);
	TRY(sora_st_open(&in, path, e));
	sora_mmdit_input x = bench_input(in);
	fprintf(stderr, "sora: %s, %d threads\n", openblas_get_config(), openblas_get_num_threads());
	TRY(sora_mmdit_forward(&m, &x, out, NULL, e)); /* warm-up: maps the weights in */
	n = n < 1 ? 1 : n > 64 ? 64 : n;
	for (int r = 0; r < n; r++) {
		double t0 = bench_now();
		TRY(sora_mmdit_forward(&m, &x, out, NULL, e));
		t[r] = bench_now() - t0;
	}
	qsort(t, (size_t)n, sizeof *t, bench_cmp);
	printf("sora %.4f %.2f\n", t[n / 2], bench_forward_gflop());
	snprintf(path, sizeof path, "%s/out_sora.f32", dir);
	FILE *f = fopen(path, "wb");
	CHECK(e, f && fwrite(out, sizeof *out, (size_t)L * IN, f) == (size_t)L * IN, "cannot write %s", path);
	fclose(f);
	free(out);
	sora_st_close(in);
	sora_mmdit_free(&m);
	return 0;
fail:
	free(out);
	sora_st_close(in);
	sora_mmdit_free(&m);
	return -1;
}

int main(int argc, char **argv)
{
	sora_err e = {0};
	if (argc >= 3 && !strcmp(argv[1], "make") && make(argv[2], &e) == 0)
		return 0;
	if (argc >= 4 && !strcmp(argv[1], "run") && run(argv[2], (int)strtol(argv[3], NULL, 10), &e) == 0)
		return 0;
	if (argc < 3)
		fprintf(stderr, "usage: mmdit_bench make DIR | run DIR N\n");
	else
		fprintf(stderr, "mmdit_bench: %s\n", e.msg);
	return 1;
}
