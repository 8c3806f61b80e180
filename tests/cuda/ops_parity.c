/* Each CUDA op against its CPU twin on random inputs, with the tolerance stated next to it:
 * max |cuda − cpu| / (1 + |cpu|). */
#include "ops_parity.h"

#include "nn/cuda_buf.h"
#include "nn/ops.h"
#include "nn/tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t rng = 0x2545f4914f6cdd1dull;

static float *rand_buf(size_t n, float scale)
{
	float *p = malloc(n * sizeof *p);
	for (size_t i = 0; p && i < n; i++) {
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		p[i] = (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0) * scale;
	}
	return p;
}

/* A device copy of host[0..n). */
static void *dev(const void *host, size_t bytes, sora_err *e)
{
	void *d;
	if (sora_cuda_alloc(&d, bytes, e) < 0)
		return NULL;
	if (host && sora_cuda_put(d, host, bytes, e) < 0) {
		sora_cuda_free(d);
		return NULL;
	}
	return d;
}

typedef struct tally {
	int passed, failed;
} tally;

static void compare(tally *t, const char *op, const float *cpu, const float *got, size_t n, double tol)
{
	double worst = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)got[i] - cpu[i]) / (1 + fabs(cpu[i]));
		if (!(d <= worst))
			worst = d;
	}
	int ok = worst <= tol;
	printf("%s - %s: max error %.3g (tolerance %.0e)\n", ok ? "ok" : "not ok", op, worst, tol);
	ok ? t->passed++ : t->failed++;
}

static void report(tally *t, const char *op, const float *cpu, const float *dev_out, size_t n, double tol,
		   sora_err *e)
{
	float *got = malloc(n * sizeof *got);
	if (!got || sora_cuda_get(got, dev_out, n * sizeof *got, e) < 0) {
		printf("not ok - %s: %s\n", op, e->msg);
		t->failed++;
	} else {
		compare(t, op, cpu, got, n, tol);
	}
	free(got);
}

/* bf16 linear: both results widened to f32; a different summation order may move the rounding by a step
 * (2^-8 relative). */
static void linear_bf16(tally *t, const float *x, const float *w, const float *b, int N, int in, int out,
			sora_err *e)
{
	size_t nx = (size_t)N * in, nw = (size_t)out * in, ny = (size_t)N * out;
	uint16_t *h = malloc((nx + nw + (size_t)out + 2 * ny) * sizeof *h);
	float *cpu = malloc(2 * ny * sizeof *cpu);
	void *d = NULL;
	if (!h || !cpu || sora_cuda_alloc(&d, (nx + nw + (size_t)out + ny) * sizeof *h, e) < 0) {
		printf("not ok - linear_bf16: %s\n", e->msg[0] ? e->msg : "out of memory");
		t->failed++;
		goto done;
	}
	/* host: x, w, b, the CPU result, the device result; device: x, w, b, y */
	uint16_t *hw = h + nx, *hb = hw + nw, *hy = hb + out, *gy = hy + ny;
	uint16_t *dx = d, *dw = dx + nx, *db = dw + nw, *dy = db + out;
	sora_from_f32(h, SORA_BF16, x, nx, e);
	sora_from_f32(hw, SORA_BF16, w, nw, e);
	sora_from_f32(hb, SORA_BF16, b, (size_t)out, e);
	sora_cpu_linear_bf16(hy, h, hw, hb, N, in, out, e);
	if (sora_cuda_put(d, h, (nx + nw + (size_t)out) * sizeof *h, e) < 0 ||
	    sora_cuda_linear_bf16(dy, dx, dw, db, N, in, out, e) < 0 ||
	    sora_cuda_get(gy, dy, ny * sizeof *gy, e) < 0) {
		printf("not ok - linear_bf16: %s\n", e->msg);
		t->failed++;
		goto done;
	}
	sora_to_f32(cpu, hy, SORA_BF16, ny, e);
	sora_to_f32(cpu + ny, gy, SORA_BF16, ny, e);
	compare(t, "linear_bf16 [77, 768] x [512, 768]^T + b", cpu, cpu + ny, ny, 1e-2);
done:
	free(h);
	free(cpu);
	sora_cuda_free(d);
}

#define RUN(t, name, call, e)                                                                                \
	do {                                                                                                 \
		if ((call) < 0) {                                                                            \
			printf("not ok - %s: %s\n", name, (e)->msg);                                         \
			(t)->failed++;                                                                       \
		}                                                                                            \
	} while (0)

