/* The MMDiT ops' CUDA twins against the CPU on random inputs at the released model's head layout
 * (24 heads of 128, axes 16/56/56): max |cuda − cpu| / (1 + |cpu|) within the stated tolerance. */
#include "ops_dit_parity.h"

#include "nn/cuda_buf.h"
#include "nn/ops_dit.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static void fill(float *p, size_t n, float scale)
{
	for (size_t i = 0; i < n; i++) {
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		p[i] = (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0) * scale;
	}
}

typedef struct ctx {
	int passed, failed;
	sora_err e;
	float *host; /* device results come back here */
} ctx;

/* A device copy of n floats (NULL on failure, reported). */
static float *up(ctx *c, const float *h, size_t n)
{
	void *d = NULL;
	if (sora_cuda_alloc(&d, n * sizeof(float), &c->e) < 0 ||
	    sora_cuda_put(d, h, n * sizeof(float), &c->e) < 0) {
		sora_cuda_free(d);
		return NULL;
	}
	return d;
}

static void verdict(ctx *c, const char *op, int rc, const float *cpu, const float *dev, size_t n, double tol)
{
	double worst = 0;
	if (rc < 0 || sora_cuda_get(c->host, dev, n * sizeof(float), &c->e) < 0) {
		printf("not ok - %s: %s\n", op, c->e.msg);
		c->failed++;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)c->host[i] - cpu[i]) / (1 + fabs(cpu[i]));
		if (!(d <= worst))
			worst = d;
	}
	int ok = worst <= tol;
	printf("%s - %s: max error %.3g (tolerance %.0e)\n", ok ? "ok" : "not ok", op, worst, tol);
	ok ? c->passed++ : c->failed++;
}

