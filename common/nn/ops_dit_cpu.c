/* The MMDiT ops on the CPU: f32, OpenMP over rows; the reference for ops_dit_cuda.cu. */
#include "ops_dit.h"

#include "ops_dit_freq.h"
#include "tensor.h"

#include <math.h>
#include <string.h>

int sora_cpu_timestep_embedding(float *emb, const float *t, int B, int quant_bf16, sora_err *e)
{
	const int half = SORA_DIT_TIME_DIM / 2;
	CHECK(e, B >= 0, "timestep_embedding: bad batch %d", B);
	for (int b = 0; b < B; b++) {
		float tb = quant_bf16 ? sora_bf16_to_f32(sora_f32_to_bf16(t[b])) : t[b];
		float tt = 1000.0f * tb;
		for (int i = 0; i < half; i++) {
			float a = tt * sora_dit_time_freq[i];
			emb[(size_t)b * SORA_DIT_TIME_DIM + i] = cosf(a);
			emb[(size_t)b * SORA_DIT_TIME_DIM + half + i] = sinf(a);
		}
	}
	return 0;
fail:
	return -1;
}

int sora_cpu_adaln(float *y, const float *x, const float *shift, const float *scale, int B, int L, int C,
		   int mstride, float eps, sora_err *e)
{
	CHECK(e, B >= 0 && L >= 0 && C > 0, "adaln: bad shape [%d, %d, %d]", B, L, C);
	const int N = B * L;
#pragma omp parallel for if ((size_t)N * (size_t)C > 65536)
	for (int i = 0; i < N; i++) {
		const float *xi = x + (size_t)i * C;
		const float *sh = shift + (size_t)(i / L) * mstride, *sc = scale + (size_t)(i / L) * mstride;
		float *yi = y + (size_t)i * C;
		double s = 0, v = 0;
		for (int j = 0; j < C; j++)
			s += xi[j];
		float mean = (float)(s / C);
		for (int j = 0; j < C; j++)
			v += (double)(xi[j] - mean) * (xi[j] - mean);
		float r = 1.0f / sqrtf((float)(v / C) + eps);
		for (int j = 0; j < C; j++)
			yi[j] = (1.0f + sc[j]) * ((xi[j] - mean) * r) + sh[j];
	}
	return 0;
fail:
	return -1;
}

int sora_cpu_gated_add(float *y, const float *x, const float *gate, int B, int L, int C, int mstride,
		       sora_err *e)
{
	CHECK(e, B >= 0 && L >= 0 && C > 0, "gated_add: bad shape [%d, %d, %d]", B, L, C);
	const int N = B * L;
#pragma omp parallel for if ((size_t)N * (size_t)C > 65536)
	for (int i = 0; i < N; i++) {
		const float *g = gate + (size_t)(i / L) * mstride;
		for (int j = 0; j < C; j++)
			y[(size_t)i * C + j] += g[j] * x[(size_t)i * C + j];
	}
	return 0;
fail:
	return -1;
}

int sora_cpu_rope_table(float *ctab, float *stab, const float *ids, int B, int L, const int *axes_dim,
			int naxes, float theta, int f64, sora_err *e)
{
	int half = 0;
	CHECK(e, B >= 0 && L >= 0 && naxes > 0, "rope_table: bad shape [%d, %d, %d]", B, L, naxes);
	for (int a = 0; a < naxes; a++) {
		CHECK(e, axes_dim[a] > 0 && axes_dim[a] % 2 == 0, "rope_table: axis %d has odd size %d", a,
		      axes_dim[a]);
		half += axes_dim[a] / 2;
	}
	for (int n = 0; n < B * L; n++) {
		float *c = ctab + (size_t)n * half, *s = stab + (size_t)n * half;
		for (int a = 0, o = 0; a < naxes; o += axes_dim[a] / 2, a++) {
			const int d = axes_dim[a];
			const float pos = ids[(size_t)n * naxes + a];
			for (int j = 0; j < d / 2; j++) {
				if (f64) { /* math.rope: arange(0, d, 2, float64) / d, 1 / θ^scale, pos ·
					      omega */
					double omega = 1.0 / pow((double)theta, (double)(2 * j) / d);
					double ang = (double)pos * omega;
					c[o + j] = (float)cos(ang);
					s[o + j] = (float)sin(ang);
				} else { /* math.liger_rope: the same in float32 */
					float omega = 1.0f / powf(theta, (float)(2 * j) / (float)d);
					float ang = pos * omega;
					c[o + j] = cosf(ang);
					s[o + j] = sinf(ang);
				}
			}
		}
	}
	return 0;
fail:
	return -1;
}

