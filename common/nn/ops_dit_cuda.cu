/* The CUDA twins of ops_dit_cpu.c: the same parameters (device pointers; axes_dim stays on the host), f32.
 * Plain kernels, one thread per output element and one block per row for the normalisation; `make
 * test-cuda` checks each against the CPU (tests/cuda/ops_dit_parity.c). */
#include "cuda_check.cuh"
#include "cuda_reduce.cuh"
#include "ops_dit.h"
#include "ops_dit_freq.h"

#include <cuda_bf16.h>

#define THREADS  256
#define MAX_AXES 8

#define LAUNCH_CHECK(e, what) CHECK_CUDA(e, cudaGetLastError(), what)

static unsigned grid(size_t n)
{
	return (unsigned)((n + THREADS - 1) / THREADS);
}

__constant__ static float time_freq[SORA_DIT_TIME_DIM / 2];

__global__ static void timestep_k(float *emb, const float *t, int B, int quant)
{
	const int half = SORA_DIT_TIME_DIM / 2;
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= B * half)
		return;
	int b = i / half, j = i % half;
	float tb = quant ? __bfloat162float(__float2bfloat16_rn(t[b])) : t[b];
	float a = __fmul_rn(__fmul_rn(1000.0f, tb), time_freq[j]);
	emb[(size_t)b * SORA_DIT_TIME_DIM + j] = cosf(a);
	emb[(size_t)b * SORA_DIT_TIME_DIM + half + j] = sinf(a);
}

extern "C" int sora_cuda_timestep_embedding(float *emb, const float *t, int B, int quant_bf16, sora_err *e)
{
	CHECK(e, B >= 0, "timestep_embedding: bad batch %d", B);
	CHECK_CUDA(e, cudaMemcpyToSymbol(time_freq, sora_dit_time_freq, sizeof sora_dit_time_freq),
		   "timestep frequency table");
	if (B)
		timestep_k<<<grid((size_t)B * SORA_DIT_TIME_DIM / 2), THREADS>>>(emb, t, B, quant_bf16);
	LAUNCH_CHECK(e, "timestep_embedding");
	return 0;
fail:
	return -1;
}

__global__ static void adaln_k(float *y, const float *x, const float *shift, const float *scale, int L, int C,
			       int mstride, float eps)
{
	const float *xi = x + (size_t)blockIdx.x * C;
	const float *sh = shift + (size_t)(blockIdx.x / L) * mstride,
		    *sc = scale + (size_t)(blockIdx.x / L) * mstride;
	float *yi = y + (size_t)blockIdx.x * C;
	float s = 0;
	for (int j = threadIdx.x; j < C; j += blockDim.x)
		s += xi[j];
	float mean = block_sum(s) / C, v = 0;
	for (int j = threadIdx.x; j < C; j += blockDim.x)
		v += (xi[j] - mean) * (xi[j] - mean);
	float r = rsqrtf(block_sum(v) / C + eps);
	for (int j = threadIdx.x; j < C; j += blockDim.x)
		yi[j] = (1.0f + sc[j]) * ((xi[j] - mean) * r) + sh[j];
}

extern "C" int sora_cuda_adaln(float *y, const float *x, const float *shift, const float *scale, int B, int L,
			       int C, int mstride, float eps, sora_err *e)
{
	CHECK(e, B >= 0 && L >= 0 && C > 0, "adaln: bad shape [%d, %d, %d]", B, L, C);
	if (B && L)
		adaln_k<<<B * L, THREADS>>>(y, x, shift, scale, L, C, mstride, eps);
	LAUNCH_CHECK(e, "adaln");
	return 0;
fail:
	return -1;
}

__global__ static void gated_add_k(float *y, const float *x, const float *gate, int L, int C, int mstride,
				   size_t n)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		y[i] += gate[(i / C / L) * mstride + i % C] * x[i];
}

extern "C" int sora_cuda_gated_add(float *y, const float *x, const float *gate, int B, int L, int C,
				   int mstride, sora_err *e)
{
	CHECK(e, B >= 0 && L >= 0 && C > 0, "gated_add: bad shape [%d, %d, %d]", B, L, C);
	if (B && L)
		gated_add_k<<<grid((size_t)B * L * C), THREADS>>>(y, x, gate, L, C, mstride,
								  (size_t)B * L * C);
	LAUNCH_CHECK(e, "gated_add");
	return 0;
fail:
	return -1;
}

typedef struct axes {
	int n, dim[MAX_AXES];
} axes;

/* One thread per (token, frequency). */
__global__ static void rope_table_k(float *ct, float *st, const float *ids, int N, axes ax, int half,
				    float theta, int f64)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= N * half)
		return;
	int n = i / half, j = i % half, a = 0;
	while (j >= ax.dim[a] / 2)
		j -= ax.dim[a] / 2, a++;
	const int d = ax.dim[a];
	const float pos = ids[(size_t)n * ax.n + a];
	if (f64) {
		double ang = (double)pos * (1.0 / pow((double)theta, (double)(2 * j) / d));
		ct[i] = (float)cos(ang);
		st[i] = (float)sin(ang);
	} else {
		float ang = __fmul_rn(pos, __fdiv_rn(1.0f, powf(theta, __fdiv_rn((float)(2 * j), (float)d))));
		ct[i] = cosf(ang);
		st[i] = sinf(ang);
	}
}

