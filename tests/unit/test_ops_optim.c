/* The CPU optimizer ops (nn/ops_optim.h) against values worked out independently: one AdamW step by hand,
 * ten steps against PyTorch's AdamW formula written out in float64, sumsq against a compensated float64
 * sum, and sumsq's bits under several thread counts. */
#include "expect.h"
#include "nn/ops_optim.h"

#include <math.h>
#include <omp.h>

static uint64_t rng = 0x853c49e6748fea9bull;

static float frand(void) /* uniform in [-1, 1) */
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static float *rand_buf(size_t n, float scale)
{
	float *p = malloc(n * sizeof *p);
	cr_assert(p);
	for (size_t i = 0; i < n; i++)
		p[i] = frand() * scale;
	return p;
}

/* Step 1 from zero moments: m̂ = g and v̂ = g², so the update is lr·g/(|g| + eps) = lr·sign(g). */
Test(adamw, first_step_by_hand)
{
	float p[2] = {1, -2}, g[2] = {0.5f, -3}, m[2] = {0}, v[2] = {0};
	sora_adamw_args a = {.lr = 0.1,
			     .beta1 = 0.9,
			     .beta2 = 0.999,
			     .eps = 1e-15,
			     .weight_decay = 0.5,
			     .step = 1,
			     .grad_scale = 1};
	sora_err e = {0};
	cr_assert_eq(sora_cpu_adamw(p, g, m, v, 2, &a, &e), 0, "%s", e.msg);
	/* p·(1 − 0.1·0.5) − 0.1·sign(g) */
	cr_expect_float_eq(p[0], 1 * 0.95f - 0.1f, 1e-7, "%.9g", p[0]);
	cr_expect_float_eq(p[1], -2 * 0.95f + 0.1f, 1e-7, "%.9g", p[1]);
	cr_expect_float_eq(m[1], -0.3f, 1e-7, "%.9g", m[1]);
	cr_expect_float_eq(v[1], 0.009f, 1e-9, "%.9g", v[1]);
}

Test(adamw, refuses_bad_arguments)
{
	float x = 0;
	sora_err e = {0};
	sora_adamw_args a = {
	    .lr = 1e-4, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-15, .step = 0, .grad_scale = 1};
	cr_expect_lt(sora_cpu_adamw(&x, &x, &x, &x, 1, &a, &e), 0);
	cr_expect(strstr(e.msg, "step 0"), "%s", e.msg);
	a.step = 1, a.beta2 = 1;
	cr_expect_lt(sora_cpu_adamw(&x, &x, &x, &x, 1, &a, &e), 0);
	cr_expect(strstr(e.msg, "betas"), "%s", e.msg);
}

/* torch.optim.AdamW's single-tensor step in float64 (g scaled first). */
static void ref_adamw(double *p, double *m, double *v, const float *g, size_t n, const sora_adamw_args *a)
{
	const double bc1 = 1 - pow(a->beta1, (double)a->step), bc2 = 1 - pow(a->beta2, (double)a->step);
	for (size_t i = 0; i < n; i++) {
		const double gi = (double)g[i] * a->grad_scale;
		p[i] *= 1 - a->lr * a->weight_decay;
		m[i] = a->beta1 * m[i] + (1 - a->beta1) * gi;
		v[i] = a->beta2 * v[i] + (1 - a->beta2) * gi * gi;
		p[i] -= a->lr / bc1 * m[i] / (sqrt(v[i]) / sqrt(bc2) + a->eps);
	}
}

/* STEPS steps of the op and of the float64 formula from the same p0 (|p0| ≤ 0.01) and gradients (uniform
 * in ±gscale), zero moments, lr 1e-3. Compared: m, v, and the displacement p − p0 rather than p itself:
 * the displacement (≈ STEPS·lr where the signs agree) is what the formula decides, p's own roundings would
 * swamp it. Bounds, relative to each reference's largest magnitude:
 *   m, v: a step rounds each a handful of times (scaling, square, two products, a sum: ≤ 2.5·2^-24 of
 *     the new value) and the older errors only shrink by β, so ten steps stay within 10·2.5·2^-24 =
 *     1.5e-6; 2e-6.
 *   p − p0: p is rounded twice per step (decay, update), half an ulp of |p| ≤ 0.02 (2^-30) each, so
 *     1.9e-8 after ten steps, 1.9e-6 of a displacement of 0.01; the update's own f32 error (some seven
 *     roundings, 4.2e-7 of it) adds 4.2e-7: 2.3e-6 in all; 3e-6.
 * Measured: at most 2.6e-7 (m, v) and 7.8e-7 (p − p0). What the bounds refuse: eps inside the square root
 * (0.1 to 978 of the scale), and β2 held as a float (6.5e-6: 1 − β2^t is then 1.3e-5 off). */
#define STEPS 10

