/* CHECK_CUDA: the err.h check macro for the CUDA runtime (cudaGetErrorString as the reason). */
#ifndef SORA_CUDA_CHECK_CUH
#define SORA_CUDA_CHECK_CUH

#include "../util/err.h"

#include <cuda_runtime.h>

#define CHECK_CUDA(e, call, hint)                                                                            \
	do {                                                                                                 \
		cudaError_t cu_rc_ = (call);                                                                 \
		if (cu_rc_ != cudaSuccess) {                                                                 \
			sora_fail((e), __FILE__, __LINE__, #call, "%s: %s", (hint),                          \
				  cudaGetErrorString(cu_rc_));                                               \
			goto fail;                                                                           \
		}                                                                                            \
	} while (0)

#endif
