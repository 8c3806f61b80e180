/* The op vocabulary. Every op exists twice with the same parameters: sora_cpu_<op> (ops_cpu.c: OpenBLAS
 * sgemm, OpenMP over rows) and sora_cuda_<op> (ops_cuda.cu, built with `make CUDA=1`: the same pointers
 * are device pointers). Tensors are row-major buffers; shapes are in the comments, with N = rows
 * (tokens × batch), C = channels. Ops return 0, or -1 with e filled for a bad argument or a device
 * error; y may alias x for the element-wise and row ops.
 *
 * Two storage types, one math: <op> takes f32 buffers; its twin <op>_bf16 takes the same parameters with
 * every float tensor as raw bf16 bits (uint16_t), widens them, computes in f32 (sums, statistics,
 * scores, softmax) and rounds each output once to nearest even. Scalars (eps, scale) and attention's
 * additive bias stay f32: the bias lives in score space, which is f32 in both twins. On the CPU a twin
 * widens its arguments on every call (it is the reference for the CUDA one); CPU models keep their
 * weights in f32, converted once by the loader. */
#ifndef SORA_OPS_H
#define SORA_OPS_H

#include "../util/err.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { SORA_BIN_ADD, SORA_BIN_SUB, SORA_BIN_MUL, SORA_BIN_DIV } sora_binop;

/* Attention: q [B, Tq, H·D], k and v [B, Tk, H·D] (the layout linear writes: heads side by side),
 * out [B, Tq, H·D]. scores = scale · q·kᵀ (+ bias[H, Tq, Tk] when bias is not NULL: T5's position
 * bias, the same for every batch item); key j is hidden from query i when causal and j > i, or when
 * key_mask [B, Tk] is not NULL and key_mask[b, j] == 0 (as transformers does, by adding the
 * smallest float). */
typedef struct sora_attn_args {
	int B, H, Tq, Tk, D;
	float scale; /* 1/sqrt(D) for CLIP, 1 for T5 */
	int causal;
	const float *bias;       /* [H, Tq, Tk] or NULL; f32 in the bf16 twin too */
	const uint8_t *key_mask; /* [B, Tk] or NULL */
} sora_attn_args;

#define SORA_OPS(P)                                                                                          \
	/* y [N, out] = x [N, in] · w [out, in]ᵀ + b [out] (b may be NULL): PyTorch's nn.Linear. */       \
	int P##linear(float *y, const float *x, const float *w, const float *b, int N, int in, int out,      \
		      sora_err *e);                                                                          \
	int P##linear_bf16(uint16_t *y, const uint16_t *x, const uint16_t *w, const uint16_t *b, int N,      \
			   int in, int out, sora_err *e);                                                    \
	/* y [N, C] = (x − mean) / sqrt(var + eps) · w + b over each row; w, b may be NULL. */            \
	int P##layernorm(float *y, const float *x, const float *w, const float *b, int N, int C, float eps,  \
			 sora_err *e);                                                                       \
	int P##layernorm_bf16(uint16_t *y, const uint16_t *x, const uint16_t *w, const uint16_t *b, int N,   \
			      int C, float eps, sora_err *e);                                                \
	/* y [N, C] = x / sqrt(mean(x²) + eps) · w (T5: no mean subtraction, no bias). */                  \
	int P##rmsnorm(float *y, const float *x, const float *w, int N, int C, float eps, sora_err *e);      \
	int P##rmsnorm_bf16(uint16_t *y, const uint16_t *x, const uint16_t *w, int N, int C, float eps,      \
			    sora_err *e);                                                                    \
	/* 0.5·x·(1 + erf(x/√2)): nn.GELU's default, transformers' "gelu". */                            \
	int P##gelu(float *y, const float *x, size_t n, sora_err *e);                                        \
	int P##gelu_bf16(uint16_t *y, const uint16_t *x, size_t n, sora_err *e);                             \
	/* 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): gelu_new / gelu_pytorch_tanh. */              \
	int P##gelu_tanh(float *y, const float *x, size_t n, sora_err *e);                                   \
	int P##gelu_tanh_bf16(uint16_t *y, const uint16_t *x, size_t n, sora_err *e);                        \
	/* x·sigmoid(1.702·x) (CLIP). */                                                                   \
	int P##quick_gelu(float *y, const float *x, size_t n, sora_err *e);                                  \
	int P##quick_gelu_bf16(uint16_t *y, const uint16_t *x, size_t n, sora_err *e);                       \
	/* x·sigmoid(x). */                                                                                 \
	int P##silu(float *y, const float *x, size_t n, sora_err *e);                                        \
	int P##silu_bf16(uint16_t *y, const uint16_t *x, size_t n, sora_err *e);                             \
	/* Softmax over each row of x [N, C]. */                                                             \
	int P##softmax(float *y, const float *x, int N, int C, sora_err *e);                                 \
	int P##softmax_bf16(uint16_t *y, const uint16_t *x, int N, int C, sora_err *e);                      \
	int P##attention(float *out, const float *q, const float *k, const float *v,                         \
			 const sora_attn_args *a, sora_err *e);                                              \
	int P##attention_bf16(uint16_t *out, const uint16_t *q, const uint16_t *k, const uint16_t *v,        \
			      const sora_attn_args *a, sora_err *e);                                         \
	/* y [N, C] = table [vocab, C] [ids [N]]; an id outside 0..vocab−1 is an error. */                 \
	int P##embedding(float *y, const float *table, const int32_t *ids, int N, int C, int vocab,          \
			 sora_err *e);                                                                       \
	int P##embedding_bf16(uint16_t *y, const uint16_t *table, const int32_t *ids, int N, int C,          \
			      int vocab, sora_err *e);                                                       \
	/* y = a op b with NumPy broadcasting: a [ashape], b [bshape] (right-aligned, dims of 1 or missing   \
	 * stretch); y has the broadcast shape (at most 5 dims). */                                          \
	int P##binary(float *y, sora_binop op, const float *a, int andim, const int64_t *ashape,             \
		      const float *b, int bndim, const int64_t *bshape, sora_err *e);                        \
	int P##binary_bf16(uint16_t *y, sora_binop op, const uint16_t *a, int andim, const int64_t *ashape,  \
			   const uint16_t *b, int bndim, const int64_t *bshape, sora_err *e);                \
	/* y [N, C] = x / max(‖x‖₂, eps) per row (torch.nn.functional.normalize). */                   \
	int P##l2_normalize(float *y, const float *x, int N, int C, float eps, sora_err *e);                 \
	int P##l2_normalize_bf16(uint16_t *y, const uint16_t *x, int N, int C, float eps, sora_err *e);

SORA_OPS(sora_cpu_)
SORA_OPS(sora_cuda_)

/* The broadcast shape of two shapes; -1 (e filled) when they do not broadcast or it has over 5 dims. */
int sora_broadcast_shape(int andim, const int64_t *ashape, int bndim, const int64_t *bshape, int *ndim,
			 int64_t *shape, sora_err *e);

#ifdef __cplusplus
}
#endif

#endif
