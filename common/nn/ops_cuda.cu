/* The CUDA twins of ops_cpu.c: the same parameters (device pointers), f32 or bf16 storage, f32 math;
 * cuBLASLt for linear. The kernels are the plain ones (a block per row; attention a block per query
 * row) whose correctness is easy to see; each is a template over the storage type T, so one kernel
 * serves both twins. `make test-cuda` checks each against the CPU in both storage types. */
#include "cuda_check.cuh"
#include "cuda_reduce.cuh"
#include "ops.h"

#include <cublasLt.h>
#include <cuda_bf16.h>
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

/* ---- storage: kernels load through ld and store through st<T>; math is f32 for both types ---- */

typedef __nv_bfloat16 bf16;

__device__ __forceinline__ static float ld(float v)
{
	return v;
}

__device__ __forceinline__ static float ld(bf16 v)
{
	return __bfloat162float(v);
}

template <typename T> __device__ __forceinline__ T st(float v);

template <> __device__ __forceinline__ float st<float>(float v)
{
	return v;
}

template <> __device__ __forceinline__ bf16 st<bf16>(float v)
{
	return __float2bfloat16_rn(v); /* round to nearest even, as sora_f32_to_bf16 */
}

/* The bf16 entry points take raw bits (uint16_t) and view them as bf16. */
static bf16 *BF(uint16_t *p)
{
	return reinterpret_cast<bf16 *>(p);
}

static const bf16 *BF(const uint16_t *p)
{
	return reinterpret_cast<const bf16 *>(p);
}

/* ---- row ops: one block per row (reductions in cuda_reduce.cuh) ---- */

template <typename T>
__global__ static void layernorm_k(T *y, const T *x, const T *w, const T *b, int C, float eps)
{
	const T *xi = x + (size_t)blockIdx.x * C;
	T *yi = y + (size_t)blockIdx.x * C;
	float s = 0;
	for (int j = threadIdx.x; j < C; j += blockDim.x)
		s += ld(xi[j]);
	float mean = block_sum(s) / C, v = 0;
	for (int j = threadIdx.x; j < C; j += blockDim.x)
		v += (ld(xi[j]) - mean) * (ld(xi[j]) - mean);
	float r = rsqrtf(block_sum(v) / C + eps);
	for (int j = threadIdx.x; j < C; j += blockDim.x) {
		float t = (ld(xi[j]) - mean) * r;
		yi[j] = st<T>((w ? t * ld(w[j]) : t) + (b ? ld(b[j]) : 0.0f));
	}
}

template <typename T> __global__ static void rmsnorm_k(T *y, const T *x, const T *w, int C, float eps)
{
	const T *xi = x + (size_t)blockIdx.x * C;
	T *yi = y + (size_t)blockIdx.x * C;
	float s = 0;
	for (int j = threadIdx.x; j < C; j += blockDim.x)
		s += ld(xi[j]) * ld(xi[j]);
	float r = rsqrtf(block_sum(s) / C + eps);
	for (int j = threadIdx.x; j < C; j += blockDim.x)
		yi[j] = st<T>(w ? ld(xi[j]) * r * ld(w[j]) : ld(xi[j]) * r);
}

template <typename T> __global__ static void l2_normalize_k(T *y, const T *x, int C, float eps)
{
	const T *xi = x + (size_t)blockIdx.x * C;
	T *yi = y + (size_t)blockIdx.x * C;
	float s = 0;
	for (int j = threadIdx.x; j < C; j += blockDim.x)
		s += ld(xi[j]) * ld(xi[j]);
	float inv = 1.0f / fmaxf(sqrtf(block_sum(s)), eps);
	for (int j = threadIdx.x; j < C; j += blockDim.x)
		yi[j] = st<T>(ld(xi[j]) * inv);
}

template <typename T> __global__ static void softmax_k(T *y, const T *x, int C)
{
	const T *xi = x + (size_t)blockIdx.x * C;
	T *yi = y + (size_t)blockIdx.x * C;
	float m = -INFINITY;
	for (int j = threadIdx.x; j < C; j += blockDim.x)
		m = fmaxf(m, ld(xi[j]));
	m = block_max(m);
	float s = 0;
	for (int j = threadIdx.x; j < C; j += blockDim.x)
		s += expf(ld(xi[j]) - m);
	float inv = 1.0f / block_sum(s);
	for (int j = threadIdx.x; j < C; j += blockDim.x)
		yi[j] = st<T>(expf(ld(xi[j]) - m) * inv);
}

#define LAUNCH_CHECK(e, what) CHECK_CUDA(e, cudaGetLastError(), what)

template <typename T>
static int layernorm(T *y, const T *x, const T *w, const T *b, int N, int C, float eps, sora_err *e)
{
	CHECK(e, N >= 0 && C > 0, "layernorm: bad shape [%d, %d]", N, C);
	if (N)
		layernorm_k<<<N, THREADS>>>(y, x, w, b, C, eps);
	LAUNCH_CHECK(e, "layernorm");
	return 0;
fail:
	return -1;
}

