#include "train.h"

#include "schedule.h"

#include <math.h>

/* float32 as torch rounds it: one rounding per operation, never a fused multiply-add. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

void sora_train_t(float *t, const float *normal, int n, double alpha)
{
	for (int i = 0; i < n; i++)
		t[i] = 1.0f / (1.0f + expf(-normal[i]));
	sora_time_shift_f32(t, t, n, alpha);
}

void sora_flow_interpolate(float *x_t, const float *x_0, const float *x_1, const float *t, int B, int64_t n)
{
	const float keep = (float)(1.0 - SORA_FLOW_SIGMA_MIN);
	for (int b = 0; b < B; b++) {
		float rev = 1.0f - t[b], noise = 1.0f - keep * rev;
		for (int64_t i = 0; i < n; i++) {
			int64_t k = (int64_t)b * n + i;
			x_t[k] = rev * x_0[k] + noise * x_1[k];
		}
	}
}

void sora_flow_target(float *v, const float *x_0, const float *x_1, int64_t n)
{
	const float keep = (float)(1.0 - SORA_FLOW_SIGMA_MIN);
	for (int64_t i = 0; i < n; i++)
		v[i] = keep * x_1[i] - x_0[i];
}

double sora_flow_mse(const float *pred, const float *target, int64_t n, float *grad)
{
	const float norm = (float)(2.0 / (double)n); /* torch's mse_loss_backward: norm · (pred − target) */
	double sum = 0;
	for (int64_t i = 0; i < n; i++) {
		float d = pred[i] - target[i];
		sum += (double)d * d;
		if (grad)
			grad[i] = norm * d;
	}
	return sum / (double)n;
}
