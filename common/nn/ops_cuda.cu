/* The CUDA twins of ops_cpu.c: the same parameters (device pointers), f32 storage, f32 accumulation;
 * cuBLASLt for linear. The kernels are the plain ones (a block per row; attention a block per query
 * row) whose correctness is easy to see; `make test-cuda` checks each against the CPU. */
#include "cuda_check.cuh"
#include "ops.h"

#include <cublasLt.h>
#include <float.h>
#include <mutex>

#define THREADS 256

/* ---- cuBLASLt: one handle and workspace per process, made on first use ---- */

static cublasLtHandle_t lt;
static void *workspace;
static const size_t workspace_bytes = 32u << 20;
static std::once_flag lt_once;
static cublasStatus_t lt_status;
static cudaError_t ws_status;

static void lt_init(void)
{
	lt_status = cublasLtCreate(&lt);
	ws_status = cudaMalloc(&workspace, workspace_bytes);
}

/* y = x·wᵀ + b with matrices and bias of type t; scale and accumulation are f32 for every t. */
static int lt_linear(cudaDataType_t t, void *y, const void *x, const void *w, const void *b, int N, int in,
		     int out, sora_err *e)
{
	cublasLtMatmulDesc_t desc = NULL;
	cublasLtMatrixLayout_t la = NULL, lb = NULL, lc = NULL;
	cublasOperation_t trans_a = CUBLAS_OP_T, trans_b = CUBLAS_OP_N;
	cublasLtEpilogue_t epi = b ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
	const float one = 1.0f, zero = 0.0f;
	int rc = -1;
	CHECK(e, N >= 0 && in >= 0 && out >= 0, "linear: negative size");
	if (!N || !out)
		return 0;
	std::call_once(lt_once, lt_init);
	CHECK_CUBLAS(e, lt_status, "cannot start cuBLASLt");
	CHECK_CUDA(e, ws_status, "cannot allocate the cuBLASLt workspace");
	/* Column-major view: yᵀ [out, N] = (w as [in, out])ᵀ · (x as [in, N]). The bias epilogue adds b to
	 * every column, i.e. to every row of y. */
	CHECK_CUBLAS(e, cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), "matmul descriptor");
	CHECK_CUBLAS(
	    e, cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &trans_a, sizeof trans_a),
	    "matmul descriptor");
	CHECK_CUBLAS(
	    e, cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &trans_b, sizeof trans_b),
	    "matmul descriptor");
	CHECK_CUBLAS(e, cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi),
		     "matmul descriptor");
	if (b)
		CHECK_CUBLAS(
		    e, cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &b, sizeof b),
		    "matmul descriptor");
	CHECK_CUBLAS(e, cublasLtMatrixLayoutCreate(&la, t, in, out, in), "matrix layout");
	CHECK_CUBLAS(e, cublasLtMatrixLayoutCreate(&lb, t, in, N, in), "matrix layout");
	CHECK_CUBLAS(e, cublasLtMatrixLayoutCreate(&lc, t, out, N, out), "matrix layout");
	CHECK_CUBLAS(e,
		     cublasLtMatmul(lt, desc, &one, w, la, x, lb, &zero, y, lc, y, lc, NULL, workspace,
				    workspace_bytes, 0),
		     "linear");
	rc = 0;
fail:
	cublasLtMatrixLayoutDestroy(la);
	cublasLtMatrixLayoutDestroy(lb);
	cublasLtMatrixLayoutDestroy(lc);
	cublasLtMatmulDescDestroy(desc);
	return rc;
}

extern "C" int sora_cuda_linear(float *y, const float *x, const float *w, const float *b, int N, int in,
				int out, sora_err *e)
{
	return lt_linear(CUDA_R_32F, y, x, w, b, N, in, out, e);
}

extern "C" int sora_cuda_linear_bf16(uint16_t *y, const uint16_t *x, const uint16_t *w, const uint16_t *b,
				     int N, int in, int out, sora_err *e)
{
	return lt_linear(CUDA_R_16BF, y, x, w, b, N, in, out, e);
}

/* ---- reductions: one block per row ---- */

/* The sum of v over the block (every thread gets it). */
__device__ static float block_sum(float v)
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

