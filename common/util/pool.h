/* Ordered parallel map: items come from a producer, are worked on by N threads at once, and reach
 * the consumer in input order. At most `window` items are in flight, so memory is bounded whatever
 * the input size, and -j 1 and -j N give the same output.
 *
 *   next(ctx)            producer, on the calling thread: the next item, or NULL at the end
 *   work(ctx, w, item)   on worker thread w (0 <= w < threads), concurrently, in any order
 *   emit(ctx, item, more) on one consumer thread, strictly in input order; owns the item afterwards;
 *                        `more` says the next item is already done (so output need not be flushed
 *                        yet); returns nonzero to stop early (the producer is not asked again; items
 *                        already taken are still worked on and emitted)
 */
#ifndef SORA_POOL_H
#define SORA_POOL_H

#include "err.h"

typedef struct sora_map_ops {
	void *(*next)(void *ctx);
	void (*work)(void *ctx, int worker, void *item);
	int (*emit)(void *ctx, void *item, int more);
} sora_map_ops;

/* window <= 0 picks max(256, 4 x threads). Returns 0, or -1 when a thread could not be started. */
int sora_ordered_map(int threads, int window, const sora_map_ops *ops, void *ctx, sora_err *e);

#endif
