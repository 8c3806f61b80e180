#include "schedule.h"

#include <math.h>

/* float32 as torch rounds it: one rounding per operation, never a fused multiply-add. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

double sora_flow_alpha(int64_t tokens_per_frame, int num_frames)
{
	const double m = (3.0 - 1.0) / (4096.0 - 256.0), b = 1.0 - m * 256.0;
	double alpha = m * (double)tokens_per_frame + b;
	return alpha * sqrt((double)num_frames);
}

void sora_linspace_f32(float *out, double start, double end, int64_t steps)
{
	if (steps <= 0)
		return;
	const float s = (float)start, en = (float)end;
	if (steps == 1) {
		out[0] = s;
		return;
	}
	const float step = (en - s) / (float)(steps - 1);
	const int64_t halfway = steps / 2;
	/* torch 1.13's kernel is vectorised: blocks of 2×8 values take the first value of each 8 from the
	 * formula of its half and add k·step for the other 7; what is left after the last whole block of 16
	 * goes value by value. */
	int64_t i = 0;
	for (; i + 16 <= steps; i += 16)
		for (int64_t j = i; j < i + 16; j += 8) {
			float base = j < halfway ? s + step * (float)j : en - step * (float)(steps - j - 1);
			for (int k = 0; k < 8; k++)
				out[j + k] = base + (float)k * step;
		}
	for (; i < steps; i++)
		out[i] = i < halfway ? s + step * (float)i : en - step * (float)(steps - i - 1);
}

void sora_time_shift_f32(float *out, const float *t, int64_t n, double alpha)
{
	const float a = (float)alpha, am1 = (float)(alpha - 1.0);
	for (int64_t i = 0; i < n; i++) {
		float num = a * t[i];
		float den = am1 * t[i] + 1.0f;
		out[i] = num / den;
	}
}

int sora_get_schedule(float *ts, int num_steps, int64_t image_seq_len, int num_frames, double shift_alpha,
		      int shift, sora_err *e)
{
	CHECK(e, num_steps >= 1, "get_schedule: num_steps must be at least 1, got %d", num_steps);
	CHECK(e, num_frames >= 1, "get_schedule: num_frames must be at least 1, got %d", num_frames);
	sora_linspace_f32(ts, 1.0, 0.0, num_steps + 1);
	if (shift) {
		double alpha = shift_alpha >= 0 ? shift_alpha : sora_flow_alpha(image_seq_len, num_frames);
		sora_time_shift_f32(ts, ts, num_steps + 1, alpha);
	}
	return 0;
fail:
	return -1;
}
