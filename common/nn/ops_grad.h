/* The backward of ops.h's ops that a trained model uses, llm.c style: one explicit <op>_backward beside
 * each forward, twice with the same parameters, sora_cpu_<op>_backward (ops_grad_cpu.c, the reference)
 * and sora_cuda_<op>_backward (ops_grad_cuda.cu, built with `make CUDA=1`: device pointers).
 *
 * Every gradient output ACCUMULATES (+=), as in llm.c: a tensor read by two ops (a residual stream, x
 * feeding q, k and v) gets the sum of both without a temporary, and parameter gradients add up over
 * micro-batches. The caller zeroes them once. A NULL gradient output is not computed. Forward inputs are
 * passed again; what the forward does not keep (norm statistics, attention scores) is recomputed. */
#ifndef SORA_OPS_GRAD_H
#define SORA_OPS_GRAD_H

#include "../util/err.h"
#include "ops.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SORA_GRAD_OPS(P)                                                                                            \
	/* linear (y [N, out] = x·wᵀ + b): dx [N, in] += dy·w, dw [out, in] += dyᵀ·x, db [out] += Σ_rows dy \
	 * (summed in double). */                                                                                   \
	int P##linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x,                    \
			       const float *w, int N, int in, int out, sora_err *e);                                \
	/* rmsnorm (y = x·r·w, r = 1/sqrt(mean(x²) + eps) per row): dx [N, C] += ∂y/∂x·dy,                  \
	 * dw [C] += Σ_rows dy·x·r. r is recomputed from x. w may be NULL, a weight of ones as in the            \
	 * forward; dw must then be NULL too (an error otherwise). */                                               \
	int P##rmsnorm_backward(float *dx, float *dw, const float *dy, const float *x, const float *w,              \
				int N, int C, float eps, sora_err *e);                                              \
	/* dx [n] += dy·gelu_tanh'(x). */                                                                          \
	int P##gelu_tanh_backward(float *dx, const float *dy, const float *x, size_t n, sora_err *e);               \
	/* dx [n] += dy·silu'(x) = dy·σ(x)·(1 + x·(1 − σ(x))). */                                           \
	int P##silu_backward(float *dx, const float *dy, const float *x, size_t n, sora_err *e);                    \
	/* attention (ops.h's layout and args; bias, causal and key_mask as in the forward, the bias taking         \
	 * no gradient): dq, dk, dv += the gradients of out = softmax(scale·q·kᵀ + mask)·v given dout. out     \
	 * is the forward's output (for rowsum(dout ⊙ out)); the probabilities are recomputed one head at a       \
	 * time, so nothing beyond out is stored (FlashAttention's choice). The mask is a constant added to         \
	 * the scores, as autograd sees transformers' finfo.min: a query row with every key hidden (uniform         \
	 * weights in the forward) still passes gradient through its scores. */                                     \
	int P##attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q,               \
				  const float *k, const float *v, const float *out, const sora_attn_args *a,        \
				  sora_err *e);

SORA_GRAD_OPS(sora_cpu_)
SORA_GRAD_OPS(sora_cuda_)

#ifdef __cplusplus
}
#endif

#endif
