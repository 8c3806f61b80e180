/* The parity files' shared steps (parity.h): inputs, device buffers, poisoned outputs, return codes, and
 * the comparisons of tests/common/compare.h with one counted line each. */
#include "parity.h"

#include "nn/cuda_buf.h"
#include "nn/tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

float *par_rand(parity *p, size_t n, float scale)
{
	float *x = malloc(n * sizeof *x);
	for (size_t i = 0; x && i < n; i++) {
		p->rng ^= p->rng << 13, p->rng ^= p->rng >> 7, p->rng ^= p->rng << 17;
		x[i] = (float)((double)(p->rng >> 11) / 9007199254740992.0 * 2.0 - 1.0) * scale;
	}
	return x;
}

void *par_dev(parity *p, const void *host, size_t bytes)
{
	void *d = NULL;
	if (sora_cuda_alloc(&d, bytes, &p->dev) < 0)
		return NULL;
	if (host && sora_cuda_put(d, host, bytes, &p->dev) < 0) {
		sora_cuda_free(d);
		return NULL;
	}
	return d;
}

/* One counted "not ok" line. */
static void fail(parity *p, const char *op, const char *side, const char *why)
{
	printf("not ok - %s: %s%s\n", op, side, why);
	p->failed++;
}

int par_put(parity *p, const char *op, void *dev, const void *host, size_t bytes)
{
	if (sora_cuda_put(dev, host, bytes, &p->dev) == 0)
		return 1;
	fail(p, op, "copying to the device: ", p->dev.msg);
	return 0;
}

int par_poisoned(parity *p, const char *op, void *host, void *dev, size_t bytes)
{
	memset(host, PAR_POISON, bytes);
	return par_put(p, op, dev, host, bytes);
}

int par_ran(parity *p, const char *op, int cpu_rc, int dev_rc)
{
	if (cpu_rc == 0 && dev_rc == 0)
		return 1;
	fail(p, op, cpu_rc ? "cpu: " : "cuda: ", cpu_rc ? p->cpu.msg : p->dev.msg);
	return 0;
}

/* The line of a comparison: its figures and bound when it passed, else why it failed. */
static void verdict(parity *p, const char *op, cmp_report r, double tol)
{
	if (!r.ok) {
		fail(p, op, "", r.msg);
		return;
	}
	if (tol)
		printf("ok - %s: %s (bound %.3g)\n", op, r.msg, tol);
	else
		printf("ok - %s: %s (bit for bit)\n", op, r.msg);
	p->passed++;
}

static size_t elem_size(par_type t)
{
	return t == PAR_BF16 ? sizeof(uint16_t) : sizeof(float);
}

/* n bf16 values widened to f32 (exact), in a buffer the caller frees; NULL when out of memory. */
static float *widen(const uint16_t *h, size_t n)
{
	float *f = malloc(n * sizeof *f + 1);
	sora_err e = {0};
	if (f && sora_to_f32(f, h, SORA_BF16, n, &e) < 0) {
		free(f);
		return NULL;
	}
	return f;
}

cmp_report par_compare(par_type t, const void *got, size_t ngot, const void *want, size_t nwant, double tol)
{
	float *g = NULL, *w = NULL;
	const float *gf = got, *wf = want;
	if (t == PAR_BF16) {
		gf = g = widen(got, ngot);
		wf = w = widen(want, nwant);
	}
	cmp_report r = {0};
	if (!gf || !wf)
		snprintf(r.msg, sizeof r.msg, "widening bf16: out of memory");
	else if (tol == 0)
		r = cmp_exact(cmp_f32(gf, ngot), cmp_f32(wf, nwant));
	else
		r = cmp_rel(cmp_f32(gf, ngot), cmp_f32(wf, nwant), tol);
	free(g);
	free(w);
	return r;
}

/* The device's n values of type t in a host buffer poisoned first (so a short copy cannot pass), which the
 * caller frees; NULL with a "not ok" line on failure. */
static void *fetch(parity *p, const char *op, par_type t, const void *dev, size_t n)
{
	void *h = malloc(n * elem_size(t) + 1);
	if (!h) {
		fail(p, op, "", "out of memory");
		return NULL;
	}
	memset(h, PAR_POISON, n * elem_size(t));
	if (sora_cuda_get(h, dev, n * elem_size(t), &p->dev) < 0) {
		fail(p, op, "copying the output back: ", p->dev.msg);
		free(h);
		return NULL;
	}
	return h;
}

void par_check(parity *p, const char *op, par_type t, const void *cpu, const void *dev, size_t n, double tol)
{
	void *got = fetch(p, op, t, dev, n);
	if (got)
		verdict(p, op, par_compare(t, got, n, cpu, n, tol), tol);
	free(got);
}

void par_check_ref(parity *p, const char *op, const float *cpu, const void *dev, const double *ref, size_t n,
		   double tol)
{
	float *got = fetch(p, op, PAR_F32, dev, n);
	if (!got)
		return;
	cmp_report c = cmp_rel(cmp_f32(cpu, n), cmp_f64(ref, n), tol),
		   g = cmp_rel(cmp_f32(got, n), cmp_f64(ref, n), tol);
	free(got);
	if (!c.ok || !g.ok) {
		fail(p, op,
		     !c.ok ? "cpu against float64: " : "cuda against float64: ", !c.ok ? c.msg : g.msg);
		return;
	}
	snprintf(g.msg, sizeof g.msg, "%zu elements, cpu %.3g and cuda %.3g of max|float64 ref| %.3g", n,
		 c.rel, g.rel, g.scale);
	verdict(p, op, g, tol);
}
