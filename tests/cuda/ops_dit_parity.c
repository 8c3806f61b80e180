/* The MMDiT ops' CUDA twins against the CPU on random inputs at the released model's head layout (24 heads
 * of 128, axes 16/56/56), through parity.h. Bounds, each relative to the reference's largest magnitude:
 * adaln's sums and the RoPE tables hold both twins to a float64 reference (PAR_TOL_SUM, TOL_ROPE64,
 * TOL_ROPE32), the element-wise ops compare CUDA with the CPU (PAR_TOL_ELEM), the copies bit for bit. */
#include "ops_dit_parity.h"

#include "nn/cuda_buf.h"
#include "nn/ops_dit.h"
#include "parity.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The f64 tables round cos and sin of a double angle to f32 once: within half an f32 ulp (at most 2^-25
 * below 1) of the unrounded reference, whose scale is 1. 2^-24 admits that and refuses the f32 tables, which
 * are up to 1.06e-6 off (cuda_check's self-check shows both). */
#define TOL_ROPE64 0x1p-24
/* The f32 tables carry the f32 recipe's own error (1.06e-6 on the CPU: 2j/d, omega and the angle rounded to
 * f32) and what CUDA's powf adds (4 ulp in CUDA's table, glibc's within 1): omega < 1 may move by 5 of its
 * ulp, each at most 2^-24, so the angle pos·omega (pos ≤ 22) by 22·5·2^-24 = 6.6e-6 (omega = θ^0 = 1 is
 * exact); with cosf's and sinf's 2 ulp, under 1e-5. */
#define TOL_ROPE32 1e-5

enum { B = 2, L = 40, H = 24, D = 128, C = H * D, HALF = D / 2 };
#define THETA 10000.0f
static const int axes[3] = {16, 56, 56};
static const size_t NC = (size_t)B * L * C, NT = (size_t)B * L * HALF;

/* ids [B, L, 3]: positions 0..22 on every axis. */
static void rope_ids(float *ids)
{
	for (int i = 0; i < B * L * 3; i++)
		ids[i] = (float)((i * 7) % 23);
}

/* rope_table in double, unrounded: cos into r[0..NT), sin into r[NT..2·NT). */
static void ref_rope(double *r, const float *ids)
{
	for (int n = 0; n < B * L; n++)
		for (int a = 0, o = 0; a < 3; o += axes[a] / 2, a++)
			for (int j = 0; j < axes[a] / 2; j++) {
				double ang = ids[n * 3 + a] * (1.0 / pow(THETA, 2.0 * j / axes[a]));
				r[(size_t)n * HALF + o + j] = cos(ang);
				r[NT + (size_t)n * HALF + o + j] = sin(ang);
			}
}

/* adaln in double: (1 + scale)·(x − mean)/sqrt(var + eps) + shift per row. */
static void ref_adaln(double *r, const float *x, const float *shift, const float *scale, int mstride,
		      double eps)
{
	for (int i = 0; i < B * L; i++) {
		const float *xi = x + (size_t)i * C, *sh = shift + (size_t)(i / L) * mstride,
			    *sc = scale + (size_t)(i / L) * mstride;
		double mean = 0, var = 0;
		for (int j = 0; j < C; j++)
			mean += xi[j];
		mean /= C;
		for (int j = 0; j < C; j++)
			var += (xi[j] - mean) * (xi[j] - mean);
		const double s = 1 / sqrt(var / C + eps);
		for (int j = 0; j < C; j++)
			r[(size_t)i * C + j] = (1.0 + sc[j]) * ((xi[j] - mean) * s) + sh[j];
	}
}

cmp_report sora_rope_table_vs_f64(int f64)
{
	float *ids = malloc((size_t)B * L * 3 * sizeof *ids), *tab = malloc(2 * NT * sizeof *tab);
	double *ref = malloc(2 * NT * sizeof *ref);
	sora_err e = {0};
	cmp_report r = {0};
	if (!ids || !tab || !ref) {
		snprintf(r.msg, sizeof r.msg, "out of memory");
	} else {
		rope_ids(ids);
		ref_rope(ref, ids);
		if (sora_cpu_rope_table(tab, tab + NT, ids, B, L, axes, 3, THETA, f64, &e) < 0)
			snprintf(r.msg, sizeof r.msg, "%.300s", e.msg);
		else
			r = cmp_rel(cmp_f32(tab, 2 * NT), cmp_f64(ref, 2 * NT), TOL_ROPE64);
	}
	free(ids), free(tab), free(ref);
	return r;
}

void sora_ops_dit_parity(int *passed, int *failed)
{
	parity p = {.rng = 0x9e3779b97f4a7c15ull};
	float *x = par_rand(&p, NC, 3), *mod = par_rand(&p, (size_t)B * 6 * C, 1),
	      *y = malloc(NC * sizeof *y), *ids = malloc((size_t)B * L * 3 * sizeof *ids),
	      *tab = malloc(2 * NT * sizeof *tab);
	double *ref = malloc(NC * sizeof *ref);
	const float t[B] = {0.7f, 0.0123f};
	float *dx = NULL, *dy = NULL, *dmod = NULL, *dids = NULL, *dtab = NULL, *dt = NULL;
	const char *op;
	if (!x || !mod || !y || !ids || !tab || !ref) {
		printf("not ok - MMDiT parity set-up: out of memory\n");
		p.failed++;
		goto done;
	}
	rope_ids(ids);
	if (!(dx = par_dev(&p, x, NC * 4)) || !(dy = par_dev(&p, NULL, NC * 4)) ||
	    !(dmod = par_dev(&p, mod, (size_t)B * 6 * C * 4)) ||
	    !(dids = par_dev(&p, ids, (size_t)B * L * 3 * 4)) || !(dtab = par_dev(&p, NULL, 2 * NT * 4)) ||
	    !(dt = par_dev(&p, t, sizeof t))) {
		printf("not ok - MMDiT parity set-up: %s\n", p.dev.msg);
		p.failed++;
		goto done;
	}

	for (int q = 0; q < 2; q++) {
		op = q ? "timestep_embedding (bf16 t)" : "timestep_embedding";
		if (par_poisoned(&p, op, y, dy, (size_t)B * SORA_DIT_TIME_DIM * 4) &&
		    par_ran(&p, op, sora_cpu_timestep_embedding(y, t, B, q, &p.cpu),
			    sora_cuda_timestep_embedding(dy, dt, B, q, &p.dev)))
			par_check(&p, op, PAR_F32, y, dy, (size_t)B * SORA_DIT_TIME_DIM, PAR_TOL_ELEM);
	}
	op = "adaln";
	ref_adaln(ref, x, mod, mod + C, 6 * C, 1e-6f);
	if (par_poisoned(&p, op, y, dy, NC * 4) &&
	    par_ran(&p, op, sora_cpu_adaln(y, x, mod, mod + C, B, L, C, 6 * C, 1e-6f, &p.cpu),
		    sora_cuda_adaln(dy, dx, dmod, dmod + C, B, L, C, 6 * C, 1e-6f, &p.dev)))
		par_check_ref(&p, op, y, dy, ref, NC, PAR_TOL_SUM);
	/* In place: y starts as x on both sides (an op that writes nothing leaves x, off by gate·x). */
	op = "gated_add";
	memcpy(y, x, NC * sizeof *y);
	if (par_put(&p, op, dy, x, NC * 4) &&
	    par_ran(&p, op, sora_cpu_gated_add(y, x, mod + (size_t)2 * C, B, L, C, 6 * C, &p.cpu),
		    sora_cuda_gated_add(dy, dx, dmod + (size_t)2 * C, B, L, C, 6 * C, &p.dev)))
		par_check(&p, op, PAR_F32, y, dy, NC, PAR_TOL_ELEM);
	/* cos and sin side by side in tab: [0, NT) and [NT, 2·NT). */
	ref_rope(ref, ids);
	for (int f64 = 0; f64 < 2; f64++) {
		op = f64 ? "rope_table f64 (cos, sin)" : "rope_table f32 (cos, sin)";
		if (par_poisoned(&p, op, tab, dtab, 2 * NT * 4) &&
		    par_ran(&p, op,
			    sora_cpu_rope_table(tab, tab + NT, ids, B, L, axes, 3, THETA, f64, &p.cpu),
			    sora_cuda_rope_table(dtab, dtab + NT, dids, B, L, axes, 3, THETA, f64, &p.dev)))
			par_check_ref(&p, op, tab, dtab, ref, 2 * NT, f64 ? TOL_ROPE64 : TOL_ROPE32);
	}
	/* In place again, with the CPU's f64 tables on both sides. */
	for (int inter = 0; inter < 2; inter++) {
		op = inter ? "rope_apply interleaved" : "rope_apply half-split";
		memcpy(y, x, NC * sizeof *y);
		if (par_put(&p, op, dy, x, NC * 4) && par_put(&p, op, dtab, tab, 2 * NT * 4) &&
		    par_ran(&p, op, sora_cpu_rope_apply(y, tab, tab + NT, B, L, H, D, inter, &p.cpu),
			    sora_cuda_rope_apply(dy, dtab, dtab + NT, B, L, H, D, inter, &p.dev)))
			par_check(&p, op, PAR_F32, y, dy, NC, PAR_TOL_ELEM);
	}
	/* [B, 15, C] + [B, 25, C] → [B, 40, C] and back into the halves of y. */
	op = "cat_tokens";
	if (par_poisoned(&p, op, y, dy, NC * 4) &&
	    par_ran(&p, op, sora_cpu_cat_tokens(y, x, x + (size_t)B * 15 * C, B, 15, 25, C, &p.cpu),
		    sora_cuda_cat_tokens(dy, dx, dx + (size_t)B * 15 * C, B, 15, 25, C, &p.dev)))
		par_check(&p, op, PAR_F32, y, dy, NC, 0);
	op = "split_tokens";
	if (par_poisoned(&p, op, y, dy, NC * 4) &&
	    par_ran(&p, op, sora_cpu_split_tokens(y, y + (size_t)B * 15 * C, x, B, 15, 25, C, &p.cpu),
		    sora_cuda_split_tokens(dy, dy + (size_t)B * 15 * C, dx, B, 15, 25, C, &p.dev)))
		par_check(&p, op, PAR_F32, y, dy, NC, 0);
	/* Columns 16..1015 of x seen as [B·L·3, 1024]. */
	op = "copy_cols";
	if (par_poisoned(&p, op, y, dy, NC * 4) &&
	    par_ran(&p, op, sora_cpu_copy_cols(y, 1000, x + 16, C / 3, B * L * 3, 1000, &p.cpu),
		    sora_cuda_copy_cols(dy, 1000, dx + 16, C / 3, B * L * 3, 1000, &p.dev)))
		par_check(&p, op, PAR_F32, y, dy, (size_t)B * L * 3 * 1000, 0);
	op = "gelu_tanh_cols";
	if (par_poisoned(&p, op, y, dy, NC * 4) &&
	    par_ran(&p, op, sora_cpu_gelu_tanh_cols(y, 1000, x + 16, C / 3, B * L * 3, 1000, &p.cpu),
		    sora_cuda_gelu_tanh_cols(dy, 1000, dx + 16, C / 3, B * L * 3, 1000, &p.dev)))
		par_check(&p, op, PAR_F32, y, dy, (size_t)B * L * 3 * 1000, PAR_TOL_ELEM);
done:
	sora_cuda_free(dx), sora_cuda_free(dy), sora_cuda_free(dmod), sora_cuda_free(dids);
	sora_cuda_free(dtab), sora_cuda_free(dt);
	free(x), free(mod), free(y), free(ids), free(tab), free(ref);
	*passed += p.passed;
	*failed += p.failed;
}
