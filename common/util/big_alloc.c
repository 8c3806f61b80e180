#include "big_alloc.h"

#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

/* glibc maps every buffer above its mmap threshold (32 MiB at most) on its own and unmaps it when freed, and
 * trims the heap's free top above its trim threshold; the next buffer is then mapped afresh and faults on its
 * first touches (16 µs per 4 KiB page on our VM; a huge page is one fault, but 2 MiB for the kernel to zero).
 * Keep freed memory in the heap for the next buffer: no buffer mapped on its own (glibc still maps when the
 * heap cannot grow), and no trimming below 2 GiB of free top. With the threshold at its ceiling instead, each
 * 75 MB activation and 52 MB conv window of a 9×128×128 encode was mapped afresh: 5 % of its time in page
 * faults.
 */
static void keep_freed_memory(void)
{
	(void)mallopt(M_MMAP_MAX, 0);
	(void)mallopt(M_TRIM_THRESHOLD, INT_MAX);
}

void *sora_big_alloc(size_t bytes)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	(void)pthread_once(&once, keep_freed_memory);
	if (bytes < HUGE_PAGE)
		return malloc(bytes ? bytes : 1);
	const size_t whole = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
	void *p = NULL;
	if (posix_memalign(&p, HUGE_PAGE, whole))
		return NULL;
	/* Advice only: without THP (or with it off) the buffer is ordinary memory. */
	(void)madvise(p, whole, MADV_HUGEPAGE);
	return p;
}

#define POOL_MAX 8
static _Thread_local struct pooled {
	void *p;
	size_t cap;
} pool[POOL_MAX];
static _Thread_local int pool_n;

void sora_big_drain(void)
{
	for (int i = 0; i < pool_n; i++)
		free(pool[i].p);
	pool_n = 0;
}

void *sora_big_take(size_t bytes, size_t *cap)
{
	int best = -1;
	for (int i = 0; i < pool_n; i++)
		if (pool[i].cap >= bytes && pool[i].cap <= bytes + bytes / 4 &&
		    (best < 0 || pool[i].cap < pool[best].cap))
			best = i;
	if (best >= 0) {
		void *p = pool[best].p;
		*cap = pool[best].cap;
		pool[best] = pool[--pool_n];
		return p;
	}
	sora_big_drain();
	*cap = bytes;
	return sora_big_alloc(bytes);
}

void sora_big_give(void *p, size_t cap)
{
	if (!p)
		return;
	if (pool_n < POOL_MAX) {
		pool[pool_n++] = (struct pooled){p, cap};
		return;
	}
	int small = 0; /* full: the smallest of the pool and p goes */
	for (int i = 1; i < pool_n; i++)
		small = pool[i].cap < pool[small].cap ? i : small;
	if (pool[small].cap < cap) {
		free(pool[small].p);
		pool[small] = (struct pooled){p, cap};
	} else {
		free(p);
	}
}
