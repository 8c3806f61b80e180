/* Each CUDA op against its CPU twin on random inputs, in both storage types, with the tolerance stated
 * next to it: max |cuda − cpu| / (1 + |cpu|). f32: the two differ only by summation order and the last
 * bits of expf/erff/tanhf. bf16: both round an f32 result once, and those results differ as in f32, so
 * the two roundings may land one bf16 step apart (2^-7 relative): 1e-2, and 0 where no arithmetic
 * reorders (binary, embedding). */
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

/* bf16 copies of n host floats: on the host (hb) and on the device (db). */
typedef struct bf16_buf {
	uint16_t *hb, *db;
} bf16_buf;

static bf16_buf bf16_copy(const float *x, size_t n, sora_err *e)
{
	bf16_buf b = {malloc(n * sizeof(uint16_t) + 1), NULL};
	if (b.hb && sora_from_f32(b.hb, SORA_BF16, x, n, e) == 0)
		b.db = dev(b.hb, n * sizeof(uint16_t), e);
	return b;
}

static void bf16_free(bf16_buf *b)
{
	free(b->hb);
	sora_cuda_free(b->db);
}

/* The CPU twin's bf16 output cpu against the device's dev_out, both widened to f32. */
static void report_bf16(tally *t, const char *op, const uint16_t *cpu, const uint16_t *dev_out, size_t n,
			double tol, sora_err *e)
{
	uint16_t *got = malloc(n * sizeof *got);
	float *w = malloc(2 * n * sizeof *w);
	if (!got || !w || sora_cuda_get(got, dev_out, n * sizeof *got, e) < 0) {
		printf("not ok - %s: %s\n", op, e->msg[0] ? e->msg : "out of memory");
		t->failed++;
	} else {
		sora_to_f32(w, cpu, SORA_BF16, n, e);
		sora_to_f32(w + n, got, SORA_BF16, n, e);
		compare(t, op, w, w + n, n, tol);
	}
	free(got);
	free(w);
}

/* Whether the CUDA call succeeded; a failure is one "not ok" line. */
static int ran(tally *t, const char *op, int rc, const sora_err *e)
{
	if (rc == 0)
		return 1;
	printf("not ok - %s: %s\n", op, e->msg);
	t->failed++;
	return 0;
}

