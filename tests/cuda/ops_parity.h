#ifndef SORA_OPS_PARITY_H
#define SORA_OPS_PARITY_H

/* Runs every CUDA op against its CPU twin on the current device, printing one ok / not ok line each. */
void sora_ops_parity(int *passed, int *failed);

#endif
