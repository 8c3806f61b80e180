/* The backward ops' CUDA twins (nn/ops_grad.h) against the CPU's on random inputs at CLIP-L's width and
 * at CLIP's and T5's attention shapes (and a cross-attention with more queries than the key-side kernel's
 * tile), through parity.h. The ops accumulate, so instead of the NaN poison both twins' gradient buffers
 * start at the same random values (par_put): a twin that writes nothing is off by the whole gradient, one
 * that overwrites by the start values. They are of the gradients' order (scale START), not above it, so the
 * bounds, relative to the largest value, still measure the gradient.
 *
 * Bounds: CUDA against the CPU, relative to the CPU's largest magnitude. linear, rmsnorm and attention sum
 * in other orders on the two sides (cuBLASLt's blocks against OpenBLAS's; block_sum's tree and serial f32
 * chains against double; the recomputed probabilities through two more products), so PAR_TOL_SUM: the CUDA
 * kernels' orders replayed in f32 on the host (fmaf chains, block_sum's butterfly) came within 1.0e-6 of
 * the CPU on these cases (linear's dx as one serial chain; attention 7.9e-7), 5x under it. db and rmsnorm's
 * dw sum in double in the same order on both sides. The activations' derivatives are a few f32 operations
 * around two libm calls: PAR_TOL_ELEM. */
#include "ops_grad_parity.h"

#include "nn/cuda_buf.h"
#include "nn/ops.h"
#include "nn/ops_grad.h"
#include "parity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define START 0.5f

/* One gradient output on both sides: its start values, the CPU's buffer and the device's. */
typedef struct grad_buf {
	float *start, *cpu, *dev;
	size_t n;
} grad_buf;

static grad_buf grad_new(parity *p, size_t n)
{
	grad_buf g = {par_rand(p, n, START), malloc(n * sizeof(float) + 1),
		      par_dev(p, NULL, n * sizeof(float)), n};
	return g;
}

static int grad_ok(const grad_buf *g)
{
	return g->start && g->cpu && g->dev;
}

static void grad_free(grad_buf *g)
{
	free(g->start), free(g->cpu);
	sora_cuda_free(g->dev);
}

/* Both buffers back at the start values. 1 when done; 0 with a "not ok" line when the copy failed. */
static int grad_reset(parity *p, const char *op, grad_buf *g)
{
	memcpy(g->cpu, g->start, g->n * sizeof(float));
	return par_put(p, op, g->dev, g->start, g->n * sizeof(float));
}

/* The first n values of the device's gradient against the CPU's, on the line "op: which". */
static void grad_check(parity *p, const char *op, const char *which, const grad_buf *g, size_t n, double tol)
{
	char name[160];
	snprintf(name, sizeof name, "%s: %s", op, which);
	par_check(p, name, PAR_F32, g->cpu, g->dev, n, tol);
}

