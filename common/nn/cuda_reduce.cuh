/* Block-wide reductions for the CUDA ops (one block per row): every thread of the block gets the result.
 * Blocks of at most 1024 threads; each call syncs the block twice. */
#ifndef SORA_CUDA_REDUCE_CUH
#define SORA_CUDA_REDUCE_CUH

#include <math.h>

__device__ static inline float block_sum(float v)
{
	__shared__ float part[32];
	for (int o = 16; o > 0; o /= 2)
		v += __shfl_xor_sync(0xffffffffu, v, o);
	if (threadIdx.x % 32 == 0)
		part[threadIdx.x / 32] = v;
	__syncthreads();
	float t = 0;
	for (int i = 0; i < (int)(blockDim.x + 31) / 32; i++)
		t += part[i];
	__syncthreads();
	return t;
}

__device__ static inline float block_max(float v)
{
	__shared__ float part[32];
	for (int o = 16; o > 0; o /= 2)
		v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
	if (threadIdx.x % 32 == 0)
		part[threadIdx.x / 32] = v;
	__syncthreads();
	float t = -INFINITY;
	for (int i = 0; i < (int)(blockDim.x + 31) / 32; i++)
		t = fmaxf(t, part[i]);
	__syncthreads();
	return t;
}

#endif
