/* The CPU ops: f32 math, OpenBLAS sgemm for the matrix products, OpenMP over rows. The reference the
 * CUDA twins (ops_cuda.cu) are tested against, in both storage types. */
#include "ops.h"

#include "attn_cpu.h"

#include "tensor.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int sora_cpu_linear(float *y, const float *x, const float *w, const float *b, int N, int in, int out,
		    sora_err *e)
{
	CHECK(e, N >= 0 && in >= 0 && out >= 0, "linear: negative size");
	if (!N || !out)
		return 0;
	/* y = x · wᵀ; the bias is first broadcast into y so that sgemm adds to it (beta = 1). The copy is
	 * serial on purpose: OpenMP workers left spinning after a parallel loop would compete with
	 * OpenBLAS's own threads during the sgemm, which costs far more than the copy. */
	if (b)
		for (int i = 0; i < N; i++)
			memcpy(y + (size_t)i * out, b, (size_t)out * sizeof *y);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, out, in, 1.0f, x, in, w, in, b ? 1.0f : 0.0f,
		    y, out);
	return 0;
fail:
	return -1;
}

/* A row op's shape: N rows (none is fine) of C > 0 channels. */
static int rows_ok(const char *op, int N, int C, sora_err *e)
{
	CHECK(e, N >= 0 && C > 0, "%s: bad shape [%d, %d]", op, N, C);
	return 0;
fail:
	return -1;
}

int sora_cpu_layernorm(float *y, const float *x, const float *w, const float *b, int N, int C, float eps,
		       sora_err *e)
{
	TRY(rows_ok("layernorm", N, C, e));
#pragma omp parallel for if ((size_t)N * (size_t)C > 65536)
	for (int i = 0; i < N; i++) {
		const float *xi = x + (size_t)i * C;
		float *yi = y + (size_t)i * C;
		/* Two passes (mean, then the centred variance) as PyTorch does: no cancellation. */
		double mean = 0, var = 0;
		for (int j = 0; j < C; j++)
			mean += xi[j];
		mean /= C;
		for (int j = 0; j < C; j++)
			var += (xi[j] - mean) * (xi[j] - mean);
		float m = (float)mean, r = (float)(1.0 / sqrt(var / C + eps));
		for (int j = 0; j < C; j++) {
			float v = (xi[j] - m) * r;
			yi[j] = (w ? v * w[j] : v) + (b ? b[j] : 0.0f);
		}
	}
	return 0;
fail:
	return -1;
}

int sora_cpu_rmsnorm(float *y, const float *x, const float *w, int N, int C, float eps, sora_err *e)
{
	TRY(rows_ok("rmsnorm", N, C, e));
#pragma omp parallel for if ((size_t)N * (size_t)C > 65536)
	for (int i = 0; i < N; i++) {
		const float *xi = x + (size_t)i * C;
		float *yi = y + (size_t)i * C;
		double ss = 0;
		for (int j = 0; j < C; j++)
			ss += (double)xi[j] * xi[j];
		float r = (float)(1.0 / sqrt(ss / C + eps));
		for (int j = 0; j < C; j++)
			yi[j] = w ? xi[j] * r * w[j] : xi[j] * r;
	}
	return 0;
fail:
	return -1;
}

int sora_cpu_gelu(float *y, const float *x, size_t n, sora_err *e)
{
#pragma omp parallel for if (n > 65536)
	for (size_t i = 0; i < n; i++)
		y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f)); /* x / √2 */
	return 0;
}

int sora_cpu_gelu_tanh(float *y, const float *x, size_t n, sora_err *e)
{
	const float k = 0.7978845608028654f; /* sqrt(2/π) */
#pragma omp parallel for if (n > 65536)
	for (size_t i = 0; i < n; i++) {
		float v = x[i];
		y[i] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
	}
	return 0;
}

