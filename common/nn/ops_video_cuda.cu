/* The CUDA twins of ops_video_cpu.c: the same parameters (device pointers), f32. The kernels are the
 * plain ones whose correctness is easy to see (conv3d: a thread per output value looping over the taps;
 * group norm: a block per group); `make test-cuda` checks each against the CPU. */
#include "cuda_check.cuh"
#include "ops.h"
#include "ops_video.h"

#define THREADS 256

#define LAUNCH_CHECK(e, what) CHECK_CUDA(e, cudaGetLastError(), what)

static unsigned grid_for(int64_t n)
{
	int64_t g = (n + THREADS - 1) / THREADS;
	return (unsigned)(g > 65535 * 32 ? 65535 * 32 : g < 1 ? 1 : g);
}

__device__ static int clampi(int v, int hi)
{
	return v < 0 ? 0 : v > hi ? hi : v;
}

__global__ static void conv3d_k(float *y, const float *x, const float *w, const float *b, sora_conv3d_args a,
				int To, int Ho, int Wo)
{
	const int64_t P = (int64_t)To * Ho * Wo, total = P * a.cout;
	const int k = a.k, p = k / 2;
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total;
	     i += (int64_t)gridDim.x * blockDim.x) {
		const int co = (int)(i / P);
		const int64_t n = i % P;
		const int wo = (int)(n % Wo), ho = (int)(n / Wo % Ho), to = (int)(n / ((int64_t)Wo * Ho));
		float acc = b ? b[co] : 0.0f;
		const float *wc = w + (size_t)co * a.cin * k * k * k;
		for (int ci = 0; ci < a.cin; ci++)
			for (int kt = 0; kt < k; kt++) {
				const int ti = clampi(to * a.st + kt - (a.no_front_pad ? 0 : k - 1), a.T - 1);
				for (int kh = 0; kh < k; kh++) {
					const int hi = clampi(ho * a.sh + kh - p, a.H - 1);
					const float *row = x + (((size_t)ci * a.T + ti) * a.H + hi) * a.W;
					for (int kw = 0; kw < k; kw++)
						acc += *wc++ * row[clampi(wo * a.sw + kw - p, a.W - 1)];
				}
			}
		y[i] = acc;
	}
}

extern "C" int sora_cuda_causal_conv3d(float *y, const float *x, const float *w, const float *b,
				       const sora_conv3d_args *a, sora_err *e)
{
	int To, Ho, Wo;
	TRY(sora_conv3d_out_size(a, &To, &Ho, &Wo, e));
	conv3d_k<<<grid_for((int64_t)To * Ho * Wo * a->cout), THREADS>>>(y, x, w, b, *a, To, Ho, Wo);
	LAUNCH_CHECK(e, "conv3d");
	return 0;
fail:
	return -1;
}

/* One block per group: the sums in double (a group spans a whole clip), then the affine pass. */
__global__ static void group_norm_k(float *y, const float *x, const float *w, const float *b, int cg,
				    int64_t S, float eps, int silu)
{
	__shared__ double part[THREADS];
	const int g = blockIdx.x;
	const int64_t n = (int64_t)cg * S;
	const float *xg = x + (size_t)g * n;
	double s = 0;
	for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
		s += xg[i];
	part[threadIdx.x] = s;
	__syncthreads();
	for (int o = blockDim.x / 2; o > 0; o /= 2) {
		if ((int)threadIdx.x < o)
			part[threadIdx.x] += part[threadIdx.x + o];
		__syncthreads();
	}
	const double mean = part[0] / (double)n;
	__syncthreads();
	s = 0;
	for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
		s += (xg[i] - mean) * (xg[i] - mean);
	part[threadIdx.x] = s;
	__syncthreads();
	for (int o = blockDim.x / 2; o > 0; o /= 2) {
		if ((int)threadIdx.x < o)
			part[threadIdx.x] += part[threadIdx.x + o];
		__syncthreads();
	}
	const float m = (float)mean, r = (float)(1.0 / sqrt(part[0] / (double)n + eps));
	for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
		const int c = g * cg + (int)(i / S);
		float v = (xg[i] - m) * r * (w ? w[c] : 1.0f) + (b ? b[c] : 0.0f);
		y[(size_t)g * n + i] = silu ? v / (1.0f + expf(-v)) : v;
	}
}

extern "C" int sora_cuda_group_norm(float *y, const float *x, const float *w, const float *b, int C, int G,
				    int64_t S, float eps, int silu, sora_err *e)
{
	CHECK(e, C > 0 && G > 0 && C % G == 0 && S > 0,
	      "group_norm: %d channels in %d groups over %lld values", C, G, (long long)S);
	group_norm_k<<<G, THREADS>>>(y, x, w, b, C / G, S, eps, silu);
	LAUNCH_CHECK(e, "group_norm");
	return 0;
fail:
	return -1;
}

