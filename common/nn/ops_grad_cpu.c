/* The backward of ops_cpu.c's general ops (ops_grad.h): f32 math, with double wherever the forward sums
 * in double and for the sums over rows that give a parameter its gradient; OpenBLAS sgemm with beta = 1
 * for the matrix products, so that they accumulate in place; OpenMP over rows where the forwards use it.
 * The reference the CUDA twins (ops_grad_cuda.cu) are tested against. */
#include "ops_grad.h"

#include "attn_cpu.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>

/* db [out] += Σ_rows dy [N, out]. Summed in double, a row-major sweep into one accumulator per column, so
 * that a long batch of rows does not lose its small terms to f32 rounding. Serial for the reason the
 * forward linear copies its bias serially: OpenMP workers left spinning would slow the sgemms around it. */
static int bias_grad(float *db, const float *dy, int N, int out, sora_err *e)
{
	double *acc = NULL;
	CHECK_ALLOC(e, acc = calloc((size_t)out, sizeof *acc));
	for (int i = 0; i < N; i++)
		for (int o = 0; o < out; o++)
			acc[o] += dy[(size_t)i * out + o];
	for (int o = 0; o < out; o++)
		db[o] += (float)acc[o];
	free(acc);
	return 0;
fail:
	return -1;
}

int sora_cpu_linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
			     int N, int in, int out, sora_err *e)
{
	CHECK(e, N >= 0 && in >= 0 && out >= 0, "linear_backward: negative size");
	if (!N || !out)
		return 0; /* dy is empty: every gradient gains nothing */
	/* dx [N, in] += dy [N, out] · w [out, in] (in = 0 leaves nothing to add, and sgemm refuses ld 0) */
	if (dx && in)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, in, out, 1.0f, dy, out, w, in, 1.0f,
			    dx, in);
	/* dw [out, in] += dyᵀ [out, N] · x [N, in] */
	if (dw && in)
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, N, 1.0f, dy, out, x, in, 1.0f,
			    dw, in);
	if (db)
		TRY(bias_grad(db, dy, N, out, e));
	return 0;
fail:
	return -1;
}

/* One row of rmsnorm's backward (w NULL: a weight of ones); returns the row's r for dw. With y = x·r·w,
 * r = 1/sqrt(Σx²/C + eps) and g = dy·w: ∂r/∂x_k = −r³·x_k/C, so dx_k += r·g_k − r³·x_k·Σ_j(g_j·x_j)/C.
 * r and both sums in double, r as the forward computes it (there rounded to f32). */
static double rms_row_backward(float *dxi, const float *dyi, const float *xi, const float *w, int C,
			       float eps)
{
	double ss = 0, gx = 0;
	for (int j = 0; j < C; j++) {
		ss += (double)xi[j] * xi[j];
		gx += (double)dyi[j] * (w ? w[j] : 1.0f) * xi[j];
	}
	const double r = 1.0 / sqrt(ss / C + eps), c = r * r * r * gx / C;
	if (dxi)
		for (int k = 0; k < C; k++)
			dxi[k] += (float)(r * dyi[k] * (w ? w[k] : 1.0f) - c * xi[k]);
	return r;
}

/* dw [C] += Σ_rows dy·x·r, one column per iteration (so the OpenMP workers never share an output), summed
 * in double over the rows. */
static void rms_weight_grad(float *dw, const float *dy, const float *x, const double *r, int N, int C)
{
#pragma omp parallel for if ((size_t)N * (size_t)C > 65536)
	for (int j = 0; j < C; j++) {
		double s = 0;
		for (int i = 0; i < N; i++)
			s += (double)dy[(size_t)i * C + j] * x[(size_t)i * C + j] * r[i];
		dw[j] += (float)s;
	}
}

int sora_cpu_rmsnorm_backward(float *dx, float *dw, const float *dy, const float *x, const float *w, int N,
			      int C, float eps, sora_err *e)
{
	double *r = NULL;
	CHECK(e, N >= 0 && C > 0, "rmsnorm_backward: bad shape [%d, %d]", N, C);
	CHECK(e, w || !dw, "rmsnorm_backward: a weight gradient without a weight");
	if (!dx && !dw)
		return 0;
	CHECK_ALLOC(e, r = malloc((size_t)N * sizeof *r + 1)); /* + 1: N may be 0 */
#pragma omp parallel for if ((size_t)N * (size_t)C > 65536)
	for (int i = 0; i < N; i++)
		r[i] = rms_row_backward(dx ? dx + (size_t)i * C : NULL, dy + (size_t)i * C, x + (size_t)i * C,
					w, C, eps);
	if (dw)
		rms_weight_grad(dw, dy, x, r, N, C);
	free(r);
	return 0;
fail:
	free(r);
	return -1;
}

/* gelu_tanh'(x). With y = x·(1 + t)/2, t = tanh(u), u = k·(x + a·x³):
 * y' = (1 + t)/2 + x·(1 − t²)·k·(1 + 3a·x²)/2. 1 − t² is taken as 4e/(1 + e)² with e = exp(−2|u|),
 * accurate to a few ulp where 1 − t·t would cancel (|x| of 2 to 4, where x·k·(1 + 3a·x²) multiplies the
 * cancelled error by up to 5). Where it is 0 (|u| > 44) the term is skipped: x² overflows past |x| ~ 1e19,
 * and 0·∞ would be a NaN. */
