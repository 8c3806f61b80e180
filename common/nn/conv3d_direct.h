/* The causal conv3d's fast CPU path (conv3d_direct.c), used by sora_cpu_causal_conv3d when it applies and
 * callable alone by the tests. */
#ifndef SORA_CONV3D_DIRECT_H
#define SORA_CONV3D_DIRECT_H

#include "ops_video.h"

/* Whether the direct path takes these arguments on this CPU: AVX-512F and equal strides on H and W (every
 * convolution of the VAE). sora_cpu_causal_conv3d uses it for those that the Winograd path
 * (conv3d_winograd.h) does not take or would not repay, but not for the 1×1×1 convs (one sgemm is faster),
 * and im2col + OpenBLAS sgemm elsewhere. */
int sora_conv3d_direct_applies(const sora_conv3d_args *a);

/* y = causal_conv3d(x) (ops_video.h's contract) for arguments where sora_conv3d_direct_applies; 0, or -1
 * with e filled (out of memory, or arguments it does not take). */
int sora_conv3d_direct(float *y, const float *x, const float *w, const float *b, const sora_conv3d_args *a,
		       sora_err *e);

/* The same with a window of at most window_floats floats of padded input frames (but always the k frames one
 * output frame reads): sora_conv3d_direct allows 64 MB; the tests pass less, to run many passes. */
int sora_conv3d_direct_window(float *y, const float *x, const float *w, const float *b,
			      const sora_conv3d_args *a, size_t window_floats, sora_err *e);

#endif
