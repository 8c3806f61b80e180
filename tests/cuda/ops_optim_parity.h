#ifndef SORA_OPS_OPTIM_PARITY_H
#define SORA_OPS_OPTIM_PARITY_H

/* The CUDA optimizer ops (nn/ops_optim.h) on the current device against their CPU twins, one ok / not ok
 * line per output. */
void sora_ops_optim_parity(int *passed, int *failed);

#endif
