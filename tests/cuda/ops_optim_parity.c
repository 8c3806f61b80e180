/* The optimizer ops' CUDA twins against the CPU through parity.h, on 2^24 + 4099 elements: more than one
 * pass of adamw's grid-stride loop, and a ragged last sumsq chunk.
 *
 * adamw: three steps in place from the same p, m = v = 0 on both sides (par_put, since the op reads its
 * outputs), a new gradient each step, in Open-Sora's settings and with weight decay and a grad scale. Both
 * twins do the same f32 operations in the same order (CUDA through _rn intrinsics), so they agree bit for
 * bit on an x86-64 host; PAR_TOL_ELEM admits a host compiler that fuses multiply-adds. p starts within
 * ±0.01 and lr is 1e-2, so p is mostly its displacement and the bound on p (1e-6 of max|p|) holds the
 * update to 4e-6 of itself.
 * sumsq: both twins against a compensated float64 sum (bound below), and the device twin run twice for
 * the same bits. */
#include "ops_optim_parity.h"

#include "nn/cuda_buf.h"
#include "nn/ops_optim.h"
#include "parity.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const size_t N = ((size_t)1 << 24) + 4099;

/* sumsq's bound: the CPU's chunk order (4 running sums of 4096 terms, then 1025 chunk sums) is within 5.7e-13
 * of the sum, the device's (64 terms per thread, a tree of 256, 1025 chunk sums in order) within 1.2e-13:
 * 1e-12. */
#define SUMSQ_TOL 1e-12

/* The device's result after a step, or a "not ok" line: the three in-place outputs against the CPU's. */
static void check_state(parity *p, const char *what, const float *hp, const float *hm, const float *hv,
			float *dp, float *dm, float *dv)
{
	char op[128];
	snprintf(op, sizeof op, "adamw %s: p", what);
	par_check(p, op, PAR_F32, hp, dp, N, PAR_TOL_ELEM);
	snprintf(op, sizeof op, "adamw %s: exp_avg", what);
	par_check(p, op, PAR_F32, hm, dm, N, PAR_TOL_ELEM);
	snprintf(op, sizeof op, "adamw %s: exp_avg_sq", what);
	par_check(p, op, PAR_F32, hv, dv, N, PAR_TOL_ELEM);
}

/* Three steps of both twins from p0 and zero moments (host hp, hm, hv; device dp, dm, dv; gradients g on
 * the device too, redrawn each step). */
static void adamw_case(parity *p, const char *what, sora_adamw_args a, const float *p0, float *hp, float *hm,
		       float *hv, float *dp, float *dm, float *dv, float *dg)
{
	memcpy(hp, p0, N * 4), memset(hm, 0, N * 4), memset(hv, 0, N * 4);
	if (!par_put(p, what, dp, hp, N * 4) || !par_put(p, what, dm, hm, N * 4) ||
	    !par_put(p, what, dv, hv, N * 4))
		return;
	for (a.step = 1; a.step <= 3; a.step++) {
		float *g = par_rand(p, N, 1);
		int ok = g && par_put(p, what, dg, g, N * 4) &&
			 par_ran(p, what, sora_cpu_adamw(hp, g, hm, hv, N, &a, &p->cpu),
				 sora_cuda_adamw(dp, dg, dm, dv, N, &a, &p->dev));
		if (!g) {
			printf("not ok - adamw %s: out of memory\n", what);
			p->failed++;
		}
		free(g);
		if (!ok)
			return;
	}
	check_state(p, what, hp, hm, hv, dp, dm, dv);
}

/* One counted line for a sumsq comparison. */
static void sumsq_line(parity *p, const char *op, cmp_report r)
{
	printf("%s - %s: %s\n", r.ok ? "ok" : "not ok", op, r.msg);
	r.ok ? p->passed++ : p->failed++;
}

/* Σ x² with Neumaier's compensation: a few ulp from the exact sum. */
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

static void sumsq_case(parity *p, const float *x, const float *dx, size_t n)
{
	char op[96];
	double cpu = NAN, dev = NAN, again = NAN, ref = ref_sumsq(x, n);
	snprintf(op, sizeof op, "sumsq of %zu", n);
	if (!par_ran(p, op, sora_cpu_sumsq(&cpu, x, n, &p->cpu), sora_cuda_sumsq(&dev, dx, n, &p->dev)))
		return;
	if (!n) { /* an empty sum: both exactly 0 */
		sumsq_line(p, op, cmp_exact(cmp_f64(&dev, 1), cmp_f64(&cpu, 1)));
		return;
	}
	snprintf(op, sizeof op, "sumsq of %zu, cpu against float64", n);
	sumsq_line(p, op, cmp_rel(cmp_f64(&cpu, 1), cmp_f64(&ref, 1), SUMSQ_TOL));
	snprintf(op, sizeof op, "sumsq of %zu, cuda against float64", n);
	sumsq_line(p, op, cmp_rel(cmp_f64(&dev, 1), cmp_f64(&ref, 1), SUMSQ_TOL));
	snprintf(op, sizeof op, "sumsq of %zu, cuda run twice", n);
	if (par_ran(p, op, 0, sora_cuda_sumsq(&again, dx, n, &p->dev)))
		sumsq_line(p, op, cmp_exact(cmp_f64(&again, 1), cmp_f64(&dev, 1)));
}

void sora_ops_optim_parity(int *passed, int *failed)
{
	parity p = {.rng = 0x9e3779b97f4a7c15ull};
	float *p0 = par_rand(&p, N, 0.01f), *hp = malloc(N * 4), *hm = malloc(N * 4), *hv = malloc(N * 4);
	float *dp = NULL, *dm = NULL, *dv = NULL, *dg = NULL;
	if (!p0 || !hp || !hm || !hv) {
		printf("not ok - optimizer parity set-up: out of memory\n");
		p.failed++;
		goto done;
	}
	if (!(dp = par_dev(&p, NULL, N * 4)) || !(dm = par_dev(&p, NULL, N * 4)) ||
	    !(dv = par_dev(&p, NULL, N * 4)) || !(dg = par_dev(&p, NULL, N * 4))) {
		printf("not ok - optimizer parity set-up: %s\n", p.dev.msg);
		p.failed++;
		goto done;
	}
	adamw_case(&p, "wd 0, eps 1e-15 (Open-Sora)",
		   (sora_adamw_args){.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-15, .grad_scale = 1},
		   p0, hp, hm, hv, dp, dm, dv, dg);
	adamw_case(&p, "wd 0.1, eps 1e-8, grad scale 0.37",
		   (sora_adamw_args){.lr = 1e-2,
				     .beta1 = 0.9,
				     .beta2 = 0.999,
				     .eps = 1e-8,
				     .weight_decay = 0.1,
				     .grad_scale = 0.37f},
		   p0, hp, hm, hv, dp, dm, dv, dg);
	/* sumsq over the last adamw state's exp_avg_sq (values of many magnitudes), whole and in part. */
	if (par_put(&p, "sumsq", dv, hv, N * 4)) {
		sumsq_case(&p, hv, dv, N);
		sumsq_case(&p, hv, dv, 1000);
		sumsq_case(&p, hv, dv, 0);
	}
done:
	sora_cuda_free(dp), sora_cuda_free(dm), sora_cuda_free(dv), sora_cuda_free(dg);
	free(p0), free(hp), free(hm), free(hv);
	*passed += p.passed;
	*failed += p.failed;
}
