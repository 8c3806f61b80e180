#include "cuda_buf.h"
#include "cuda_check.cuh"

extern "C" int sora_cuda_alloc(void **p, size_t bytes, sora_err *e)
{
	*p = NULL;
	CHECK_CUDA(e, cudaMalloc(p, bytes ? bytes : 1), "cannot allocate device memory");
	return 0;
fail:
	return -1;
}

extern "C" int sora_cuda_put(void *dev, const void *host, size_t bytes, sora_err *e)
{
	CHECK_CUDA(e, cudaMemcpy(dev, host, bytes, cudaMemcpyHostToDevice), "copy to the device");
	return 0;
fail:
	return -1;
}

extern "C" int sora_cuda_get(void *host, const void *dev, size_t bytes, sora_err *e)
{
	CHECK_CUDA(e, cudaMemcpy(host, dev, bytes, cudaMemcpyDeviceToHost), "copy from the device");
	return 0;
fail:
	return -1;
}

extern "C" void sora_cuda_free(void *p)
{
	cudaFree(p);
}
