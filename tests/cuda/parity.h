/* What the three parity files share. Each op's check goes:
 *
 *     if (par_poisoned(p, op, cpu_out, dev_out, bytes) &&
 *         par_ran(p, op, sora_cpu_<op>(cpu_out, ..., &p->cpu), sora_cuda_<op>(dev_out, ..., &p->dev)))
 *             par_check(p, op, PAR_F32, cpu_out, dev_out, n, tol);     (or par_check_ref)
 *
 * par_poisoned() fills both outputs with NaN first, so an op that writes nothing (or writes short) fails
 * instead of passing on the previous case's result; par_ran() turns a non-zero return code of either twin
 * into a "not ok" line; the checks print one "ok - op: figures" or "not ok - op: why" line through
 * tests/common/compare.h and count it. Every bound is relative to the reference's largest magnitude, so an
 * all-zero output fails too. */
#ifndef SORA_PARITY_H
#define SORA_PARITY_H

#include "../common/compare.h"
#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

/* The byte every output is filled with before an op runs: 0xFF.. is a NaN in f32 (0xFFFFFFFF) and in
 * bf16 (0xFFFF) alike. */
#define PAR_POISON 0xFF

/* f32 ops with long sums (linear, the norms, softmax, attention, adaln, conv3d, group norm): both twins
 * against a float64 reference. They sum in other orders (the CPU in double for the norms, in OpenBLAS's
 * blocks or serially in f32 elsewhere; CUDA in a serial fmaf chain per thread, then block_sum's tree), so
 * their error grows with the sums' length instead of staying within a few ulp. On these cases it reaches
 * 1.5e-6 of the scale: the CPU measured, and the CUDA kernels' orders replayed in f32 on the host (T5
 * attention 1.5e-6, conv3d 1.4e-6, linear 1.1e-6 as one serial fmaf chain; CPU softmax 1.2e-6), no more with
 * expf and sqrtf 2 ulp off. 5e-6 leaves 3x for orders not replayed (cuBLAS's blocking) and refuses by
 * orders of magnitude a swapped weight and bias, a dropped term or a wrong normaliser. */
#define PAR_TOL_SUM 5e-6

/* f32 element-wise ops against the CPU twin: a few f32 operations around at most one libm call. CUDA's
 * expf, erff, tanhf, sinf and cosf are within 2 ulp and glibc's within 1, and nvcc fuses multiply-adds the C
 * compiler may leave apart: a few ulp of each value, and an ulp of any value is at most 2^-23 of the largest
 * magnitude, so 1e-6 of it admits 8 of them. */
#define PAR_TOL_ELEM 1e-6

/* A bf16 output against the CPU twin's: both round an f32 result once, and those f32 results differ only in
 * their last bits, so the two roundings land at most one bf16 step apart. A step of any element is at most
 * the step of the largest magnitude M, which is between 2^-8·M and 2^-7·M: 2^-7 of M admits one step
 * everywhere and refuses an output two steps off at the top, or off by 1/128 of the scale anywhere. */
#define PAR_BF16_TOL 0x1p-7

typedef enum par_type { PAR_F32, PAR_BF16 } par_type;

typedef struct parity {
	int passed, failed;
	sora_err cpu, dev; /* the CPU twin's error, and the CUDA twin's or the device's */
	uint64_t rng;      /* the state of par_rand: each file starts its own */
} parity;

/* n floats uniform in [−scale, scale) (xorshift64 on p->rng); NULL when out of memory. */
float *par_rand(parity *p, size_t n, float scale);

/* A device buffer of bytes, holding a copy of host when host is not NULL; NULL on failure (p->dev). */
void *par_dev(parity *p, const void *host, size_t bytes);

/* dev[0..bytes) = host[0..bytes). 1 when done; 0 with a "not ok" line for op when the copy failed. */
int par_put(parity *p, const char *op, void *dev, const void *host, size_t bytes);

/* host[0..bytes) and dev[0..bytes) filled with PAR_POISON. 1 when done; 0 with a "not ok" line when the
 * copy to the device failed. */
int par_poisoned(parity *p, const char *op, void *host, void *dev, size_t bytes);

/* 1 when both twins returned 0; else 0 and one "not ok" line with the failing side's reason. */
int par_ran(parity *p, const char *op, int cpu_rc, int dev_rc);

/* got (ngot values of type t) against want (nwant values of the same type), bf16 widened to f32: within
 * tol·max|want| (cmp_rel), or bit for bit when tol is 0 (cmp_exact). The comparison par_check makes, open
 * to cuda_check's host-only self-check. */
cmp_report par_compare(par_type t, const void *got, size_t ngot, const void *want, size_t nwant, double tol);

/* The device's n values at dev against the CPU twin's cpu, by par_compare. */
void par_check(parity *p, const char *op, par_type t, const void *cpu, const void *dev, size_t n, double tol);

/* For ops whose twins may differ by more than a few last bits (sums in another order, f32 against f64
 * accumulators, libm against CUDA's math): the CPU's n floats and the device's each within tol·max|ref|
 * of the float64 reference ref. Both figures go on the line. */
void par_check_ref(parity *p, const char *op, const float *cpu, const void *dev, const double *ref, size_t n,
		   double tol);

#endif
