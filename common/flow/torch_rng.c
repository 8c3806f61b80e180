#include "torch_rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* torch's AVX2 kernels are compiled with -mfma, and GCC fuses some of avx_mathfun.h's multiply-then-add
 * pairs into FMAs: where it did, fmaf() appears below; every other operation must round on its own, so
 * the compiler may not contract anything here. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

enum { MT_N = 624, MT_M = 397 };

void sora_torch_rng_seed(sora_torch_rng *g, uint64_t seed)
{
	g->mt[0] = (uint32_t)(seed & 0xffffffffu);
	for (int j = 1; j < MT_N; j++)
		g->mt[j] = 1812433253u * (g->mt[j - 1] ^ (g->mt[j - 1] >> 30)) + (uint32_t)j;
	g->idx = MT_N;
	g->has_next_normal = 0;
	g->next_normal = 0;
}

static void mt_twist(sora_torch_rng *g)
{
	for (int i = 0; i < MT_N; i++) {
		uint32_t y = (g->mt[i] & 0x80000000u) | (g->mt[(i + 1) % MT_N] & 0x7fffffffu);
		g->mt[i] = g->mt[(i + MT_M) % MT_N] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
	}
	g->idx = 0;
}

uint32_t sora_torch_rng_u32(sora_torch_rng *g)
{
	if (g->idx >= MT_N)
		mt_twist(g);
	uint32_t y = g->mt[g->idx++];
	y ^= y >> 11;
	y ^= (y << 7) & 0x9d2c5680u;
	y ^= (y << 15) & 0xefc60000u;
	y ^= y >> 18;
	return y;
}

uint64_t sora_torch_rng_u64(sora_torch_rng *g)
{
	uint64_t hi = sora_torch_rng_u32(g);
	uint64_t lo = sora_torch_rng_u32(g);
	return hi << 32 | lo;
}

/* at::uniform_real_distribution<float>(0, 1): 24 random bits. */
static float uniform_f32(sora_torch_rng *g)
{
	return (float)(sora_torch_rng_u32(g) & 0xffffffu) * (1.0f / 16777216.0f);
}

/* at::uniform_real_distribution<double>(0, 1): 53 random bits. */
static double uniform_f64(sora_torch_rng *g)
{
	return (double)(sora_torch_rng_u64(g) & ((UINT64_C(1) << 53) - 1)) * (1.0 / 9007199254740992.0);
}

