/* Each CUDA op against its CPU twin on random inputs, in both storage types, through parity.h. Bounds (in
 * parity.h), each relative to the reference's largest magnitude: the f32 ops with long sums (linear, the
 * norms, softmax, attention) hold both twins to a float64 reference (PAR_TOL_SUM); the f32 activations
 * compare CUDA with the CPU (PAR_TOL_ELEM); bf16 outputs with the CPU twin's, one bf16 step
 * (PAR_BF16_TOL); embedding and binary (a copy, or one correctly rounded operation) bit for bit. */
#include "ops_parity.h"

#include "nn/cuda_buf.h"
#include "nn/ops.h"
#include "nn/tensor.h"
#include "parity.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* bf16 copies of n host floats: on the host (hb) and on the device (db). */
typedef struct bf16_buf {
	uint16_t *hb, *db;
} bf16_buf;

static bf16_buf bf16_copy(parity *p, const float *x, size_t n)
{
	bf16_buf b = {malloc(n * sizeof(uint16_t) + 1), NULL};
	if (b.hb && sora_from_f32(b.hb, SORA_BF16, x, n, &p->cpu) == 0)
		b.db = par_dev(p, b.hb, n * sizeof(uint16_t));
	return b;
}

static void bf16_free(bf16_buf *b)
{
	free(b->hb);
	sora_cuda_free(b->db);
}

/* ---- float64 references: the twins' formulas with every sum and function in double ---- */

static void ref_linear(double *r, const float *x, const float *w, const float *b, int N, int in, int out)
{
	for (int i = 0; i < N; i++)
		for (int o = 0; o < out; o++) {
			double s = b[o];
			for (int j = 0; j < in; j++)
				s += (double)x[(size_t)i * in + j] * w[(size_t)o * in + j];
			r[(size_t)i * out + o] = s;
		}
}

typedef enum norm_kind { LAYER, RMS, L2 } norm_kind;

/* Each row of x [N, C] normalised as layernorm (x − mean)/sqrt(var + eps), rmsnorm x/sqrt(mean(x²) + eps)
 * or l2_normalize x/max(‖x‖, eps), then · w + b where given. */
static void ref_norm(double *r, norm_kind k, const float *x, const float *w, const float *b, int N, int C,
		     double eps)
{
	for (int i = 0; i < N; i++) {
		const float *xi = x + (size_t)i * C;
		double mean = 0, ss = 0;
		if (k == LAYER) {
			for (int j = 0; j < C; j++)
				mean += xi[j];
			mean /= C;
		}
		for (int j = 0; j < C; j++)
			ss += (xi[j] - mean) * (xi[j] - mean);
		double s = k == L2 ? 1 / fmax(sqrt(ss), eps) : 1 / sqrt(ss / C + eps);
		for (int j = 0; j < C; j++) {
			double v = (xi[j] - mean) * s;
			r[(size_t)i * C + j] = (w ? v * w[j] : v) + (b ? b[j] : 0);
		}
	}
}

/* s[0..n) = softmax(s[0..n)). */
static void ref_softmax_row(double *s, int n)
{
	double m = -INFINITY, sum = 0;
	for (int j = 0; j < n; j++)
		m = fmax(m, s[j]);
	for (int j = 0; j < n; j++)
		sum += s[j] = exp(s[j] - m);
	for (int j = 0; j < n; j++)
		s[j] /= sum;
}

static void ref_softmax(double *r, const float *x, int N, int C)
{
	for (size_t i = 0; i < (size_t)N * C; i++)
		r[i] = x[i];
	for (int i = 0; i < N; i++)
		ref_softmax_row(r + (size_t)i * C, C);
}

/* ops.h's attention; s holds a row of Tk scores. A hidden key gets −FLT_MAX added, as in both twins, which
 * exp turns into a weight of 0. */
