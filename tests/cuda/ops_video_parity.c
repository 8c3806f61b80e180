/* Each CUDA video op against its CPU twin on random inputs at VAE-like shapes, with the tolerance stated
 * next to it: max |cuda − cpu| / (1 + |cpu|). */
#include "ops_video_parity.h"

#include "nn/cuda_buf.h"
#include "nn/ops_video.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t rng = 0x853c49e6748fea9bull;

static float *rand_buf(size_t n, float scale)
{
	float *p = malloc(n * sizeof *p);
	for (size_t i = 0; p && i < n; i++) {
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		p[i] = (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0) * scale;
	}
	return p;
}

static float *dev(const float *host, size_t n, sora_err *e)
{
	void *d;
	if (sora_cuda_alloc(&d, n * sizeof(float), e) < 0)
		return NULL;
	if (host && sora_cuda_put(d, host, n * sizeof(float), e) < 0) {
		sora_cuda_free(d);
		return NULL;
	}
	return d;
}

/* Compares n values of the device buffer d with cpu; counts the result. */
static void check(int *passed, int *failed, const char *op, int rc, const float *cpu, const float *d,
		  size_t n, double tol, sora_err *e)
{
	float *got = malloc(n * sizeof *got);
	double worst = 0;
	if (rc < 0 || !got || sora_cuda_get(got, d, n * sizeof *got, e) < 0) {
		printf("not ok - %s: %s\n", op, got ? e->msg : "out of memory");
		(*failed)++;
		free(got);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		double v = fabs((double)got[i] - cpu[i]) / (1 + fabs(cpu[i]));
		if (!(v <= worst))
			worst = v;
	}
	int ok = worst <= tol;
	printf("%s - %s: max error %.3g (tolerance %.0e)\n", ok ? "ok" : "not ok", op, worst, tol);
	ok ? (*passed)++ : (*failed)++;
	free(got);
}

void sora_ops_video_parity(int *passed, int *failed)
{
	sora_err e = {0};
	/* conv3d: 32 → 48 channels, 5×24×20, both stride patterns of the encoder and a 1×1×1 shortcut */
	const int C = 32, O = 48, T = 5, H = 24, W = 20;
	const size_t nx = (size_t)C * T * H * W, ny = (size_t)O * T * H * W * 8, nw = (size_t)O * C * 27;
	float *x = rand_buf(nx, 1), *w = rand_buf(nw, 0.05f), *b = rand_buf(O, 1),
	      *cpu = malloc(ny * sizeof *cpu);
	float *dx = dev(x, nx, &e), *dw = dev(w, nw, &e), *db = dev(b, O, &e), *dy = dev(NULL, ny, &e);
	if (!x || !w || !b || !cpu || !dx || !dw || !db || !dy) {
		printf("not ok - video parity set-up: %s\n", e.msg[0] ? e.msg : "out of memory");
		(*failed)++;
		goto done;
	}
	static const int strides[][4] = {{3, 1, 1, 1}, {3, 1, 2, 2}, {3, 2, 2, 2}, {1, 1, 1, 1}};
	for (int s = 0; s < 4; s++) {
		sora_conv3d_args a = {.cin = C,
				      .cout = O,
				      .T = T,
				      .H = H,
				      .W = W,
				      .k = strides[s][0],
				      .st = strides[s][1],
				      .sh = strides[s][2],
				      .sw = strides[s][3]};
		int To, Ho, Wo;
		char name[96];
		sora_conv3d_out_size(&a, &To, &Ho, &Wo, &e);
		snprintf(name, sizeof name, "causal_conv3d k%d strides %d,%d,%d", a.k, a.st, a.sh, a.sw);
		sora_cpu_causal_conv3d(cpu, x, w, b, &a, &e);
		check(passed, failed, name, sora_cuda_causal_conv3d(dy, dx, dw, db, &a, &e), cpu, dy,
		      (size_t)O * To * Ho * Wo, 1e-5, &e);
	}
	sora_cpu_group_norm(cpu, x, w, b, C, 8, (int64_t)T * H * W, 1e-6f, 1, &e);
	check(passed, failed, "group_norm + silu",
	      sora_cuda_group_norm(dy, dx, dw, db, C, 8, (int64_t)T * H * W, 1e-6f, 1, &e), cpu, dy, nx, 1e-5,
	      &e);
	sora_cpu_upsample_causal(cpu, x, C, T, H, W, 2, 2, 2, &e);
	check(passed, failed, "upsample_causal (2,2,2)",
	      sora_cuda_upsample_causal(dy, dx, C, T, H, W, 2, 2, 2, &e), cpu, dy,
	      (size_t)C * (1 + 2 * (T - 1)) * 4 * H * W, 0, &e);
	sora_cpu_transpose(cpu, x, C, (int64_t)T * H * W, &e);
	check(passed, failed, "transpose", sora_cuda_transpose(dy, dx, C, (int64_t)T * H * W, &e), cpu, dy,
	      nx, 0, &e);
	/* attention: 3 frames of 8×8 tokens, one head of 64 (q, k, v inside x) */
	const int F = 3, HW = 64, D = 64;
	const size_t na = (size_t)F * HW * D;
	sora_cpu_frame_causal_attention(cpu, x, x + na, x + 2 * na, F, HW, D, 0.125f, &e);
	check(passed, failed, "frame_causal_attention",
	      sora_cuda_frame_causal_attention(dy, dx, dx + na, dx + 2 * na, F, HW, D, 0.125f, &e), cpu, dy,
	      na, 1e-5, &e);
done:
	free(x), free(w), free(b), free(cpu);
	sora_cuda_free(dx), sora_cuda_free(dw), sora_cuda_free(db), sora_cuda_free(dy);
}
