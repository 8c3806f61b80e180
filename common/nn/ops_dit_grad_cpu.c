/* The backward of the MMDiT ops on the CPU: f32 storage, the reference for ops_dit_grad_cuda.cu. Sums over
 * a row or over a batch item's tokens are kept in double and taken in a fixed order, with OpenMP over rows
 * or over channel chunks only, so every result is the same bit for bit whatever the thread count. */
#include "ops_dit_grad.h"

#include <math.h>
#include <stdlib.h>

/* The channels one task of the modulation sums owns: its double accumulators stay in registers / L1. */
enum { CHUNK = 64 };

/* The forward's row statistics, computed as sora_cpu_adaln computes them (sums in double, mean and
 * 1/sqrt(var + eps) rounded to f32), so n = (x − mean)·r is the very n the forward scaled. */
static void row_stats(const float *xi, int C, float eps, float *mean, float *r)
{
	double s = 0, v = 0;
	for (int j = 0; j < C; j++)
		s += xi[j];
	const float m = (float)(s / C);
	for (int j = 0; j < C; j++)
		v += (double)(xi[j] - m) * (xi[j] - m);
	*mean = m;
	*r = 1.0f / sqrtf((float)(v / C) + eps);
}

/* The modulation gradients of batch item b: dsum[b, j] += Σ_l dy[b, l, j] and dprod[b, j] += Σ_l
 * dy[b, l, j]·v[b, l, j], v = x, or n = (x − mean)·r when stats holds (mean, r) per row [B·L, 2].
 * A task owns CHUNK channels of one batch item and walks its tokens in order: no two tasks touch one
 * sum, and each sum's order is fixed. Either output may be NULL. */
static void mod_sums(float *dsum, float *dprod, const float *dy, const float *x, const float *stats, int B,
		     int L, int C, int mstride)
{
	const int nchunk = (C + CHUNK - 1) / CHUNK;
#pragma omp parallel for if ((size_t)B * (size_t)L * (size_t)C > 65536)
	for (int t = 0; t < B * nchunk; t++) {
		const int b = t / nchunk, j0 = t % nchunk * CHUNK, w = C - j0 < CHUNK ? C - j0 : CHUNK;
		double s[CHUNK] = {0}, p[CHUNK] = {0};
		for (int l = 0; l < L; l++) {
			const size_t row = (size_t)b * L + l;
			const float *dyr = dy + row * C + j0, *xr = x + row * C + j0; /* [w] */
			for (int j = 0; j < w; j++) {
				const float v = stats ? (xr[j] - stats[2 * row]) * stats[2 * row + 1] : xr[j];
				s[j] += dyr[j];
				p[j] += (double)dyr[j] * v;
			}
		}
		for (int j = 0; j < w; j++) {
			if (dsum)
				dsum[(size_t)b * mstride + j0 + j] += (float)s[j];
			if (dprod)
				dprod[(size_t)b * mstride + j0 + j] += (float)p[j];
		}
	}
}

/* With g = (1 + scale)·dy the gradient reaching n, and n = (x − mean)·r:
 * ∂n_j/∂x_k = r·(δ_jk − 1/C − n_j·n_k/C) (eps included in r), so dx = r·(g − mean(g) − n·mean(g·n)). */
int sora_cpu_adaln_backward(float *dx, float *dshift, float *dscale, const float *dy, const float *x,
			    const float *scale, int B, int L, int C, int mstride, float eps, sora_err *e)
{
	float *stats = NULL; /* [B·L, 2]: (mean, r) per row, for the modulation sums */
	CHECK(e, B >= 0 && L >= 0 && C > 0, "adaln_backward: bad shape [%d, %d, %d]", B, L, C);
	/* Two batch items' modulation rows must not overlap, or their sums would race. */
	CHECK(e, mstride >= C, "adaln_backward: modulation stride %d < %d channels", mstride, C);
	const int N = B * L;
	if ((dshift || dscale) && N > 0) {
		stats = malloc((size_t)N * 2 * sizeof *stats);
		CHECK_ALLOC(e, stats);
	}
	if (dx || stats) {
#pragma omp parallel for if ((size_t)N * (size_t)C > 65536)
		for (int i = 0; i < N; i++) {
			const float *xi = x + (size_t)i * C, *dyi = dy + (size_t)i * C; /* [C] */
			const float *sc = scale + (size_t)(i / L) * mstride;            /* [C] */
			float mean, r;
			row_stats(xi, C, eps, &mean, &r);
			if (stats)
				stats[2 * (size_t)i] = mean, stats[2 * (size_t)i + 1] = r;
			if (!dx)
				continue;
			double sg = 0, sgn = 0;
			for (int j = 0; j < C; j++) {
				const float g = (1.0f + sc[j]) * dyi[j], n = (xi[j] - mean) * r;
				sg += g;
				sgn += (double)g * n;
			}
			const float mg = (float)(sg / C), mgn = (float)(sgn / C);
			for (int j = 0; j < C; j++) {
				const float g = (1.0f + sc[j]) * dyi[j], n = (xi[j] - mean) * r;
				dx[(size_t)i * C + j] += r * (g - mg - n * mgn);
			}
		}
	}
	if (stats)
		mod_sums(dshift, dscale, dy, x, stats, B, L, C, mstride);
	free(stats);
	return 0;
fail:
	free(stats);
	return -1;
}