int sora_cpu_quick_gelu(float *y, const float *x, size_t n, sora_err *e)
{
#pragma omp parallel for if (n > 65536)
	for (size_t i = 0; i < n; i++)
		y[i] = x[i] / (1.0f + expf(-1.702f * x[i]));
	return 0;
}

int sora_cpu_silu(float *y, const float *x, size_t n, sora_err *e)
{
#pragma omp parallel for if (n > 65536)
	for (size_t i = 0; i < n; i++)
		y[i] = x[i] / (1.0f + expf(-x[i]));
	return 0;
}

int sora_cpu_softmax(float *y, const float *x, int N, int C, sora_err *e)
{
	TRY(rows_ok("softmax", N, C, e));
#pragma omp parallel for if ((size_t)N * (size_t)C > 65536)
	for (int i = 0; i < N; i++)
		sora_softmax_row(y + (size_t)i * C, x + (size_t)i * C, C);
	return 0;
fail:
	return -1;
}

static int attention_ok(const sora_attn_args *a, sora_err *e)
{
	CHECK(e, a->B >= 0 && a->H > 0 && a->Tq >= 0 && a->Tk > 0 && a->D > 0,
	      "attention: bad sizes B %d H %d Tq %d Tk %d D %d", a->B, a->H, a->Tq, a->Tk, a->D);
	return 0;
fail:
	return -1;
}

int sora_cpu_attention(float *out, const float *q, const float *k, const float *v, const sora_attn_args *a,
		       sora_err *e)
{
	const int B = a->B, H = a->H, Tq = a->Tq, Tk = a->Tk, D = a->D, HD = a->H * a->D;
	float *s = NULL;
	TRY(attention_ok(a, e));
	CHECK_ALLOC(e, s = malloc((size_t)Tq * Tk * sizeof *s + 1));
	/* One (batch, head) at a time: its two products are sgemms (OpenBLAS threads them); the masking and
	 * softmax between them run over query rows with OpenMP. */
	for (int b = 0; b < B; b++)
		for (int h = 0; h < H; h++) {
			const float *qh = q + (size_t)b * Tq * HD + (size_t)h * D;
			const float *kh = k + (size_t)b * Tk * HD + (size_t)h * D;
			const float *vh = v + (size_t)b * Tk * HD + (size_t)h * D;
			sora_attn_head_probs(s, qh, kh, a, b, h); /* s [Tq, Tk] */
			/* out_h [Tq, D] = s · vh */
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Tq, D, Tk, 1.0f, s, Tk, vh, HD,
				    0.0f, out + (size_t)b * Tq * HD + (size_t)h * D, HD);
		}
	free(s);
	return 0;
fail:
	free(s);
	return -1;
}

/* The lookup moves rows without arithmetic, so both storage types share it (row = C elements). */
static int embed_rows(void *y, const void *table, const int32_t *ids, int N, int C, int vocab, size_t elem,
		      sora_err *e)
{
	CHECK(e, N >= 0 && C >= 0, "embedding: bad shape [%d, %d]", N, C);
	for (int i = 0; i < N; i++)
		CHECK(e, ids[i] >= 0 && ids[i] < vocab, "embedding: id %d at position %d is outside 0..%d",
		      ids[i], i, vocab - 1);
	const size_t row = (size_t)C * elem;
#pragma omp parallel for if ((size_t)N * row > 262144)
	for (int i = 0; i < N; i++)
		memcpy((char *)y + (size_t)i * row, (const char *)table + (size_t)ids[i] * row, row);
	return 0;
fail:
	return -1;
}

int sora_cpu_embedding(float *y, const float *table, const int32_t *ids, int N, int C, int vocab, sora_err *e)
{
	return embed_rows(y, table, ids, N, C, vocab, sizeof *y, e);
}

int sora_cpu_embedding_bf16(uint16_t *y, const uint16_t *table, const int32_t *ids, int N, int C, int vocab,
			    sora_err *e)
{
	return embed_rows(y, table, ids, N, C, vocab, sizeof *y, e);
}

