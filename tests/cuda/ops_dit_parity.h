#ifndef SORA_OPS_DIT_PARITY_H
#define SORA_OPS_DIT_PARITY_H

#include "../common/compare.h"

/* Every MMDiT op (nn/ops_dit.h) on the current device against its CPU twin, one ok / not ok line each. */
void sora_ops_dit_parity(int *passed, int *failed);

/* The CPU's RoPE table (f64 angles when f64, else f32) at the parity case's shape against the float64
 * reference, under the f64 case's bound: host only, so cuda_check can show without a device that the bound
 * tells the two apart. */
cmp_report sora_rope_table_vs_f64(int f64);

#endif