__device__ static float block_max(float v)
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

__global__ static void layernorm_k(float *y, const float *x, const float *w, const float *b, int C, float eps)
{
	const float *xi = x + (size_t)blockIdx.x * C;
	float *yi = y + (size_t)blockIdx.x * C;
	float s = 0;
	for (int j = threadIdx.x; j < C; j += blockDim.x)
		s += xi[j];
	float mean = block_sum(s) / C, v = 0;
	for (int j = threadIdx.x; j < C; j += blockDim.x)
		v += (xi[j] - mean) * (xi[j] - mean);
	float r = rsqrtf(block_sum(v) / C + eps);
	for (int j = threadIdx.x; j < C; j += blockDim.x) {
		float t = (xi[j] - mean) * r;
		yi[j] = (w ? t * w[j] : t) + (b ? b[j] : 0.0f);
	}
}

__global__ static void rmsnorm_k(float *y, const float *x, const float *w, int C, float eps)
{
	const float *xi = x + (size_t)blockIdx.x * C;
	float *yi = y + (size_t)blockIdx.x * C;
	float s = 0;
	for (int j = threadIdx.x; j < C; j += blockDim.x)
		s += xi[j] * xi[j];
	float r = rsqrtf(block_sum(s) / C + eps);
	for (int j = threadIdx.x; j < C; j += blockDim.x)
		yi[j] = w ? xi[j] * r * w[j] : xi[j] * r;
}

__global__ static void l2_normalize_k(float *y, const float *x, int C, float eps)
{
	const float *xi = x + (size_t)blockIdx.x * C;
	float s = 0;
	for (int j = threadIdx.x; j < C; j += blockDim.x)
		s += xi[j] * xi[j];
	float inv = 1.0f / fmaxf(sqrtf(block_sum(s)), eps);
	for (int j = threadIdx.x; j < C; j += blockDim.x)
		y[(size_t)blockIdx.x * C + j] = xi[j] * inv;
}

__global__ static void softmax_k(float *y, const float *x, int C)
{
	const float *xi = x + (size_t)blockIdx.x * C;
	float *yi = y + (size_t)blockIdx.x * C;
	float m = -INFINITY;
	for (int j = threadIdx.x; j < C; j += blockDim.x)
		m = fmaxf(m, xi[j]);
	m = block_max(m);
	float s = 0;
	for (int j = threadIdx.x; j < C; j += blockDim.x)
		s += expf(xi[j] - m);
	float inv = 1.0f / block_sum(s);
	for (int j = threadIdx.x; j < C; j += blockDim.x)
		yi[j] = expf(xi[j] - m) * inv;
}

#define LAUNCH_CHECK(e, what) CHECK_CUDA(e, cudaGetLastError(), what)

extern "C" int sora_cuda_layernorm(float *y, const float *x, const float *w, const float *b, int N, int C,
				   float eps, sora_err *e)
{
	CHECK(e, N >= 0 && C > 0, "layernorm: bad shape [%d, %d]", N, C);
	if (N)
		layernorm_k<<<N, THREADS>>>(y, x, w, b, C, eps);
	LAUNCH_CHECK(e, "layernorm");
	return 0;
fail:
	return -1;
}

extern "C" int sora_cuda_rmsnorm(float *y, const float *x, const float *w, int N, int C, float eps,
				 sora_err *e)
{
	CHECK(e, N >= 0 && C > 0, "rmsnorm: bad shape [%d, %d]", N, C);
	if (N)
		rmsnorm_k<<<N, THREADS>>>(y, x, w, C, eps);
	LAUNCH_CHECK(e, "rmsnorm");
	return 0;
fail:
	return -1;
}

extern "C" int sora_cuda_l2_normalize(float *y, const float *x, int N, int C, float eps, sora_err *e)
{
	CHECK(e, N >= 0 && C > 0, "l2_normalize: bad shape [%d, %d]", N, C);
	if (N)
		l2_normalize_k<<<N, THREADS>>>(y, x, C, eps);
	LAUNCH_CHECK(e, "l2_normalize");
	return 0;
fail:
	return -1;
}

