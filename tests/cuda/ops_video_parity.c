/* Each CUDA video op against its CPU twin on random inputs at VAE-like shapes, through parity.h. Bounds,
 * each relative to the reference's largest magnitude: the ops with sums (conv3d, group norm, attention)
 * hold both twins to a float64 reference (PAR_TOL_SUM, parity.h), the copies (upsample, transpose) bit for
 * bit. */
#include "ops_video_parity.h"

#include "nn/cuda_buf.h"
#include "nn/ops_video.h"
#include "parity.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int clampi(int v, int hi)
{
	return v < 0 ? 0 : v > hi ? hi : v;
}

/* ops_video.h's causal conv3d in double (with the k − 1 front frames padded, as in every case here):
 * replicate padding is a clamp of the input index. */
static void ref_conv3d(double *r, const float *x, const float *w, const float *b, const sora_conv3d_args *a,
		       int To, int Ho, int Wo)
{
	const int k = a->k, p = k / 2;
	for (int co = 0; co < a->cout; co++)
		for (int to = 0; to < To; to++)
			for (int ho = 0; ho < Ho; ho++)
				for (int wo = 0; wo < Wo; wo++) {
					const float *wc = w + (size_t)co * a->cin * k * k * k;
					double s = b[co];
					for (int ci = 0; ci < a->cin; ci++)
						for (int kt = 0; kt < k; kt++) {
							const int ti =
							    clampi(to * a->st + kt - (k - 1), a->T - 1);
							for (int kh = 0; kh < k; kh++) {
								const int hi =
								    clampi(ho * a->sh + kh - p, a->H - 1);
								const float *row =
								    x +
								    (((size_t)ci * a->T + ti) * a->H + hi) *
									a->W;
								for (int kw = 0; kw < k; kw++)
									s += (double)*wc++ *
									     row[clampi(wo * a->sw + kw - p,
											a->W - 1)];
							}
						}
					r[(((size_t)co * To + to) * Ho + ho) * Wo + wo] = s;
				}
}

/* GroupNorm over x [C, S] in G groups, · w + b, then x·σ(x), in double. */
static void ref_group_norm_silu(double *r, const float *x, const float *w, const float *b, int C, int G,
				int64_t S, double eps)
{
	const int64_t n = (int64_t)(C / G) * S;
	for (int g = 0; g < G; g++) {
		const float *xg = x + (size_t)g * n;
		double mean = 0, var = 0;
		for (int64_t i = 0; i < n; i++)
			mean += xg[i];
		mean /= (double)n;
		for (int64_t i = 0; i < n; i++)
			var += (xg[i] - mean) * (xg[i] - mean);
		const double s = 1 / sqrt(var / (double)n + eps);
		for (int64_t i = 0; i < n; i++) {
			const int c = g * (C / G) + (int)(i / S);
			const double v = (xg[i] - mean) * s * w[c] + b[c];
			r[(size_t)g * n + i] = v / (1 + exp(-v));
		}
	}
}

/* frame_causal_attention in double: query i sees the keys of frames 0..i/HW; s holds F·HW scores. */
static void ref_frame_attention(double *r, const float *q, const float *k, const float *v, int F, int HW,
				int D, double scale, double *s)
{
	for (int i = 0; i < F * HW; i++) {
		const int nk = (i / HW + 1) * HW;
		double m = -INFINITY, sum = 0;
		for (int j = 0; j < nk; j++) {
			double d = 0;
			for (int c = 0; c < D; c++)
				d += (double)q[(size_t)i * D + c] * k[(size_t)j * D + c];
			s[j] = d * scale;
			m = fmax(m, s[j]);
		}
		for (int j = 0; j < nk; j++)
			sum += s[j] = exp(s[j] - m);
		for (int c = 0; c < D; c++) {
			double o = 0;
			for (int j = 0; j < nk; j++)
				o += s[j] * v[(size_t)j * D + c];
			r[(size_t)i * D + c] = o / sum;
		}
	}
}

