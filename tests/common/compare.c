/* The comparisons of compare.h: one pass over both arrays in float64. */
#include "compare.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef enum mode { REL, EACH, EXACT } mode;

static double value(cmp_array a, size_t i)
{
	switch (a.type) {
	case CMP_F32:
		return ((const float *)a.p)[i];
	case CMP_F64:
		return ((const double *)a.p)[i];
	case CMP_U8:
		return ((const uint8_t *)a.p)[i];
	}
	return NAN;
}

static size_t elem_size(cmp_type t)
{
	return t == CMP_F64 ? 8 : t == CMP_F32 ? 4 : 1;
}

/* Bit for bit where the types match; otherwise equal values of the same sign (so -0 ≠ 0 either way). */
static int same(cmp_array g, cmp_array w, size_t i, double gv, double wv)
{
	if (g.type == w.type)
		return memcmp((const char *)g.p + i * elem_size(g.type),
			      (const char *)w.p + i * elem_size(w.type), elem_size(g.type)) == 0;
	return gv == wv && signbit(gv) == signbit(wv);
}

/* How far element i is outside its bound (> 1 is outside). */
static double excess(mode m, double d, double wv, double atol, double rtol)
{
	double bound = m == EACH ? atol + rtol * fabs(wv) : 0;
	return bound > 0 ? d / bound : d > 0 ? INFINITY : 0;
}

static cmp_report compare(cmp_array got, cmp_array want, mode m, double tol, double rtol)
{
	cmp_report r = {0};
	r.n = got.n < want.n ? got.n : want.n;
	if (got.n != want.n) {
		snprintf(r.msg, sizeof r.msg, "got %zu elements, want %zu", got.n, want.n);
		return r;
	}
	if (r.n == 0 || !got.p || !want.p) {
		snprintf(r.msg, sizeof r.msg, "nothing to compare (%zu elements%s)", r.n,
			 !got.p || !want.p ? ", or no buffer" : "");
		return r;
	}
	double worst = -1;
	size_t first_off = r.n;
	for (size_t i = 0; i < r.n; i++) {
		double gv = value(got, i), wv = value(want, i);
		if (!isfinite(gv) || !isfinite(wv)) {
			r.at = i;
			snprintf(r.msg, sizeof r.msg, "element %zu is %.9g, want %.9g: %s is not finite", i,
				 gv, wv, isfinite(gv) ? "the reference" : "the output");
			return r;
		}
		double d = fabs(gv - wv);
		r.scale = fmax(r.scale, fabs(wv));
		r.max_abs = fmax(r.max_abs, d);
		if (m == REL) {
			if (d > worst)
				worst = d, r.at = i;
			continue;
		}
		int out = m == EXACT ? !same(got, want, i, gv, wv) : !(d <= tol + rtol * fabs(wv));
		r.off += out;
		if (out && first_off == r.n)
			first_off = i;
		double x = excess(m, d, wv, tol, rtol);
		if (x > worst)
			worst = x, r.at = i;
	}
	if (m == EXACT && r.off)
		r.at = first_off;
	r.rel = r.scale > 0 ? r.max_abs / r.scale : r.max_abs;
	double gv = value(got, r.at), wv = value(want, r.at);
	if (m == REL) {
		double bound = r.scale > 0 ? tol * r.scale : tol;
		r.ok = r.max_abs <= bound;
		if (!r.ok)
			snprintf(r.msg, sizeof r.msg,
				 "element %zu is %.9g, want %.9g: max |error| %.3g is %.3g of max|ref| %.3g "
				 "(bound %.3g)",
				 r.at, gv, wv, r.max_abs, r.rel, r.scale, tol);
	} else {
		r.ok = r.off == 0;
		if (!r.ok)
			snprintf(r.msg, sizeof r.msg,
				 "%zu of %zu elements off; %s element %zu is %.9g, want %.9g", r.off, r.n,
				 m == EXACT ? "first:" : "worst:", r.at, gv, wv);
	}
	if (r.ok)
		snprintf(r.msg, sizeof r.msg, "%zu elements, max |error| %.3g, %.3g of max|ref| %.3g", r.n,
			 r.max_abs, r.rel, r.scale);
	return r;
}

cmp_report cmp_rel(cmp_array got, cmp_array want, double tol)
{
	return compare(got, want, REL, tol, 0);
}

cmp_report cmp_each(cmp_array got, cmp_array want, double atol, double rtol)
{
	return compare(got, want, EACH, atol, rtol);
}

cmp_report cmp_exact(cmp_array got, cmp_array want)
{
	return compare(got, want, EXACT, 0, 0);
}