/* linear, rmsnorm and the activations at CLIP-L's width. */
static void dense_grads(parity *p)
{
	const int N = 77, C = 768, O = 512;
	const size_t NC = (size_t)N * C, OC = (size_t)O * C;
	float *x = par_rand(p, NC, 2), *xa = par_rand(p, NC, 6), *w = par_rand(p, OC, 0.05f),
	      *g = par_rand(p, C, 1), *dyl = par_rand(p, (size_t)N * O, 1), *dyc = par_rand(p, NC, 1);
	float *dx = par_dev(p, x, NC * 4), *dxa = par_dev(p, xa, NC * 4), *dw = par_dev(p, w, OC * 4),
	      *dg = par_dev(p, g, (size_t)C * 4), *ddyl = par_dev(p, dyl, (size_t)N * O * 4),
	      *ddyc = par_dev(p, dyc, NC * 4);
	grad_buf gx = grad_new(p, NC), gw = grad_new(p, OC), gb = grad_new(p, O), gg = grad_new(p, C);
	const char *op;
	if (!x || !xa || !w || !g || !dyl || !dyc || !dx || !dxa || !dw || !dg || !ddyl || !ddyc ||
	    !grad_ok(&gx) || !grad_ok(&gw) || !grad_ok(&gb) || !grad_ok(&gg)) {
		printf("not ok - backward parity set-up: %s\n", p->dev.msg[0] ? p->dev.msg : "out of memory");
		p->failed++;
		goto done;
	}

	op = "linear_backward [77, 768] -> 512";
	if (grad_reset(p, op, &gx) && grad_reset(p, op, &gw) && grad_reset(p, op, &gb) &&
	    par_ran(p, op, sora_cpu_linear_backward(gx.cpu, gw.cpu, gb.cpu, dyl, x, w, N, C, O, &p->cpu),
		    sora_cuda_linear_backward(gx.dev, gw.dev, gb.dev, ddyl, dx, dw, N, C, O, &p->dev))) {
		grad_check(p, op, "dx", &gx, NC, PAR_TOL_SUM);
		grad_check(p, op, "dw", &gw, OC, PAR_TOL_SUM);
		grad_check(p, op, "db", &gb, O, PAR_TOL_SUM);
	}
	/* dx NULL: not written on either side, and the others as before. */
	op = "linear_backward without dx";
	if (grad_reset(p, op, &gw) && grad_reset(p, op, &gb) &&
	    par_ran(p, op, sora_cpu_linear_backward(NULL, gw.cpu, gb.cpu, dyl, x, w, N, C, O, &p->cpu),
		    sora_cuda_linear_backward(NULL, gw.dev, gb.dev, ddyl, dx, dw, N, C, O, &p->dev))) {
		grad_check(p, op, "dw", &gw, OC, PAR_TOL_SUM);
		grad_check(p, op, "db", &gb, O, PAR_TOL_SUM);
	}

	op = "rmsnorm_backward [77, 768]";
	if (grad_reset(p, op, &gx) && grad_reset(p, op, &gg) &&
	    par_ran(p, op, sora_cpu_rmsnorm_backward(gx.cpu, gg.cpu, dyc, x, g, N, C, 1e-6f, &p->cpu),
		    sora_cuda_rmsnorm_backward(gx.dev, gg.dev, ddyc, dx, dg, N, C, 1e-6f, &p->dev))) {
		grad_check(p, op, "dx", &gx, NC, PAR_TOL_SUM);
		grad_check(p, op, "dw", &gg, C, PAR_TOL_SUM);
	}

	/* x over [−6, 6): the curved middle and the saturated ends. */
	op = "gelu_tanh_backward";
	if (grad_reset(p, op, &gx) &&
	    par_ran(p, op, sora_cpu_gelu_tanh_backward(gx.cpu, dyc, xa, NC, &p->cpu),
		    sora_cuda_gelu_tanh_backward(gx.dev, ddyc, dxa, NC, &p->dev)))
		grad_check(p, op, "dx", &gx, NC, PAR_TOL_ELEM);
	op = "silu_backward";
	if (grad_reset(p, op, &gx) && par_ran(p, op, sora_cpu_silu_backward(gx.cpu, dyc, xa, NC, &p->cpu),
					      sora_cuda_silu_backward(gx.dev, ddyc, dxa, NC, &p->dev)))
		grad_check(p, op, "dx", &gx, NC, PAR_TOL_ELEM);
done:
	free(x), free(xa), free(w), free(g), free(dyl), free(dyc);
	sora_cuda_free(dx), sora_cuda_free(dxa), sora_cuda_free(dw), sora_cuda_free(dg), sora_cuda_free(ddyl);
	sora_cuda_free(ddyc);
	grad_free(&gx), grad_free(&gw), grad_free(&gb), grad_free(&gg);
}

/* The inputs of the attention cases, on the host and the device: q, dout and out for up to TQ queries,
 * k and v for T keys. */
enum { AB = 2, AH = 12, AD = 64, T = 77, TQ = 200, HD = AH * AD };

typedef struct attn_in {
	float *q, *k, *v, *dout, *out, *bias;
	float *dq, *dk, *dv, *ddout, *dpout, *dbias;
	uint8_t mask[AB * T], *dmask;
} attn_in;

