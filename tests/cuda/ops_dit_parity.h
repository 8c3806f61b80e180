#ifndef SORA_OPS_DIT_PARITY_H
#define SORA_OPS_DIT_PARITY_H

/* Every MMDiT op (nn/ops_dit.h) on the current device against its CPU twin, one ok / not ok line each. */
void sora_ops_dit_parity(int *passed, int *failed);

#endif
