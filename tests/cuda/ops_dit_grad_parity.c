/* The MMDiT backward ops' CUDA twins against the CPU on random inputs at the released model's width (24
 * heads of 128, C = 3072), through parity.h. Every gradient output accumulates, so instead of the NaN
 * poison both twins' outputs start from the same random values (par_put): an op that writes nothing, or
 * writes = for +=, leaves them off by a whole gradient. Bounds, each relative to the reference's largest
 * magnitude: adaln's row sums and the modulation sums over the tokens hold both twins to a float64
 * reference (PAR_TOL_SUM: the CUDA row kernel's order replayed in f32 on the host is 1.4e-7 off), the
 * element-wise ops compare CUDA with the CPU (PAR_TOL_ELEM), add_cols bit for bit (one rounded add). */
#include "ops_dit_grad_parity.h"

#include "nn/cuda_buf.h"
#include "nn/ops_dit_grad.h"
#include "parity.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { B = 2, L = 40, H = 24, D = 128, C = H * D, HALF = D / 2, MS = 6 * C };
/* shift, scale and gate at the offsets of a block's second triple in the modulation output [B, 6C]. */
enum { SHIFT = 3 * C, SCALE = 4 * C, GATE = 5 * C };
/* The column ops: columns 16..1015 of [B·L·3, 1024] views, into [B·L·3, 1000]. */
enum { CROWS = B * L * 3, CLD = C / 3, CCOLS = 1000 };
#define EPS 1e-6f
static const size_t NC = (size_t)B * L * C, NM = (size_t)B * MS, NT = (size_t)B * L * HALF;

/* start + adaln's backward, in double with the row statistics in double: dx into rdx [NC], the
 * modulation gradients into rmod [NM] (dshift only when shift is set, as the op given a NULL dshift). */
static void ref_adaln_backward(double *rdx, double *rmod, const float *dx0, const float *dmod0,
			       const float *dy, const float *x, const float *mod, int shift)
{
	for (size_t i = 0; i < NC; i++)
		rdx[i] = dx0[i];
	for (size_t i = 0; i < NM; i++)
		rmod[i] = dmod0[i];
	for (int i = 0; i < B * L; i++) {
		const float *xi = x + (size_t)i * C, *dyi = dy + (size_t)i * C; /* [C] */
		const float *sc = mod + (size_t)(i / L) * MS + SCALE;           /* [C] */
		double *m = rmod + (size_t)(i / L) * MS;                        /* [6C] */
		double mean = 0, var = 0, sg = 0, sgn = 0;
		for (int j = 0; j < C; j++)
			mean += xi[j];
		mean /= C;
		for (int j = 0; j < C; j++)
			var += (xi[j] - mean) * (xi[j] - mean);
		const double r = 1 / sqrt(var / C + (double)EPS);
		for (int j = 0; j < C; j++) {
			const double g = (1.0 + sc[j]) * dyi[j], n = (xi[j] - mean) * r;
			sg += g, sgn += g * n;
			m[SHIFT + j] += shift ? dyi[j] : 0;
			m[SCALE + j] += dyi[j] * n;
		}
		for (int j = 0; j < C; j++) {
			const double g = (1.0 + sc[j]) * dyi[j], n = (xi[j] - mean) * r;
			rdx[(size_t)i * C + j] += r * (g - sg / C - n * sgn / C);
		}
	}
}

/* start + Σ_l dy·x into the gate rows of rmod [NM]. */
static void ref_dgate(double *rmod, const float *dmod0, const float *dy, const float *x)
{
	for (size_t i = 0; i < NM; i++)
		rmod[i] = dmod0[i];
	for (size_t i = 0; i < NC; i++)
		rmod[i / ((size_t)L * C) * MS + GATE + i % C] += (double)dy[i] * x[i];
}