/* Attention's backward for one case: the CPU's forward output goes to both twins as out. */
static void attention_case(parity *p, const char *op, attn_in *in, const sora_attn_args *host,
			   const sora_attn_args *device, grad_buf *gq, grad_buf *gk, grad_buf *gv)
{
	const size_t nq = (size_t)AB * host->Tq * HD, nk = (size_t)AB * host->Tk * HD;
	if (sora_cpu_attention(in->out, in->q, in->k, in->v, host, &p->cpu) < 0) {
		printf("not ok - %s: the forward: %s\n", op, p->cpu.msg);
		p->failed++;
		return;
	}
	if (par_put(p, op, in->dpout, in->out, nq * 4) && grad_reset(p, op, gq) && grad_reset(p, op, gk) &&
	    grad_reset(p, op, gv) &&
	    par_ran(p, op,
		    sora_cpu_attention_backward(gq->cpu, gk->cpu, gv->cpu, in->dout, in->q, in->k, in->v,
						in->out, host, &p->cpu),
		    sora_cuda_attention_backward(gq->dev, gk->dev, gv->dev, in->ddout, in->dq, in->dk, in->dv,
						 in->dpout, device, &p->dev))) {
		grad_check(p, op, "dq", gq, nq, PAR_TOL_SUM);
		grad_check(p, op, "dk", gk, nk, PAR_TOL_SUM);
		grad_check(p, op, "dv", gv, nk, PAR_TOL_SUM);
	}
}

static void attention_grads(parity *p)
{
	const size_t nq = (size_t)AB * TQ * HD, nk = (size_t)AB * T * HD, nb = (size_t)AH * T * T;
	attn_in in = {.q = par_rand(p, nq, 1),
		      .k = par_rand(p, nk, 1),
		      .v = par_rand(p, nk, 1),
		      .dout = par_rand(p, nq, 1),
		      .out = malloc(nq * sizeof(float)),
		      .bias = par_rand(p, nb, 3)};
	grad_buf gq = grad_new(p, nq), gk = grad_new(p, nk), gv = grad_new(p, nk);
	/* every item keeps keys (40 and 60 of 77), so no query row is wholly hidden */
	for (int i = 0; i < AB * T; i++)
		in.mask[i] = i % T < 40 + i / T * 20;
	if (in.q && in.k && in.v && in.dout && in.bias) {
		in.dq = par_dev(p, in.q, nq * 4), in.dk = par_dev(p, in.k, nk * 4),
		in.dv = par_dev(p, in.v, nk * 4);
		in.ddout = par_dev(p, in.dout, nq * 4), in.dpout = par_dev(p, NULL, nq * 4);
		in.dbias = par_dev(p, in.bias, nb * 4), in.dmask = par_dev(p, in.mask, sizeof in.mask);
	}
	if (!in.out || !in.dq || !in.dk || !in.dv || !in.ddout || !in.dpout || !in.dbias || !in.dmask ||
	    !grad_ok(&gq) || !grad_ok(&gk) || !grad_ok(&gv)) {
		printf("not ok - attention backward set-up: %s\n",
		       p->dev.msg[0] ? p->dev.msg : "out of memory");
		p->failed++;
		goto done;
	}
	const sora_attn_args clip = {AB, AH, T, T, AD, 0.125f, 1, NULL, NULL},
			     t5 = {AB, AH, T, T, AD, 1.0f, 0, in.bias, in.mask},
			     t5dev = {AB, AH, T, T, AD, 1.0f, 0, in.dbias, in.dmask},
			     cross = {AB, AH, TQ, T, AD, 0.125f, 0, NULL, NULL};
	attention_case(p, "attention_backward CLIP (causal, 1/sqrt(64))", &in, &clip, &clip, &gq, &gk, &gv);
	attention_case(p, "attention_backward T5 (bias, mask, no scale)", &in, &t5, &t5dev, &gq, &gk, &gv);
	attention_case(p, "attention_backward 200 queries, 77 keys", &in, &cross, &cross, &gq, &gk, &gv);
done:
	free(in.q), free(in.k), free(in.v), free(in.dout), free(in.out), free(in.bias);
	sora_cuda_free(in.dq), sora_cuda_free(in.dk), sora_cuda_free(in.dv), sora_cuda_free(in.ddout);
	sora_cuda_free(in.dpout), sora_cuda_free(in.dbias), sora_cuda_free(in.dmask);
	grad_free(&gq), grad_free(&gk), grad_free(&gv);
}

void sora_ops_grad_parity(int *passed, int *failed)
{
	parity p = {.rng = 0xd1b54a32d192ed03ull};
	dense_grads(&p);
	attention_grads(&p);
	*passed += p.passed;
	*failed += p.failed;
}