int sora_broadcast_shape(int andim, const int64_t *ashape, int bndim, const int64_t *bshape, int *ndim,
			 int64_t *shape, sora_err *e)
{
	int n = andim > bndim ? andim : bndim;
	CHECK(e, n <= 5 && andim >= 0 && bndim >= 0, "broadcast: at most 5 dims");
	for (int i = 0; i < n; i++) {
		int64_t da = i < n - andim ? 1 : ashape[i - (n - andim)];
		int64_t db = i < n - bndim ? 1 : bshape[i - (n - bndim)];
		CHECK(e, da >= 0 && db >= 0, "broadcast: negative dim");
		CHECK(e, da == db || da == 1 || db == 1, "broadcast: dims %lld and %lld do not match",
		      (long long)da, (long long)db);
		shape[i] = da == 1 ? db : da;
	}
	*ndim = n;
	return 0;
fail:
	return -1;
}

/* Element strides of a shape right-aligned into n dims, 0 along the dims it is broadcast over. */
static void bstrides(int n, int ndim, const int64_t *shape, int64_t *st)
{
	int64_t s = 1;
	for (int i = n - 1; i >= 0; i--) {
		int j = i - (n - ndim);
		int64_t d = j >= 0 ? shape[j] : 1;
		st[i] = d == 1 ? 0 : s;
		s *= d;
	}
}

int sora_cpu_binary(float *y, sora_binop op, const float *a, int andim, const int64_t *ashape, const float *b,
		    int bndim, const int64_t *bshape, sora_err *e)
{
	int n;
	int64_t shape[5] = {0}, sa[5] = {0}, sb[5] = {0}, total = 1;
	TRY(sora_broadcast_shape(andim, ashape, bndim, bshape, &n, shape, e));
	bstrides(n, andim, ashape, sa);
	bstrides(n, bndim, bshape, sb);
	for (int i = 0; i < n; i++)
		total *= shape[i];
#pragma omp parallel for if (total > 65536)
	for (int64_t i = 0; i < total; i++) {
		int64_t r = i, ia = 0, ib = 0;
		for (int d = n - 1; d >= 0; d--) {
			int64_t c = r % shape[d];
			r /= shape[d];
			ia += c * sa[d];
			ib += c * sb[d];
		}
		float x = a[ia], z = b[ib];
		y[i] = op == SORA_BIN_ADD   ? x + z
		       : op == SORA_BIN_SUB ? x - z
		       : op == SORA_BIN_MUL ? x * z
					    : x / z;
	}
	return 0;
fail:
	return -1;
}

int sora_cpu_l2_normalize(float *y, const float *x, int N, int C, float eps, sora_err *e)
{
	TRY(rows_ok("l2_normalize", N, C, e));
#pragma omp parallel for if ((size_t)N * (size_t)C > 65536)
	for (int i = 0; i < N; i++) {
		const float *xi = x + (size_t)i * C;
		double ss = 0;
		for (int j = 0; j < C; j++)
			ss += (double)xi[j] * xi[j];
		float nrm = (float)sqrt(ss), inv = 1.0f / (nrm > eps ? nrm : eps);
		for (int j = 0; j < C; j++)
			y[(size_t)i * C + j] = xi[j] * inv;
	}
	return 0;
fail:
	return -1;
}

/* ---- bf16 storage: each twin widens its bf16 inputs into f32 scratch, runs the f32 op there and rounds
 * the result once, so it differs from the f32 op only by the rounding at its two ends. ---- */

typedef struct scratch {
	float *p[4];
	int n;
} scratch;

/* *f = room for n floats, freed by scratch_free. */
static int scratch_get(scratch *s, float **f, size_t n, sora_err *e)
{
	*f = NULL;
	CHECK(e, s->n < (int)(sizeof s->p / sizeof *s->p), "bf16 op: too many scratch buffers");
	CHECK(e, n < SIZE_MAX / sizeof **f, "bf16 op: %zu elements is too many", n);
	CHECK_ALLOC(e, *f = malloc((n + 1) * sizeof **f)); /* + 1: n may be 0 */
	s->p[s->n++] = *f;
	return 0;
fail:
	return -1;
}