static float gelu_tanh_grad(float x)
{
	const float k = 0.7978845608028654f, a = 0.044715f; /* sqrt(2/π), as the forward */
	const float u = k * (x + a * x * x * x), t = tanhf(u), e = expf(-2.0f * fabsf(u));
	const float sech2 = 4.0f * e / ((1.0f + e) * (1.0f + e));
	return 0.5f * (1.0f + t) + (sech2 > 0.0f ? 0.5f * x * sech2 * k * (1.0f + 3.0f * a * x * x) : 0.0f);
}

int sora_cpu_gelu_tanh_backward(float *dx, const float *dy, const float *x, size_t n, sora_err *e)
{
	if (!dx)
		return 0;
#pragma omp parallel for if (n > 65536)
	for (size_t i = 0; i < n; i++)
		dx[i] += dy[i] * gelu_tanh_grad(x[i]);
	return 0;
}

/* silu'(x) = σ(x)·(1 + x·σ(−x)). σ(−x) is its own exp rather than 1 − σ(x), which cancels for x > 0 and
 * leaves x·2^-24 of error; each σ is 0 or 1 at the ends, never NaN. */
static float silu_grad(float x)
{
	return (1.0f + x / (1.0f + expf(x))) / (1.0f + expf(-x));
}

int sora_cpu_silu_backward(float *dx, const float *dy, const float *x, size_t n, sora_err *e)
{
	if (!dx)
		return 0;
#pragma omp parallel for if (n > 65536)
	for (size_t i = 0; i < n; i++)
		dx[i] += dy[i] * silu_grad(x[i]);
	return 0;
}

/* ---- attention ---- */

/* The softmax's backward in place: dp [Tq, Tk] (= dO·Vᵀ on entry) becomes dS = P ⊙ (dP − δ), where δ_i =
 * Σ_c dO_ic·O_ic (= Σ_j P_ij·dP_ij, the forward's output standing in for P·V), summed in double. */
static void softmax_backward(float *dp, const float *p, const float *doh, const float *oh, int Tq, int Tk,
			     int D, int HD)
{
#pragma omp parallel for if ((size_t)Tq * (size_t)Tk > 16384)
	for (int i = 0; i < Tq; i++) {
		double delta = 0;
		for (int c = 0; c < D; c++)
			delta += (double)doh[(size_t)i * HD + c] * oh[(size_t)i * HD + c];
		float *dpi = dp + (size_t)i * Tk;
		const float *pi = p + (size_t)i * Tk;
		for (int j = 0; j < Tk; j++)
			dpi[j] = pi[j] * (dpi[j] - (float)delta);
	}
}

/* The tensors of one attention_backward call and its scratch: p and dp [Tq, Tk] each. */
typedef struct attn_grad {
	float *dq, *dk, *dv;
	const float *dout, *q, *k, *v, *out;
	float *p, *dp;
} attn_grad;

/* Head h of batch item b: its rows of q, out (and dq, dout) start at qo, of k and v (dk, dv) at ko; each
 * row is HD floats apart. */
static void head_backward(const attn_grad *g, const sora_attn_args *a, int b, int h)
{
	const int Tq = a->Tq, Tk = a->Tk, D = a->D, HD = a->H * a->D;
	const size_t qo = (size_t)b * Tq * HD + (size_t)h * D, ko = (size_t)b * Tk * HD + (size_t)h * D;
	sora_attn_head_probs(g->p, g->q + qo, g->k + ko, a, b, h);
	/* dv_h [Tk, D] += Pᵀ [Tk, Tq] · dO_h [Tq, D] */
	if (g->dv)
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Tk, D, Tq, 1.0f, g->p, Tk, g->dout + qo,
			    HD, 1.0f, g->dv + ko, HD);
	if (!g->dq && !g->dk)
		return;
	/* dP [Tq, Tk] = dO_h · V_hᵀ, then dS over it */
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Tq, Tk, D, 1.0f, g->dout + qo, HD, g->v + ko, HD,
		    0.0f, g->dp, Tk);
	softmax_backward(g->dp, g->p, g->dout + qo, g->out + qo, Tq, Tk, D, HD);
	/* dq_h [Tq, D] += scale · dS [Tq, Tk] · K_h [Tk, D] */
	if (g->dq)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Tq, D, Tk, a->scale, g->dp, Tk,
			    g->k + ko, HD, 1.0f, g->dq + qo, HD);
	/* dk_h [Tk, D] += scale · dSᵀ [Tk, Tq] · Q_h [Tq, D] */
	if (g->dk)
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Tk, D, Tq, a->scale, g->dp, Tk,
			    g->q + qo, HD, 1.0f, g->dk + ko, HD);
}

int sora_cpu_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q,
				const float *k, const float *v, const float *out, const sora_attn_args *a,
				sora_err *e)
{
	attn_grad g = {dq, dk, dv, dout, q, k, v, out, NULL, NULL};
	CHECK(e, a->B >= 0 && a->H > 0 && a->Tq >= 0 && a->Tk > 0 && a->D > 0,
	      "attention_backward: bad sizes B %d H %d Tq %d Tk %d D %d", a->B, a->H, a->Tq, a->Tk, a->D);
	if (!a->B || !a->Tq || (!dq && !dk && !dv))
		return 0;
	CHECK_ALLOC(e, g.p = malloc(2 * (size_t)a->Tq * a->Tk * sizeof *g.p));
	g.dp = g.p + (size_t)a->Tq * a->Tk;
	/* One (batch, head) at a time, as the forward: its products are sgemms (OpenBLAS threads them), the
	 * masking, softmax and its backward between them run over query rows with OpenMP. */
	for (int b = 0; b < a->B; b++)
		for (int h = 0; h < a->H; h++)
			head_backward(&g, a, b, h);
	free(g.p);
	return 0;
fail:
	return -1;
}
