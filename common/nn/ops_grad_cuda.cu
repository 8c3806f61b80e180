/* The CUDA twins of ops_grad_cpu.c (ops_grad.h): the same parameters (device pointers), f32, the same
 * accumulation (every output +=) and the same NULL outputs skipped. linear's products are cuBLASLt
 * matmuls with beta = 1; the rest are the plain kernels whose correctness is easy to see (a thread per
 * element or per column, a block per row; attention a block per query row, then one per key row), each
 * saying what a faster version would do. `make test-cuda` checks each against the CPU
 * (tests/cuda/ops_grad_parity.c). */
#include "cuda_check.cuh"
#include "cuda_reduce.cuh"
#include "ops_grad.h"

#include <cublasLt.h>
#include <float.h>
#include <mutex>

#define THREADS      256
#define ATTN_THREADS 128 /* attention's blocks, and the query tile of its key-side kernel */

#define LAUNCH_CHECK(e, what) CHECK_CUDA(e, cudaGetLastError(), what)

static unsigned grid_for(size_t n)
{
	size_t g = (n + THREADS - 1) / THREADS;
	return (unsigned)(g < 65535 ? (g ? g : 1) : 65535);
}

/* ---- linear: cuBLASLt, one handle per process made on first use ---- */

static cublasLtHandle_t lt;
static std::once_flag lt_once;
static cublasStatus_t lt_status;

static void lt_init(void)
{
	lt_status = cublasLtCreate(&lt);
}

/* Column-major C [m, n] += op(A) [m, k] · op(B) [k, n] in f32 (beta = 1, C updated in place): A is [m, k]
 * (ta N) or [k, m] (ta T) with leading dimension lda, B [k, n] or [n, k]. No workspace: ops_cuda.cu keeps
 * its 32 MB one to itself; sharing it would let cuBLASLt choose split-K algorithms, which dw (k = the
 * rows of the batch) would gain from. */
static int gemm_acc(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float *A, int lda,
		    const float *B, int ldb, float *C, int ldc, sora_err *e)
{
	cublasLtMatmulDesc_t desc = NULL;
	cublasLtMatrixLayout_t la = NULL, lb = NULL, lc = NULL;
	const float one = 1.0f;
	int rc = -1;
	std::call_once(lt_once, lt_init);
	CHECK_CUBLAS(e, lt_status, "cannot start cuBLASLt");
	CHECK_CUBLAS(e, cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), "matmul descriptor");
	CHECK_CUBLAS(e, cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta),
		     "matmul descriptor");
	CHECK_CUBLAS(e, cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb),
		     "matmul descriptor");
	CHECK_CUBLAS(e,
		     cublasLtMatrixLayoutCreate(&la, CUDA_R_32F, ta == CUBLAS_OP_N ? m : k,
						ta == CUBLAS_OP_N ? k : m, lda),
		     "matrix layout");
	CHECK_CUBLAS(e,
		     cublasLtMatrixLayoutCreate(&lb, CUDA_R_32F, tb == CUBLAS_OP_N ? k : n,
						tb == CUBLAS_OP_N ? n : k, ldb),
		     "matrix layout");
	CHECK_CUBLAS(e, cublasLtMatrixLayoutCreate(&lc, CUDA_R_32F, m, n, ldc), "matrix layout");
	CHECK_CUBLAS(e, cublasLtMatmul(lt, desc, &one, A, la, B, lb, &one, C, lc, C, lc, NULL, NULL, 0, 0),
		     "linear_backward");
	rc = 0;
fail:
	cublasLtMatrixLayoutDestroy(la);
	cublasLtMatrixLayoutDestroy(lb);
	cublasLtMatrixLayoutDestroy(lc);
	cublasLtMatmulDescDestroy(desc);
	return rc;
}

/* db [out] += Σ_rows dy [N, out]: a thread per column, the rows in order and in double, as the CPU sums
 * them (so both give the same bits); neighbouring threads read neighbouring columns, so each row is read
 * coalesced. A faster version would split the rows among blocks and add their partial sums in a second
 * pass. */
__global__ static void bias_grad_k(float *db, const float *dy, int N, int out)
{
	const int o = blockIdx.x * blockDim.x + threadIdx.x;
	if (o >= out)
		return;
	double s = 0;
	for (int i = 0; i < N; i++)
		s += dy[(size_t)i * out + o];
	db[o] += (float)s;
}

