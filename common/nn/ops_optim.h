/* The optimizer's ops, twice with the same parameters like every op (ops.h): sora_cpu_<op> (ops_optim_cpu.c,
 * OpenMP) and sora_cuda_<op> (ops_optim_cuda.cu, built with `make CUDA=1`: p, g, m, v and x are device
 * pointers; the argument struct and sumsq's result stay in host memory). f32 tensors, one flat buffer of
 * n elements per call (a parameter, or all of them laid end to end). */
#ifndef SORA_OPS_OPTIM_H
#define SORA_OPS_OPTIM_H

#include "../util/err.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* AdamW's hyperparameters for one step. They are doubles because PyTorch holds them as Python floats and
 * derives the bias corrections from them in double: with β2 = 0.999 stored as a float, 1 − β2^t alone
 * would be 1.3e-5 off. Open-Sora 2.0 trains with HybridAdam(adamw_mode=True, eps=1e-15, weight_decay=0,
 * betas=(0.9, 0.999)). */
typedef struct sora_adamw_args {
	double lr, beta1, beta2, eps, weight_decay;
	int64_t step;     /* 1-based: the number of this update */
	float grad_scale; /* g is multiplied by this first (in f32): clipping and accumulation averaging */
} sora_adamw_args;

#define SORA_OPTIM_OPS(P)                                                                                    \
	/* One AdamW step in place over n elements, PyTorch's AdamW (= ColossalAI's HybridAdam in adamw      \
	 * mode) with g ← grad_scale·g:                                                                   \
	 *     p ← p·(1 − lr·wd);  m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²;    \
	 *     p ← p − lr/(1 − β1^step) · m / (sqrt(v)/sqrt(1 − β2^step) + eps).                  \
	 * Fails for step < 1, a β outside [0, 1) or a negative lr, eps or weight decay. */                 \
	int P##adamw(float *p, const float *g, float *m, float *v, size_t n, const sora_adamw_args *a,       \
		     sora_err *e);                                                                           \
	/* *out = Σ x² in double (host memory), the square of the gradient norm that clipping divides by.  \
	 * Deterministic: the same bits for the same x whatever the thread count or the device's scheduling  \
	 * (fixed chunks, each summed in a fixed order, then the chunks' sums in order). */                  \
	int P##sumsq(double *out, const float *x, size_t n, sora_err *e);

SORA_OPTIM_OPS(sora_cpu_)
SORA_OPTIM_OPS(sora_cuda_)

/* The per-call scalars both twins share, in f32 as PyTorch's kernels take them (a Python float scalar is
 * cast to the tensor's f32 for each tensor op): computed in double from the arguments, rounded once. */
typedef struct sora_adamw_scalars {
	float decay; /* 1 − lr·wd (exactly 1 without weight decay: p is left as it is) */
	float beta1, one_minus_beta1, beta2, one_minus_beta2;
	float step_size; /* lr / (1 − β1^step) */
	float bc2_sqrt;  /* sqrt(1 − β2^step) */
	float eps;
	float grad_scale;
} sora_adamw_scalars;

/* The scalars of a; fails (naming the argument) for arguments the ops refuse. */
int sora_adamw_scalars_of(const sora_adamw_args *a, sora_adamw_scalars *s, sora_err *e);

/* torch.nn.utils.clip_grad_norm_'s factor for a gradient of global norm `norm`: max_norm / (norm + 1e-6)
 * when that is below 1, else 1 (also for max_norm <= 0: no clipping). AdamW applies it as grad_scale as it
 * reads g, instead of a separate pass over the gradients. */
double sora_clip_coef(double norm, double max_norm);

#ifdef __cplusplus
}
#endif

#endif