extern "C" int sora_cuda_softmax(float *y, const float *x, int N, int C, sora_err *e)
{
	CHECK(e, N >= 0 && C > 0, "softmax: bad shape [%d, %d]", N, C);
	if (N)
		softmax_k<<<N, THREADS>>>(y, x, C);
	LAUNCH_CHECK(e, "softmax");
	return 0;
fail:
	return -1;
}

/* ---- element-wise ---- */

enum act { GELU_TANH, QUICK_GELU, SILU };

__global__ static void act_k(float *y, const float *x, size_t n, enum act a)
{
	for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x) {
		float v = x[i];
		if (a == GELU_TANH)
			y[i] = 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
		else if (a == QUICK_GELU)
			y[i] = v / (1.0f + expf(-1.702f * v));
		else
			y[i] = v / (1.0f + expf(-v));
	}
}

static unsigned grid_for(size_t n)
{
	size_t g = (n + THREADS - 1) / THREADS;
	return (unsigned)(g < 65535 ? (g ? g : 1) : 65535);
}

static int activation(float *y, const float *x, size_t n, enum act a, sora_err *e)
{
	if (n)
		act_k<<<grid_for(n), THREADS>>>(y, x, n, a);
	LAUNCH_CHECK(e, "activation");
	return 0;
fail:
	return -1;
}

extern "C" int sora_cuda_gelu_tanh(float *y, const float *x, size_t n, sora_err *e)
{
	return activation(y, x, n, GELU_TANH, e);
}

extern "C" int sora_cuda_quick_gelu(float *y, const float *x, size_t n, sora_err *e)
{
	return activation(y, x, n, QUICK_GELU, e);
}

extern "C" int sora_cuda_silu(float *y, const float *x, size_t n, sora_err *e)
{
	return activation(y, x, n, SILU, e);
}

typedef struct bshape {
	int n;
	long long shape[5], sa[5], sb[5];
} bshape;

__global__ static void binary_k(float *y, sora_binop op, const float *a, const float *b, bshape s,
				long long total)
{
	for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total;
	     i += (long long)gridDim.x * blockDim.x) {
		long long r = i, ia = 0, ib = 0;
		for (int d = s.n - 1; d >= 0; d--) {
			long long c = r % s.shape[d];
			r /= s.shape[d];
			ia += c * s.sa[d];
			ib += c * s.sb[d];
		}
		float x = a[ia], z = b[ib];
		y[i] = op == SORA_BIN_ADD   ? x + z
		       : op == SORA_BIN_SUB ? x - z
		       : op == SORA_BIN_MUL ? x * z
					    : x / z;
	}
}

static void bstrides(int n, int ndim, const int64_t *shape, long long *st)
{
	long long s = 1;
	for (int i = n - 1; i >= 0; i--) {
		int j = i - (n - ndim);
		long long d = j >= 0 ? shape[j] : 1;
		st[i] = d == 1 ? 0 : s;
		s *= d;
	}
}

extern "C" int sora_cuda_binary(float *y, sora_binop op, const float *a, int andim, const int64_t *ashape,
				const float *b, int bndim, const int64_t *bshape_, sora_err *e)
{
	bshape s;
	int64_t shape[5];
	long long total = 1;
	TRY(sora_broadcast_shape(andim, ashape, bndim, bshape_, &s.n, shape, e));
	for (int i = 0; i < s.n; i++)
		total *= s.shape[i] = shape[i];
	bstrides(s.n, andim, ashape, s.sa);
	bstrides(s.n, bndim, bshape_, s.sb);
	if (total)
		binary_k<<<grid_for((size_t)total), THREADS>>>(y, op, a, b, s, total);
	LAUNCH_CHECK(e, "binary");
	return 0;
fail:
	return -1;
}

/* ---- embedding ---- */

__global__ static void embedding_k(float *y, const float *table, const int32_t *ids, int N, int C, int vocab,
				   int *bad)
{
	int i = blockIdx.x;
	int id = ids[i];
	if (id < 0 || id >= vocab) {
		if (threadIdx.x == 0)
			atomicMin(bad, i);
		return;
	}
	for (int j = threadIdx.x; j < C; j += blockDim.x)
		y[(size_t)i * C + j] = table[(size_t)id * C + j];
}