/* linear, the norms, softmax, the activations and binary at CLIP-L's width. */
static void dense_ops(tally *t)
{
	sora_err e = {0};
	const int N = 77, C = 768, O = 512;
	const size_t NC = (size_t)N * C, NO = (size_t)N * O, NY = (NC > NO ? NC : NO) * 4;
	float *x = rand_buf(NC, 2), *w = rand_buf((size_t)O * C, 0.05f), *b = rand_buf(O, 1),
	      *g = rand_buf(C, 1), *cpu = malloc(NY * sizeof *cpu);
	uint16_t *hy = malloc(NY * sizeof *hy);
	float *dx = dev(x, NC * 4, &e), *dw = dev(w, (size_t)O * C * 4, &e), *db = dev(b, (size_t)O * 4, &e),
	      *dg = dev(g, (size_t)C * 4, &e);
	void *dout = dev(NULL, NY * 4, &e); /* the output of either type */
	float *dy = dout;
	uint16_t *dy16 = dout;
	bf16_buf x16 = bf16_copy(x, NC, &e), w16 = bf16_copy(w, (size_t)O * C, &e), b16 = bf16_copy(b, O, &e),
		 g16 = bf16_copy(g, C, &e);
	if (!x || !w || !b || !g || !cpu || !hy || !dx || !dw || !db || !dg || !dy || !x16.db || !w16.db ||
	    !b16.db || !g16.db) {
		printf("not ok - parity set-up: %s\n", e.msg[0] ? e.msg : "out of memory");
		t->failed++;
		goto done;
	}

	sora_cpu_linear(cpu, x, w, b, N, C, O, &e);
	if (ran(t, "linear", sora_cuda_linear(dy, dx, dw, db, N, C, O, &e), &e))
		report(t, "linear [77, 768] x [512, 768]^T + b", cpu, dy, NO, 1e-4, &e);
	sora_cpu_linear_bf16(hy, x16.hb, w16.hb, b16.hb, N, C, O, &e);
	if (ran(t, "linear_bf16", sora_cuda_linear_bf16(dy16, x16.db, w16.db, b16.db, N, C, O, &e), &e))
		report_bf16(t, "linear_bf16 [77, 768] x [512, 768]^T + b", hy, dy16, NO, 1e-2, &e);

	sora_cpu_layernorm(cpu, x, g, g, N, C, 1e-5f, &e);
	if (ran(t, "layernorm", sora_cuda_layernorm(dy, dx, dg, dg, N, C, 1e-5f, &e), &e))
		report(t, "layernorm", cpu, dy, NC, 1e-5, &e);
	sora_cpu_layernorm_bf16(hy, x16.hb, g16.hb, g16.hb, N, C, 1e-5f, &e);
	if (ran(t, "layernorm_bf16", sora_cuda_layernorm_bf16(dy16, x16.db, g16.db, g16.db, N, C, 1e-5f, &e),
		&e))
		report_bf16(t, "layernorm_bf16", hy, dy16, NC, 1e-2, &e);
	sora_cpu_layernorm_bf16(hy, x16.hb, NULL, NULL, N, C, 1e-6f, &e);
	if (ran(t, "layernorm_bf16", sora_cuda_layernorm_bf16(dy16, x16.db, NULL, NULL, N, C, 1e-6f, &e), &e))
		report_bf16(t, "layernorm_bf16 without affine", hy, dy16, NC, 1e-2, &e);

	sora_cpu_rmsnorm(cpu, x, g, N, C, 1e-6f, &e);
	if (ran(t, "rmsnorm", sora_cuda_rmsnorm(dy, dx, dg, N, C, 1e-6f, &e), &e))
		report(t, "rmsnorm", cpu, dy, NC, 1e-5, &e);
	sora_cpu_rmsnorm_bf16(hy, x16.hb, g16.hb, N, C, 1e-6f, &e);
	if (ran(t, "rmsnorm_bf16", sora_cuda_rmsnorm_bf16(dy16, x16.db, g16.db, N, C, 1e-6f, &e), &e))
		report_bf16(t, "rmsnorm_bf16", hy, dy16, NC, 1e-2, &e);

	sora_cpu_l2_normalize(cpu, x, N, C, 1e-12f, &e);
	if (ran(t, "l2_normalize", sora_cuda_l2_normalize(dy, dx, N, C, 1e-12f, &e), &e))
		report(t, "l2_normalize", cpu, dy, NC, 1e-5, &e);
	sora_cpu_l2_normalize_bf16(hy, x16.hb, N, C, 1e-12f, &e);
	if (ran(t, "l2_normalize_bf16", sora_cuda_l2_normalize_bf16(dy16, x16.db, N, C, 1e-12f, &e), &e))
		report_bf16(t, "l2_normalize_bf16", hy, dy16, NC, 1e-2, &e);

	sora_cpu_softmax(cpu, x, N, C, &e);
	if (ran(t, "softmax", sora_cuda_softmax(dy, dx, N, C, &e), &e))
		report(t, "softmax", cpu, dy, NC, 1e-5, &e);
	sora_cpu_softmax_bf16(hy, x16.hb, N, C, &e);
	if (ran(t, "softmax_bf16", sora_cuda_softmax_bf16(dy16, x16.db, N, C, &e), &e))
		report_bf16(t, "softmax_bf16", hy, dy16, NC, 1e-2, &e);

	const struct {
		const char *name, *name16;
		int (*cpu)(float *, const float *, size_t, sora_err *);
		int (*cuda)(float *, const float *, size_t, sora_err *);
		int (*cpu16)(uint16_t *, const uint16_t *, size_t, sora_err *);
		int (*cuda16)(uint16_t *, const uint16_t *, size_t, sora_err *);
	} acts[] = {
	    {"gelu", "gelu_bf16", sora_cpu_gelu, sora_cuda_gelu, sora_cpu_gelu_bf16, sora_cuda_gelu_bf16},
	    {"gelu_tanh", "gelu_tanh_bf16", sora_cpu_gelu_tanh, sora_cuda_gelu_tanh, sora_cpu_gelu_tanh_bf16,
	     sora_cuda_gelu_tanh_bf16},
	    {"quick_gelu", "quick_gelu_bf16", sora_cpu_quick_gelu, sora_cuda_quick_gelu,
	     sora_cpu_quick_gelu_bf16, sora_cuda_quick_gelu_bf16},
	    {"silu", "silu_bf16", sora_cpu_silu, sora_cuda_silu, sora_cpu_silu_bf16, sora_cuda_silu_bf16},
	};
	for (size_t i = 0; i < sizeof acts / sizeof *acts; i++) {
		acts[i].cpu(cpu, x, NC, &e);
		if (ran(t, acts[i].name, acts[i].cuda(dy, dx, NC, &e), &e))
			report(t, acts[i].name, cpu, dy, NC, 1e-6, &e);
		acts[i].cpu16(hy, x16.hb, NC, &e);
		if (ran(t, acts[i].name16, acts[i].cuda16(dy16, x16.db, NC, &e), &e))
			report_bf16(t, acts[i].name16, hy, dy16, NC, 1e-2, &e);
	}

	const int64_t as[] = {N, 1, C}, bs[] = {4, 1};
	sora_cpu_binary(cpu, SORA_BIN_MUL, x, 3, as, b, 2, bs, &e);
	if (ran(t, "binary", sora_cuda_binary(dy, SORA_BIN_MUL, dx, 3, as, db, 2, bs, &e), &e))
		report(t, "binary [77, 1, 768] * [4, 1]", cpu, dy, NC * 4, 0, &e);
	sora_cpu_binary_bf16(hy, SORA_BIN_DIV, x16.hb, 3, as, b16.hb, 2, bs, &e);
	if (ran(t, "binary_bf16", sora_cuda_binary_bf16(dy16, SORA_BIN_DIV, x16.db, 3, as, b16.db, 2, bs, &e),
		&e))
		report_bf16(t, "binary_bf16 [77, 1, 768] / [4, 1]", hy, dy16, NC * 4, 0, &e);
done:
	free(x), free(w), free(b), free(g), free(cpu), free(hy);
	sora_cuda_free(dx), sora_cuda_free(dw), sora_cuda_free(db), sora_cuda_free(dg), sora_cuda_free(dy);
	bf16_free(&x16), bf16_free(&w16), bf16_free(&b16), bf16_free(&g16);
}