void sora_ops_dit_parity(int *passed, int *failed)
{
	enum { B = 2, L = 40, H = 24, D = 128, C = H * D, HALF = D / 2 };
	const int axes[3] = {16, 56, 56};
	const size_t NC = (size_t)B * L * C, NT = (size_t)B * L * HALF;
	ctx c = {0};
	float *x = malloc(NC * sizeof *x), *y = malloc(NC * sizeof *y),
	      *mod = malloc((size_t)B * 6 * C * sizeof *mod);
	float *ids = malloc((size_t)B * L * 3 * sizeof *ids), *ct = malloc(NT * sizeof *ct),
	      *st = malloc(NT * sizeof *st);
	float t[B] = {0.7f, 0.0123f}, emb[B * SORA_DIT_TIME_DIM];
	c.host = malloc(NC * sizeof *c.host);
	float *dx = NULL, *dy = NULL, *dmod = NULL, *dids = NULL, *dct = NULL, *dst = NULL, *dt = NULL;
	if (!x || !y || !mod || !ids || !ct || !st || !c.host) {
		printf("not ok - MMDiT parity set-up: out of memory\n");
		c.failed++;
		goto done;
	}
	fill(x, NC, 3), fill(mod, (size_t)B * 6 * C, 1);
	for (int i = 0; i < B * L * 3; i++)
		ids[i] = (float)((i * 7) % 23);
	if (!(dx = up(&c, x, NC)) || !(dy = up(&c, x, NC)) || !(dmod = up(&c, mod, (size_t)B * 6 * C)) ||
	    !(dids = up(&c, ids, (size_t)B * L * 3)) || !(dct = up(&c, x, NT)) || !(dst = up(&c, x, NT)) ||
	    !(dt = up(&c, t, B))) {
		printf("not ok - MMDiT parity set-up: %s\n", c.e.msg);
		c.failed++;
		goto done;
	}

	for (int q = 0; q < 2; q++) {
		sora_cpu_timestep_embedding(emb, t, B, q, &c.e);
		verdict(&c, q ? "timestep_embedding (bf16 t)" : "timestep_embedding",
			sora_cuda_timestep_embedding(dy, dt, B, q, &c.e), emb, dy,
			(size_t)B * SORA_DIT_TIME_DIM, 1e-5);
	}
	sora_cpu_adaln(y, x, mod, mod + C, B, L, C, 6 * C, 1e-6f, &c.e);
	verdict(&c, "adaln", sora_cuda_adaln(dy, dx, dmod, dmod + C, B, L, C, 6 * C, 1e-6f, &c.e), y, dy, NC,
		1e-5);
	memcpy(y, x, NC * sizeof *y);
	sora_cpu_gated_add(y, x, mod + (size_t)2 * C, B, L, C, 6 * C, &c.e);
	sora_cuda_put(dy, x, NC * sizeof *x, &c.e);
	verdict(&c, "gated_add", sora_cuda_gated_add(dy, dx, dmod + (size_t)2 * C, B, L, C, 6 * C, &c.e), y,
		dy, NC, 1e-6);
	for (int f64 = 0; f64 < 2; f64++) {
		sora_cpu_rope_table(ct, st, ids, B, L, axes, 3, 10000.0f, f64, &c.e);
		int rc = sora_cuda_rope_table(dct, dst, dids, B, L, axes, 3, 10000.0f, f64, &c.e);
		verdict(&c, f64 ? "rope_table f64 (cos)" : "rope_table f32 (cos)", rc, ct, dct, NT, 1e-6);
		verdict(&c, f64 ? "rope_table f64 (sin)" : "rope_table f32 (sin)", rc, st, dst, NT, 1e-6);
	}
	for (int inter = 0; inter < 2; inter++) {
		memcpy(y, x, NC * sizeof *y);
		sora_cpu_rope_apply(y, ct, st, B, L, H, D, inter, &c.e);
		sora_cuda_put(dy, x, NC * sizeof *x, &c.e);
		sora_cuda_put(dct, ct, NT * sizeof *ct, &c.e);
		sora_cuda_put(dst, st, NT * sizeof *st, &c.e);
		verdict(&c, inter ? "rope_apply interleaved" : "rope_apply half-split",
			sora_cuda_rope_apply(dy, dct, dst, B, L, H, D, inter, &c.e), y, dy, NC, 1e-6);
	}
	/* [B, 15, C] + [B, 25, C] → [B, 40, C] and back into the halves of y. */
	sora_cpu_cat_tokens(y, x, x + (size_t)B * 15 * C, B, 15, 25, C, &c.e);
	verdict(&c, "cat_tokens", sora_cuda_cat_tokens(dy, dx, dx + (size_t)B * 15 * C, B, 15, 25, C, &c.e),
		y, dy, NC, 0);
	sora_cpu_split_tokens(y, y + (size_t)B * 15 * C, x, B, 15, 25, C, &c.e);
	verdict(&c, "split_tokens",
		sora_cuda_split_tokens(dy, dy + (size_t)B * 15 * C, dx, B, 15, 25, C, &c.e), y, dy, NC, 0);
	/* Columns 100..1099 of x seen as [B·L·3, 1024]. */
	sora_cpu_copy_cols(y, 1000, x + 100, C / 3, B * L * 3, 1000, &c.e);
	verdict(&c, "copy_cols", sora_cuda_copy_cols(dy, 1000, dx + 100, C / 3, B * L * 3, 1000, &c.e), y, dy,
		(size_t)B * L * 3 * 1000, 0);
	sora_cpu_gelu_tanh_cols(y, 1000, x + 100, C / 3, B * L * 3, 1000, &c.e);
	verdict(&c, "gelu_tanh_cols",
		sora_cuda_gelu_tanh_cols(dy, 1000, dx + 100, C / 3, B * L * 3, 1000, &c.e), y, dy,
		(size_t)B * L * 3 * 1000, 1e-6);
done:
	sora_cuda_free(dx), sora_cuda_free(dy), sora_cuda_free(dmod), sora_cuda_free(dids);
	sora_cuda_free(dct), sora_cuda_free(dst), sora_cuda_free(dt);
	free(x), free(y), free(mod), free(ids), free(ct), free(st), free(c.host);
	*passed += c.passed;
	*failed += c.failed;
}