int sora_cpu_gated_add_backward(float *dx, float *dgate, const float *dy, const float *x, const float *gate,
				int B, int L, int C, int mstride, sora_err *e)
{
	CHECK(e, B >= 0 && L >= 0 && C > 0, "gated_add_backward: bad shape [%d, %d, %d]", B, L, C);
	CHECK(e, mstride >= C, "gated_add_backward: modulation stride %d < %d channels", mstride, C);
	const int N = B * L;
	if (dx) {
#pragma omp parallel for if ((size_t)N * (size_t)C > 65536)
		for (int i = 0; i < N; i++) {
			const float *g = gate + (size_t)(i / L) * mstride; /* [C] */
			for (int j = 0; j < C; j++)
				dx[(size_t)i * C + j] += g[j] * dy[(size_t)i * C + j];
		}
	}
	if (dgate)
		mod_sums(NULL, dgate, dy, x, NULL, B, L, C, mstride);
	return 0;
fail:
	return -1;
}

/* rope_apply multiplies each pair by [[c, −s], [s, c]]; its transpose [[c, s], [−s, c]] is applied here. */
int sora_cpu_rope_apply_backward(float *dx, const float *ctab, const float *stab, int B, int L, int H, int D,
				 int interleaved, sora_err *e)
{
	CHECK(e, B >= 0 && L >= 0 && H > 0 && D > 0 && D % 2 == 0,
	      "rope_apply_backward: bad shape [%d, %d, %d, %d]", B, L, H, D);
	if (!dx)
		return 0;
	const int half = D / 2, N = B * L;
#pragma omp parallel for if ((size_t)N * (size_t)H * (size_t)D > 65536)
	for (int n = 0; n < N; n++) {
		const float *c = ctab + (size_t)n * half, *s = stab + (size_t)n * half; /* [D/2] */
		for (int h = 0; h < H; h++) {
			float *v = dx + ((size_t)n * H + h) * D; /* [D] */
			for (int j = 0; j < half; j++) {
				float *p0 = interleaved ? v + (size_t)2 * j : v + j;
				float *p1 = interleaved ? v + (size_t)2 * j + 1 : v + j + half;
				const float g0 = *p0, g1 = *p1;
				*p0 = g0 * c[j] + g1 * s[j];
				*p1 = g1 * c[j] - g0 * s[j];
			}
		}
	}
	return 0;
fail:
	return -1;
}

/* gelu(v) = v/2·(1 + t), t = tanh(u), u = k·(v + a·v³): gelu'(v) = (1 + t)/2 + v/2·(1 − t²)·k·(1 + 3a·v²). */
int sora_cpu_gelu_tanh_cols_backward(float *dx, int lddx, const float *dy, int lddy, const float *x, int ldx,
				     int N, int C, sora_err *e)
{
	const float k = 0.7978845608028654f, a = 0.044715f; /* sqrt(2/π) and the cubic term, as the forward */
	CHECK(e, N >= 0 && C >= 0 && lddx >= C && lddy >= C && ldx >= C,
	      "gelu_tanh_cols_backward: bad shape");
	if (!dx)
		return 0;
#pragma omp parallel for if ((size_t)N * (size_t)C > 65536)
	for (int i = 0; i < N; i++)
		for (int j = 0; j < C; j++) {
			const float v = x[(size_t)i * ldx + j], t = tanhf(k * (v + a * v * v * v));
			const float d =
			    0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * k * (1.0f + 3.0f * a * v * v);
			dx[(size_t)i * lddx + j] += dy[(size_t)i * lddy + j] * d;
		}
	return 0;
fail:
	return -1;
}

int sora_cpu_add_cols(float *y, int ldy, const float *x, int ldx, int N, int C, sora_err *e)
{
	CHECK(e, N >= 0 && C >= 0 && ldy >= C && ldx >= C, "add_cols: bad shape");
	if (!y)
		return 0;
#pragma omp parallel for if ((size_t)N * (size_t)C > 65536)
	for (int i = 0; i < N; i++)
		for (int j = 0; j < C; j++)
			y[(size_t)i * ldy + j] += x[(size_t)i * ldx + j];
	return 0;
fail:
	return -1;
}