/* *f = the bf16 src[0..n) widened to f32. */
static int widen(scratch *s, float **f, const uint16_t *src, size_t n, sora_err *e)
{
	TRY(scratch_get(s, f, n, e));
	return sora_to_f32(*f, src, SORA_BF16, n, e);
fail:
	return -1;
}

static void scratch_free(scratch *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->p[i]);
}

static size_t numel(int ndim, const int64_t *shape)
{
	size_t n = 1;
	for (int i = 0; i < ndim; i++)
		n *= (size_t)shape[i];
	return n;
}

int sora_cpu_linear_bf16(uint16_t *y, const uint16_t *x, const uint16_t *w, const uint16_t *b, int N, int in,
			 int out, sora_err *e)
{
	scratch s = {0};
	float *fx, *fw, *fb = NULL, *fy;
	int rc = -1;
	CHECK(e, N >= 0 && in >= 0 && out >= 0, "linear: negative size");
	TRY(widen(&s, &fx, x, (size_t)N * in, e));
	TRY(widen(&s, &fw, w, (size_t)out * in, e));
	if (b)
		TRY(widen(&s, &fb, b, (size_t)out, e));
	TRY(scratch_get(&s, &fy, (size_t)N * out, e));
	TRY(sora_cpu_linear(fy, fx, fw, fb, N, in, out, e));
	TRY(sora_from_f32(y, SORA_BF16, fy, (size_t)N * out, e));
	rc = 0;
fail:
	scratch_free(&s);
	return rc;
}

int sora_cpu_layernorm_bf16(uint16_t *y, const uint16_t *x, const uint16_t *w, const uint16_t *b, int N,
			    int C, float eps, sora_err *e)
{
	scratch s = {0};
	float *fx, *fw = NULL, *fb = NULL;
	int rc = -1;
	TRY(rows_ok("layernorm", N, C, e));
	TRY(widen(&s, &fx, x, (size_t)N * C, e));
	if (w)
		TRY(widen(&s, &fw, w, (size_t)C, e));
	if (b)
		TRY(widen(&s, &fb, b, (size_t)C, e));
	TRY(sora_cpu_layernorm(fx, fx, fw, fb, N, C, eps, e));
	TRY(sora_from_f32(y, SORA_BF16, fx, (size_t)N * C, e));
	rc = 0;
fail:
	scratch_free(&s);
	return rc;
}

int sora_cpu_rmsnorm_bf16(uint16_t *y, const uint16_t *x, const uint16_t *w, int N, int C, float eps,
			  sora_err *e)
{
	scratch s = {0};
	float *fx, *fw = NULL;
	int rc = -1;
	TRY(rows_ok("rmsnorm", N, C, e));
	TRY(widen(&s, &fx, x, (size_t)N * C, e));
	if (w)
		TRY(widen(&s, &fw, w, (size_t)C, e));
	TRY(sora_cpu_rmsnorm(fx, fx, fw, N, C, eps, e));
	TRY(sora_from_f32(y, SORA_BF16, fx, (size_t)N * C, e));
	rc = 0;
fail:
	scratch_free(&s);
	return rc;
}

int sora_cpu_softmax_bf16(uint16_t *y, const uint16_t *x, int N, int C, sora_err *e)
{
	scratch s = {0};
	float *f;
	int rc = -1;
	TRY(rows_ok("softmax", N, C, e));
	TRY(widen(&s, &f, x, (size_t)N * C, e));
	TRY(sora_cpu_softmax(f, f, N, C, e));
	TRY(sora_from_f32(y, SORA_BF16, f, (size_t)N * C, e));
	rc = 0;
fail:
	scratch_free(&s);
	return rc;
}

