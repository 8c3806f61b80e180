/* The CPU video ops: f32; conv3d as an implicit GEMM (im2col of a band of output rows, then one OpenBLAS
 * sgemm over all k³·cin taps), OpenMP for the gathers and the element-wise passes. */
#include "ops_video.h"

#include "../util/big_alloc.h"
#include "conv3d_direct.h"
#include "conv3d_winograd.h"
#include "ops.h"

#include <cblas.h>
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The im2col band: at most this many floats (a few tens of MB), whole output rows at a time. */
#define COL_BUDGET ((size_t)8 << 20)

int sora_conv3d_out_size(const sora_conv3d_args *a, int *To, int *Ho, int *Wo, sora_err *e)
{
	CHECK(e,
	      a->cin > 0 && a->cout > 0 && a->T > 0 && a->H > 0 && a->W > 0 && a->k > 0 && a->k % 2 == 1 &&
		  a->st > 0 && a->sh > 0 && a->sw > 0,
	      "conv3d: bad arguments (cin %d cout %d, input %dx%dx%d, k %d, strides %d,%d,%d)", a->cin,
	      a->cout, a->T, a->H, a->W, a->k, a->st, a->sh, a->sw);
	const int p = a->k / 2;
	CHECK(e, a->H + 2 * p >= a->k && a->W + 2 * p >= a->k, "conv3d: input %dx%d smaller than the kernel",
	      a->H, a->W);
	CHECK(e, !a->no_front_pad || a->T >= a->k, "conv3d: %d frames without front padding, kernel %d", a->T,
	      a->k);
	*To = a->no_front_pad ? (a->T - a->k) / a->st + 1 : (a->T - 1) / a->st + 1;
	*Ho = (a->H + 2 * p - a->k) / a->sh + 1;
	*Wo = (a->W + 2 * p - a->k) / a->sw + 1;
	return 0;
fail:
	return -1;
}

static inline int clampi(int v, int hi)
{
	return v < 0 ? 0 : v > hi ? hi : v;
}

/* col [cin·k³, (line1 − line0)·Wo]: row (ci, kt, kh, kw), column (output line, wo), where output line
 * n = to·Ho + ho; replicate padding is a clamp of the input index. */
static void im2col(float *col, const float *x, const sora_conv3d_args *a, int Ho, int Wo, int64_t line0,
		   int64_t line1)
{
	const int k = a->k, p = k / 2, K = a->cin * k * k * k;
	const int64_t ncol = (line1 - line0) * Wo;
	const size_t plane = (size_t)a->H * a->W, frame_stride = (size_t)a->T * plane;
#pragma omp parallel for schedule(static)
	for (int r = 0; r < K; r++) {
		const int kw = r % k, kh = r / k % k, kt = r / (k * k) % k, ci = r / (k * k * k);
		float *dst = col + (size_t)r * ncol;
		for (int64_t n = line0; n < line1; n++) {
			const int to = (int)(n / Ho), ho = (int)(n % Ho);
			const int ti = clampi(to * a->st + kt - (a->no_front_pad ? 0 : k - 1), a->T - 1);
			const int hi = clampi(ho * a->sh + kh - p, a->H - 1);
			const float *src = x + ci * frame_stride + ti * plane + (size_t)hi * a->W;
			if (a->sw == 1) {
				/* Interior columns are a straight copy; only the padded edges clamp. */
				int lo = p - kw > 0 ? p - kw : 0, hi_w = a->W - 1 - kw + p;
				if (hi_w > Wo - 1)
					hi_w = Wo - 1;
				for (int wo = 0; wo < lo && wo < Wo; wo++)
					dst[wo] = src[0];
				if (hi_w >= lo)
					memcpy(dst + lo, src + lo + kw - p,
					       (size_t)(hi_w - lo + 1) * sizeof *dst);
				for (int wo = hi_w + 1 > lo ? hi_w + 1 : lo; wo < Wo; wo++)
					dst[wo] = src[clampi(wo + kw - p, a->W - 1)];
			} else {
				for (int wo = 0; wo < Wo; wo++)
					dst[wo] = src[clampi(wo * a->sw + kw - p, a->W - 1)];
			}
			dst += Wo;
		}
	}
}

