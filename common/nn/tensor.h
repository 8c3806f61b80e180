/* Tensors: a dtype, up to 5 dims (row-major, contiguous), a device and a data pointer. No strides, no
 * autograd: as in llm.c, each model owns its buffers and calls ops on them.
 *
 *     sora_tensor x;
 *     TRY(sora_tensor_alloc(&x, SORA_F32, 2, (int64_t[]){T, C}, e));   // [T, C], zeroed
 *     ...
 *     sora_tensor_free(&x);
 *
 * Activations come from an arena (one allocation, bump pointer, reset per forward pass) so a forward
 * pass does no malloc. */
#ifndef SORA_TENSOR_H
#define SORA_TENSOR_H

#include "../util/err.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SORA_MAX_DIMS 5

typedef enum { SORA_F32, SORA_BF16, SORA_F16, SORA_I32, SORA_I64 } sora_dtype;
typedef enum { SORA_CPU, SORA_CUDA } sora_device;

typedef struct sora_tensor {
	sora_dtype dtype;
	sora_device device;
	int ndim;
	int64_t shape[SORA_MAX_DIMS];
	void *data;
	int owned; /* data was allocated by sora_tensor_alloc and is freed by sora_tensor_free */
} sora_tensor;

size_t sora_dtype_size(sora_dtype d);
const char *sora_dtype_name(sora_dtype d); /* "f32", "bf16", ... */

int64_t sora_tensor_numel(const sora_tensor *t);
size_t sora_tensor_nbytes(const sora_tensor *t);
/* "[2, 512, 4096]" into buf (64 bytes are always enough); returns buf. */
const char *sora_shape_str(char *buf, size_t n, int ndim, const int64_t *shape);

/* A CPU tensor of zeros, 64-byte aligned. Fails on ndim outside 0..5, a negative dim or a size that
 * overflows. */
int sora_tensor_alloc(sora_tensor *t, sora_dtype dtype, int ndim, const int64_t *shape, sora_err *e);
/* A view of memory owned elsewhere (a mapped checkpoint, an arena). */
void sora_tensor_view(sora_tensor *t, sora_dtype dtype, int ndim, const int64_t *shape, void *data);
void sora_tensor_free(sora_tensor *t);

/* Element conversions. bf16 and f16 round to nearest even; NaN stays NaN. */
float sora_bf16_to_f32(uint16_t h);
uint16_t sora_f32_to_bf16(float f);
float sora_f16_to_f32(uint16_t h);
uint16_t sora_f32_to_f16(float f);

/* n floating-point elements of src (f32, bf16 or f16) into f32 dst. */
int sora_to_f32(float *dst, const void *src, sora_dtype dtype, size_t n, sora_err *e);
/* n f32 elements into dst of dtype f32, bf16 or f16. */
int sora_from_f32(void *dst, sora_dtype dtype, const float *src, size_t n, sora_err *e);

/* The activation arena. */
typedef struct sora_arena {
	char *base;
	size_t cap, used, peak;
} sora_arena;

int sora_arena_init(sora_arena *a, size_t cap, sora_err *e);
/* A CPU tensor from the arena (64-byte aligned, NOT zeroed); fails when the arena is full. */
int sora_arena_tensor(sora_arena *a, sora_tensor *t, sora_dtype dtype, int ndim, const int64_t *shape,
		      sora_err *e);
void sora_arena_reset(sora_arena *a);

/* A forward pass's scratch as a list of f32 buffers of n[i] floats: the bytes they take in an arena, and
 * taking them (the arena reset first, and reallocated only when smaller than that, so equal passes
 * allocate nothing after the first). */
size_t sora_arena_floats_bytes(int count, const size_t *n);
int sora_arena_take_floats(sora_arena *a, int count, const size_t *n, float **out, sora_err *e);
void sora_arena_free(sora_arena *a);

#ifdef __cplusplus
}
#endif

#endif