void sora_ops_dit_grad_parity(int *passed, int *failed)
{
	parity p = {.rng = 0x2545f4914f6cdd1dull};
	float *x = par_rand(&p, NC, 3), *dy = par_rand(&p, NC, 1), *mod = par_rand(&p, NM, 1),
	      *dx0 = par_rand(&p, NC, 1), *dmod0 = par_rand(&p, NM, 1), *ang = par_rand(&p, NT, 4);
	float *out = malloc(NC * sizeof *out), *mout = malloc(NM * sizeof *mout),
	      *tab = malloc(2 * NT * sizeof *tab);
	double *ref = malloc(NC * sizeof *ref), *mref = malloc(NM * sizeof *mref);
	float *dx = NULL, *ddy = NULL, *dmod = NULL, *dout = NULL, *dmout = NULL, *dtab = NULL;
	const char *op;
	if (!x || !dy || !mod || !dx0 || !dmod0 || !ang || !out || !mout || !tab || !ref || !mref) {
		printf("not ok - MMDiT backward parity set-up: out of memory\n");
		p.failed++;
		goto done;
	}
	/* RoPE tables of random angles, cos in [0, NT) and sin in [NT, 2·NT): any rotation will do. */
	for (size_t i = 0; i < NT; i++)
		tab[i] = cosf(ang[i]), tab[NT + i] = sinf(ang[i]);
	if (!(dx = par_dev(&p, x, NC * 4)) || !(ddy = par_dev(&p, dy, NC * 4)) ||
	    !(dmod = par_dev(&p, mod, NM * 4)) || !(dout = par_dev(&p, NULL, NC * 4)) ||
	    !(dmout = par_dev(&p, NULL, NM * 4)) || !(dtab = par_dev(&p, tab, 2 * NT * 4))) {
		printf("not ok - MMDiT backward parity set-up: %s\n", p.dev.msg);
		p.failed++;
		goto done;
	}

	/* Every output at once, then dscale alone (dx and dshift NULL: the statistics-only path). */
	for (int all = 1; all >= 0; all--) {
		op = all ? "adaln_backward" : "adaln_backward (dscale alone)";
		memcpy(out, dx0, NC * 4), memcpy(mout, dmod0, NM * 4);
		if (par_put(&p, op, dout, dx0, NC * 4) && par_put(&p, op, dmout, dmod0, NM * 4) &&
		    par_ran(&p, op,
			    sora_cpu_adaln_backward(all ? out : NULL, all ? mout + SHIFT : NULL, mout + SCALE,
						    dy, x, mod + SCALE, B, L, C, MS, EPS, &p.cpu),
			    sora_cuda_adaln_backward(all ? dout : NULL, all ? dmout + SHIFT : NULL,
						     dmout + SCALE, ddy, dx, dmod + SCALE, B, L, C, MS, EPS,
						     &p.dev))) {
			ref_adaln_backward(ref, mref, dx0, dmod0, dy, x, mod, all);
			if (all)
				par_check_ref(&p, "adaln_backward dx", out, dout, ref, NC, PAR_TOL_SUM);
			par_check_ref(&p,
				      all ? "adaln_backward dshift, dscale" : "adaln_backward dscale alone",
				      mout, dmout, mref, NM, PAR_TOL_SUM);
		}
	}
	op = "gated_add_backward";
	memcpy(out, dx0, NC * 4), memcpy(mout, dmod0, NM * 4);
	if (par_put(&p, op, dout, dx0, NC * 4) && par_put(&p, op, dmout, dmod0, NM * 4) &&
	    par_ran(&p, op,
		    sora_cpu_gated_add_backward(out, mout + GATE, dy, x, mod + GATE, B, L, C, MS, &p.cpu),
		    sora_cuda_gated_add_backward(dout, dmout + GATE, ddy, dx, dmod + GATE, B, L, C, MS,
						 &p.dev))) {
		par_check(&p, "gated_add_backward dx", PAR_F32, out, dout, NC, PAR_TOL_ELEM);
		ref_dgate(mref, dmod0, dy, x);
		par_check_ref(&p, "gated_add_backward dgate", mout, dmout, mref, NM, PAR_TOL_SUM);
	}
	/* In place: dx starts as dy on both sides (an op that writes nothing leaves dy, not its rotation). */
	for (int inter = 0; inter < 2; inter++) {
		op = inter ? "rope_apply_backward interleaved" : "rope_apply_backward half-split";
		memcpy(out, dy, NC * 4);
		if (par_put(&p, op, dout, dy, NC * 4) &&
		    par_ran(&p, op,
			    sora_cpu_rope_apply_backward(out, tab, tab + NT, B, L, H, D, inter, &p.cpu),
			    sora_cuda_rope_apply_backward(dout, dtab, dtab + NT, B, L, H, D, inter, &p.dev)))
			par_check(&p, op, PAR_F32, out, dout, NC, PAR_TOL_ELEM);
	}
	op = "gelu_tanh_cols_backward";
	memcpy(out, dx0, (size_t)CROWS * CCOLS * 4);
	if (par_put(&p, op, dout, dx0, (size_t)CROWS * CCOLS * 4) &&
	    par_ran(
		&p, op,
		sora_cpu_gelu_tanh_cols_backward(out, CCOLS, dy + 16, CLD, x + 16, CLD, CROWS, CCOLS, &p.cpu),
		sora_cuda_gelu_tanh_cols_backward(dout, CCOLS, ddy + 16, CLD, dx + 16, CLD, CROWS, CCOLS,
						  &p.dev)))
		par_check(&p, op, PAR_F32, out, dout, (size_t)CROWS * CCOLS, PAR_TOL_ELEM);
	op = "add_cols";
	memcpy(out, dx0, (size_t)CROWS * CCOLS * 4);
	if (par_put(&p, op, dout, dx0, (size_t)CROWS * CCOLS * 4) &&
	    par_ran(&p, op, sora_cpu_add_cols(out, CCOLS, dy + 16, CLD, CROWS, CCOLS, &p.cpu),
		    sora_cuda_add_cols(dout, CCOLS, ddy + 16, CLD, CROWS, CCOLS, &p.dev)))
		par_check(&p, op, PAR_F32, out, dout, (size_t)CROWS * CCOLS, 0);
done:
	sora_cuda_free(dx), sora_cuda_free(ddy), sora_cuda_free(dmod), sora_cuda_free(dout);
	sora_cuda_free(dmout), sora_cuda_free(dtab);
	free(x), free(dy), free(mod), free(dx0), free(dmod0), free(ang), free(out), free(mout), free(tab);
	free(ref), free(mref);
	*passed += p.passed;
	*failed += p.failed;
}