static void ref_attention(double *r, const float *q, const float *k, const float *v, const sora_attn_args *a,
			  double *s)
{
	const size_t HD = (size_t)a->H * a->D;
	for (int b = 0; b < a->B; b++)
		for (int h = 0; h < a->H; h++)
			for (int i = 0; i < a->Tq; i++) {
				const float *qi = q + ((size_t)b * a->Tq + i) * HD + (size_t)h * a->D;
				for (int j = 0; j < a->Tk; j++) {
					const float *kj = k + ((size_t)b * a->Tk + j) * HD + (size_t)h * a->D;
					double d = 0;
					for (int c = 0; c < a->D; c++)
						d += (double)qi[c] * kj[c];
					s[j] = d * a->scale +
					       (a->bias ? a->bias[((size_t)h * a->Tq + i) * a->Tk + j] : 0);
					if ((a->causal && j > i) ||
					    (a->key_mask && !a->key_mask[(size_t)b * a->Tk + j]))
						s[j] += -FLT_MAX;
				}
				ref_softmax_row(s, a->Tk);
				for (int c = 0; c < a->D; c++) {
					double o = 0;
					for (int j = 0; j < a->Tk; j++)
						o += s[j] *
						     v[((size_t)b * a->Tk + j) * HD + (size_t)h * a->D + c];
					r[((size_t)b * a->Tq + i) * HD + (size_t)h * a->D + c] = o;
				}
			}
}