int sora_cpu_rope_apply(float *x, const float *ctab, const float *stab, int B, int L, int H, int D,
			int interleaved, sora_err *e)
{
	CHECK(e, B >= 0 && L >= 0 && H > 0 && D > 0 && D % 2 == 0, "rope_apply: bad shape [%d, %d, %d, %d]",
	      B, L, H, D);
	const int half = D / 2, N = B * L;
#pragma omp parallel for if ((size_t)N * (size_t)H * (size_t)D > 65536)
	for (int n = 0; n < N; n++) {
		const float *c = ctab + (size_t)n * half, *s = stab + (size_t)n * half;
		for (int h = 0; h < H; h++) {
			float *v = x + ((size_t)n * H + h) * D;
			for (int j = 0; j < half; j++) {
				float *p0 = interleaved ? v + (size_t)2 * j : v + j;
				float *p1 = interleaved ? v + (size_t)2 * j + 1 : v + j + half;
				float x0 = *p0, x1 = *p1;
				*p0 = x0 * c[j] - x1 * s[j];
				*p1 = x1 * c[j] + x0 * s[j];
			}
		}
	}
	return 0;
fail:
	return -1;
}

int sora_cpu_cat_tokens(float *y, const float *a, const float *b, int B, int La, int Lb, int C, sora_err *e)
{
	CHECK(e, B >= 0 && La >= 0 && Lb >= 0 && C > 0, "cat_tokens: bad shape");
	for (int i = 0; i < B; i++) {
		float *yi = y + (size_t)i * (La + Lb) * C;
		memcpy(yi, a + (size_t)i * La * C, (size_t)La * C * sizeof *y);
		memcpy(yi + (size_t)La * C, b + (size_t)i * Lb * C, (size_t)Lb * C * sizeof *y);
	}
	return 0;
fail:
	return -1;
}

int sora_cpu_split_tokens(float *a, float *b, const float *y, int B, int La, int Lb, int C, sora_err *e)
{
	CHECK(e, B >= 0 && La >= 0 && Lb >= 0 && C > 0, "split_tokens: bad shape");
	for (int i = 0; i < B; i++) {
		const float *yi = y + (size_t)i * (La + Lb) * C;
		if (a)
			memcpy(a + (size_t)i * La * C, yi, (size_t)La * C * sizeof *y);
		if (b)
			memcpy(b + (size_t)i * Lb * C, yi + (size_t)La * C, (size_t)Lb * C * sizeof *y);
	}
	return 0;
fail:
	return -1;
}

int sora_cpu_copy_cols(float *y, int ldy, const float *x, int ldx, int N, int C, sora_err *e)
{
	CHECK(e, N >= 0 && C >= 0 && ldy >= C && ldx >= C, "copy_cols: bad shape");
	for (int i = 0; i < N; i++)
		memcpy(y + (size_t)i * ldy, x + (size_t)i * ldx, (size_t)C * sizeof *y);
	return 0;
fail:
	return -1;
}

int sora_cpu_gelu_tanh_cols(float *y, int ldy, const float *x, int ldx, int N, int C, sora_err *e)
{
	const float k = 0.7978845608028654f; /* sqrt(2/π), as sora_cpu_gelu_tanh */
	CHECK(e, N >= 0 && C >= 0 && ldy >= C && ldx >= C, "gelu_tanh_cols: bad shape");
#pragma omp parallel for if ((size_t)N * (size_t)C > 65536)
	for (int i = 0; i < N; i++)
		for (int j = 0; j < C; j++) {
			float v = x[(size_t)i * ldx + j];
			y[(size_t)i * ldy + j] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
		}
	return 0;
fail:
	return -1;
}