extern "C" int sora_cuda_linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
					 const float *w, int N, int in, int out, sora_err *e)
{
	CHECK(e, N >= 0 && in >= 0 && out >= 0, "linear_backward: negative size");
	if (!N || !out)
		return 0; /* dy is empty: every gradient gains nothing */
	/* Column-major views of the row-major tensors: dxᵀ [in, N] += wᵀ [in, out] · dyᵀ [out, N] */
	if (dx && in)
		TRY(gemm_acc(CUBLAS_OP_N, CUBLAS_OP_N, in, N, out, w, in, dy, out, dx, in, e));
	/* dwᵀ [in, out] += xᵀ [in, N] · dy [N, out] */
	if (dw && in)
		TRY(gemm_acc(CUBLAS_OP_N, CUBLAS_OP_T, in, out, N, x, in, dy, out, dw, in, e));
	if (db) {
		bias_grad_k<<<(out + THREADS - 1) / THREADS, THREADS>>>(db, dy, N, out);
		LAUNCH_CHECK(e, "linear_backward");
	}
	return 0;
fail:
	return -1;
}

/* ---- rmsnorm ---- */

/* One block per row (w NULL: a weight of ones): r = 1/sqrt(Σx²/C + eps) as the forward kernel computes
 * it, and dx += r·g − r³·x·Σ(g·x)/C with g = dy·w; r goes to rs[row] for the weight's gradient. */
__global__ static void rms_row_k(float *dx, float *rs, const float *dy, const float *x, const float *w, int C,
				 float eps)
{
	const size_t off = (size_t)blockIdx.x * C;
	float ss = 0, gx = 0;
	for (int j = threadIdx.x; j < C; j += blockDim.x) {
		ss += x[off + j] * x[off + j];
		gx += dy[off + j] * (w ? w[j] : 1.0f) * x[off + j];
	}
	ss = block_sum(ss);
	gx = block_sum(gx);
	const float r = rsqrtf(ss / C + eps), c = r * r * r * gx / C;
	if (threadIdx.x == 0)
		rs[blockIdx.x] = r;
	if (dx)
		for (int j = threadIdx.x; j < C; j += blockDim.x)
			dx[off + j] += r * dy[off + j] * (w ? w[j] : 1.0f) - c * x[off + j];
}

/* dw [C] += Σ_rows dy·x·r: a thread per column, the rows in order in double, as the CPU. A faster version
 * would split the rows among blocks, as bias_grad_k would. */
__global__ static void rms_weight_k(float *dw, const float *dy, const float *x, const float *rs, int N, int C)
{
	const int j = blockIdx.x * blockDim.x + threadIdx.x;
	if (j >= C)
		return;
	double s = 0;
	for (int i = 0; i < N; i++)
		s += (double)dy[(size_t)i * C + j] * x[(size_t)i * C + j] * rs[i];
	dw[j] += (float)s;
}

extern "C" int sora_cuda_rmsnorm_backward(float *dx, float *dw, const float *dy, const float *x,
					  const float *w, int N, int C, float eps, sora_err *e)
{
	float *rs = NULL;
	CHECK(e, N >= 0 && C > 0, "rmsnorm_backward: bad shape [%d, %d]", N, C);
	CHECK(e, w || !dw, "rmsnorm_backward: a weight gradient without a weight");
	if (!N || (!dx && !dw))
		return 0;
	/* Stream-ordered, from the device's pool: no synchronisation for N floats of scratch. */
	CHECK_CUDA(e, cudaMallocAsync((void **)&rs, (size_t)N * sizeof *rs, 0),
		   "cannot allocate device memory");
	rms_row_k<<<N, THREADS>>>(dx, rs, dy, x, w, C, eps);
	LAUNCH_CHECK(e, "rmsnorm_backward");
	if (dw) {
		rms_weight_k<<<(C + THREADS - 1) / THREADS, THREADS>>>(dw, dy, x, rs, N, C);
		LAUNCH_CHECK(e, "rmsnorm_backward");
	}
	CHECK_CUDA(e, cudaFreeAsync(rs, 0), "rmsnorm_backward");
	return 0;
fail:
	if (rs)
		cudaFreeAsync(rs, 0);
	return -1;
}

/* ---- element-wise: ops_grad_cpu.c's derivatives, operation for operation ---- */

enum act { GELU_TANH, SILU };

/* gelu_tanh'(x) = (1 + t)/2 + x·(1 − t²)·k·(1 + 3a·x²)/2, t = tanh(u), u = k·(x + a·x³), with 1 − t² as
 * 4e/(1 + e)², e = exp(−2|u|) (no cancellation), and the term skipped where it is 0 (no 0·∞). */
