/* make test-cuda: every CUDA op against its CPU twin. It first checks, on the host, that the parity
 * comparison refuses what a broken kernel leaves behind; without a device it then says so and passes. */
#include "nn/cuda_device.h"
#include "nn/tensor.h"
#include "ops_dit_grad_parity.h"
#include "ops_dit_parity.h"
#include "ops_grad_parity.h"
#include "ops_optim_parity.h"
#include "ops_parity.h"
#include "ops_video_parity.h"
#include "parity.h"

#include <stdio.h>
#include <string.h>

/* One self-check line: the comparison r must pass (should_pass) or fail. */
static void expect(int *passed, int *failed, const char *what, cmp_report r, int should_pass)
{
	int ok = r.ok == should_pass;
	printf("%s - self-check: %s %s: %s\n", ok ? "ok" : "not ok", what, r.ok ? "passes" : "fails", r.msg);
	ok ? (*passed)++ : (*failed)++;
}

/* par_compare, the comparison behind every parity line, on outputs a broken kernel leaves (nothing
 * written, so the NaN poison; one NaN, which the old max loop let the next element overwrite; zeros; one
 * element short) against a softmax-sized reference (largest value 0.006, where the old bf16 score
 * max|d|/(1 + |cpu|) ≤ 1e-2 passed zeros); and the RoPE bound of the f64 case, which the f32 table must
 * break. */
static void self_check(int *passed, int *failed)
{
	const float want[4] = {0.006f, 0.0011f, 0.0023f, 0.0004f}, zeros[4] = {0};
	float poison[4], one_nan[4];
	uint16_t want16[4], zeros16[4] = {0}, poison16[4], step1[4], step2[4];
	sora_err e = {0};
	memset(poison, PAR_POISON, sizeof poison);
	memcpy(one_nan, want, sizeof want);
	memset(one_nan + 1, PAR_POISON, sizeof *one_nan);
	memset(poison16, PAR_POISON, sizeof poison16);
	if (sora_from_f32(want16, SORA_BF16, want, 4, &e) < 0) {
		printf("not ok - self-check: %s\n", e.msg);
		(*failed)++;
		return;
	}
	/* The largest value one and two bf16 steps up (the bits of a positive bf16 count its steps). */
	memcpy(step1, want16, sizeof want16), memcpy(step2, want16, sizeof want16);
	step1[0] += 1, step2[0] += 2;
	expect(passed, failed, "an all-zero f32 output",
	       par_compare(PAR_F32, zeros, 4, want, 4, PAR_TOL_ELEM), 0);
	expect(passed, failed, "a NaN-poisoned f32 output",
	       par_compare(PAR_F32, poison, 4, want, 4, PAR_TOL_ELEM), 0);
	expect(passed, failed, "an f32 output right but for one NaN",
	       par_compare(PAR_F32, one_nan, 4, want, 4, PAR_TOL_ELEM), 0);
	expect(passed, failed, "an output one element short",
	       par_compare(PAR_F32, want, 3, want, 4, PAR_TOL_ELEM), 0);
	expect(passed, failed, "an all-zero bf16 output",
	       par_compare(PAR_BF16, zeros16, 4, want16, 4, PAR_BF16_TOL), 0);
	expect(passed, failed, "a NaN-poisoned bf16 output",
	       par_compare(PAR_BF16, poison16, 4, want16, 4, PAR_BF16_TOL), 0);
	expect(passed, failed, "a bf16 output one step off",
	       par_compare(PAR_BF16, step1, 4, want16, 4, PAR_BF16_TOL), 1);
	expect(passed, failed, "a bf16 output two steps off",
	       par_compare(PAR_BF16, step2, 4, want16, 4, PAR_BF16_TOL), 0);
	expect(passed, failed, "the CPU's f64 RoPE table against its bound", sora_rope_table_vs_f64(1), 1);
	expect(passed, failed, "the CPU's f32 RoPE table against the f64 bound", sora_rope_table_vs_f64(0),
	       0);
}

int main(void)
{
	int passed = 0, failed = 0;
	self_check(&passed, &failed);
	int n = sora_cuda_device_count();
	if (n == 0) {
		printf("no CUDA device\n");
		return failed ? 1 : 0;
	}
	for (int d = 0; d < n; d++) {
		char desc[256];
		sora_err e = {0};
		if (sora_cuda_describe(d, desc, sizeof desc, &e) == 0)
			printf("device %d: %s\n", d, desc);
		if (sora_cuda_selftest(d, (size_t)1 << 24, &e) == 0) {
			printf("ok - device %d: saxpy matches the CPU\n", d);
			passed++;
		} else {
			printf("not ok - device %d: %s\n", d, e.msg);
			failed++;
		}
		if (d == 0) {
			sora_ops_parity(&passed, &failed);
			sora_ops_dit_parity(&passed, &failed);
			sora_ops_grad_parity(&passed, &failed);
			sora_ops_optim_parity(&passed, &failed);
			sora_ops_dit_grad_parity(&passed, &failed);
			sora_ops_video_parity(&passed, &failed);
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
