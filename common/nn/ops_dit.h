/* The MMDiT's own ops (Open-Sora 2.0 / FLUX.1-dev), beside the general vocabulary of ops.h. Each op exists
 * twice with the same parameters: sora_cpu_<op> (ops_dit_cpu.c) and sora_cuda_<op> (ops_dit_cuda.cu, built
 * with `make CUDA=1`; pointers are device pointers except axes_dim, which is always host memory).
 * Row-major f32; B = batch, L = tokens, C = channels. Ops return 0, or -1 with e filled for a bad
 * argument or a device error.
 *
 * Modulation vectors come straight from the modulation Linear's output [B, m·C]: shift, scale and gate
 * are pointers into it and `mstride` (= m·C) is the step from one batch item to the next. */
#ifndef SORA_OPS_DIT_H
#define SORA_OPS_DIT_H

#include "../util/err.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The timestep embedding width of every MLPEmbedder time_in / guidance_in. */
#define SORA_DIT_TIME_DIM 256

#define SORA_DIT_OPS(P)                                                                                        \
	/* emb [B, 256] = [cos(a), sin(a)], a[b, i] = fl32(1000·t[b])·freq[i] in f32, with torch's f32 table \
	 * freq[i] = exp(−ln(1e4)·i/128) (layers.timestep_embedding). quant_bf16: t is first rounded to     \
	 * bf16, as the reference's bf16 runs hold it (the rest stays f32, as its compiled kernel does). */    \
	int P##timestep_embedding(float *emb, const float *t, int B, int quant_bf16, sora_err *e);             \
	/* y [B, L, C] = (1 + scale[b])·LayerNorm(x) + shift[b]; LayerNorm without affine, eps. */            \
	int P##adaln(float *y, const float *x, const float *shift, const float *scale, int B, int L, int C,    \
		     int mstride, float eps, sora_err *e);                                                     \
	/* y [B, L, C] += gate[b]·x (the gated residuals). */                                                 \
	int P##gated_add(float *y, const float *x, const float *gate, int B, int L, int C, int mstride,        \
			 sora_err *e);                                                                         \
	/* RoPE angles of ids [B, L, naxes] (t, h, w): cos, sin [B, L, D/2] with D = Σ axes_dim, frequency    \
	 * order [axis 0 (axes_dim[0]/2), axis 1, ...], omega_j = 1/θ^(2j/d). f64: omega and angles in f64    \
	 * (EmbedND, interleaved models), else f32 (LigerEmbedND, half-split models). */                       \
	int P##rope_table(float *cos, float *sin, const float *ids, int B, int L, const int *axes_dim,         \
			  int naxes, float theta, int f64, sora_err *e);                                       \
	/* x [B, L, H·D] rotated in place by the tables [B, L, D/2] of rope_table: pairs (2j, 2j+1) when      \
	 * interleaved (FLUX), else (j, j + D/2) (Liger's half split, Open-Sora 2.0). */                       \
	int P##rope_apply(float *x, const float *cos, const float *sin, int B, int L, int H, int D,            \
			  int interleaved, sora_err *e);                                                       \
	/* y [B, La + Lb, C] = cat(a [B, La, C], b [B, Lb, C]) along the tokens of each batch item. */         \
	int P##cat_tokens(float *y, const float *a, const float *b, int B, int La, int Lb, int C,              \
			  sora_err *e);                                                                        \
	/* The inverse: a [B, La, C], b [B, Lb, C] from y [B, La + Lb, C]; a or b may be NULL. */              \
	int P##split_tokens(float *a, float *b, const float *y, int B, int La, int Lb, int C, sora_err *e);    \
	/* y[r, 0..C) = x[r, 0..C) for N rows with row strides ldy, ldx (fused projections apart). */          \
	int P##copy_cols(float *y, int ldy, const float *x, int ldx, int N, int C, sora_err *e);               \
	/* The same with GELU-tanh applied (the MLP half of a single block's linear2 input). */                \
	int P##gelu_tanh_cols(float *y, int ldy, const float *x, int ldx, int N, int C, sora_err *e);

SORA_DIT_OPS(sora_cpu_)
SORA_DIT_OPS(sora_cuda_)

#ifdef __cplusplus
}
#endif

#endif