__device__ static float gelu_tanh_grad(float x)
{
	const float k = 0.7978845608028654f, a = 0.044715f;
	const float u = k * (x + a * x * x * x), t = tanhf(u), e = expf(-2.0f * fabsf(u));
	const float sech2 = 4.0f * e / ((1.0f + e) * (1.0f + e));
	return 0.5f * (1.0f + t) + (sech2 > 0.0f ? 0.5f * x * sech2 * k * (1.0f + 3.0f * a * x * x) : 0.0f);
}

/* silu'(x) = σ(x)·(1 + x·σ(−x)), each σ its own exp (no cancellation, never NaN). */
__device__ static float silu_grad(float x)
{
	return (1.0f + x / (1.0f + expf(x))) / (1.0f + expf(-x));
}

__global__ static void act_grad_k(float *dx, const float *dy, const float *x, size_t n, enum act a)
{
	for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x)
		dx[i] += dy[i] * (a == GELU_TANH ? gelu_tanh_grad(x[i]) : silu_grad(x[i]));
}

static int act_backward(float *dx, const float *dy, const float *x, size_t n, enum act a, sora_err *e)
{
	if (dx && n)
		act_grad_k<<<grid_for(n), THREADS>>>(dx, dy, x, n, a);
	LAUNCH_CHECK(e, "activation backward");
	return 0;
fail:
	return -1;
}

extern "C" int sora_cuda_gelu_tanh_backward(float *dx, const float *dy, const float *x, size_t n, sora_err *e)
{
	return act_backward(dx, dy, x, n, GELU_TANH, e);
}

extern "C" int sora_cuda_silu_backward(float *dx, const float *dy, const float *x, size_t n, sora_err *e)
{
	return act_backward(dx, dy, x, n, SILU, e);
}

/* ---- attention: FlashAttention's split. A block per query row recomputes its probabilities, forms dS =
 * P ⊙ (dO·Vᵀ − δ) in shared memory and adds dq; it keeps the row's softmax max, 1/sum and δ (three floats
 * per row, not the [Tq, Tk] matrix). A block per key row then recomputes P and dS for its column from those
 * and adds dk and dv, so no two blocks write one element: no atomics, the same bits on every run. A faster
 * version would tile both sides through shared memory (FlashAttention-2's backward) rather than read q, k,
 * v and dout once per row. ---- */

/* The score of query i and key j of head h, batch item b, formed as ops_cuda.cu's attention_k forms it:
 * the dot product in order, · scale, + bias, + −FLT_MAX when hidden. qi and kj point at their rows. */
__device__ static float score(const float *qi, const float *kj, const sora_attn_args &a, int b, int h, int i,
			      int j)
{
	float d = 0;
	for (int c = 0; c < a.D; c++)
		d += qi[c] * kj[c];
	d *= a.scale;
	if (a.bias)
		d += a.bias[((size_t)h * a.Tq + i) * a.Tk + j];
	if ((a.causal && j > i) || (a.key_mask && !a.key_mask[(size_t)b * a.Tk + j]))
		d += -FLT_MAX;
	return d;
}

/* dO_i · v_j over one head: dP_ij. */
__device__ static float dot_d(const float *doi, const float *vj, int D)
{
	float d = 0;
	for (int c = 0; c < D; c++)
		d += doi[c] * vj[c];
	return d;
}

/* Block (i, h, b): the probabilities of query row i, dS in their place, dq_i += scale·dS·K; the row's max,
 * 1/sum and δ = Σ dO·O go to stats[row·3 ..]. */
__global__ static void attn_bwd_q_k(float *dq, float *stats, const float *dout, const float *q,
				    const float *k, const float *v, const float *out, sora_attn_args a)
{
	extern __shared__ float s[]; /* [Tk]: the scores, then P, then dS */
	const int i = blockIdx.x, h = blockIdx.y, b = blockIdx.z, HD = a.H * a.D;
	const size_t qo = ((size_t)b * a.Tq + i) * HD + (size_t)h * a.D,
		     ko = (size_t)b * a.Tk * HD + (size_t)h * a.D;
	for (int j = threadIdx.x; j < a.Tk; j += blockDim.x)
		s[j] = score(q + qo, k + ko + (size_t)j * HD, a, b, h, i, j);
	__syncthreads();
	float m = -INFINITY;
	for (int j = threadIdx.x; j < a.Tk; j += blockDim.x)
		m = fmaxf(m, s[j]);
	m = block_max(m);
	float sum = 0, dl = 0;
	for (int j = threadIdx.x; j < a.Tk; j += blockDim.x) {
		s[j] = expf(s[j] - m);
		sum += s[j];
	}
	for (int c = threadIdx.x; c < a.D; c += blockDim.x)
		dl += dout[qo + c] * out[qo + c];
	const float inv = 1.0f / block_sum(sum), delta = block_sum(dl);
	/* each thread rewrites only its own entries of s here; block_sum above ordered the writes before */
	for (int j = threadIdx.x; j < a.Tk; j += blockDim.x)
		s[j] = s[j] * inv * (dot_d(dout + qo, v + ko + (size_t)j * HD, a.D) - delta);
	__syncthreads();
	if (dq)
		for (int c = threadIdx.x; c < a.D; c += blockDim.x) {
			float acc = 0;
			for (int j = 0; j < a.Tk; j++)
				acc += s[j] * k[ko + (size_t)j * HD + c];
			dq[qo + c] += a.scale * acc;
		}
	if (threadIdx.x == 0) {
		const size_t row = ((size_t)b * a.H + h) * a.Tq + i;
		stats[row * 3] = m, stats[row * 3 + 1] = inv, stats[row * 3 + 2] = delta;
	}
}