/* linear, the norms, softmax, the activations and binary at CLIP-L's width. */
static void dense_ops(parity *p)
{
	const int N = 77, C = 768, O = 512;
	const size_t NC = (size_t)N * C, NO = (size_t)N * O, NY = NC * 4;
	float *x = par_rand(p, NC, 2), *w = par_rand(p, (size_t)O * C, 0.05f), *b = par_rand(p, O, 1),
	      *g = par_rand(p, C, 1), *nb = par_rand(p, C, 0.5f), *cpu = malloc(NY * sizeof *cpu);
	uint16_t *hy = malloc(NY * sizeof *hy);
	double *ref = malloc(NC * sizeof *ref);
	float *dx = par_dev(p, x, NC * 4), *dw = par_dev(p, w, (size_t)O * C * 4),
	      *db = par_dev(p, b, (size_t)O * 4), *dg = par_dev(p, g, (size_t)C * 4),
	      *dnb = par_dev(p, nb, (size_t)C * 4);
	void *dy = par_dev(p, NULL, NY * 4); /* the output of either type */
	bf16_buf x16 = bf16_copy(p, x, NC), w16 = bf16_copy(p, w, (size_t)O * C), b16 = bf16_copy(p, b, O),
		 g16 = bf16_copy(p, g, C), nb16 = bf16_copy(p, nb, C);
	const char *op;
	if (!x || !w || !b || !g || !nb || !cpu || !hy || !ref || !dx || !dw || !db || !dg || !dnb || !dy ||
	    !x16.db || !w16.db || !b16.db || !g16.db || !nb16.db) {
		printf("not ok - parity set-up: %s\n", p->dev.msg[0] ? p->dev.msg : "out of memory");
		p->failed++;
		goto done;
	}

	op = "linear [77, 768] x [512, 768]^T + b";
	ref_linear(ref, x, w, b, N, C, O);
	if (par_poisoned(p, op, cpu, dy, NO * 4) &&
	    par_ran(p, op, sora_cpu_linear(cpu, x, w, b, N, C, O, &p->cpu),
		    sora_cuda_linear(dy, dx, dw, db, N, C, O, &p->dev)))
		par_check_ref(p, op, cpu, dy, ref, NO, PAR_TOL_SUM);
	op = "linear_bf16 [77, 768] x [512, 768]^T + b";
	if (par_poisoned(p, op, hy, dy, NO * 2) &&
	    par_ran(p, op, sora_cpu_linear_bf16(hy, x16.hb, w16.hb, b16.hb, N, C, O, &p->cpu),
		    sora_cuda_linear_bf16(dy, x16.db, w16.db, b16.db, N, C, O, &p->dev)))
		par_check(p, op, PAR_BF16, hy, dy, NO, PAR_BF16_TOL);

	/* Weight and bias differ (scales 1 and 0.5), so a kernel that swaps them fails. */
	op = "layernorm";
	ref_norm(ref, LAYER, x, g, nb, N, C, 1e-5f);
	if (par_poisoned(p, op, cpu, dy, NC * 4) &&
	    par_ran(p, op, sora_cpu_layernorm(cpu, x, g, nb, N, C, 1e-5f, &p->cpu),
		    sora_cuda_layernorm(dy, dx, dg, dnb, N, C, 1e-5f, &p->dev)))
		par_check_ref(p, op, cpu, dy, ref, NC, PAR_TOL_SUM);
	op = "layernorm_bf16";
	if (par_poisoned(p, op, hy, dy, NC * 2) &&
	    par_ran(p, op, sora_cpu_layernorm_bf16(hy, x16.hb, g16.hb, nb16.hb, N, C, 1e-5f, &p->cpu),
		    sora_cuda_layernorm_bf16(dy, x16.db, g16.db, nb16.db, N, C, 1e-5f, &p->dev)))
		par_check(p, op, PAR_BF16, hy, dy, NC, PAR_BF16_TOL);
	op = "layernorm_bf16 without affine";
	if (par_poisoned(p, op, hy, dy, NC * 2) &&
	    par_ran(p, op, sora_cpu_layernorm_bf16(hy, x16.hb, NULL, NULL, N, C, 1e-6f, &p->cpu),
		    sora_cuda_layernorm_bf16(dy, x16.db, NULL, NULL, N, C, 1e-6f, &p->dev)))
		par_check(p, op, PAR_BF16, hy, dy, NC, PAR_BF16_TOL);

	op = "rmsnorm";
	ref_norm(ref, RMS, x, g, NULL, N, C, 1e-6f);
	if (par_poisoned(p, op, cpu, dy, NC * 4) &&
	    par_ran(p, op, sora_cpu_rmsnorm(cpu, x, g, N, C, 1e-6f, &p->cpu),
		    sora_cuda_rmsnorm(dy, dx, dg, N, C, 1e-6f, &p->dev)))
		par_check_ref(p, op, cpu, dy, ref, NC, PAR_TOL_SUM);
	op = "rmsnorm_bf16";
	if (par_poisoned(p, op, hy, dy, NC * 2) &&
	    par_ran(p, op, sora_cpu_rmsnorm_bf16(hy, x16.hb, g16.hb, N, C, 1e-6f, &p->cpu),
		    sora_cuda_rmsnorm_bf16(dy, x16.db, g16.db, N, C, 1e-6f, &p->dev)))
		par_check(p, op, PAR_BF16, hy, dy, NC, PAR_BF16_TOL);

	op = "l2_normalize";
	ref_norm(ref, L2, x, NULL, NULL, N, C, 1e-12f);
	if (par_poisoned(p, op, cpu, dy, NC * 4) &&
	    par_ran(p, op, sora_cpu_l2_normalize(cpu, x, N, C, 1e-12f, &p->cpu),
		    sora_cuda_l2_normalize(dy, dx, N, C, 1e-12f, &p->dev)))
		par_check_ref(p, op, cpu, dy, ref, NC, PAR_TOL_SUM);
	op = "l2_normalize_bf16";
	if (par_poisoned(p, op, hy, dy, NC * 2) &&
	    par_ran(p, op, sora_cpu_l2_normalize_bf16(hy, x16.hb, N, C, 1e-12f, &p->cpu),
		    sora_cuda_l2_normalize_bf16(dy, x16.db, N, C, 1e-12f, &p->dev)))
		par_check(p, op, PAR_BF16, hy, dy, NC, PAR_BF16_TOL);

	/* The largest softmax value here is about 0.006: the bounds are relative to it, so zeros fail. */
	op = "softmax";
	ref_softmax(ref, x, N, C);
	if (par_poisoned(p, op, cpu, dy, NC * 4) &&
	    par_ran(p, op, sora_cpu_softmax(cpu, x, N, C, &p->cpu), sora_cuda_softmax(dy, dx, N, C, &p->dev)))
		par_check_ref(p, op, cpu, dy, ref, NC, PAR_TOL_SUM);
	op = "softmax_bf16";
	if (par_poisoned(p, op, hy, dy, NC * 2) &&
	    par_ran(p, op, sora_cpu_softmax_bf16(hy, x16.hb, N, C, &p->cpu),
		    sora_cuda_softmax_bf16(dy, x16.db, N, C, &p->dev)))
		par_check(p, op, PAR_BF16, hy, dy, NC, PAR_BF16_TOL);

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
		op = acts[i].name;
		if (par_poisoned(p, op, cpu, dy, NC * 4) &&
		    par_ran(p, op, acts[i].cpu(cpu, x, NC, &p->cpu), acts[i].cuda(dy, dx, NC, &p->dev)))
			par_check(p, op, PAR_F32, cpu, dy, NC, PAR_TOL_ELEM);
		op = acts[i].name16;
		if (par_poisoned(p, op, hy, dy, NC * 2) &&
		    par_ran(p, op, acts[i].cpu16(hy, x16.hb, NC, &p->cpu),
			    acts[i].cuda16(dy, x16.db, NC, &p->dev)))
			par_check(p, op, PAR_BF16, hy, dy, NC, PAR_BF16_TOL);
	}

	const int64_t as[] = {N, 1, C}, bs[] = {4, 1};
	op = "binary [77, 1, 768] * [4, 1]";
	if (par_poisoned(p, op, cpu, dy, NY * 4) &&
	    par_ran(p, op, sora_cpu_binary(cpu, SORA_BIN_MUL, x, 3, as, b, 2, bs, &p->cpu),
		    sora_cuda_binary(dy, SORA_BIN_MUL, dx, 3, as, db, 2, bs, &p->dev)))
		par_check(p, op, PAR_F32, cpu, dy, NY, 0);
	op = "binary_bf16 [77, 1, 768] / [4, 1]";
	if (par_poisoned(p, op, hy, dy, NY * 2) &&
	    par_ran(p, op, sora_cpu_binary_bf16(hy, SORA_BIN_DIV, x16.hb, 3, as, b16.hb, 2, bs, &p->cpu),
		    sora_cuda_binary_bf16(dy, SORA_BIN_DIV, x16.db, 3, as, b16.db, 2, bs, &p->dev)))
		par_check(p, op, PAR_BF16, hy, dy, NY, 0);
