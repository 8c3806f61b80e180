/* The video ops of the causal 3-D VAE, beside ops.h and in its pattern: every op exists as sora_cpu_<op>
 * (ops_video_cpu.c: f32, OpenBLAS sgemm, OpenMP) and sora_cuda_<op> (ops_video_cuda.cu, `make CUDA=1`:
 * the same pointers are device pointers). Activations are one clip at a time, channels first:
 * [C, T, H, W] row-major. Ops return 0, or -1 with e filled for a bad argument or a device error. */
#ifndef SORA_OPS_VIDEO_H
#define SORA_OPS_VIDEO_H

#include "../util/err.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A causal 3-D convolution (CausalConv3d): replicate padding of k/2 on both sides of H and W and of k−1
 * frames in front of T (none behind), then a k×k×k convolution with strides (st, sh, sw) and no further
 * padding. x [cin, T, H, W], w [cout, cin, k, k, k], b [cout] or NULL, y [cout, To, Ho, Wo] with
 * To = (T−1)/st + 1, Ho = (H + 2·(k/2) − k)/sh + 1, Wo likewise. k = 1 is a plain 1×1×1 conv. */
typedef struct sora_conv3d_args {
	int cin, cout;
	int T, H, W; /* input size */
	int k;       /* odd */
	int st, sh, sw;
	int no_front_pad; /* the k−1 frames in front are already in x (a streamed chunk): To = (T−k)/st + 1 */
} sora_conv3d_args;

/* The output size of a causal conv3d; 0, or -1 (e filled) for a bad argument. */
int sora_conv3d_out_size(const sora_conv3d_args *a, int *To, int *Ho, int *Wo, sora_err *e);

#define SORA_OPS_VIDEO(P)                                                                                        \
	int P##causal_conv3d(float *y, const float *x, const float *w, const float *b,                           \
			     const sora_conv3d_args *a, sora_err *e);                                            \
	/* GroupNorm on x [C, S] (S = T·H·W): each group of C/G channels is normalised over all its            \
	 * C/G·S values together (the whole clip), then y = x̂·w[c] + b[c]; silu != 0 applies x·σ(x)        \
	 * after (the norm → SiLU pairs of the VAE). y may alias x. */                                         \
	int P##group_norm(float *y, const float *x, const float *w, const float *b, int C, int G, int64_t S,     \
			  float eps, int silu, sora_err *e);                                                     \
	/* The same GroupNorm in two steps, for a clip that arrives in chunks of frames: sum[g] and sq[g]        \
	 * (double) accumulate Σx and Σx² of each group of x [C, S]; apply normalises with given              \
	 * mean[g] and rstd[g] = 1/sqrt(var + eps). */                                                           \
	int P##group_norm_stats(double *sum, double *sq, const float *x, int C, int G, int64_t S,                \
				sora_err *e);                                                                    \
	int P##group_norm_apply(float *y, const float *x, const float *mean, const float *rstd,                  \
				const float *w, const float *b, int C, int G, int64_t S, int silu,               \
				sora_err *e);                                                                    \
	/* UpsampleCausal3D's nearest upsampling: x [C, T, H, W] → y [C, 1 + ft·(T−1), fh·H, fw·W]; frame \
	 * 0 is upsampled in space only, frames 1.. by (ft, fh, fw). */                                          \
	int P##upsample_causal(float *y, const float *x, int C, int T, int H, int W, int ft, int fh, int fw,     \
			       sora_err *e);                                                                     \
	/* y [cols, rows] = x [rows, cols]ᵀ (channels-first ↔ token layout). */                              \
	int P##transpose(float *y, const float *x, int64_t rows, int64_t cols, sora_err *e);                     \
	/* Single-head attention over tokens in frame order, q, k, v, out [F·HW, D]: a token of frame f         \
	 * attends to every token of frames 0..f (prepare_causal_attention_mask), scores scaled by scale.        \
	 */                                                                                                      \
	int P##frame_causal_attention(float *out, const float *q, const float *k, const float *v, int F,         \
				      int HW, int D, float scale, sora_err *e);

SORA_OPS_VIDEO(sora_cpu_)
SORA_OPS_VIDEO(sora_cuda_)

#ifdef __cplusplus
}
#endif

#endif
