/* The causal conv3d by Winograd's F(2×2, 3×3) in space (conv3d_winograd.c): the k = 3, stride-1 layers that
 * carry most of the VAE's work, at 4/9 of the direct path's multiplications. Used by sora_cpu_causal_conv3d
 * where it pays, and callable alone by the tests. */
#ifndef SORA_CONV3D_WINOGRAD_H
#define SORA_CONV3D_WINOGRAD_H

#include "ops_video.h"

/* Whether the Winograd path takes these arguments on this CPU: AVX-512F, k = 3, all strides 1, and input
 * channels a multiple of 16. */
int sora_conv3d_winograd_applies(const sora_conv3d_args *a);

/* Floats of one transformed input frame (16 planes of the frame's 2×2 tiles per input channel, rounded up
 * to whole panels): four times the frame, and a pass holds three at least. */
size_t sora_conv3d_winograd_frame_floats(const sora_conv3d_args *a);

/* y = causal_conv3d(x) (ops_video.h's contract) where sora_conv3d_winograd_applies; 0, or -1 with e filled
 * (out of memory, or arguments it does not take). */
int sora_conv3d_winograd(float *y, const float *x, const float *w, const float *b, const sora_conv3d_args *a,
			 sora_err *e);

/* The same with at most window_floats floats of transformed input frames per pass (but always the three one
 * output frame reads): sora_conv3d_winograd allows 128 MB; the tests pass less, to run many passes. */
int sora_conv3d_winograd_window(float *y, const float *x, const float *w, const float *b,
				const sora_conv3d_args *a, size_t window_floats, sora_err *e);

#endif