/* One block per group: Σx and Σx² in double, added to sum[g] and sq[g]. */
__global__ static void group_stats_k(double *sum, double *sq, const float *x, int64_t n)
{
	__shared__ double ps[THREADS], pq[THREADS];
	const float *xg = x + (size_t)blockIdx.x * n;
	double s = 0, q = 0;
	for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
		s += xg[i], q += (double)xg[i] * xg[i];
	ps[threadIdx.x] = s, pq[threadIdx.x] = q;
	__syncthreads();
	for (int o = blockDim.x / 2; o > 0; o /= 2) {
		if ((int)threadIdx.x < o)
			ps[threadIdx.x] += ps[threadIdx.x + o], pq[threadIdx.x] += pq[threadIdx.x + o];
		__syncthreads();
	}
	if (threadIdx.x == 0)
		sum[blockIdx.x] += ps[0], sq[blockIdx.x] += pq[0];
}

extern "C" int sora_cuda_group_norm_stats(double *sum, double *sq, const float *x, int C, int G, int64_t S,
					  sora_err *e)
{
	CHECK(e, C > 0 && G > 0 && C % G == 0 && S >= 0,
	      "group_norm: %d channels in %d groups over %lld values", C, G, (long long)S);
	group_stats_k<<<G, THREADS>>>(sum, sq, x, (int64_t)(C / G) * S);
	LAUNCH_CHECK(e, "group_norm_stats");
	return 0;
fail:
	return -1;
}

__global__ static void group_apply_k(float *y, const float *x, const float *mean, const float *rstd,
				     const float *w, const float *b, int C, int cg, int64_t S, int silu)
{
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (int64_t)C * S;
	     i += (int64_t)gridDim.x * blockDim.x) {
		const int c = (int)(i / S), g = c / cg;
		float v = (x[i] - mean[g]) * rstd[g] * (w ? w[c] : 1.0f) + (b ? b[c] : 0.0f);
		y[i] = silu ? v / (1.0f + expf(-v)) : v;
	}
}

extern "C" int sora_cuda_group_norm_apply(float *y, const float *x, const float *mean, const float *rstd,
					  const float *w, const float *b, int C, int G, int64_t S, int silu,
					  sora_err *e)
{
	CHECK(e, C > 0 && G > 0 && C % G == 0 && S >= 0,
	      "group_norm: %d channels in %d groups over %lld values", C, G, (long long)S);
	group_apply_k<<<grid_for((int64_t)C * S), THREADS>>>(y, x, mean, rstd, w, b, C, C / G, S, silu);
	LAUNCH_CHECK(e, "group_norm_apply");
	return 0;
fail:
	return -1;
}

__global__ static void upsample_k(float *y, const float *x, int C, int T, int H, int W, int ft, int fh,
				  int fw)
{
	const int To = 1 + ft * (T - 1), Ho = fh * H, Wo = fw * W;
	const int64_t total = (int64_t)C * To * Ho * Wo;
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total;
	     i += (int64_t)gridDim.x * blockDim.x) {
		const int wo = (int)(i % Wo), ho = (int)(i / Wo % Ho),
			  to = (int)(i / ((int64_t)Wo * Ho) % To);
		const int c = (int)(i / ((int64_t)Wo * Ho * To));
		const int ti = to == 0 ? 0 : 1 + (to - 1) / ft;
		y[i] = x[(((size_t)c * T + ti) * H + ho / fh) * W + wo / fw];
	}
}

extern "C" int sora_cuda_upsample_causal(float *y, const float *x, int C, int T, int H, int W, int ft, int fh,
					 int fw, sora_err *e)
{
	CHECK(e, C > 0 && T > 0 && H > 0 && W > 0 && ft > 0 && fh > 0 && fw > 0,
	      "upsample: bad sizes %dx%dx%dx%d, factors %d,%d,%d", C, T, H, W, ft, fh, fw);
	upsample_k<<<grid_for((int64_t)C * (1 + ft * (T - 1)) * fh * H * fw * W), THREADS>>>(y, x, C, T, H, W,
											     ft, fh, fw);
	LAUNCH_CHECK(e, "upsample");
	return 0;
fail:
	return -1;
}

__global__ static void transpose_k(float *y, const float *x, int64_t rows, int64_t cols)
{
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < rows * cols;
	     i += (int64_t)gridDim.x * blockDim.x)
		y[(i % cols) * rows + i / cols] = x[i];
}

extern "C" int sora_cuda_transpose(float *y, const float *x, int64_t rows, int64_t cols, sora_err *e)
{
	CHECK(e, rows >= 0 && cols >= 0 && x != y, "transpose: bad arguments");
	if (rows * cols == 0)
		return 0;
	transpose_k<<<grid_for(rows * cols), THREADS>>>(y, x, rows, cols);
	LAUNCH_CHECK(e, "transpose");
	return 0;
fail:
	return -1;
}

extern "C" int sora_cuda_frame_causal_attention(float *out, const float *q, const float *k, const float *v,
						int F, int HW, int D, float scale, sora_err *e)
{
	CHECK(e, F > 0 && HW > 0 && D > 0, "frame attention: bad sizes F %d HW %d D %d", F, HW, D);
	for (int f = 0; f < F; f++) {
		sora_attn_args aa = {};
		aa.B = 1, aa.H = 1, aa.Tq = HW, aa.Tk = (f + 1) * HW, aa.D = D, aa.scale = scale;
		const size_t off = (size_t)f * HW * D;
		TRY(sora_cuda_attention(out + off, q + off, k, v, &aa, e));
	}
	return 0;
fail:
	return -1;
}