/* Winograd (4/9 of the multiplications) where the GEMMs outweigh the weights' transform (done per call, the
 * cost of a few 2×2 output tiles per kernel): from 192 tiles × input frames (16×16 frames × 3: 1.12× the
 * direct path at 512 channels; × 2: even; 12×12 × 2: 0.66×), and where its window of three transformed
 * frames (4× the input frames) stays within 512 MB, else the direct path. */
static int winograd_pays(const sora_conv3d_args *a)
{
	const size_t tiles = (size_t)((a->H + 1) / 2) * ((a->W + 1) / 2);
	return sora_conv3d_winograd_applies(a) && tiles * (size_t)a->T >= 192 &&
	       3 * sora_conv3d_winograd_frame_floats(a) <= (size_t)128 << 20;
}

int sora_cpu_causal_conv3d(float *y, const float *x, const float *w, const float *b,
			   const sora_conv3d_args *a, sora_err *e)
{
	float *col = NULL;
	int To, Ho, Wo;
	TRY(sora_conv3d_out_size(a, &To, &Ho, &Wo, e));
	const int k = a->k, K = a->cin * k * k * k;
	const int pointwise = k == 1 && a->st == 1 && a->sh == 1 && a->sw == 1;
	if (winograd_pays(a))
		return sora_conv3d_winograd(y, x, w, b, a, e);
	if (!pointwise && sora_conv3d_direct_applies(a)) /* a 1×1×1 conv is one sgemm: 2-4× the direct path */
		return sora_conv3d_direct(y, x, w, b, a, e);
	const int64_t P = (int64_t)To * Ho * Wo, lines = (int64_t)To * Ho;
	/* The bias is broadcast into y first so that each sgemm adds to it (beta = 1). */
	for (int co = 0; co < a->cout; co++) {
		float *yc = y + (size_t)co * P, v = b ? b[co] : 0.0f;
		for (int64_t i = 0; i < P; i++)
			yc[i] = v;
	}
	if (pointwise) { /* y [cout, P] += w [cout, cin] · x [cin, P] */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, a->cout, (int)P, a->cin, 1.0f, w,
			    a->cin, x, (int)P, 1.0f, y, (int)P);
		return 0;
	}
	int64_t band = (int64_t)(COL_BUDGET / ((size_t)K * Wo));
	band = band < 1 ? 1 : band > lines ? lines : band;
	CHECK_ALLOC(e, col = sora_big_alloc((size_t)K * band * Wo * sizeof *col));
	for (int64_t l0 = 0; l0 < lines; l0 += band) {
		const int64_t l1 = l0 + band < lines ? l0 + band : lines;
		const int ncol = (int)((l1 - l0) * Wo);
		im2col(col, x, a, Ho, Wo, l0, l1); /* col [K, ncol] */
		/* y[:, band] [cout, ncol] += w [cout, K] · col [K, ncol] */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, a->cout, ncol, K, 1.0f, w, K, col,
			    ncol, 1.0f, y + l0 * Wo, (int)P);
	}
	free(col);
	return 0;
fail:
	free(col);
	return -1;
}

/* exp(t) on 16 floats as 2^u = 2^n · 2^f, u = t·log2 e, n = round(u), |f| ≤ 1/2; 2^f by its Taylor series to
 * degree 7 (truncation 5e-9 relative); _mm512_scalef_ps applies 2^n and saturates to 0 and +inf the way
 * expf does. Within 2 ulp of expf where silu's value depends on it. */
__attribute__((target("avx512f"))) static __m512 exp16(__m512 t)
{
	const __m512 u = _mm512_mul_ps(t, _mm512_set1_ps(1.44269504088896341f));
	const __m512 n = _mm512_roundscale_ps(u, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	const __m512 f = _mm512_sub_ps(u, n);
	__m512 p = _mm512_set1_ps(1.5252733804059840e-5f);
	p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.5403530393381608e-4f));
	p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-3f));
	p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6181291076284772e-3f));
	p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504108664821580e-2f));
	p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022650695910071e-1f));
	p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718055994531e-1f));
	p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
	return _mm512_scalef_ps(p, n);
}