void sora_ops_parity(int *passed, int *failed)
{
	tally t = {0, 0};
	sora_err e = {0};
	const int N = 77, C = 768, O = 512, V = 1000;
	const size_t NC = (size_t)N * C, NO = (size_t)N * O;
	float *x = rand_buf(NC, 2), *w = rand_buf((size_t)O * C, 0.05f), *b = rand_buf(O, 1),
	      *g = rand_buf(C, 1);
	float *cpu = malloc((NC > NO ? NC : NO) * 4 * sizeof *cpu);
	float *dx = dev(x, NC * 4, &e), *dw = dev(w, (size_t)O * C * 4, &e), *db = dev(b, (size_t)O * 4, &e),
	      *dg = dev(g, (size_t)C * 4, &e), *dy = dev(NULL, (NC > NO ? NC : NO) * 4 * 4, &e);
	if (!x || !w || !b || !g || !cpu || !dx || !dw || !db || !dg || !dy) {
		printf("not ok - parity set-up: %s\n", e.msg[0] ? e.msg : "out of memory");
		t.failed++;
		goto done;
	}

	sora_cpu_linear(cpu, x, w, b, N, C, O, &e);
	RUN(&t, "linear", sora_cuda_linear(dy, dx, dw, db, N, C, O, &e), &e);
	report(&t, "linear [77, 768] x [512, 768]^T + b", cpu, dy, NO, 1e-4, &e);
	linear_bf16(&t, x, w, b, N, C, O, &e);
	sora_cpu_layernorm(cpu, x, g, g, N, C, 1e-5f, &e);
	RUN(&t, "layernorm", sora_cuda_layernorm(dy, dx, dg, dg, N, C, 1e-5f, &e), &e);
	report(&t, "layernorm", cpu, dy, NC, 1e-5, &e);
	sora_cpu_rmsnorm(cpu, x, g, N, C, 1e-6f, &e);
	RUN(&t, "rmsnorm", sora_cuda_rmsnorm(dy, dx, dg, N, C, 1e-6f, &e), &e);
	report(&t, "rmsnorm", cpu, dy, NC, 1e-5, &e);
	sora_cpu_l2_normalize(cpu, x, N, C, 1e-12f, &e);
	RUN(&t, "l2_normalize", sora_cuda_l2_normalize(dy, dx, N, C, 1e-12f, &e), &e);
	report(&t, "l2_normalize", cpu, dy, NC, 1e-5, &e);
	sora_cpu_softmax(cpu, x, N, C, &e);
	RUN(&t, "softmax", sora_cuda_softmax(dy, dx, N, C, &e), &e);
	report(&t, "softmax", cpu, dy, NC, 1e-5, &e);
	sora_cpu_gelu_tanh(cpu, x, NC, &e);
	RUN(&t, "gelu_tanh", sora_cuda_gelu_tanh(dy, dx, NC, &e), &e);
	report(&t, "gelu_tanh", cpu, dy, NC, 1e-6, &e);
	sora_cpu_quick_gelu(cpu, x, NC, &e);
	RUN(&t, "quick_gelu", sora_cuda_quick_gelu(dy, dx, NC, &e), &e);
	report(&t, "quick_gelu", cpu, dy, NC, 1e-6, &e);
	sora_cpu_silu(cpu, x, NC, &e);
	RUN(&t, "silu", sora_cuda_silu(dy, dx, NC, &e), &e);
	report(&t, "silu", cpu, dy, NC, 1e-6, &e);

	const int64_t as[] = {N, 1, C}, bs[] = {4, 1};
	sora_cpu_binary(cpu, SORA_BIN_MUL, x, 3, as, b, 2, bs, &e);
	RUN(&t, "binary", sora_cuda_binary(dy, SORA_BIN_MUL, dx, 3, as, db, 2, bs, &e), &e);
	report(&t, "binary [77, 1, 768] * [4, 1]", cpu, dy, NC * 4, 0, &e);

	int32_t ids[77];
	for (int i = 0; i < N; i++)
		ids[i] = (i * 7919) % V;
	float *table = rand_buf((size_t)V * C, 1), *dt = dev(table, (size_t)V * C * 4, &e);
	int32_t *di = dev(ids, sizeof ids, &e);
	if (table && dt && di) {
		sora_cpu_embedding(cpu, table, ids, N, C, V, &e);
		RUN(&t, "embedding", sora_cuda_embedding(dy, dt, di, N, C, V, &e), &e);
		report(&t, "embedding", cpu, dy, NC, 0, &e);
	}
	free(table);
	sora_cuda_free(dt);
	sora_cuda_free(di);

	/* Attention at CLIP's shape (77 tokens, 12 heads of 64, causal) and T5's (bias, no scale, a mask). */
	const int H = 12, D = 64, T = 77, HD = H * D;
	float *q = rand_buf((size_t)2 * T * HD, 1), *k = rand_buf((size_t)2 * T * HD, 1),
	      *v = rand_buf((size_t)2 * T * HD, 1);
	float *bias = rand_buf((size_t)H * T * T, 3);
	uint8_t mask[2 * 77];
	for (int i = 0; i < 2 * T; i++)
		mask[i] = i % T < 40 + i / T * 20;
	float *dq = dev(q, (size_t)2 * T * HD * 4, &e), *dk = dev(k, (size_t)2 * T * HD * 4, &e),
	      *dv = dev(v, (size_t)2 * T * HD * 4, &e), *dbias = dev(bias, (size_t)H * T * T * 4, &e);
	uint8_t *dm = dev(mask, sizeof mask, &e);
	if (q && k && v && bias && dq && dk && dv && dbias && dm) {
		sora_attn_args clip = {2, H, T, T, D, 0.125f, 1, NULL, NULL};
		sora_attn_args t5 = {2, H, T, T, D, 1.0f, 0, bias, mask};
		sora_attn_args t5dev = t5;
		t5dev.bias = dbias;
		t5dev.key_mask = dm;
		sora_cpu_attention(cpu, q, k, v, &clip, &e);
		RUN(&t, "attention", sora_cuda_attention(dy, dq, dk, dv, &clip, &e), &e);
		report(&t, "attention CLIP (causal, 1/sqrt(64))", cpu, dy, (size_t)2 * T * HD, 1e-5, &e);
		sora_cpu_attention(cpu, q, k, v, &t5, &e);
		RUN(&t, "attention", sora_cuda_attention(dy, dq, dk, dv, &t5dev, &e), &e);
		report(&t, "attention T5 (bias, mask, no scale)", cpu, dy, (size_t)2 * T * HD, 1e-5, &e);
	}
	free(q), free(k), free(v), free(bias);
	sora_cuda_free(dq), sora_cuda_free(dk), sora_cuda_free(dv), sora_cuda_free(dbias), sora_cuda_free(dm);
done:
	free(x), free(w), free(b), free(g), free(cpu);
	sora_cuda_free(dx), sora_cuda_free(dw), sora_cuda_free(db), sora_cuda_free(dg), sora_cuda_free(dy);
	*passed += t.passed;
	*failed += t.failed;
}
