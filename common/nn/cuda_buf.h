/* Device buffers from C (the parity tests, and models later): allocate, copy in, copy out, free.
 * Compiled only with `make CUDA=1` (cuda_buf.cu). */
#ifndef SORA_CUDA_BUF_H
#define SORA_CUDA_BUF_H

#include "../util/err.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

int sora_cuda_alloc(void **p, size_t bytes, sora_err *e);
int sora_cuda_put(void *dev, const void *host, size_t bytes, sora_err *e);
int sora_cuda_get(void *host, const void *dev, size_t bytes, sora_err *e);
void sora_cuda_free(void *p);

#ifdef __cplusplus
}
#endif

#endif
