/* The MMDiT ops on the CPU: f32, OpenMP over rows; the reference for ops_dit_cuda.cu. */
#include "ops_dit.h"

#include "tensor.h"

#include <math.h>
#include <string.h>

/* torch's float32 exp(−ln(1e4)·i/128), i = 0..127, as layers.timestep_embedding forms it (recorded by the
 * official run: flow_io.safetensors timestep.args_f32 row t = 1e-3). Correctly rounded exp differs in 15
 * of them by one ulp, which moves an embedding value by up to 2.4e-4 at 1000·t = 4000. */
static const float time_freq[SORA_DIT_TIME_DIM / 2] = {
    0x1p+0f,         0x1.dc73fp-1f,   0x1.bb5facp-1f,  0x1.9c9758p-1f,  0x1.7ff222p-1f,  0x1.654a0cp-1f,
    0x1.4c7bcp-1f,   0x1.356656p-1f,  0x1.1feb34p-1f,  0x1.0beddcp-1f,  0x1.f2a79cp-2f,  0x1.d008cp-2f,
    0x1.afd134p-2f,  0x1.91d648p-2f,  0x1.75f034p-2f,  0x1.5bf9fep-2f,  0x1.43d136p-2f,  0x1.2d55d4p-2f,
    0x1.186a06p-2f,  0x1.04f21p-2f,   0x1.e5a844p-3f,  0x1.c3f06cp-3f,  0x1.a48fdap-3f,  0x1.875cf8p-3f,
    0x1.6c310ep-3f,  0x1.52e812p-3f,  0x1.3b608p-3f,   0x1.257b2p-3f,   0x1.111aeep-3f,  0x1.fc49bep-4f,
    0x1.d8ffaap-4f,  0x1.b828c8p-4f,  0x1.999998p-4f,  0x1.7d299p-4f,   0x1.62b2fp-4f,   0x1.4a12aep-4f,
    0x1.33281ap-4f,  0x1.1dd4d8p-4f,  0x1.09fc98p-4f,  0x1.ef0a22p-5f,  0x1.ccab82p-5f,  0x1.acafc6p-5f,
    0x1.8eec8p-5f,   0x1.733a3p-5f,   0x1.59742cp-5f,  0x1.417836p-5f,  0x1.2b269p-5f,   0x1.166196p-5f,
    0x1.030dc4p-5f,  0x1.e222eep-6f,  0x1.c0a9a2p-6f,  0x1.a1835p-6f,   0x1.84869cp-6f,  0x1.698d24p-6f,
    0x1.507312p-6f,  0x1.39172cp-6f,  0x1.235a74p-6f,  0x1.0f2012p-6f,  0x1.f89a6p-7f,   0x1.d591ccp-7f,
    0x1.b4f7e2p-7f,  0x1.96a16ap-7f,  0x1.7a661cp-7f,  0x1.6020ap-7f,   0x1.47ae14p-7f,  0x1.30ee0cp-7f,
    0x1.1bc25cp-7f,  0x1.080eeep-7f,  0x1.eb735ap-8f,  0x1.c9548ap-8f,  0x1.a9942cp-8f,  0x1.8c0814p-8f,
    0x1.708934p-8f,  0x1.56f304p-8f,  0x1.3f2398p-8f,  0x1.28fb5ep-8f,  0x1.145ceap-8f,  0x1.012cf8p-8f,
    0x1.dea41ap-9f,  0x1.bd68f4p-9f,  0x1.9e7c66p-9f,  0x1.81b584p-9f,  0x1.66ee1ap-9f,  0x1.4e02a6p-9f,
    0x1.36d21cp-9f,  0x1.213dbp-9f,   0x1.0d28dap-9f,  0x1.f4f1ep-10f,  0x1.d22a5p-10f,  0x1.b1cce8p-10f,
    0x1.93aeb2p-10f, 0x1.77a7d4p-10f, 0x1.5d931cp-10f, 0x1.454deep-10f, 0x1.2eb816p-10f, 0x1.19b3b2p-10f,
    0x1.0624dcp-10f, 0x1.e7e344p-11f, 0x1.c603c6p-11f, 0x1.a67e48p-11f, 0x1.892914p-11f, 0x1.6ddd3cp-11f,
    0x1.547688p-11f, 0x1.3cd344p-11f, 0x1.26d428p-11f, 0x1.125c02p-11f, 0x1.fe9f58p-12f, 0x1.db2bc8p-12f,
    0x1.ba2e44p-12f, 0x1.9b7b26p-12f, 0x1.7ee9acp-12f, 0x1.6453f6p-12f, 0x1.4b96cp-12f,  0x1.34914p-12f,
    0x1.1f24eap-12f, 0x1.0b3548p-12f, 0x1.f1501ap-13f, 0x1.cec918p-13f, 0x1.aea7c4p-13f, 0x1.90c18p-13f,
    0x1.74eea6p-13f, 0x1.5b0a54p-13f, 0x1.42f232p-13f, 0x1.2c864cp-13f, 0x1.17a8dap-13f, 0x1.043e5p-13f,
    0x1.e459bap-14f, 0x1.c2b91cp-14f,
};

int sora_cpu_timestep_embedding(float *emb, const float *t, int B, int quant_bf16, sora_err *e)
{
	const int half = SORA_DIT_TIME_DIM / 2;
	CHECK(e, B >= 0, "timestep_embedding: bad batch %d", B);
	for (int b = 0; b < B; b++) {
		float tb = quant_bf16 ? sora_bf16_to_f32(sora_f32_to_bf16(t[b])) : t[b];
		float tt = 1000.0f * tb;
		for (int i = 0; i < half; i++) {
			float a = tt * time_freq[i];
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
				float *p0 = interleaved ? v + 2 * j : v + j;
				float *p1 = interleaved ? v + 2 * j + 1 : v + j + half;
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