done:
	free(x), free(w), free(b), free(g), free(nb), free(cpu), free(hy), free(ref);
	sora_cuda_free(dx), sora_cuda_free(dw), sora_cuda_free(db), sora_cuda_free(dg), sora_cuda_free(dnb);
	sora_cuda_free(dy);
	bf16_free(&x16), bf16_free(&w16), bf16_free(&b16), bf16_free(&g16), bf16_free(&nb16);
}

static void embedding_ops(parity *p)
{
	const int N = 77, C = 768, V = 1000;
	const size_t NC = (size_t)N * C;
	int32_t ids[77];
	for (int i = 0; i < N; i++)
		ids[i] = (i * 7919) % V;
	float *table = par_rand(p, (size_t)V * C, 1), *cpu = malloc(NC * sizeof *cpu),
	      *dt = par_dev(p, table, (size_t)V * C * 4);
	uint16_t *hy = malloc(NC * sizeof *hy);
	void *dy = par_dev(p, NULL, NC * 4);
	int32_t *di = par_dev(p, ids, sizeof ids);
	bf16_buf t16 = bf16_copy(p, table, (size_t)V * C);
	if (!table || !cpu || !dt || !dy || !hy || !di || !t16.db) {
		printf("not ok - embedding set-up: %s\n", p->dev.msg[0] ? p->dev.msg : "out of memory");
		p->failed++;
		goto done;
	}
	if (par_poisoned(p, "embedding", cpu, dy, NC * 4) &&
	    par_ran(p, "embedding", sora_cpu_embedding(cpu, table, ids, N, C, V, &p->cpu),
		    sora_cuda_embedding(dy, dt, di, N, C, V, &p->dev)))
		par_check(p, "embedding", PAR_F32, cpu, dy, NC, 0);
	if (par_poisoned(p, "embedding_bf16", hy, dy, NC * 2) &&
	    par_ran(p, "embedding_bf16", sora_cpu_embedding_bf16(hy, t16.hb, ids, N, C, V, &p->cpu),
		    sora_cuda_embedding_bf16(dy, t16.db, di, N, C, V, &p->dev)))
		par_check(p, "embedding_bf16", PAR_BF16, hy, dy, NC, 0);
done:
	free(table), free(cpu), free(hy);
	sora_cuda_free(dt), sora_cuda_free(dy), sora_cuda_free(di);
	bf16_free(&t16);
}

