/* The CUDA twins of ops_dit_grad_cpu.c: the same parameters (device pointers), f32. One thread per element
 * for the element-wise ops, one block per row for adaln's row sums, and for the modulation sums one block
 * per (batch item, 32 channels) whose threads walk the tokens in a fixed pattern and add their partial
 * sums in a fixed order: no atomics, so every result is the same bit for bit run to run. `make test-cuda`
 * checks each against the CPU (tests/cuda/ops_dit_grad_parity.c). */
#include "cuda_check.cuh"
#include "cuda_reduce.cuh"
#include "ops_dit_grad.h"

#define THREADS 256
/* The modulation sums' blocks: TILE channels (a warp, so each token's loads are one coalesced line)
 * by ROWS threads down the tokens. */
#define TILE 32
#define ROWS 16

#define LAUNCH_CHECK(e, what) CHECK_CUDA(e, cudaGetLastError(), what)

static unsigned grid(size_t n)
{
	return (unsigned)((n + THREADS - 1) / THREADS);
}

/* dsum[b, j] += Σ_l dy[b, l, j], dprod[b, j] += Σ_l dy[b, l, j]·v[b, l, j], with v = x, or
 * n = (x − mean)·r when stats holds (mean, r) per row [B·L, 2]. Block (TILE, ROWS) per (b, channel
 * tile): thread y sums tokens y, y + ROWS, ... serially, then thread y = 0 adds the ROWS partials in order.
 * Either output may be NULL. */
__global__ static void mod_sums_k(float *dsum, float *dprod, const float *dy, const float *x,
				  const float *stats, int L, int C, int mstride)
{
	__shared__ float ps[ROWS][TILE + 1], pp[ROWS][TILE + 1];
	const int tiles = (C + TILE - 1) / TILE, b = blockIdx.x / tiles;
	const int j = blockIdx.x % tiles * TILE + threadIdx.x;
	float s = 0, p = 0;
	if (j < C)
		for (int l = threadIdx.y; l < L; l += ROWS) {
			const size_t row = (size_t)b * L + l;
			const float d = dy[row * C + j];
			float v = x[row * C + j];
			if (stats)
				v = (v - stats[2 * row]) * stats[2 * row + 1];
			s += d;
			p += d * v;
		}
	ps[threadIdx.y][threadIdx.x] = s;
	pp[threadIdx.y][threadIdx.x] = p;
	__syncthreads();
	if (threadIdx.y != 0 || j >= C)
		return;
	for (int k = 1; k < ROWS; k++) {
		s += ps[k][threadIdx.x];
		p += pp[k][threadIdx.x];
	}
	if (dsum)
		dsum[(size_t)b * mstride + j] += s;
	if (dprod)
		dprod[(size_t)b * mstride + j] += p;
}

static int mod_sums(float *dsum, float *dprod, const float *dy, const float *x, const float *stats, int B,
		    int L, int C, int mstride, sora_err *e)
{
	if (B && (dsum || dprod))
		mod_sums_k<<<B *((C + TILE - 1) / TILE), dim3(TILE, ROWS)>>>(dsum, dprod, dy, x, stats, L, C,
									     mstride);
	LAUNCH_CHECK(e, "modulation gradient sums");
	return 0;
fail:
	return -1;
}

/* One block per row: the row statistics as adaln_k computes them (so n is the forward's n), stored for
 * the modulation sums when stats is not NULL, then dx += r·(g − mean(g) − n·mean(g·n)), g = (1 + scale)·dy,
 * when dx is not NULL. dx and stats are the same for the whole block, so its threads leave together. */
__global__ static void adaln_rows_k(float *dx, float *stats, const float *dy, const float *x,
				    const float *scale, int L, int C, int mstride, float eps)
{
	const size_t row = blockIdx.x;
	const float *xi = x + row * C, *dyi = dy + row * C, *sc = scale + (row / L) * mstride; /* [C] */
	float s = 0;
	for (int j = threadIdx.x; j < C; j += blockDim.x)
		s += xi[j];
	float mean = block_sum(s) / C, v = 0;
	for (int j = threadIdx.x; j < C; j += blockDim.x)
		v += (xi[j] - mean) * (xi[j] - mean);
	float r = rsqrtf(block_sum(v) / C + eps);
	if (stats && threadIdx.x == 0) {
		stats[2 * row] = mean;
		stats[2 * row + 1] = r;
	}
	if (!dx)
		return;
	float sg = 0, sgn = 0;
	for (int j = threadIdx.x; j < C; j += blockDim.x) {
		float g = (1.0f + sc[j]) * dyi[j], n = (xi[j] - mean) * r;
		sg += g;
		sgn += g * n;
	}
	float mg = block_sum(sg) / C, mgn = block_sum(sgn) / C;
	for (int j = threadIdx.x; j < C; j += blockDim.x) {
		float g = (1.0f + sc[j]) * dyi[j], n = (xi[j] - mean) * r;
		dx[row * C + j] += r * (g - mg - n * mgn);
	}
}