extern "C" int sora_cuda_embedding(float *y, const float *table, const int32_t *ids, int N, int C, int vocab,
				   sora_err *e)
{
	int *bad = NULL, first_bad = N;
	int32_t id = 0;
	if (!N)
		return 0;
	CHECK_CUDA(e, cudaMalloc(&bad, sizeof *bad), "cannot allocate device memory");
	CHECK_CUDA(e, cudaMemcpy(bad, &first_bad, sizeof *bad, cudaMemcpyHostToDevice), "copy to the device");
	embedding_k<<<N, THREADS>>>(y, table, ids, N, C, vocab, bad);
	LAUNCH_CHECK(e, "embedding");
	CHECK_CUDA(e, cudaMemcpy(&first_bad, bad, sizeof *bad, cudaMemcpyDeviceToHost),
		   "copy from the device");
	if (first_bad < N)
		CHECK_CUDA(e, cudaMemcpy(&id, ids + first_bad, sizeof id, cudaMemcpyDeviceToHost),
			   "copy from the device");
	CHECK(e, first_bad == N, "embedding: id %d at position %d is outside 0..%d", id, first_bad,
	      vocab - 1);
	cudaFree(bad);
	return 0;
fail:
	cudaFree(bad);
	return -1;
}

/* ---- attention: one block per (query row, head, batch item); the row of scores in shared memory ---- */

__global__ static void attention_k(float *out, const float *q, const float *k, const float *v,
				   sora_attn_args a)
{
	extern __shared__ float s[]; /* [Tk] */
	const int i = blockIdx.x, h = blockIdx.y, b = blockIdx.z, HD = a.H * a.D;
	const float *qi = q + ((size_t)b * a.Tq + i) * HD + (size_t)h * a.D;
	for (int j = threadIdx.x; j < a.Tk; j += blockDim.x) {
		const float *kj = k + ((size_t)b * a.Tk + j) * HD + (size_t)h * a.D;
		float d = 0;
		for (int c = 0; c < a.D; c++)
			d += qi[c] * kj[c];
		d *= a.scale;
		if (a.bias)
			d += a.bias[((size_t)h * a.Tq + i) * a.Tk + j];
		if ((a.causal && j > i) || (a.key_mask && !a.key_mask[(size_t)b * a.Tk + j]))
			d += -FLT_MAX;
		s[j] = d;
	}
	__syncthreads();
	float m = -INFINITY;
	for (int j = threadIdx.x; j < a.Tk; j += blockDim.x)
		m = fmaxf(m, s[j]);
	m = block_max(m);
	float sum = 0;
	for (int j = threadIdx.x; j < a.Tk; j += blockDim.x) {
		s[j] = expf(s[j] - m);
		sum += s[j];
	}
	float inv = 1.0f / block_sum(sum); /* block_sum synchronises, so s is complete */
	for (int c = threadIdx.x; c < a.D; c += blockDim.x) {
		float o = 0;
		for (int j = 0; j < a.Tk; j++)
			o += s[j] * v[((size_t)b * a.Tk + j) * HD + (size_t)h * a.D + c];
		out[((size_t)b * a.Tq + i) * HD + (size_t)h * a.D + c] = o * inv;
	}
}

extern "C" int sora_cuda_attention(float *out, const float *q, const float *k, const float *v,
				   const sora_attn_args *a, sora_err *e)
{
	CHECK(e,
	      a->B >= 0 && a->H > 0 && a->Tq >= 0 && a->Tk > 0 && a->D > 0 && a->H <= 65535 && a->B <= 65535,
	      "attention: bad sizes B %d H %d Tq %d Tk %d D %d", a->B, a->H, a->Tq, a->Tk, a->D);
	CHECK(e, (size_t)a->Tk * sizeof(float) <= 48 * 1024, "attention: %d keys do not fit in shared memory",
	      a->Tk);
	if (a->B && a->Tq)
		attention_k<<<dim3(a->Tq, a->H, a->B), 128, (size_t)a->Tk * sizeof(float)>>>(out, q, k, v,
											     *a);
	LAUNCH_CHECK(e, "attention");
	return 0;
fail:
	return -1;
}
