#include "tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 64

size_t sora_dtype_size(sora_dtype d)
{
	switch (d) {
	case SORA_F32:
	case SORA_I32:
		return 4;
	case SORA_BF16:
	case SORA_F16:
		return 2;
	case SORA_I64:
		return 8;
	}
	return 0;
}

const char *sora_dtype_name(sora_dtype d)
{
	static const char *const names[] = {"f32", "bf16", "f16", "i32", "i64"};
	return (unsigned)d < sizeof names / sizeof *names ? names[d] : "?";
}

int64_t sora_tensor_numel(const sora_tensor *t)
{
	int64_t n = 1;
	for (int i = 0; i < t->ndim; i++)
		n *= t->shape[i];
	return n;
}

size_t sora_tensor_nbytes(const sora_tensor *t)
{
	return (size_t)sora_tensor_numel(t) * sora_dtype_size(t->dtype);
}

const char *sora_shape_str(char *buf, size_t n, int ndim, const int64_t *shape)
{
	size_t k = (size_t)snprintf(buf, n, "[");
	for (int i = 0; i < ndim && k < n; i++)
		k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
	if (k < n)
		snprintf(buf + k, n - k, "]");
	return buf;
}

/* The byte size of a shape, or -1 when a dim is negative or the product overflows. */
static int64_t shape_bytes(sora_dtype dtype, int ndim, const int64_t *shape)
{
	int64_t n = (int64_t)sora_dtype_size(dtype);
	for (int i = 0; i < ndim; i++) {
		if (shape[i] < 0 || (shape[i] && n > INT64_MAX / shape[i]))
			return -1;
		n *= shape[i];
	}
	return n;
}

int sora_tensor_alloc(sora_tensor *t, sora_dtype dtype, int ndim, const int64_t *shape, sora_err *e)
{
	memset(t, 0, sizeof *t);
	CHECK(e, ndim >= 0 && ndim <= SORA_MAX_DIMS, "a tensor has at most %d dims, not %d", SORA_MAX_DIMS,
	      ndim);
	int64_t bytes = shape_bytes(dtype, ndim, shape);
	CHECK(e, bytes >= 0, "invalid tensor shape");
	size_t padded = ((size_t)bytes + ALIGN - 1) / ALIGN * ALIGN;
	CHECK_ALLOC(e, t->data = aligned_alloc(ALIGN, padded ? padded : ALIGN));
	memset(t->data, 0, padded);
	t->dtype = dtype;
	t->device = SORA_CPU;
	t->ndim = ndim;
	if (ndim) /* a scalar may come with no shape array */
		memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
	t->owned = 1;
	return 0;
fail:
	return -1;
}

void sora_tensor_view(sora_tensor *t, sora_dtype dtype, int ndim, const int64_t *shape, void *data)
{
	memset(t, 0, sizeof *t);
	t->dtype = dtype;
	t->device = SORA_CPU;
	t->ndim = ndim;
	if (ndim) /* a scalar may come with no shape array */
		memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
	t->data = data;
}

void sora_tensor_free(sora_tensor *t)
{
	if (t->owned)
		free(t->data);
	memset(t, 0, sizeof *t);
}

static uint32_t f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

