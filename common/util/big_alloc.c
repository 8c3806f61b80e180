#include "big_alloc.h"

#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

void *sora_big_alloc(size_t bytes)
{
	if (bytes < 2 * HUGE_PAGE)
		return malloc(bytes ? bytes : 1);
	const size_t whole = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
	void *p = NULL;
	if (posix_memalign(&p, HUGE_PAGE, whole))
		return NULL;
	/* Advice only: without THP (or with it off) the buffer is ordinary memory. */
	(void)madvise(p, whole, MADV_HUGEPAGE);
	return p;
}