int sora_cpu_l2_normalize_bf16(uint16_t *y, const uint16_t *x, int N, int C, float eps, sora_err *e)
{
	scratch s = {0};
	float *f;
	int rc = -1;
	TRY(rows_ok("l2_normalize", N, C, e));
	TRY(widen(&s, &f, x, (size_t)N * C, e));
	TRY(sora_cpu_l2_normalize(f, f, N, C, eps, e));
	TRY(sora_from_f32(y, SORA_BF16, f, (size_t)N * C, e));
	rc = 0;
fail:
	scratch_free(&s);
	return rc;
}

typedef int (*unary_f32)(float *y, const float *x, size_t n, sora_err *e);

static int unary_bf16(unary_f32 op, uint16_t *y, const uint16_t *x, size_t n, sora_err *e)
{
	scratch s = {0};
	float *f;
	int rc = -1;
	TRY(widen(&s, &f, x, n, e));
	TRY(op(f, f, n, e));
	TRY(sora_from_f32(y, SORA_BF16, f, n, e));
	rc = 0;
fail:
	scratch_free(&s);
	return rc;
}

int sora_cpu_gelu_bf16(uint16_t *y, const uint16_t *x, size_t n, sora_err *e)
{
	return unary_bf16(sora_cpu_gelu, y, x, n, e);
}

int sora_cpu_gelu_tanh_bf16(uint16_t *y, const uint16_t *x, size_t n, sora_err *e)
{
	return unary_bf16(sora_cpu_gelu_tanh, y, x, n, e);
}

int sora_cpu_quick_gelu_bf16(uint16_t *y, const uint16_t *x, size_t n, sora_err *e)
{
	return unary_bf16(sora_cpu_quick_gelu, y, x, n, e);
}

int sora_cpu_silu_bf16(uint16_t *y, const uint16_t *x, size_t n, sora_err *e)
{
	return unary_bf16(sora_cpu_silu, y, x, n, e);
}

/* q, k, v and out bf16; the scores and their softmax f32 (inside the f32 op). */
int sora_cpu_attention_bf16(uint16_t *out, const uint16_t *q, const uint16_t *k, const uint16_t *v,
			    const sora_attn_args *a, sora_err *e)
{
	scratch s = {0};
	float *fq, *fk, *fv, *fo;
	int rc = -1;
	TRY(attention_ok(a, e));
	const size_t nq = (size_t)a->B * a->Tq * a->H * a->D, nk = (size_t)a->B * a->Tk * a->H * a->D;
	TRY(widen(&s, &fq, q, nq, e));
	TRY(widen(&s, &fk, k, nk, e));
	TRY(widen(&s, &fv, v, nk, e));
	TRY(scratch_get(&s, &fo, nq, e));
	TRY(sora_cpu_attention(fo, fq, fk, fv, a, e));
	TRY(sora_from_f32(out, SORA_BF16, fo, nq, e));
	rc = 0;
fail:
	scratch_free(&s);
	return rc;
}

int sora_cpu_binary_bf16(uint16_t *y, sora_binop op, const uint16_t *a, int andim, const int64_t *ashape,
			 const uint16_t *b, int bndim, const int64_t *bshape, sora_err *e)
{
	scratch s = {0};
	float *fa, *fb, *fy;
	int64_t shape[5];
	int n, rc = -1;
	TRY(sora_broadcast_shape(andim, ashape, bndim, bshape, &n, shape, e));
	TRY(widen(&s, &fa, a, numel(andim, ashape), e));
	TRY(widen(&s, &fb, b, numel(bndim, bshape), e));
	TRY(scratch_get(&s, &fy, numel(n, shape), e));
	TRY(sora_cpu_binary(fy, op, fa, andim, ashape, fb, bndim, bshape, e));
	TRY(sora_from_f32(y, SORA_BF16, fy, numel(n, shape), e));
	rc = 0;
fail:
	scratch_free(&s);
	return rc;
}