static void embedding_ops(tally *t)
{
	sora_err e = {0};
	const int N = 77, C = 768, V = 1000;
	int32_t ids[77];
	for (int i = 0; i < N; i++)
		ids[i] = (i * 7919) % V;
	float *table = rand_buf((size_t)V * C, 1), *cpu = malloc((size_t)N * C * sizeof *cpu),
	      *dt = dev(table, (size_t)V * C * 4, &e);
	void *dout = dev(NULL, (size_t)N * C * 4, &e);
	float *dy = dout;
	uint16_t *hy = malloc((size_t)N * C * sizeof *hy), *dy16 = dout;
	int32_t *di = dev(ids, sizeof ids, &e);
	bf16_buf t16 = bf16_copy(table, (size_t)V * C, &e);
	if (!table || !cpu || !dt || !dy || !hy || !di || !t16.db) {
		printf("not ok - embedding set-up: %s\n", e.msg[0] ? e.msg : "out of memory");
		t->failed++;
		goto done;
	}
	sora_cpu_embedding(cpu, table, ids, N, C, V, &e);
	if (ran(t, "embedding", sora_cuda_embedding(dy, dt, di, N, C, V, &e), &e))
		report(t, "embedding", cpu, dy, (size_t)N * C, 0, &e);
	sora_cpu_embedding_bf16(hy, t16.hb, ids, N, C, V, &e);
	if (ran(t, "embedding_bf16", sora_cuda_embedding_bf16(dy16, t16.db, di, N, C, V, &e), &e))
		report_bf16(t, "embedding_bf16", hy, dy16, (size_t)N * C, 0, &e);
done:
	free(table), free(cpu), free(hy);
	sora_cuda_free(dt), sora_cuda_free(dy), sora_cuda_free(di);
	bf16_free(&t16);
}