extern "C" int sora_cuda_rope_table(float *ct, float *st, const float *ids, int B, int L, const int *axes_dim,
				    int naxes, float theta, int f64, sora_err *e)
{
	axes ax = {naxes, {0}};
	int half = 0;
	CHECK(e, B >= 0 && L >= 0 && naxes > 0 && naxes <= MAX_AXES, "rope_table: bad shape [%d, %d, %d]", B,
	      L, naxes);
	for (int a = 0; a < naxes; a++) {
		CHECK(e, axes_dim[a] > 0 && axes_dim[a] % 2 == 0, "rope_table: axis %d has odd size %d", a,
		      axes_dim[a]);
		ax.dim[a] = axes_dim[a];
		half += axes_dim[a] / 2;
	}
	if (B && L)
		rope_table_k<<<grid((size_t)B * L * half), THREADS>>>(ct, st, ids, B * L, ax, half, theta,
								      f64);
	LAUNCH_CHECK(e, "rope_table");
	return 0;
fail:
	return -1;
}

/* One thread per (token, head, pair). */
__global__ static void rope_apply_k(float *x, const float *ct, const float *st, int N, int H, int D,
				    int inter)
{
	const int half = D / 2;
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= (size_t)N * H * half)
		return;
	int j = (int)(i % half);
	size_t row = i / half, n = row / H;
	float *v = x + row * D;
	float *p0 = inter ? v + 2 * j : v + j, *p1 = inter ? v + 2 * j + 1 : v + j + half;
	float c = ct[n * half + j], s = st[n * half + j], x0 = *p0, x1 = *p1;
	*p0 = __fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, s));
	*p1 = __fadd_rn(__fmul_rn(x1, c), __fmul_rn(x0, s));
}

extern "C" int sora_cuda_rope_apply(float *x, const float *ct, const float *st, int B, int L, int H, int D,
				    int interleaved, sora_err *e)
{
	CHECK(e, B >= 0 && L >= 0 && H > 0 && D > 0 && D % 2 == 0, "rope_apply: bad shape [%d, %d, %d, %d]",
	      B, L, H, D);
	if (B && L)
		rope_apply_k<<<grid((size_t)B * L * H * D / 2), THREADS>>>(x, ct, st, B * L, H, D,
									   interleaved);
	LAUNCH_CHECK(e, "rope_apply");
	return 0;
fail:
	return -1;
}

extern "C" int sora_cuda_cat_tokens(float *y, const float *a, const float *b, int B, int La, int Lb, int C,
				    sora_err *e)
{
	const size_t w = sizeof(float) * C, row = (size_t)(La + Lb) * w;
	CHECK(e, B >= 0 && La >= 0 && Lb >= 0 && C > 0, "cat_tokens: bad shape");
	/* Two pitched copies: every item's a rows, then every item's b rows. */
	if (B && La)
		CHECK_CUDA(e, cudaMemcpy2DAsync(y, row, a, La * w, La * w, B, cudaMemcpyDeviceToDevice),
			   "cat_tokens");
	if (B && Lb)
		CHECK_CUDA(e,
			   cudaMemcpy2DAsync((char *)y + La * w, row, b, Lb * w, Lb * w, B,
					     cudaMemcpyDeviceToDevice),
			   "cat_tokens");
	return 0;
fail:
	return -1;
}

extern "C" int sora_cuda_split_tokens(float *a, float *b, const float *y, int B, int La, int Lb, int C,
				      sora_err *e)
{
	const size_t w = sizeof(float) * C, row = (size_t)(La + Lb) * w;
	CHECK(e, B >= 0 && La >= 0 && Lb >= 0 && C > 0, "split_tokens: bad shape");
	if (a && B && La)
		CHECK_CUDA(e, cudaMemcpy2DAsync(a, La * w, y, row, La * w, B, cudaMemcpyDeviceToDevice),
			   "split_tokens");
	if (b && B && Lb)
		CHECK_CUDA(e,
			   cudaMemcpy2DAsync(b, Lb * w, (const char *)y + La * w, row, Lb * w, B,
					     cudaMemcpyDeviceToDevice),
			   "split_tokens");
	return 0;
fail:
	return -1;
}

extern "C" int sora_cuda_copy_cols(float *y, int ldy, const float *x, int ldx, int N, int C, sora_err *e)
{
	CHECK(e, N >= 0 && C >= 0 && ldy >= C && ldx >= C, "copy_cols: bad shape");
	if (N && C)
		CHECK_CUDA(e,
			   cudaMemcpy2DAsync(y, sizeof(float) * ldy, x, sizeof(float) * ldx,
					     sizeof(float) * C, N, cudaMemcpyDeviceToDevice),
			   "copy_cols");
	return 0;
fail:
	return -1;
}

__global__ static void gelu_cols_k(float *y, int ldy, const float *x, int ldx, int C, size_t n)
{
	const float k = 0.7978845608028654f;
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= n)
		return;
	size_t r = i / C, j = i % C;
	float v = x[r * ldx + j];
	y[r * ldy + j] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
}

extern "C" int sora_cuda_gelu_tanh_cols(float *y, int ldy, const float *x, int ldx, int N, int C, sora_err *e)
{
	CHECK(e, N >= 0 && C >= 0 && ldy >= C && ldx >= C, "gelu_tanh_cols: bad shape");
	if (N && C)
		gelu_cols_k<<<grid((size_t)N * C), THREADS>>>(y, ldy, x, ldx, C, (size_t)N * C);
	LAUNCH_CHECK(e, "gelu_tanh_cols");
	return 0;
fail:
	return -1;
}