template <typename T> static int rmsnorm(T *y, const T *x, const T *w, int N, int C, float eps, sora_err *e)
{
	CHECK(e, N >= 0 && C > 0, "rmsnorm: bad shape [%d, %d]", N, C);
	if (N)
		rmsnorm_k<<<N, THREADS>>>(y, x, w, C, eps);
	LAUNCH_CHECK(e, "rmsnorm");
	return 0;
fail:
	return -1;
}

template <typename T> static int l2_normalize(T *y, const T *x, int N, int C, float eps, sora_err *e)
{
	CHECK(e, N >= 0 && C > 0, "l2_normalize: bad shape [%d, %d]", N, C);
	if (N)
		l2_normalize_k<<<N, THREADS>>>(y, x, C, eps);
	LAUNCH_CHECK(e, "l2_normalize");
	return 0;
fail:
	return -1;
}

template <typename T> static int softmax(T *y, const T *x, int N, int C, sora_err *e)
{
	CHECK(e, N >= 0 && C > 0, "softmax: bad shape [%d, %d]", N, C);
	if (N)
		softmax_k<<<N, THREADS>>>(y, x, C);
	LAUNCH_CHECK(e, "softmax");
	return 0;
fail:
	return -1;
}

extern "C" int sora_cuda_layernorm(float *y, const float *x, const float *w, const float *b, int N, int C,
				   float eps, sora_err *e)
{
	return layernorm(y, x, w, b, N, C, eps, e);
}

extern "C" int sora_cuda_layernorm_bf16(uint16_t *y, const uint16_t *x, const uint16_t *w, const uint16_t *b,
					int N, int C, float eps, sora_err *e)
{
	return layernorm(BF(y), BF(x), BF(w), BF(b), N, C, eps, e);
}

extern "C" int sora_cuda_rmsnorm(float *y, const float *x, const float *w, int N, int C, float eps,
				 sora_err *e)
{
	return rmsnorm(y, x, w, N, C, eps, e);
}

extern "C" int sora_cuda_rmsnorm_bf16(uint16_t *y, const uint16_t *x, const uint16_t *w, int N, int C,
				      float eps, sora_err *e)
{
	return rmsnorm(BF(y), BF(x), BF(w), N, C, eps, e);
}

extern "C" int sora_cuda_l2_normalize(float *y, const float *x, int N, int C, float eps, sora_err *e)
{
	return l2_normalize(y, x, N, C, eps, e);
}

extern "C" int sora_cuda_l2_normalize_bf16(uint16_t *y, const uint16_t *x, int N, int C, float eps,
					   sora_err *e)
{
	return l2_normalize(BF(y), BF(x), N, C, eps, e);
}

extern "C" int sora_cuda_softmax(float *y, const float *x, int N, int C, sora_err *e)
{
	return softmax(y, x, N, C, e);
}

extern "C" int sora_cuda_softmax_bf16(uint16_t *y, const uint16_t *x, int N, int C, sora_err *e)
{
	return softmax(BF(y), BF(x), N, C, e);
}

/* ---- element-wise ---- */

enum act { GELU, GELU_TANH, QUICK_GELU, SILU };

template <typename T> __global__ static void act_k(T *y, const T *x, size_t n, enum act a)
{
	for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x) {
		float v = ld(x[i]), r;
		if (a == GELU)
			r = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
		else if (a == GELU_TANH)
			r = 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
		else if (a == QUICK_GELU)
			r = v / (1.0f + expf(-1.702f * v));
		else
			r = v / (1.0f + expf(-v));
		y[i] = st<T>(r);
	}
}

static unsigned grid_for(size_t n)
{
	size_t g = (n + THREADS - 1) / THREADS;
	return (unsigned)(g < 65535 ? (g ? g : 1) : 65535);
}

template <typename T> static int activation(T *y, const T *x, size_t n, enum act a, sora_err *e)
{
	if (n)
		act_k<<<grid_for(n), THREADS>>>(y, x, n, a);
	LAUNCH_CHECK(e, "activation");
	return 0;
fail:
	return -1;
}

extern "C" int sora_cuda_gelu(float *y, const float *x, size_t n, sora_err *e)
{
	return activation(y, x, n, GELU, e);
}

extern "C" int sora_cuda_gelu_bf16(uint16_t *y, const uint16_t *x, size_t n, sora_err *e)
{
	return activation(BF(y), BF(x), n, GELU, e);
}

extern "C" int sora_cuda_gelu_tanh(float *y, const float *x, size_t n, sora_err *e)
{
	return activation(y, x, n, GELU_TANH, e);
}

extern "C" int sora_cuda_gelu_tanh_bf16(uint16_t *y, const uint16_t *x, size_t n, sora_err *e)
{
	return activation(BF(y), BF(x), n, GELU_TANH, e);
}

extern "C" int sora_cuda_quick_gelu(float *y, const float *x, size_t n, sora_err *e)
{
	return activation(y, x, n, QUICK_GELU, e);
}