/* Block (j, h, b): key row j's P_ij and dS_ij for a tile of ATTN_THREADS queries at a time (a thread per
 * query), then dv_j += Σ_i P_ij·dO_i and dk_j += scale·Σ_i dS_ij·q_i over the tile (a thread per channel). */
__global__ static void attn_bwd_kv_k(float *dk, float *dv, const float *stats, const float *dout,
				     const float *q, const float *k, const float *v, sora_attn_args a)
{
	__shared__ float sp[ATTN_THREADS], sds[ATTN_THREADS];
	const int j = blockIdx.x, h = blockIdx.y, b = blockIdx.z, HD = a.H * a.D;
	const size_t ko = ((size_t)b * a.Tk + j) * HD + (size_t)h * a.D,
		     qb = (size_t)b * a.Tq * HD + (size_t)h * a.D;
	for (int i0 = 0; i0 < a.Tq; i0 += ATTN_THREADS) {
		const int i = i0 + threadIdx.x, n = min(ATTN_THREADS, a.Tq - i0);
		if (i < a.Tq) {
			const float *st = stats + (((size_t)b * a.H + h) * a.Tq + i) * 3;
			const float p =
			    expf(score(q + qb + (size_t)i * HD, k + ko, a, b, h, i, j) - st[0]) * st[1];
			sp[threadIdx.x] = p;
			sds[threadIdx.x] = p * (dot_d(dout + qb + (size_t)i * HD, v + ko, a.D) - st[2]);
		}
		__syncthreads();
		for (int c = threadIdx.x; c < a.D; c += blockDim.x) {
			float av = 0, ak = 0;
			for (int t = 0; t < n; t++) {
				av += sp[t] * dout[qb + (size_t)(i0 + t) * HD + c];
				ak += sds[t] * q[qb + (size_t)(i0 + t) * HD + c];
			}
			if (dv)
				dv[ko + c] += av;
			if (dk)
				dk[ko + c] += a.scale * ak;
		}
		__syncthreads();
	}
}

extern "C" int sora_cuda_attention_backward(float *dq, float *dk, float *dv, const float *dout,
					    const float *q, const float *k, const float *v, const float *out,
					    const sora_attn_args *a, sora_err *e)
{
	float *stats = NULL;
	CHECK(e,
	      a->B >= 0 && a->H > 0 && a->Tq >= 0 && a->Tk > 0 && a->D > 0 && a->H <= 65535 && a->B <= 65535,
	      "attention_backward: bad sizes B %d H %d Tq %d Tk %d D %d", a->B, a->H, a->Tq, a->Tk, a->D);
	CHECK(e, (size_t)a->Tk * sizeof(float) <= 48 * 1024,
	      "attention_backward: %d keys do not fit in shared memory", a->Tk);
	if (!a->B || !a->Tq || (!dq && !dk && !dv))
		return 0;
	CHECK_CUDA(e, cudaMallocAsync((void **)&stats, (size_t)a->B * a->H * a->Tq * 3 * sizeof *stats, 0),
		   "cannot allocate device memory");
	attn_bwd_q_k<<<dim3(a->Tq, a->H, a->B), ATTN_THREADS, (size_t)a->Tk * sizeof(float)>>>(
	    dq, stats, dout, q, k, v, out, *a);
	LAUNCH_CHECK(e, "attention_backward");
	if (dk || dv) {
		attn_bwd_kv_k<<<dim3(a->Tk, a->H, a->B), ATTN_THREADS>>>(dk, dv, stats, dout, q, k, v, *a);
		LAUNCH_CHECK(e, "attention_backward");
	}
	CHECK_CUDA(e, cudaFreeAsync(stats, 0), "attention_backward");
	return 0;
fail:
	if (stats)
		cudaFreeAsync(stats, 0);
	return -1;
}
