/* What the CPU attention (ops_cpu.c) and its backward (ops_grad_cpu.c) share: the backward recomputes the
 * forward's probabilities with the same code, so they are the forward's bit for bit. Internal to nn/. */
#ifndef SORA_ATTN_CPU_H
#define SORA_ATTN_CPU_H

#include "ops.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stddef.h>

/* y [C] = softmax(x [C]) (y may be x): max, exp and sum in f32, one multiply by the inverse. */
static inline void sora_softmax_row(float *y, const float *x, int C)
{
	float mx = -INFINITY;
	for (int j = 0; j < C; j++)
		mx = x[j] > mx ? x[j] : mx;
	float sum = 0;
	for (int j = 0; j < C; j++) {
		y[j] = expf(x[j] - mx);
		sum += y[j];
	}
	float inv = 1.0f / sum;
	for (int j = 0; j < C; j++)
		y[j] *= inv;
}

/* p [Tq, Tk] = the probabilities of head h of batch item b (qh, kh: the head's first row of q and k, rows
 * H·D apart): scale · qh·khᵀ by sgemm (OpenBLAS threads it), the bias added, hidden keys given the
 * smallest float (as transformers adds finfo.min: a fully hidden row is then uniform), softmax over
 * query rows with OpenMP. */
static inline void sora_attn_head_probs(float *p, const float *qh, const float *kh, const sora_attn_args *a,
					int b, int h)
{
	const int Tq = a->Tq, Tk = a->Tk, HD = a->H * a->D;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Tq, Tk, a->D, a->scale, qh, HD, kh, HD, 0.0f, p,
		    Tk);
#pragma omp parallel for if ((size_t)Tq * (size_t)Tk > 16384)
	for (int i = 0; i < Tq; i++) {
		float *pi = p + (size_t)i * Tk;
		const float *bi = a->bias ? a->bias + ((size_t)h * Tq + i) * Tk : NULL;
		const uint8_t *mi = a->key_mask ? a->key_mask + (size_t)b * Tk : NULL;
		for (int j = 0; j < Tk; j++) {
			if (bi)
				pi[j] += bi[j];
			if ((a->causal && j > i) || (mi && !mi[j]))
				pi[j] += -FLT_MAX;
		}
		sora_softmax_row(pi, pi, Tk);
	}
}

#endif
