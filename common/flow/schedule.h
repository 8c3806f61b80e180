/* Rectified-flow timesteps as Open-Sora 2.0 computes them (opensora/utils/sampling.py, train.py), in the
 * same float32 arithmetic, so that schedules equal the official ones value for value.
 *
 *   α(tokens, T) = lin(tokens)·√T,  lin(x) = 1 + (x − 256)·(3 − 1)/(4096 − 256)   (double, as Python)
 *   time_shift(α, t) = α·t / (1 + (α − 1)·t)   on a float32 t: α and α − 1 are rounded to float32 first
 *   get_schedule(n, tokens, T) = time_shift(α, linspace(1, 0, n + 1))  (or the plain linspace, or a given α)
 *
 * tokens = latent H·W / 4: image tokens per latent frame at patch 2. */
#ifndef SORA_FLOW_SCHEDULE_H
#define SORA_FLOW_SCHEDULE_H

#include "../util/err.h"

#include <stdint.h>

/* get_res_lin_function()(tokens) · √num_frames: the shift α of get_schedule and of training. */
double sora_flow_alpha(int64_t tokens_per_frame, int num_frames);

/* torch.linspace(start, end, steps) in float32 (torch's CPU kernel: the first half counted from start,
 * the second from end). */
void sora_linspace_f32(float *out, double start, double end, int64_t steps);

/* time_shift(alpha, t) on n float32 values, in place allowed. */
void sora_time_shift_f32(float *out, const float *t, int64_t n, double alpha);

/* get_schedule(num_steps, image_seq_len, num_frames, shift_alpha, shift): num_steps + 1 values from 1 to 0
 * into ts. shift_alpha < 0 means "not given" (α from the resolution and length); shift = 0 gives the plain
 * linspace. */
int sora_get_schedule(float *ts, int num_steps, int64_t image_seq_len, int num_frames, double shift_alpha,
		      int shift, sora_err *e);

#endif
