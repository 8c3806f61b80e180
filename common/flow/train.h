/* The training side of Open-Sora 2.0's rectified flow (scripts/diffusion/train.py prepare_inputs,
 * run_iter), in the reference's float32 order of operations:
 *
 *   t    = time_shift(α, sigmoid(n)),  n = torch.randn(B)  (α = sora_flow_alpha of the latent)
 *   x_t  = (1 − t)·x_0 + (1 − (1 − σ)(1 − t))·x_1,  x_1 = torch.randn_like(x_0),  σ = 1e-5
 *   v    = (1 − σ)·x_1 − x_0                          (the target, "follow MovieGen")
 *   loss = mean((pred − v)²),  ∂loss/∂pred = 2(pred − v)/numel */
#ifndef SORA_FLOW_TRAIN_H
#define SORA_FLOW_TRAIN_H

#include <stdint.h>

#define SORA_FLOW_SIGMA_MIN 1e-5

/* t per sample from the normal draws. */
void sora_train_t(float *t, const float *normal, int n, double alpha);
/* x_t for B samples of n values each (t per sample). */
void sora_flow_interpolate(float *x_t, const float *x_0, const float *x_1, const float *t, int B, int64_t n);
/* The velocity target v over n values. */
void sora_flow_target(float *v, const float *x_0, const float *x_1, int64_t n);
/* The MSE loss (summed in double) and, when grad is not NULL, its gradient with respect to pred. */
double sora_flow_mse(const float *pred, const float *target, int64_t n, float *grad);

#endif