void sora_ops_video_parity(int *passed, int *failed)
{
	parity p = {.rng = 0x853c49e6748fea9bull};
	/* conv3d: 32 → 48 channels, 5×24×20, both stride patterns of the encoder and a 1×1×1 shortcut */
	const int C = 32, O = 48, T = 5, H = 24, W = 20;
	/* attention: 3 frames of 8×8 tokens, one head of 64 (q, k, v inside x) */
	const int F = 3, HW = 64, D = 64;
	const size_t nx = (size_t)C * T * H * W, ny = (size_t)O * T * H * W * 8, nw = (size_t)O * C * 27,
		     na = (size_t)F * HW * D;
	float *x = par_rand(&p, nx, 1), *w = par_rand(&p, nw, 0.05f), *b = par_rand(&p, O, 1),
	      *g = par_rand(&p, C, 2), *cpu = malloc(ny * sizeof *cpu);
	double *ref = malloc(ny * sizeof *ref), *row = malloc((size_t)F * HW * sizeof *row);
	float *dx = par_dev(&p, x, nx * 4), *dw = par_dev(&p, w, nw * 4), *db = par_dev(&p, b, (size_t)O * 4),
	      *dg = par_dev(&p, g, (size_t)C * 4), *dy = par_dev(&p, NULL, ny * 4);
	const char *op;
	if (!x || !w || !b || !g || !cpu || !ref || !row || !dx || !dw || !db || !dg || !dy) {
		printf("not ok - video parity set-up: %s\n", p.dev.msg[0] ? p.dev.msg : "out of memory");
		p.failed++;
		goto done;
	}
	static const int strides[][4] = {{3, 1, 1, 1}, {3, 1, 2, 2}, {3, 2, 2, 2}, {1, 1, 1, 1}};
	for (int s = 0; s < 4; s++) {
		sora_conv3d_args a = {.cin = C,
				      .cout = O,
				      .T = T,
				      .H = H,
				      .W = W,
				      .k = strides[s][0],
				      .st = strides[s][1],
				      .sh = strides[s][2],
				      .sw = strides[s][3]};
		int To, Ho, Wo;
		char name[96];
		snprintf(name, sizeof name, "causal_conv3d k%d strides %d,%d,%d", a.k, a.st, a.sh, a.sw);
		if (sora_conv3d_out_size(&a, &To, &Ho, &Wo, &p.cpu) < 0) {
			par_ran(&p, name, -1, 0);
			continue;
		}
		const size_t n = (size_t)O * To * Ho * Wo;
		ref_conv3d(ref, x, w, b, &a, To, Ho, Wo);
		if (par_poisoned(&p, name, cpu, dy, n * 4) &&
		    par_ran(&p, name, sora_cpu_causal_conv3d(cpu, x, w, b, &a, &p.cpu),
			    sora_cuda_causal_conv3d(dy, dx, dw, db, &a, &p.dev)))
			par_check_ref(&p, name, cpu, dy, ref, n, PAR_TOL_SUM);
	}
	/* Its own weight g (scale 2) and the conv bias b: a kernel that swaps them fails. */
	op = "group_norm + silu";
	ref_group_norm_silu(ref, x, g, b, C, 8, (int64_t)T * H * W, 1e-6f);
	if (par_poisoned(&p, op, cpu, dy, nx * 4) &&
	    par_ran(&p, op, sora_cpu_group_norm(cpu, x, g, b, C, 8, (int64_t)T * H * W, 1e-6f, 1, &p.cpu),
		    sora_cuda_group_norm(dy, dx, dg, db, C, 8, (int64_t)T * H * W, 1e-6f, 1, &p.dev)))
		par_check_ref(&p, op, cpu, dy, ref, nx, PAR_TOL_SUM);
	op = "upsample_causal (2,2,2)";
	const size_t nu = (size_t)C * (1 + 2 * (T - 1)) * 4 * H * W;
	if (par_poisoned(&p, op, cpu, dy, nu * 4) &&
	    par_ran(&p, op, sora_cpu_upsample_causal(cpu, x, C, T, H, W, 2, 2, 2, &p.cpu),
		    sora_cuda_upsample_causal(dy, dx, C, T, H, W, 2, 2, 2, &p.dev)))
		par_check(&p, op, PAR_F32, cpu, dy, nu, 0);
	op = "transpose";
	if (par_poisoned(&p, op, cpu, dy, nx * 4) &&
	    par_ran(&p, op, sora_cpu_transpose(cpu, x, C, (int64_t)T * H * W, &p.cpu),
		    sora_cuda_transpose(dy, dx, C, (int64_t)T * H * W, &p.dev)))
		par_check(&p, op, PAR_F32, cpu, dy, nx, 0);
	op = "frame_causal_attention";
	ref_frame_attention(ref, x, x + na, x + 2 * na, F, HW, D, 0.125f, row);
	if (par_poisoned(&p, op, cpu, dy, na * 4) &&
	    par_ran(&p, op,
		    sora_cpu_frame_causal_attention(cpu, x, x + na, x + 2 * na, F, HW, D, 0.125f, &p.cpu),
		    sora_cuda_frame_causal_attention(dy, dx, dx + na, dx + 2 * na, F, HW, D, 0.125f, &p.dev)))
		par_check_ref(&p, op, cpu, dy, ref, na, PAR_TOL_SUM);
done:
	free(x), free(w), free(b), free(g), free(cpu), free(ref), free(row);
	sora_cuda_free(dx), sora_cuda_free(dw), sora_cuda_free(db), sora_cuda_free(dg), sora_cuda_free(dy);
	*passed += p.passed;
	*failed += p.failed;
}
