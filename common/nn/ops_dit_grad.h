/* The backward of the MMDiT's own ops (ops_dit.h), with ops_grad.h's rules: twins sora_cpu_<op>
 * (ops_dit_grad_cpu.c) and sora_cuda_<op> (ops_dit_grad_cuda.cu), every gradient output accumulates (+=),
 * NULL outputs are skipped, what the forward did not keep is recomputed from its inputs. Modulation
 * gradients land in a buffer laid out as the modulation Linear's output [B, m·C] (mstride = m·C ≥ C), so
 * dshift, dscale and dgate are pointers into it, as shift, scale and gate are in the forward. Their sums
 * over the tokens are taken in a fixed order on both twins (no atomics): the same bits on every run. */
#ifndef SORA_OPS_DIT_GRAD_H
#define SORA_OPS_DIT_GRAD_H

#include "../util/err.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SORA_DIT_GRAD_OPS(P)                                                                                      \
	/* adaln (y = (1 + scale[b])·n + shift[b], n = LayerNorm(x) without affine): dx [B, L, C] +=             \
	 * ∂y/∂x·dy, dshift[b] += Σ_l dy, dscale[b] += Σ_l dy·n. The row statistics are recomputed from x \
	 * (the CUDA twin keeps them for the modulation sums in 8 bytes per row of stream-ordered scratch).       \
	 */                                                                                                       \
	int P##adaln_backward(float *dx, float *dshift, float *dscale, const float *dy, const float *x,           \
			      const float *scale, int B, int L, int C, int mstride, float eps, sora_err *e);      \
	/* gated_add (y += gate[b]·x): dx [B, L, C] += gate[b]·dy, dgate[b] += Σ_l dy·x. (y's own gradient    \
	 * passes through unchanged: the caller keeps dy.) */                                                     \
	int P##gated_add_backward(float *dx, float *dgate, const float *dy, const float *x,                       \
				  const float *gate, int B, int L, int C, int mstride, sora_err *e);              \
	/* rope_apply's transpose, in place: dx [B, L, H·D] holds dy and becomes the gradient (it does not       \
	 * accumulate), rotated by the negative angles (a rotation's gradient is its inverse), same tables        \
	 * and layouts as rope_apply. */                                                                          \
	int P##rope_apply_backward(float *dx, const float *cos, const float *sin, int B, int L, int H,            \
				   int D, int interleaved, sora_err *e);                                          \
	/* dx[r, c] += dy[r, c]·gelu_tanh'(x[r, c]) for N rows of C columns, row strides lddx, lddy, ldx:        \
	 * the backward of gelu_tanh_cols. */                                                                     \
	int P##gelu_tanh_cols_backward(float *dx, int lddx, const float *dy, int lddy, const float *x,            \
				       int ldx, int N, int C, sora_err *e);                                       \
	/* y[r, 0..C) += x[r, 0..C) with row strides ldy, ldx: the backward of copy_cols (and of a residual       \
	 * sum). */                                                                                               \
	int P##add_cols(float *y, int ldy, const float *x, int ldx, int N, int C, sora_err *e);

SORA_DIT_GRAD_OPS(sora_cpu_)
SORA_DIT_GRAD_OPS(sora_cuda_)

#ifdef __cplusplus
}
#endif

#endif