static float bits_f(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static uint32_t f_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

/* Cephes logf as torch's AVX2 build of log256_ps evaluates it (u in (0, 1], never 0 or negative here). */
static float cephes_logf(float x)
{
	x = x < bits_f(0x00800000u) ? bits_f(0x00800000u) : x;
	int32_t ex = (int32_t)(f_bits(x) >> 23);
	x = bits_f((f_bits(x) & ~0x7f800000u) | f_bits(0.5f));
	float e = (float)(ex - 0x7f);
	e = e + 1.0f;
	int below = x < 0.707106781186547524f;
	float tmp = below ? x : 0.0f;
	x = x - 1.0f;
	e = e - (below ? 1.0f : 0.0f);
	x = x + tmp;
	float z = x * x;
	static const float p[] = {7.0376836292E-2f,  -1.1514610310E-1f, 1.1676998740E-1f,
				  -1.2420140846E-1f, +1.4249322787E-1f, -1.6668057665E-1f,
				  +2.0000714765E-1f, -2.4999993993E-1f, +3.3333331174E-1f};
	float y = p[0];
	for (int i = 1; i < 9; i++)
		y = fmaf(y, x, p[i]);
	y = y * x;
	y = fmaf(y, z, e * -2.12194440e-4f);
	y = fmaf(-z, 0.5f, y);
	x = x + y;
	x = fmaf(e, 0.693359375f, x);
	return x;
}

/* Cephes sincosf as torch's AVX2 build of sincos256_ps evaluates it. */
static void cephes_sincosf(float x, float *s, float *c)
{
	uint32_t sign_sin = f_bits(x) & 0x80000000u;
	x = bits_f(f_bits(x) & 0x7fffffffu);
	float y = x * 1.27323954473516f;
	int32_t j = (int32_t)y; /* truncation, as cvttps */
	j = (j + 1) & ~1;
	y = (float)j;
	uint32_t swap_sin = (uint32_t)(j & 4) << 29;
	int poly2 = (j & 2) == 0; /* the sine polynomial gives the sine */
	x = fmaf(y, -0.78515625f, x);
	x = fmaf(y, -2.4187564849853515625e-4f, x);
	x = fmaf(y, -3.77489497744594108e-8f, x);
	uint32_t sign_cos = (uint32_t)(~(j - 2) & 4) << 29;
	sign_sin ^= swap_sin;
	float z = x * x;
	float yc = 2.443315711809948E-005f;
	yc = fmaf(yc, z, -1.388731625493765E-003f);
	yc = fmaf(yc, z, 4.166664568298827E-002f);
	yc = yc * z;
	yc = fmaf(yc, z, -(z * 0.5f));
	yc = yc + 1.0f;
	float ys = -1.9515295891E-4f;
	ys = fmaf(ys, z, 8.3321608736E-3f);
	ys = fmaf(ys, z, -1.6666654611E-1f);
	ys = ys * z;
	ys = fmaf(ys, x, x);
	float sv = poly2 ? ys : yc, cv = poly2 ? yc : ys;
	*s = bits_f(f_bits(sv) ^ sign_sin);
	*c = bits_f(f_bits(cv) ^ sign_cos);
}

/* normal_fill_16_AVX2: 8 Box–Muller pairs over 16 uniforms, in place. */
static void normal_fill_16(float *d)
{
	const float two_pi = (float)(2.0f * 3.14159265358979323846);
	for (int j = 0; j < 8; j++) {
		float u1 = 1.0f - d[j], u2 = d[j + 8];
		float radius = sqrtf(-2.0f * cephes_logf(u1));
		float s, c;
		cephes_sincosf(two_pi * u2, &s, &c);
		d[j] = radius * c;
		d[j + 8] = radius * s;
	}
}

/* at::normal_distribution<double>(0, 1) with the generator's cache of the second value. */
static double normal_f64(sora_torch_rng *g)
{
	if (g->has_next_normal) {
		g->has_next_normal = 0;
		return g->next_normal;
	}
	double u1 = uniform_f64(g), u2 = uniform_f64(g);
	double r = sqrt(-2.0 * log(1.0 - u2)), theta = 2.0 * 3.14159265358979323846 * u1;
	g->next_normal = r * sin(theta);
	g->has_next_normal = 1;
	return r * cos(theta);
}

void sora_torch_randn(sora_torch_rng *g, float *out, int64_t n)
{
	if (n < 16) {
		for (int64_t i = 0; i < n; i++)
			out[i] = (float)normal_f64(g);
		return;
	}
	for (int64_t i = 0; i < n; i++)
		out[i] = uniform_f32(g);
	for (int64_t i = 0; i + 16 <= n; i += 16)
		normal_fill_16(out + i);
	if (n % 16) {
		float *tail = out + n - 16;
		for (int i = 0; i < 16; i++)
			tail[i] = uniform_f32(g);
		normal_fill_16(tail);
	}
}

void sora_torch_rand(sora_torch_rng *g, float *out, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		out[i] = uniform_f32(g);
}

int sora_get_noise(float *out, int64_t *n, int num_samples, int height, int width, int num_frames,
		   uint64_t seed, int patch_size, int channel, sora_err *e)
{
	const int D = 16; /* AE_SPATIAL_COMPRESSION: VAE 8 × patch 2 */
	CHECK(e,
	      num_samples > 0 && height > 0 && width > 0 && num_frames > 0 && patch_size > 0 && channel > 0,
	      "get_noise: sizes must be positive (samples %d, %dx%d, %d frames, patch %d, %d channels)",
	      num_samples, height, width, num_frames, patch_size, channel);
	int64_t h = (int64_t)patch_size * ((height + D - 1) / D),
		w = (int64_t)patch_size * ((width + D - 1) / D);
	CHECK(e, h <= 65536 && w <= 65536 && num_samples <= 65536 && channel <= 65536 && num_frames <= 65536,
	      "get_noise: sizes too large (samples %d, %dx%d, %d frames, %d channels)", num_samples, height,
	      width, num_frames, channel);
	int64_t count = (int64_t)num_samples * channel * num_frames * h * w;
	CHECK(e, count <= (INT64_C(1) << 34), "get_noise: %lld values is too many", (long long)count);
	if (n)
		*n = count;
	if (out) {
		sora_torch_rng g;
		sora_torch_rng_seed(&g, seed);
		sora_torch_randn(&g, out, count);
	}
	return 0;
fail:
	return -1;
}
