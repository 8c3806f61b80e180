/* The VAE's CPU speed and memory at the released channel widths, random weights.
 *
 *   vae_bench conv                one line per conv3d case: name GFLOP/s (median of 5 after a warm-up)
 *   vae_bench encoder T H W       encoder + quant_conv on a [3, T, H, W] clip: "encoder_TxHxW seconds"
 *   vae_bench roundtrip T H W     encode then decode one clip, timings on stderr (run under peak_rss)
 */
#include "models/vae_hunyuan.h"
#include "nn/ops_video.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

__attribute__((noreturn)) static void die(const char *msg)
{
	fprintf(stderr, "vae_bench: %s\n", msg);
	exit(1);
}

static int arg_int(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || v < 1 || v > 1 << 16)
		die("sizes are positive integers");
	return (int)v;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static float *rand_buf(size_t n, uint64_t seed)
{
	float *p = malloc(n * sizeof *p);
	if (p)
		sora_vae_gaussian(p, n, seed);
	return p;
}

/* The conv3d cases: the widths and strides of the released encoder at a reduced clip size. */
static int bench_conv(void)
{
	static const struct {
		const char *name;
		int cin, cout, T, H, W, k, st, sh;
	} cases[] = {
	    {"conv3d_128to128_9x64x64", 128, 128, 9, 64, 64, 3, 1, 1},
	    {"conv3d_3to128_9x64x64", 3, 128, 9, 64, 64, 3, 1, 1},
	    {"conv3d_256to256_s222_9x32x32", 256, 256, 9, 32, 32, 3, 2, 2},
	    {"conv3d_512to512_3x16x16", 512, 512, 3, 16, 16, 3, 1, 1},
	    {"conv3d_256to512_k1_5x16x16", 256, 512, 5, 16, 16, 1, 1, 1},
	};
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		sora_conv3d_args a = {.cin = cases[c].cin,
				      .cout = cases[c].cout,
				      .T = cases[c].T,
				      .H = cases[c].H,
				      .W = cases[c].W,
				      .k = cases[c].k,
				      .st = cases[c].st,
				      .sh = cases[c].sh,
				      .sw = cases[c].sh};
		sora_err e = {0};
		int To, Ho, Wo;
		if (sora_conv3d_out_size(&a, &To, &Ho, &Wo, &e) < 0)
			die(e.msg);
		const size_t k3 = (size_t)a.k * a.k * a.k;
		float *x = rand_buf((size_t)a.cin * a.T * a.H * a.W, 1),
		      *w = rand_buf((size_t)a.cout * a.cin * k3, 2);
		float *b = rand_buf((size_t)a.cout, 3),
		      *y = malloc((size_t)a.cout * To * Ho * Wo * sizeof *y);
		if (!x || !w || !b || !y)
			die("out of memory");
		double t[5];
		for (int r = -1; r < 5; r++) {
			double t0 = now();
			if (sora_cpu_causal_conv3d(y, x, w, b, &a, &e) < 0)
				die(e.msg);
			if (r >= 0)
				t[r] = now() - t0;
		}
		qsort(t, 5, sizeof *t, cmp_double);
		const double flop = 2.0 * a.cout * (double)a.cin * k3 * To * Ho * Wo;
		printf("%s %.2f\n", cases[c].name, flop / t[2] / 1e9);
		free(x), free(w), free(b), free(y);
	}
	return 0;
}

static int released(sora_vae *m, sora_err *e)
{
	sora_vae_config c;
	sora_vae_config_default(&c);
	return sora_vae_init_random(m, &c, 42, e);
}

static int bench_encoder(int T, int H, int W)
{
	sora_vae m;
	sora_err e = {0};
	float *x = rand_buf((size_t)3 * T * H * W, 5), *mo = NULL;
	int ld[4];
	double t[3];
	if (!x || released(&m, &e) < 0)
		die(x ? e.msg : "out of memory");
	for (int r = -1; r < 3; r++) {
		double t0 = now();
		if (sora_vae_encode(&m, x, T, H, W, &mo, ld, &e) < 0)
			die(e.msg);
		if (r >= 0)
			t[r] = now() - t0;
		free(mo);
	}
	qsort(t, 3, sizeof *t, cmp_double);
	printf("encoder_%dx%dx%d %.3f\n", T, H, W, t[1]);
	sora_vae_free(&m);
	free(x);
	return 0;
}

static int roundtrip(int T, int H, int W)
{
	sora_vae m;
	sora_err e = {0};
	float *x = malloc((size_t)3 * T * H * W * sizeof *x), *mo = NULL, *z = NULL, *v = NULL;
	int ld[4], vd[4];
	if (!x || released(&m, &e) < 0)
		die(x ? e.msg : "out of memory");
	/* A real-looking clip: a smooth colour field drifting over time, in [−1, 1]. */
	for (int c = 0; c < 3; c++)
		for (int t = 0; t < T; t++)
			for (int h = 0; h < H; h++)
				for (int w = 0; w < W; w++)
					x[(((size_t)c * T + t) * H + h) * W + w] =
					    (float)(((h + 2 * t + 37 * c) % H) + ((w + t) % W)) / (H + W) *
						2 -
					    1;
	double t0 = now();
	if (sora_vae_encode(&m, x, T, H, W, &mo, ld, &e) < 0)
		die(e.msg);
	double t1 = now();
	const int zd[4] = {ld[0] / 2, ld[1], ld[2], ld[3]};
	z = malloc((size_t)zd[0] * zd[1] * zd[2] * zd[3] * sizeof *z);
	if (!z)
		die("out of memory");
	sora_vae_latent(&m, mo, ld, NULL, z, NULL, NULL);
	if (sora_vae_decode(&m, z, zd, &v, vd, &e) < 0)
		die(e.msg);
	fprintf(stderr, "roundtrip %dx%dx%d: encode %.1f s, decode %.1f s -> [%d, %d, %d, %d]\n", T, H, W,
		t1 - t0, now() - t1, vd[0], vd[1], vd[2], vd[3]);
	free(x), free(mo), free(z), free(v);
	sora_vae_free(&m);
	return 0;
}

int main(int argc, char **argv)
{
	fprintf(stderr, "sora.c: OpenBLAS %s, %d BLAS threads, %d OpenMP threads\n", openblas_get_config(),
		openblas_get_num_threads(), omp_get_max_threads());
	if (argc == 2 && !strcmp(argv[1], "conv"))
		return bench_conv();
	if (argc == 5 && (!strcmp(argv[1], "encoder") || !strcmp(argv[1], "roundtrip"))) {
		int T = arg_int(argv[2]), H = arg_int(argv[3]), W = arg_int(argv[4]);
		return !strcmp(argv[1], "encoder") ? bench_encoder(T, H, W) : roundtrip(T, H, W);
	}
	fprintf(stderr, "usage: vae_bench conv | encoder T H W | roundtrip T H W\n");
	return 2;
}
