/* The CUDA device: what is there, and a self-test of one kernel against the CPU. Compiled only with
 * `make CUDA=1` (common/nn/cuda_device.cu); callable from C. */
#ifndef SORA_CUDA_DEVICE_H
#define SORA_CUDA_DEVICE_H

#include "../util/err.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Number of usable devices; 0 when there is none or no driver (never an error). */
int sora_cuda_device_count(void);

/* "NVIDIA H100 80GB HBM3, compute 9.0, 79.1 GiB" into buf. */
int sora_cuda_describe(int device, char *buf, size_t n, sora_err *e);

/* y = a*x + y on n floats on the device, compared with the same loop on the CPU; fails on any
 * difference larger than 1e-6 relative. */
int sora_cuda_selftest(int device, size_t n, sora_err *e);

#ifdef __cplusplus
}
#endif

#endif