static void adamw_case(const char *what, double wd, double eps, float grad_scale, float gscale)
{
	const size_t n = 100003; /* odd, and above the OpenMP threshold */
	sora_adamw_args a = {.lr = 1e-3,
			     .beta1 = 0.9,
			     .beta2 = 0.999,
			     .eps = eps,
			     .weight_decay = wd,
			     .grad_scale = grad_scale};
	float *p = rand_buf(n, 0.01f), *m = calloc(n, sizeof *m), *v = calloc(n, sizeof *v);
	double *p0 = malloc(n * sizeof *p0), *rp = malloc(n * sizeof *rp), *rm = calloc(n, sizeof *rm),
	       *rv = calloc(n, sizeof *rv);
	double *d = malloc(n * sizeof *d), *rd = malloc(n * sizeof *rd);
	cr_assert(m && v && p0 && rp && rm && rv && d && rd);
	for (size_t i = 0; i < n; i++)
		p0[i] = rp[i] = p[i];
	sora_err e = {0};
	for (a.step = 1; a.step <= STEPS; a.step++) {
		float *g = rand_buf(n, gscale);
		cr_assert_eq(sora_cpu_adamw(p, g, m, v, n, &a, &e), 0, "%s", e.msg);
		ref_adamw(rp, rm, rv, g, n, &a);
		free(g);
	}
	/* p − p0 in double is exact: the two floats' bits span fewer than 53 places at these magnitudes. */
	for (size_t i = 0; i < n; i++)
		d[i] = (double)p[i] - p0[i], rd[i] = rp[i] - p0[i];
	char label[160];
	snprintf(label, sizeof label, "%s: p - p0", what);
	expect_cmp(label, cmp_rel(cmp_f64(d, n), cmp_f64(rd, n), 3e-6));
	snprintf(label, sizeof label, "%s: m", what);
	expect_cmp(label, cmp_rel(cmp_f32(m, n), cmp_f64(rm, n), 2e-6));
	snprintf(label, sizeof label, "%s: v", what);
	expect_cmp(label, cmp_rel(cmp_f32(v, n), cmp_f64(rv, n), 2e-6));
	free(p), free(m), free(v), free(p0), free(rp), free(rm), free(rv), free(d), free(rd);
}

Test(adamw, open_sora_settings)
{
	adamw_case("wd 0, eps 1e-15, scale 1", 0, 1e-15, 1, 1);
}

Test(adamw, weight_decay_and_grad_scale)
{
	adamw_case("wd 0.1, eps 1e-8, scale 0.37", 0.1, 1e-8, 0.37f, 1);
}

/* Gradients of 1e-7: eps = 1e-8 is a tenth of sqrt(v̂) here, so its place in the formula shows. */
Test(adamw, eps_against_small_gradients)
{
	adamw_case("wd 0.01, eps 1e-8, |g| 1e-7", 0.01, 1e-8, 1, 1e-7f);
	adamw_case("wd 0, eps 1e-15, |g| 1e-7, scale 0.5", 0, 1e-15, 0.5f, 1e-7f);
}

/* Σ x² with Neumaier's compensation: within a few ulp of the exact sum, far inside sumsq's bound. */
static double ref_sumsq(const float *x, size_t n)
{
	double s = 0, c = 0;
	for (size_t i = 0; i < n; i++) {
		const double t = (double)x[i] * x[i], u = s + t;
		c += fabs(s) >= fabs(t) ? (s - u) + t : (t - u) + s;
		s = u;
	}
	return s + c;
}

/* Bound: sumsq adds each square (exact in double) into one of four running sums of a 2^14 chunk (4096
 * terms each), combines them and then the 62 chunk sums in order: at most 4096 + 2 + 62 roundings of
 * 2^-53 of the total, 4.6e-13 relative, as every term is positive; 1e-12. */
Test(sumsq, against_float64)
{
	const size_t n = 1000003;
	float *x = rand_buf(n, 3);
	double got, want = ref_sumsq(x, n);
	sora_err e = {0};
	cr_assert_eq(sora_cpu_sumsq(&got, x, n, &e), 0, "%s", e.msg);
	expect_cmp("sumsq 1000003", cmp_rel(cmp_f64(&got, 1), cmp_f64(&want, 1), 1e-12));
	cr_assert_eq(sora_cpu_sumsq(&got, x, 5, &e), 0, "%s", e.msg);
	want = ref_sumsq(x, 5);
	expect_cmp("sumsq 5", cmp_rel(cmp_f64(&got, 1), cmp_f64(&want, 1), 1e-15));
	cr_assert_eq(sora_cpu_sumsq(&got, x, 0, &e), 0, "%s", e.msg);
	cr_expect(got == 0, "empty sum %g", got);
	free(x);
}

/* The same bits with 1, 2, 3 and 8 threads: the chunks and the order of their sums depend on n alone. */
Test(sumsq, same_bits_for_any_thread_count)
{
	const size_t n = 3 * ((size_t)1 << 16) + 12345;
	float *x = rand_buf(n, 1);
	const int threads[] = {1, 2, 3, 8};
	double first = 0;
	sora_err e = {0};
	for (int k = 0; k < 4; k++) {
		double got;
		uint64_t a, b; /* the bits: the same value is not enough */
		omp_set_num_threads(threads[k]);
		cr_assert_eq(sora_cpu_sumsq(&got, x, n, &e), 0, "%s", e.msg);
		if (k == 0)
			first = got;
		memcpy(&a, &got, 8), memcpy(&b, &first, 8);
		cr_expect(a == b, "%d threads: %.17g, 1 thread: %.17g", threads[k], got, first);
	}
	free(x);
}