/* Attention at CLIP's shape (77 tokens, 12 heads of 64, causal) and T5's (bias, no scale, a mask). */
static void attention_ops(parity *p)
{
	const int H = 12, D = 64, T = 77, HD = H * D;
	const size_t n = (size_t)2 * T * HD;
	float *q = par_rand(p, n, 1), *k = par_rand(p, n, 1), *v = par_rand(p, n, 1),
	      *bias = par_rand(p, (size_t)H * T * T, 3), *cpu = malloc(n * sizeof *cpu);
	uint16_t *hy = malloc(n * sizeof *hy);
	double *ref = malloc(n * sizeof *ref), *row = malloc(T * sizeof *row);
	uint8_t mask[2 * 77];
	for (int i = 0; i < 2 * T; i++)
		mask[i] = i % T < 40 + i / T * 20;
	float *dq = par_dev(p, q, n * 4), *dk = par_dev(p, k, n * 4), *dv = par_dev(p, v, n * 4),
	      *dbias = par_dev(p, bias, (size_t)H * T * T * 4);
	void *dy = par_dev(p, NULL, n * 4);
	uint8_t *dm = par_dev(p, mask, sizeof mask);
	bf16_buf q16 = bf16_copy(p, q, n), k16 = bf16_copy(p, k, n), v16 = bf16_copy(p, v, n);
	if (!q || !k || !v || !bias || !cpu || !hy || !ref || !row || !dq || !dk || !dv || !dbias || !dy ||
	    !dm || !q16.db || !k16.db || !v16.db) {
		printf("not ok - attention set-up: %s\n", p->dev.msg[0] ? p->dev.msg : "out of memory");
		p->failed++;
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
		const char *op = cases[i].name;
		ref_attention(ref, q, k, v, cases[i].host, row);
		if (par_poisoned(p, op, cpu, dy, n * 4) &&
		    par_ran(p, op, sora_cpu_attention(cpu, q, k, v, cases[i].host, &p->cpu),
			    sora_cuda_attention(dy, dq, dk, dv, cases[i].device, &p->dev)))
			par_check_ref(p, op, cpu, dy, ref, n, PAR_TOL_SUM);
		op = cases[i].name16;
		if (par_poisoned(p, op, hy, dy, n * 2) &&
		    par_ran(p, op,
			    sora_cpu_attention_bf16(hy, q16.hb, k16.hb, v16.hb, cases[i].host, &p->cpu),
			    sora_cuda_attention_bf16(dy, q16.db, k16.db, v16.db, cases[i].device, &p->dev)))
			par_check(p, op, PAR_BF16, hy, dy, n, PAR_BF16_TOL);
	}
done:
	free(q), free(k), free(v), free(bias), free(cpu), free(hy), free(ref), free(row);
	sora_cuda_free(dq), sora_cuda_free(dk), sora_cuda_free(dv), sora_cuda_free(dbias), sora_cuda_free(dy);
	sora_cuda_free(dm);
	bf16_free(&q16), bf16_free(&k16), bf16_free(&v16);
}

void sora_ops_parity(int *passed, int *failed)
{
	parity p = {.rng = 0x2545f4914f6cdd1dull};
	dense_ops(&p);
	embedding_ops(&p);
	attention_ops(&p);
	*passed += p.passed;
	*failed += p.failed;
}
