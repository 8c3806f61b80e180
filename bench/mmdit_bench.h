/* What the two MMDiT benchmarks share (bench/mmdit_bench.c: one call, bench/sample.sh; bench/train_bench.c:
 * one training step, bench/train.sh): the model's sizes, the random stream that fills its weights and
 * inputs, the inputs file read back as a model input, the forward's flop count and the clock. */
#ifndef SORA_BENCH_MMDIT_H
#define SORA_BENCH_MMDIT_H

#include "io/safetensors.h"
#include "models/mmdit.h"

#include <stdint.h>
#include <time.h>

/* The released width with 1 double + 1 single block; 256 image tokens (a 256px 1:1 image) + 512 text. */
enum { C = 3072, M = 12288, IN = 64, COND = 68, VEC = 768, CTX = 4096, L = 256, LT = 512, D = 128 };

static inline double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* n values uniform in ±scale from the xorshift stream *s: the same stream makes the same numbers on
 * every machine, so the weights need not be stored anywhere. */
static inline void bench_uniform(float *p, int64_t n, float scale, uint64_t *s)
{
	for (int64_t i = 0; i < n; i++) {
		*s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
		p[i] = (float)((double)(*s >> 11) / 9007199254740992.0 * 2.0 - 1.0) * scale;
	}
}

/* qsort's order for doubles (medians of timings). */
static inline int bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The model input over DIR/inputs.safetensors (mmdit_bench make), viewing the open file. */
static inline sora_mmdit_input bench_input(sora_safetensors *in)
{
#define IN_(k) ((const float *)sora_st_find(in, k)->data)
	return (sora_mmdit_input){.B = 1,
				  .L = L,
				  .Lt = LT,
				  .img = IN_("img"),
				  .img_ids = IN_("img_ids"),
				  .txt = IN_("txt"),
				  .txt_ids = IN_("txt_ids"),
				  .timesteps = IN_("timesteps"),
				  .y_vec = IN_("y_vec"),
				  .cond = IN_("cond")};
#undef IN_
}

/* Multiply-adds ×2 of the linears and the two attention products, per forward call. */
static inline double bench_forward_gflop(void)
{
	const double Lj = L + LT;
	double f = 2.0 * L * C * (IN + COND) + 2.0 * LT * C * CTX + 2.0 * C * (256 + VEC + 2 * C);
	f += 2.0 * Lj * C * (6 * C + 3 * C + 2 * M) + 2 * 2.0 * C * 6 * C; /* double block, both streams */
	f += 2.0 * Lj * C * (2 * C + C + M) + 2.0 * Lj * (C + M) * C + 2.0 * C * 3 * C; /* single block */
	f += 2 * 4.0 * Lj * Lj * C;              /* attention of the two blocks */
	f += 2.0 * L * C * IN + 2.0 * C * 2 * C; /* final layer */
	return f / 1e9;
}

#endif