/* y = silu((x − m)·sc + sh), 16 at a time, then the tail as in affine_row. */
__attribute__((target("avx512f"))) static void affine_silu_avx512(float *y, const float *x, int64_t S,
								  float m, float sc, float sh)
{
	const __m512 vm = _mm512_set1_ps(m), vsc = _mm512_set1_ps(sc), vsh = _mm512_set1_ps(sh),
		     one = _mm512_set1_ps(1.0f);
	int64_t i = 0;
	for (; i + 16 <= S; i += 16) {
		const __m512 v = _mm512_fmadd_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm), vsc, vsh);
		const __m512 d = _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), v)));
		_mm512_storeu_ps(y + i, _mm512_div_ps(v, d));
	}
	for (; i < S; i++) {
		const float v = (x[i] - m) * sc + sh;
		y[i] = v / (1.0f + expf(-v));
	}
}

/* y = (x − m)·sc + sh over one channel, then x·σ(x) if silu. y may alias x. */
static void affine_row(float *y, const float *x, int64_t S, float m, float sc, float sh, int silu)
{
	if (silu && __builtin_cpu_supports("avx512f")) {
		affine_silu_avx512(y, x, S, m, sc, sh);
		return;
	}
	for (int64_t i = 0; i < S; i++) {
		float v = (x[i] - m) * sc + sh;
		y[i] = silu ? v / (1.0f + expf(-v)) : v;
	}
}

/* Σ(x − shift) and Σ(x − shift)² of n floats in double, eight independent partial sums (the additions'
 * latency, not their count, bounded a single-sum loop). */
static void moments(const float *x, int64_t n, double shift, double *sum, double *sq)
{
	double s[8] = {0}, q[8] = {0};
	int64_t i = 0;
	for (; i + 8 <= n; i += 8)
		for (int j = 0; j < 8; j++) {
			const double d = x[i + j] - shift;
			s[j] += d, q[j] += d * d;
		}
	for (; i < n; i++) {
		const double d = x[i] - shift;
		s[0] += d, q[0] += d * d;
	}
	*sum = *sq = 0;
	for (int j = 0; j < 8; j++)
		*sum += s[j], *sq += q[j];
}

int sora_cpu_group_norm(float *y, const float *x, const float *w, const float *b, int C, int G, int64_t S,
			float eps, int silu, sora_err *e)
{
	CHECK(e, C > 0 && G > 0 && C % G == 0 && S > 0,
	      "group_norm: %d channels in %d groups over %lld values", C, G, (long long)S);
	const int cg = C / G;
	const int64_t n = (int64_t)cg * S;
	/* One group per thread at a time (a group of a clip is a few MB at most, in cache for the three
	 * passes): one parallel region per call, not three per group, as waking sleeping OpenMP workers costs
	 * tens of µs. */
#pragma omp parallel for schedule(dynamic) if (n * G > 65536)
	for (int g = 0; g < G; g++) {
		const float *xg = x + (size_t)g * n;
		/* Two passes in double (mean, then the centred variance): no cancellation over a whole clip.
		 */
		double sum, sq;
		moments(xg, n, 0, &sum, &sq);
		const double mean = sum / (double)n;
		moments(xg, n, mean, &sum, &sq);
		const double var = sq / (double)n;
		const float m = (float)mean, r = (float)(1.0 / sqrt(var + eps));
		for (int c = g * cg; c < (g + 1) * cg; c++)
			affine_row(y + (size_t)c * S, x + (size_t)c * S, S, m, r * (w ? w[c] : 1.0f),
				   b ? b[c] : 0.0f, silu);
	}
	return 0;
fail:
	return -1;
}

