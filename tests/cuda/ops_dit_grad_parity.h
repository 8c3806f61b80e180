#ifndef SORA_OPS_DIT_GRAD_PARITY_H
#define SORA_OPS_DIT_GRAD_PARITY_H

/* Every MMDiT backward op (nn/ops_dit_grad.h) on the current device against its CPU twin, one ok / not ok
 * line per output. */
void sora_ops_dit_grad_parity(int *passed, int *failed);

#endif
