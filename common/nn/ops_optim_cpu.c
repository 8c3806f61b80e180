/* The optimizer ops on the CPU (ops_optim.h): OpenMP over elements, the reference for ops_optim_cuda.cu.
 *
 * Precision, as PyTorch's AdamW (torch/optim/adamw.py, single-tensor path) computes it: the bias
 * corrections 1 − β1^t, sqrt(1 − β2^t), the step size lr/(1 − β1^t) and the decay factor 1 − lr·wd in
 * double once per call (Python floats there), each then rounded to f32 as the tensor ops take their
 * scalars; every per-element operation in f32, one rounding each. m is updated as β1·m + (1 − β1)·g, the
 * way ColossalAI's HybridAdam writes it; torch's lerp form m + (1 − β1)·(g − m) differs by roundings. */
#include "ops_optim.h"

#include <math.h>
#include <stdlib.h>

/* sumsq's chunk: each is summed on its own, then the chunks' sums in order, so the order of every addition
 * is fixed by n alone. 2^14 elements keep an 11B-parameter model's partial sums at 5 MB, and a chunk's
 * rounding error below 2^12·2^-53 of its sum. */
#define SUMSQ_CHUNK ((size_t)1 << 14)

int sora_adamw_scalars_of(const sora_adamw_args *a, sora_adamw_scalars *s, sora_err *e)
{
	CHECK(e, a->step >= 1, "adamw: step %lld: steps count from 1", (long long)a->step);
	CHECK(e, a->beta1 >= 0 && a->beta1 < 1 && a->beta2 >= 0 && a->beta2 < 1,
	      "adamw: betas (%g, %g) outside [0, 1)", a->beta1, a->beta2);
	CHECK(e, a->lr >= 0 && a->eps >= 0 && a->weight_decay >= 0,
	      "adamw: negative lr %g, eps %g or decay %g", a->lr, a->eps, a->weight_decay);
	const double bc1 = 1 - pow(a->beta1, (double)a->step), bc2 = 1 - pow(a->beta2, (double)a->step);
	*s = (sora_adamw_scalars){
	    .decay = (float)(1 - a->lr * a->weight_decay),
	    .beta1 = (float)a->beta1,
	    .one_minus_beta1 = (float)(1 - a->beta1),
	    .beta2 = (float)a->beta2,
	    .one_minus_beta2 = (float)(1 - a->beta2),
	    .step_size = (float)(a->lr / bc1),
	    .bc2_sqrt = (float)sqrt(bc2),
	    .eps = (float)a->eps,
	    .grad_scale = a->grad_scale,
	};
	return 0;
fail:
	return -1;
}

int sora_cpu_adamw(float *p, const float *g, float *m, float *v, size_t n, const sora_adamw_args *a,
		   sora_err *e)
{
	sora_adamw_scalars s;
	TRY(sora_adamw_scalars_of(a, &s, e));
#pragma omp parallel for if (n > 65536)
	for (size_t i = 0; i < n; i++) {
		const float gi = g[i] * s.grad_scale;
		const float mi = s.beta1 * m[i] + s.one_minus_beta1 * gi;
		const float vi = s.beta2 * v[i] + s.one_minus_beta2 * (gi * gi);
		const float denom = sqrtf(vi) / s.bc2_sqrt + s.eps;
		p[i] = p[i] * s.decay - s.step_size * (mi / denom);
		m[i] = mi;
		v[i] = vi;
	}
	return 0;
fail:
	return -1;
}

/* Σ x² over one chunk in double, four interleaved sums (so the adds pipeline) combined in a fixed order. */
static double chunk_sumsq(const float *x, size_t n)
{
	double s[4] = {0, 0, 0, 0};
	size_t i = 0;
	for (; i + 4 <= n; i += 4)
		for (int k = 0; k < 4; k++)
			s[k] += (double)x[i + k] * x[i + k];
	for (; i < n; i++)
		s[0] += (double)x[i] * x[i];
	return (s[0] + s[1]) + (s[2] + s[3]);
}

int sora_cpu_sumsq(double *out, const float *x, size_t n, sora_err *e)
{
	const size_t nchunks = (n + SUMSQ_CHUNK - 1) / SUMSQ_CHUNK;
	double *part = NULL, sum = 0;
	if (nchunks <= 1) {
		*out = chunk_sumsq(x, n);
		return 0;
	}
	CHECK_ALLOC(e, part = malloc(nchunks * sizeof *part));
#pragma omp parallel for schedule(static)
	for (size_t c = 0; c < nchunks; c++) {
		const size_t at = c * SUMSQ_CHUNK;
		part[c] = chunk_sumsq(x + at, n - at < SUMSQ_CHUNK ? n - at : SUMSQ_CHUNK);
	}
	for (size_t c = 0; c < nchunks; c++)
		sum += part[c];
	free(part);
	*out = sum;
	return 0;
fail:
	return -1;
}

double sora_clip_coef(double norm, double max_norm)
{
	const double c = max_norm / (norm + 1e-6);
	return max_norm > 0 && c < 1 ? c : 1;
}