static float bits_f32(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

float sora_bf16_to_f32(uint16_t h)
{
	return bits_f32((uint32_t)h << 16);
}

uint16_t sora_f32_to_bf16(float f)
{
	uint32_t u = f32_bits(f);
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((u >> 16) | 0x40); /* quiet NaN, sign kept */
	u += 0x7fffu + ((u >> 16) & 1);
	return (uint16_t)(u >> 16);
}

float sora_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
	if (exp == 0x1f)
		return bits_f32(sign | 0x7f800000u | (man << 13));
	if (exp == 0) /* zero or subnormal: man * 2^-24 */
		return sign ? -ldexpf((float)man, -24) : ldexpf((float)man, -24);
	return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t sora_f32_to_f16(float f)
{
	uint32_t u = f32_bits(f), sign = (u >> 16) & 0x8000;
	uint32_t a = u & 0x7fffffffu;
	if (a > 0x7f800000u)
		return (uint16_t)(sign | 0x7e00);
	if (a >= 0x477ff000u) /* rounds to 65520 or more: infinity */
		return (uint16_t)(sign | 0x7c00);
	if (a < 0x38800000u) { /* below the smallest normal: round to a multiple of 2^-24 */
		float m = bits_f32(a) * 16777216.0f;
		return (uint16_t)(sign | (uint32_t)nearbyintf(m));
	}
	/* Normal: rebias the exponent, round the 13 dropped mantissa bits to nearest even. */
	uint32_t r = a - 0x38000000u;
	r += 0xfffu + ((r >> 13) & 1);
	return (uint16_t)(sign | (r >> 13));
}

int sora_to_f32(float *dst, const void *src, sora_dtype dtype, size_t n, sora_err *e)
{
	const uint16_t *h = src;
	switch (dtype) {
	case SORA_F32:
		memmove(dst, src, n * 4);
		return 0;
	case SORA_BF16:
		for (size_t i = 0; i < n; i++)
			dst[i] = sora_bf16_to_f32(h[i]);
		return 0;
	case SORA_F16:
		for (size_t i = 0; i < n; i++)
			dst[i] = sora_f16_to_f32(h[i]);
		return 0;
	default:
		return SORA_FAIL(e, "cannot convert %s to f32", sora_dtype_name(dtype));
	}
}

int sora_from_f32(void *dst, sora_dtype dtype, const float *src, size_t n, sora_err *e)
{
	uint16_t *h = dst;
	switch (dtype) {
	case SORA_F32:
		memmove(dst, src, n * 4);
		return 0;
	case SORA_BF16:
		for (size_t i = 0; i < n; i++)
			h[i] = sora_f32_to_bf16(src[i]);
		return 0;
	case SORA_F16:
		for (size_t i = 0; i < n; i++)
			h[i] = sora_f32_to_f16(src[i]);
		return 0;
	default:
		return SORA_FAIL(e, "cannot convert f32 to %s", sora_dtype_name(dtype));
	}
}

int sora_arena_init(sora_arena *a, size_t cap, sora_err *e)
{
	memset(a, 0, sizeof *a);
	cap = (cap + ALIGN - 1) / ALIGN * ALIGN;
	CHECK_ALLOC(e, a->base = aligned_alloc(ALIGN, cap ? cap : ALIGN));
	a->cap = cap;
	return 0;
fail:
	return -1;
}

int sora_arena_tensor(sora_arena *a, sora_tensor *t, sora_dtype dtype, int ndim, const int64_t *shape,
		      sora_err *e)
{
	CHECK(e, ndim >= 0 && ndim <= SORA_MAX_DIMS, "a tensor has at most %d dims, not %d", SORA_MAX_DIMS,
	      ndim);
	int64_t bytes = shape_bytes(dtype, ndim, shape);
	CHECK(e, bytes >= 0, "invalid tensor shape");
	size_t padded = ((size_t)bytes + ALIGN - 1) / ALIGN * ALIGN;
	CHECK(e, padded <= a->cap - a->used, "activation arena full: %zu of %zu bytes used, %zu more wanted",
	      a->used, a->cap, padded);
	sora_tensor_view(t, dtype, ndim, shape, a->base + a->used);
	a->used += padded;
	if (a->used > a->peak)
		a->peak = a->used;
	return 0;
fail:
	return -1;
}

void sora_arena_reset(sora_arena *a)
{
	a->used = 0;
}

size_t sora_arena_floats_bytes(int count, const size_t *n)
{
	size_t bytes = 0;
	for (int i = 0; i < count; i++)
		bytes += (n[i] * sizeof(float) + ALIGN - 1) / ALIGN * ALIGN;
	return bytes;
}

int sora_arena_take_floats(sora_arena *a, int count, const size_t *n, float **out, sora_err *e)
{
	const size_t need = sora_arena_floats_bytes(count, n);
	if (a->cap < need) {
		sora_arena_free(a);
		TRY(sora_arena_init(a, need, e));
	}
	sora_arena_reset(a);
	for (int i = 0; i < count; i++) {
		sora_tensor t;
		TRY(sora_arena_tensor(a, &t, SORA_F32, 1, (int64_t[]){(int64_t)n[i]}, e));
		out[i] = t.data;
	}
	return 0;
fail:
	return -1;
}

void sora_arena_free(sora_arena *a)
{
	free(a->base);
	memset(a, 0, sizeof *a);
}