int sora_cpu_group_norm_stats(double *sum, double *sq, const float *x, int C, int G, int64_t S, sora_err *e)
{
	CHECK(e, C > 0 && G > 0 && C % G == 0 && S >= 0,
	      "group_norm: %d channels in %d groups over %lld values", C, G, (long long)S);
	const int64_t n = (int64_t)(C / G) * S;
#pragma omp parallel for schedule(dynamic) if (n * G > 65536)
	for (int g = 0; g < G; g++) {
		double s, q;
		moments(x + (size_t)g * n, n, 0, &s, &q);
		sum[g] += s, sq[g] += q;
	}
	return 0;
fail:
	return -1;
}

int sora_cpu_group_norm_apply(float *y, const float *x, const float *mean, const float *rstd, const float *w,
			      const float *b, int C, int G, int64_t S, int silu, sora_err *e)
{
	CHECK(e, C > 0 && G > 0 && C % G == 0 && S >= 0,
	      "group_norm: %d channels in %d groups over %lld values", C, G, (long long)S);
	const int cg = C / G;
#pragma omp parallel for if ((int64_t)C * S > 65536)
	for (int c = 0; c < C; c++) {
		affine_row(y + (size_t)c * S, x + (size_t)c * S, S, mean[c / cg],
			   rstd[c / cg] * (w ? w[c] : 1.0f), b ? b[c] : 0.0f, silu);
	}
	return 0;
fail:
	return -1;
}

int sora_cpu_upsample_causal(float *y, const float *x, int C, int T, int H, int W, int ft, int fh, int fw,
			     sora_err *e)
{
	CHECK(e, C > 0 && T > 0 && H > 0 && W > 0 && ft > 0 && fh > 0 && fw > 0,
	      "upsample: bad sizes %dx%dx%dx%d, factors %d,%d,%d", C, T, H, W, ft, fh, fw);
	const int To = 1 + ft * (T - 1), Ho = fh * H, Wo = fw * W;
#pragma omp parallel for collapse(2) if ((int64_t)C * To * Ho * Wo > 65536)
	for (int c = 0; c < C; c++)
		for (int to = 0; to < To; to++) {
			const int ti = to == 0 ? 0 : 1 + (to - 1) / ft;
			const float *src = x + ((size_t)c * T + ti) * H * W;
			float *dst = y + ((size_t)c * To + to) * Ho * Wo;
			for (int ho = 0; ho < Ho; ho++)
				for (int wo = 0; wo < Wo; wo++)
					dst[(size_t)ho * Wo + wo] = src[(size_t)(ho / fh) * W + wo / fw];
		}
	return 0;
fail:
	return -1;
}

int sora_cpu_transpose(float *y, const float *x, int64_t rows, int64_t cols, sora_err *e)
{
	CHECK(e, rows >= 0 && cols >= 0 && x != y, "transpose: bad arguments");
	/* 32×32 blocks keep both sides in cache. */
#pragma omp parallel for collapse(2) if (rows * cols > 65536)
	for (int64_t i0 = 0; i0 < rows; i0 += 32)
		for (int64_t j0 = 0; j0 < cols; j0 += 32)
			for (int64_t i = i0; i < i0 + 32 && i < rows; i++)
				for (int64_t j = j0; j < j0 + 32 && j < cols; j++)
					y[j * rows + i] = x[i * cols + j];
	return 0;
fail:
	return -1;
}

int sora_cpu_frame_causal_attention(float *out, const float *q, const float *k, const float *v, int F, int HW,
				    int D, float scale, sora_err *e)
{
	CHECK(e, F > 0 && HW > 0 && D > 0, "frame attention: bad sizes F %d HW %d D %d", F, HW, D);
	/* Frame f's queries see the keys of frames 0..f: one unmasked attention per frame. */
	for (int f = 0; f < F; f++) {
		sora_attn_args aa = {.B = 1, .H = 1, .Tq = HW, .Tk = (f + 1) * HW, .D = D, .scale = scale};
		const size_t off = (size_t)f * HW * D;
		TRY(sora_cpu_attention(out + off, q + off, k, v, &aa, e));
	}
	return 0;
fail:
	return -1;
}
