/* Clip-sized buffers (activations, convolution windows: tens of MB to GB) and their reuse pool. */
#ifndef SORA_BIG_ALLOC_H
#define SORA_BIG_ALLOC_H

#include <stddef.h>

/* malloc, but from 2 MiB up 2 MiB-aligned and marked for transparent huge pages (MADV_HUGEPAGE), so that
 * the first touch of each 2 MiB is one page fault instead of 512 and the TLB covers more: on a VM the
 * page faults of fresh activations were a tenth of the VAE encoder's time. The first call also tells glibc
 * to keep freed memory for reuse (every buffer from the heap, none mapped on its own; no trimming of the
 * heap's top below 2 GiB), so that a pass repeated on clips of one size faults no more after the first: a
 * process-wide setting, what PyTorch gets from glibc when GLIBC_TUNABLES raises its mmap threshold (as
 * bench/vae.sh does for both sides). Free with free(). NULL when out of memory. */
void *sora_big_alloc(size_t bytes);

/* A per-thread pool of freed big buffers, for the activations of one forward pass (a model call on its
 * caller's thread): freshly mapped memory costs a page fault on its first touch, which was a third of the
 * VAE's first conv. sora_big_take returns a pooled buffer of at least `bytes` and at most a quarter more,
 * else (after freeing the whole pool) a new one from sora_big_alloc, and its size in *cap; NULL when out of
 * memory. sora_big_give puts it back (NULL is ignored; with the pool full, the smallest buffer is freed).
 * sora_big_drain frees the pool: call it when the pass returns. The bounds keep the peak that of the live
 * buffers: a large buffer must not hold a small activation that lives on (a temporal tile's output) while
 * the next tile allocates large ones afresh (+60 % peak RSS), nor a smaller one as sizes grow (+9 %). */
void *sora_big_take(size_t bytes, size_t *cap);
void sora_big_give(void *p, size_t cap);
void sora_big_drain(void);

#endif
