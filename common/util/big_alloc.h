/* Clip-sized buffers (activations, convolution windows: tens of MB to GB). */
#ifndef SORA_BIG_ALLOC_H
#define SORA_BIG_ALLOC_H

#include <stddef.h>

/* malloc, but from 4 MiB up 2 MiB-aligned and marked for transparent huge pages (MADV_HUGEPAGE), so that
 * the first touch of each 2 MiB is one page fault instead of 512 and the TLB covers more: on a VM the
 * page faults of fresh activations were a tenth of the VAE encoder's time. Free with free(). NULL when out
 * of memory. */
void *sora_big_alloc(size_t bytes);

#endif
