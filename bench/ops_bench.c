/* CPU op throughput at the shapes of T5-XXL and CLIP-L (bench/ops.sh compiles and runs this next to the
 * same shapes in PyTorch). Prints "name GFLOP/s" per line: the median of 7 timed runs after a warm-up. */
#include "nn/ops.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *buf(size_t n)
{
	float *p = malloc(n * sizeof *p);
	for (size_t i = 0; p && i < n; i++)
		p[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
	return p;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

#define RUNS 7

static double median(double *t)
{
	qsort(t, RUNS, sizeof *t, cmp);
	return t[RUNS / 2];
}

static void linear(const char *name, int N, int in, int out)
{
	float *x = buf((size_t)N * in), *w = buf((size_t)out * in), *b = buf(out), *y = buf((size_t)N * out);
	double t[RUNS];
	sora_err e = {0};
	sora_cpu_linear(y, x, w, b, N, in, out, &e);
	for (int r = 0; r < RUNS; r++) {
		double t0 = now();
		sora_cpu_linear(y, x, w, b, N, in, out, &e);
		t[r] = now() - t0;
	}
	printf("%s %.2f\n", name, 2.0 * N * in * out / median(t) / 1e9);
	free(x), free(w), free(b), free(y);
}

static void attention(const char *name, int H, int T, int D, float scale, int causal, int bias)
{
	size_t n = (size_t)T * H * D;
	float *q = buf(n), *k = buf(n), *v = buf(n), *o = buf(n), *pb = bias ? buf((size_t)H * T * T) : NULL;
	sora_attn_args a = {1, H, T, T, D, scale, causal, pb, NULL};
	double t[RUNS];
	sora_err e = {0};
	sora_cpu_attention(o, q, k, v, &a, &e);
	for (int r = 0; r < RUNS; r++) {
		double t0 = now();
		sora_cpu_attention(o, q, k, v, &a, &e);
		t[r] = now() - t0;
	}
	printf("%s %.2f\n", name, 4.0 * H * T * T * D / median(t) / 1e9);
	free(q), free(k), free(v), free(o), free(pb);
}

int main(void)
{
	fprintf(stderr, "sora: %s, %d threads\n", openblas_get_config(), openblas_get_num_threads());
	linear("t5_linear_512x4096x4096", 512, 4096, 4096);
	linear("t5_ffn_512x4096x10240", 512, 4096, 10240);
	attention("t5_attention_64h_512t_64d", 64, 512, 64, 1.0f, 0, 1);
	linear("clip_linear_77x768x768", 77, 768, 768);
	linear("clip_mlp_77x768x3072", 77, 768, 3072);
	attention("clip_attention_12h_77t_64d", 12, 77, 64, 0.125f, 1, 0);
	return 0;
}
