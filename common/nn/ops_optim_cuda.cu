/* The CUDA twins of ops_optim_cpu.c (ops_optim.h): the same parameters, p, g, m, v and x on the device.
 * adamw does the CPU's f32 operations in the CPU's order with the _rn intrinsics, so that nvcc fuses no
 * multiply-add the C compiler leaves apart (division and sqrtf are IEEE-rounded in both under nvcc's
 * default -prec-div and -prec-sqrt): on an x86-64 host the twins agree bit for bit. sumsq sums fixed chunks
 * in double, one block per chunk in a fixed tree order, then the chunks' sums in order on the host: the
 * same bits on every run, whatever the scheduling. `make test-cuda` checks both against the CPU
 * (tests/cuda/ops_optim_parity.c). */
#include "cuda_check.cuh"
#include "ops_optim.h"

#include <stdlib.h>

#define THREADS 256
/* Elements per sumsq block: 64 per thread keeps the partial sums an eight-thousandth of the input. */
#define SUMSQ_CHUNK ((size_t)THREADS * 64)

#define LAUNCH_CHECK(e, what) CHECK_CUDA(e, cudaGetLastError(), what)

__global__ static void adamw_k(float *p, const float *g, float *m, float *v, size_t n, sora_adamw_scalars s)
{
	for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x) {
		const float gi = __fmul_rn(g[i], s.grad_scale);
		const float mi = __fadd_rn(__fmul_rn(s.beta1, m[i]), __fmul_rn(s.one_minus_beta1, gi));
		const float vi =
		    __fadd_rn(__fmul_rn(s.beta2, v[i]), __fmul_rn(s.one_minus_beta2, __fmul_rn(gi, gi)));
		const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), s.bc2_sqrt), s.eps);
		p[i] = __fsub_rn(__fmul_rn(p[i], s.decay), __fmul_rn(s.step_size, __fdiv_rn(mi, denom)));
		m[i] = mi;
		v[i] = vi;
	}
}

/* A grid of at most 2^16 blocks, each thread looping: enough to fill any device. */
static unsigned grid(size_t n)
{
	size_t b = (n + THREADS - 1) / THREADS;
	return (unsigned)(b < 65536 ? b : 65536);
}

extern "C" int sora_cuda_adamw(float *p, const float *g, float *m, float *v, size_t n,
			       const sora_adamw_args *a, sora_err *e)
{
	sora_adamw_scalars s;
	TRY(sora_adamw_scalars_of(a, &s, e));
	if (n)
		adamw_k<<<grid(n), THREADS>>>(p, g, m, v, n, s);
	LAUNCH_CHECK(e, "adamw");
	return 0;
fail:
	return -1;
}

/* part[b] = Σ x² over chunk b: each thread a strided serial sum, then a tree over the block's threads. */
__global__ static void sumsq_k(double *part, const float *x, size_t n)
{
	__shared__ double s[THREADS];
	const size_t at = (size_t)blockIdx.x * SUMSQ_CHUNK, end = at + SUMSQ_CHUNK < n ? at + SUMSQ_CHUNK : n;
	double t = 0;
	for (size_t i = at + threadIdx.x; i < end; i += THREADS)
		t += (double)x[i] * x[i];
	s[threadIdx.x] = t;
	__syncthreads();
	for (int half = THREADS / 2; half > 0; half /= 2) {
		if (threadIdx.x < half)
			s[threadIdx.x] += s[threadIdx.x + half];
		__syncthreads();
	}
	if (threadIdx.x == 0)
		part[blockIdx.x] = s[0];
}

extern "C" int sora_cuda_sumsq(double *out, const float *x, size_t n, sora_err *e)
{
	const size_t nchunks = (n + SUMSQ_CHUNK - 1) / SUMSQ_CHUNK;
	double *dpart = NULL, *part = NULL, sum = 0;
	if (!n) {
		*out = 0;
		return 0;
	}
	CHECK_ALLOC(e, part = (double *)malloc(nchunks * sizeof *part));
	CHECK_CUDA(e, cudaMalloc((void **)&dpart, nchunks * sizeof *dpart), "sumsq: partial sums");
	sumsq_k<<<(unsigned)nchunks, THREADS>>>(dpart, x, n);
	LAUNCH_CHECK(e, "sumsq");
	CHECK_CUDA(e, cudaMemcpy(part, dpart, nchunks * sizeof *part, cudaMemcpyDeviceToHost),
		   "sumsq: result");
	for (size_t c = 0; c < nchunks; c++)
		sum += part[c];
	*out = sum;
	cudaFree(dpart);
	free(part);
	return 0;
fail:
	cudaFree(dpart);
	free(part);
	return -1;
}
