#include "cuda_check.cuh"
#include "cuda_device.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

extern "C" int sora_cuda_device_count(void)
{
	int n = 0;
	if (cudaGetDeviceCount(&n) != cudaSuccess) {
		cudaGetLastError(); /* clear the sticky "no device" error */
		return 0;
	}
	return n;
}

extern "C" int sora_cuda_describe(int device, char *buf, size_t n, sora_err *e)
{
	cudaDeviceProp p;
	CHECK_CUDA(e, cudaGetDeviceProperties(&p, device), "cannot query the device");
	snprintf(buf, n, "%s, compute %d.%d, %.1f GiB", p.name, p.major, p.minor,
		 (double)p.totalGlobalMem / (1024.0 * 1024.0 * 1024.0));
	return 0;
fail:
	return -1;
}

__global__ static void saxpy(size_t n, float a, const float *x, float *y)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		y[i] = a * x[i] + y[i];
}

extern "C" int sora_cuda_selftest(int device, size_t n, sora_err *e)
{
	const float a = 1.5f;
	float *x = (float *)malloc(n * sizeof(float)), *y = (float *)malloc(n * sizeof(float));
	float *got = (float *)malloc(n * sizeof(float)), *dx = NULL, *dy = NULL;
	int rc = -1;
	CHECK_ALLOC(e, x && y && got);
	for (size_t i = 0; i < n; i++) {
		x[i] = (float)(i % 1000) * 0.001f;
		y[i] = 1.0f - (float)(i % 7) * 0.25f;
	}
	CHECK_CUDA(e, cudaSetDevice(device), "cannot select the device");
	CHECK_CUDA(e, cudaMalloc(&dx, n * sizeof(float)), "cannot allocate device memory");
	CHECK_CUDA(e, cudaMalloc(&dy, n * sizeof(float)), "cannot allocate device memory");
	CHECK_CUDA(e, cudaMemcpy(dx, x, n * sizeof(float), cudaMemcpyHostToDevice), "copy to device");
	CHECK_CUDA(e, cudaMemcpy(dy, y, n * sizeof(float), cudaMemcpyHostToDevice), "copy to device");
	saxpy<<<(unsigned)((n + 255) / 256), 256>>>(n, a, dx, dy);
	CHECK_CUDA(e, cudaGetLastError(), "kernel launch");
	CHECK_CUDA(e, cudaMemcpy(got, dy, n * sizeof(float), cudaMemcpyDeviceToHost), "copy from device");
	for (size_t i = 0; i < n; i++) {
		float want = a * x[i] + y[i];
		CHECK(e, fabsf(got[i] - want) <= 1e-6f * fmaxf(1.0f, fabsf(want)),
		      "saxpy element %zu: device %.9g, CPU %.9g", i, got[i], want);
	}
	rc = 0;
fail:
	cudaFree(dx);
	cudaFree(dy);
	free(x);
	free(y);
	free(got);
	return rc;
}
