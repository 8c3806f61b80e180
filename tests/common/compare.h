/* One way for every test to compare a result with its reference (the Criterion unit tests through
 * tests/unit/expect.h, the CUDA parity harness directly). Each comparison fails, naming the element, when:
 *   - either side holds a NaN or an infinity (the first one found, and on which side);
 *   - the element counts differ, or there is nothing to compare (an empty output passes nothing);
 *   - the bound is broken: the message names the worst element, its value and the reference's.
 * The report's figures (largest error, the reference's largest magnitude) are there for logging. */
#ifndef SORA_TESTS_COMPARE_H
#define SORA_TESTS_COMPARE_H

#include <stddef.h>
#include <stdint.h>

typedef enum cmp_type { CMP_F32, CMP_F64, CMP_U8 } cmp_type;

/* n values of one type, read only. */
typedef struct cmp_array {
	const void *p;
	cmp_type type;
	size_t n;
} cmp_array;

static inline cmp_array cmp_f32(const float *p, size_t n)
{
	return (cmp_array){p, CMP_F32, n};
}
static inline cmp_array cmp_f64(const double *p, size_t n)
{
	return (cmp_array){p, CMP_F64, n};
}
static inline cmp_array cmp_u8(const uint8_t *p, size_t n)
{
	return (cmp_array){p, CMP_U8, n};
}

typedef struct cmp_report {
	int ok;
	size_t n;       /* elements compared (the smaller count when they differ) */
	size_t at;      /* the element the message names: the first non-finite one, else the worst */
	double max_abs; /* max |got − want| */
	double scale;   /* max |want| */
	double rel;     /* max_abs / scale (max_abs when the reference is all zeros) */
	size_t off;     /* elements outside an element-wise bound (cmp_each, cmp_exact) */
	char msg[320];  /* one line: why it failed, or the figures when it passed */
} cmp_report;

/* max |got − want| ≤ tol · max |want|: the error of a tensor relative to its own largest value, as the
 * fixture READMEs state their bounds. A reference of all zeros makes tol an absolute bound. */
cmp_report cmp_rel(cmp_array got, cmp_array want, double tol);

/* Every element: |got − want| ≤ atol + rtol · |want| (numpy's isclose). */
cmp_report cmp_each(cmp_array got, cmp_array want, double atol, double rtol);

/* Every element equal, bit for bit for floats (so -0 differs from 0), and finite. */
cmp_report cmp_exact(cmp_array got, cmp_array want);

#endif