extern "C" int sora_cuda_quick_gelu_bf16(uint16_t *y, const uint16_t *x, size_t n, sora_err *e)
{
	return activation(BF(y), BF(x), n, QUICK_GELU, e);
}

extern "C" int sora_cuda_silu(float *y, const float *x, size_t n, sora_err *e)
{
	return activation(y, x, n, SILU, e);
}

extern "C" int sora_cuda_silu_bf16(uint16_t *y, const uint16_t *x, size_t n, sora_err *e)
{
	return activation(BF(y), BF(x), n, SILU, e);
}

typedef struct bshape {
	int n;
	long long shape[5], sa[5], sb[5];
} bshape;

template <typename T>
__global__ static void binary_k(T *y, sora_binop op, const T *a, const T *b, bshape s, long long total)
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
		float x = ld(a[ia]), z = ld(b[ib]);
		y[i] = st<T>(op == SORA_BIN_ADD   ? x + z
			     : op == SORA_BIN_SUB ? x - z
			     : op == SORA_BIN_MUL ? x * z
						  : x / z);
	}
}

static void bstrides(int n, int ndim, const int64_t *shape, long long *stride)
{
	long long s = 1;
	for (int i = n - 1; i >= 0; i--) {
		int j = i - (n - ndim);
		long long d = j >= 0 ? shape[j] : 1;
		stride[i] = d == 1 ? 0 : s;
		s *= d;
	}
}

template <typename T>
static int binary(T *y, sora_binop op, const T *a, int andim, const int64_t *ashape, const T *b, int bndim,
		  const int64_t *bshape_, sora_err *e)
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

extern "C" int sora_cuda_binary(float *y, sora_binop op, const float *a, int andim, const int64_t *ashape,
				const float *b, int bndim, const int64_t *bshape_, sora_err *e)
{
	return binary(y, op, a, andim, ashape, b, bndim, bshape_, e);
}

extern "C" int sora_cuda_binary_bf16(uint16_t *y, sora_binop op, const uint16_t *a, int andim,
				     const int64_t *ashape, const uint16_t *b, int bndim,
				     const int64_t *bshape_, sora_err *e)
{
	return binary(BF(y), op, BF(a), andim, ashape, BF(b), bndim, bshape_, e);
}

/* ---- embedding: rows are moved, not computed, so the kernel copies raw elements of either type ---- */

template <typename T>
__global__ static void embedding_k(T *y, const T *table, const int32_t *ids, int N, int C, int vocab,
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

template <typename T>
static int embedding(T *y, const T *table, const int32_t *ids, int N, int C, int vocab, sora_err *e)
{
	int *bad = NULL, first_bad = N;
	int32_t id = 0;
	CHECK(e, N >= 0 && C >= 0, "embedding: bad shape [%d, %d]", N, C);
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

extern "C" int sora_cuda_embedding(float *y, const float *table, const int32_t *ids, int N, int C, int vocab,
				   sora_err *e)
{
	return embedding(y, table, ids, N, C, vocab, e);
}

extern "C" int sora_cuda_embedding_bf16(uint16_t *y, const uint16_t *table, const int32_t *ids, int N, int C,
					int vocab, sora_err *e)
{
	return embedding(BF(y), BF(table), ids, N, C, vocab, e);
}

/* ---- attention: one block per (query row, head, batch item); the row of scores in shared memory, f32
 * for either storage type ---- */

template <typename T>
__global__ static void attention_k(T *out, const T *q, const T *k, const T *v, sora_attn_args a)
{
	extern __shared__ float s[]; /* [Tk] */
	const int i = blockIdx.x, h = blockIdx.y, b = blockIdx.z, HD = a.H * a.D;
	const T *qi = q + ((size_t)b * a.Tq + i) * HD + (size_t)h * a.D;
	for (int j = threadIdx.x; j < a.Tk; j += blockDim.x) {
		const T *kj = k + ((size_t)b * a.Tk + j) * HD + (size_t)h * a.D;
		float d = 0;
		for (int c = 0; c < a.D; c++)
			d += ld(qi[c]) * ld(kj[c]);
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
			o += s[j] * ld(v[((size_t)b * a.Tk + j) * HD + (size_t)h * a.D + c]);
		out[((size_t)b * a.Tq + i) * HD + (size_t)h * a.D + c] = st<T>(o * inv);
	}
}

template <typename T>
static int attention(T *out, const T *q, const T *k, const T *v, const sora_attn_args *a, sora_err *e)
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

extern "C" int sora_cuda_attention(float *out, const float *q, const float *k, const float *v,
				   const sora_attn_args *a, sora_err *e)
{
	return attention(out, q, k, v, a, e);
}

extern "C" int sora_cuda_attention_bf16(uint16_t *out, const uint16_t *q, const uint16_t *k,
					const uint16_t *v, const sora_attn_args *a, sora_err *e)
{
	return attention(BF(out), BF(q), BF(k), BF(v), a, e);
}