/* Attention at CLIP's shape (77 tokens, 12 heads of 64, causal) and T5's (bias, no scale, a mask). */
static void attention_ops(tally *t)
{
	sora_err e = {0};
	const int H = 12, D = 64, T = 77, HD = H * D;
	const size_t n = (size_t)2 * T * HD;
	float *q = rand_buf(n, 1), *k = rand_buf(n, 1), *v = rand_buf(n, 1),
	      *bias = rand_buf((size_t)H * T * T, 3), *cpu = malloc(n * sizeof *cpu);
	uint16_t *hy = malloc(n * sizeof *hy);
	uint8_t mask[2 * 77];
	for (int i = 0; i < 2 * T; i++)
		mask[i] = i % T < 40 + i / T * 20;
	float *dq = dev(q, n * 4, &e), *dk = dev(k, n * 4, &e), *dv = dev(v, n * 4, &e),
	      *dbias = dev(bias, (size_t)H * T * T * 4, &e);
	void *dout = dev(NULL, n * 4, &e);
	float *dy = dout;
	uint16_t *dy16 = dout;
	uint8_t *dm = dev(mask, sizeof mask, &e);
	bf16_buf q16 = bf16_copy(q, n, &e), k16 = bf16_copy(k, n, &e), v16 = bf16_copy(v, n, &e);
	if (!q || !k || !v || !bias || !cpu || !hy || !dq || !dk || !dv || !dbias || !dy || !dm || !q16.db ||
	    !k16.db || !v16.db) {
		printf("not ok - attention set-up: %s\n", e.msg[0] ? e.msg : "out of memory");
		t->failed++;
		goto done;
	}
	const sora_attn_args clip = {2, H, T, T, D, 0.125f, 1, NULL, NULL},
			     t5 = {2, H, T, T, D, 1.0f, 0, bias, mask},
			     t5dev = {2, H, T, T, D, 1.0f, 0, dbias, dm};
	const struct {
		const char *name, *name16;
		const sora_attn_args *host, *device;
	} cases[] = {
	    {"attention CLIP (causal, 1/sqrt(64))", "attention_bf16 CLIP (causal, 1/sqrt(64))", &clip, &clip},
	    {"attention T5 (bias, mask, no scale)", "attention_bf16 T5 (f32 bias, mask, no scale)", &t5,
	     &t5dev},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		sora_cpu_attention(cpu, q, k, v, cases[i].host, &e);
		if (ran(t, cases[i].name, sora_cuda_attention(dy, dq, dk, dv, cases[i].device, &e), &e))
			report(t, cases[i].name, cpu, dy, n, 1e-5, &e);
		sora_cpu_attention_bf16(hy, q16.hb, k16.hb, v16.hb, cases[i].host, &e);
		if (ran(t, cases[i].name16,
			sora_cuda_attention_bf16(dy16, q16.db, k16.db, v16.db, cases[i].device, &e), &e))
			report_bf16(t, cases[i].name16, hy, dy16, n, 1e-2, &e);
	}
done:
	free(q), free(k), free(v), free(bias), free(cpu), free(hy);
	sora_cuda_free(dq), sora_cuda_free(dk), sora_cuda_free(dv), sora_cuda_free(dbias), sora_cuda_free(dy);
	sora_cuda_free(dm);
	bf16_free(&q16), bf16_free(&k16), bf16_free(&v16);
}

void sora_ops_parity(int *passed, int *failed)
{
	tally t = {0, 0};
	dense_ops(&t);
	embedding_ops(&t);
	attention_ops(&t);
	*passed += t.passed;
	*failed += t.failed;
}
