#ifndef SORA_OPS_GRAD_PARITY_H
#define SORA_OPS_GRAD_PARITY_H

/* Every backward op (nn/ops_grad.h) on the current device against its CPU twin, one ok / not ok line per
 * gradient. */
void sora_ops_grad_parity(int *passed, int *failed);

#endif