extern "C" int sora_cuda_adaln_backward(float *dx, float *dshift, float *dscale, const float *dy,
					const float *x, const float *scale, int B, int L, int C, int mstride,
					float eps, sora_err *e)
{
	float *stats = NULL; /* [B·L, 2]: (mean, r) per row, stream-ordered scratch for the modulation sums */
	cudaError_t rc;
	CHECK(e, B >= 0 && L >= 0 && C > 0, "adaln_backward: bad shape [%d, %d, %d]", B, L, C);
	CHECK(e, mstride >= C, "adaln_backward: modulation stride %d < %d channels", mstride, C);
	if (!B || !L)
		return 0;
	if (dshift || dscale)
		CHECK_CUDA(e, cudaMallocAsync((void **)&stats, (size_t)B * L * 2 * sizeof *stats, 0),
			   "adaln_backward: cannot allocate the row statistics");
	if (dx || stats)
		adaln_rows_k<<<B * L, THREADS>>>(dx, stats, dy, x, scale, L, C, mstride, eps);
	LAUNCH_CHECK(e, "adaln_backward");
	if (stats) {
		TRY(mod_sums(dshift, dscale, dy, x, stats, B, L, C, mstride, e));
		rc = cudaFreeAsync(stats, 0);
		stats = NULL; /* not freed again below, whatever rc says */
		CHECK_CUDA(e, rc, "adaln_backward: cannot free the row statistics");
	}
	return 0;
fail:
	if (stats)
		cudaFreeAsync(stats, 0);
	return -1;
}

__global__ static void gated_dx_k(float *dx, const float *dy, const float *gate, int L, int C, int mstride,
				  size_t n)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		dx[i] += gate[(i / C / L) * mstride + i % C] * dy[i];
}

extern "C" int sora_cuda_gated_add_backward(float *dx, float *dgate, const float *dy, const float *x,
					    const float *gate, int B, int L, int C, int mstride, sora_err *e)
{
	const size_t n = (size_t)B * L * C;
	CHECK(e, B >= 0 && L >= 0 && C > 0, "gated_add_backward: bad shape [%d, %d, %d]", B, L, C);
	CHECK(e, mstride >= C, "gated_add_backward: modulation stride %d < %d channels", mstride, C);
	if (dx && n)
		gated_dx_k<<<grid(n), THREADS>>>(dx, dy, gate, L, C, mstride, n);
	LAUNCH_CHECK(e, "gated_add_backward");
	if (dgate)
		TRY(mod_sums(NULL, dgate, dy, x, NULL, B, L, C, mstride, e));
	return 0;
fail:
	return -1;
}

/* One thread per (token, head, pair): the transpose [[c, s], [−s, c]] of rope_apply_k's rotation, with
 * the products and the sum rounded apart (no fused multiply-add), as the CPU computes them. */
__global__ static void rope_back_k(float *dx, const float *ct, const float *st, int N, int H, int D,
				   int inter)
{
	const int half = D / 2;
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= (size_t)N * H * half)
		return;
	int j = (int)(i % half);
	size_t row = i / half, n = row / H;
	float *v = dx + row * D;
	float *p0 = inter ? v + 2 * j : v + j, *p1 = inter ? v + 2 * j + 1 : v + j + half;
	float c = ct[n * half + j], s = st[n * half + j], g0 = *p0, g1 = *p1;
	*p0 = __fadd_rn(__fmul_rn(g0, c), __fmul_rn(g1, s));
	*p1 = __fsub_rn(__fmul_rn(g1, c), __fmul_rn(g0, s));
}

extern "C" int sora_cuda_rope_apply_backward(float *dx, const float *ct, const float *st, int B, int L, int H,
					     int D, int interleaved, sora_err *e)
{
	CHECK(e, B >= 0 && L >= 0 && H > 0 && D > 0 && D % 2 == 0,
	      "rope_apply_backward: bad shape [%d, %d, %d, %d]", B, L, H, D);
	if (dx && B && L)
		rope_back_k<<<grid((size_t)B * L * H * D / 2), THREADS>>>(dx, ct, st, B * L, H, D,
									  interleaved);
	LAUNCH_CHECK(e, "rope_apply_backward");
	return 0;
fail:
	return -1;
}

/* gelu'(v) = (1 + t)/2 + v/2·(1 − t²)·k·(1 + 3a·v²), t = tanh(k·(v + a·v³)), as the CPU computes it. */
__global__ static void gelu_back_k(float *dx, int lddx, const float *dy, int lddy, const float *x, int ldx,
				   int C, size_t n)
{
	const float k = 0.7978845608028654f, a = 0.044715f;
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= n)
		return;
	size_t r = i / C, j = i % C;
	float v = x[r * ldx + j], t = tanhf(k * (v + a * v * v * v));
	float d = 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * k * (1.0f + 3.0f * a * v * v);
	dx[r * lddx + j] += dy[r * lddy + j] * d;
}

extern "C" int sora_cuda_gelu_tanh_cols_backward(float *dx, int lddx, const float *dy, int lddy,
						 const float *x, int ldx, int N, int C, sora_err *e)
{
	CHECK(e, N >= 0 && C >= 0 && lddx >= C && lddy >= C && ldx >= C,
	      "gelu_tanh_cols_backward: bad shape");
	if (dx && N && C)
		gelu_back_k<<<grid((size_t)N * C), THREADS>>>(dx, lddx, dy, lddy, x, ldx, C, (size_t)N * C);
	LAUNCH_CHECK(e, "gelu_tanh_cols_backward");
	return 0;
fail:
	return -1;
}

__global__ static void add_cols_k(float *y, int ldy, const float *x, int ldx, int C, size_t n)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		y[i / C * ldy + i % C] += x[i / C * ldx + i % C];
}

extern "C" int sora_cuda_add_cols(float *y, int ldy, const float *x, int ldx, int N, int C, sora_err *e)
{
	CHECK(e, N >= 0 && C >= 0 && ldy >= C && ldx >= C, "add_cols: bad shape");
	if (y && N && C)
		add_cols_k<<<grid((size_t)N * C), THREADS>>>(y, ldy, x, ldx, C, (size_t)N * C);
	LAUNCH_CHECK(e, "add_cols");
	return 0;
fail:
	return -1;
}
