/* CHECK_CUDA / CHECK_CUBLAS: the err.h check macros for the CUDA runtime and cuBLAS(Lt), with the
 * library's own error string as the reason. */
#ifndef SORA_CUDA_CHECK_CUH
#define SORA_CUDA_CHECK_CUH

#include "../util/err.h"

#include <cublasLt.h>
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

#define CHECK_CUBLAS(e, call, hint)                                                                          \
	do {                                                                                                 \
		cublasStatus_t cb_rc_ = (call);                                                              \
		if (cb_rc_ != CUBLAS_STATUS_SUCCESS) {                                                       \
			sora_fail((e), __FILE__, __LINE__, #call, "%s: %s", (hint),                          \
				  cublasLtGetStatusString(cb_rc_));                                          \
			goto fail;                                                                           \
		}                                                                                            \
	} while (0)

#endif
