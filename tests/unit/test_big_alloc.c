/* Big buffers: the pool's reuse within the size bound, a miss empties the pool, a full pool keeps the
 * largest; huge-page alignment; glibc keeping freed memory in its heap. */
#include "util/big_alloc.h"

#include <criterion/criterion.h>
#include <malloc.h>
#include <stdint.h>
#include <string.h>

#define MB ((size_t)1 << 20)

Test(big_alloc, reuses_within_a_quarter)
{
	size_t cap, cap2;
	char *a = sora_big_take(8 * MB, &cap);
	cr_assert(a);
	cr_expect_eq(cap, 8 * MB);
	memset(a, 1, cap);
	sora_big_give(a, cap);
	char *b = sora_big_take(7 * MB, &cap2); /* 8 ≤ 7 + 7/4: the same buffer */
	cr_expect_eq(b, a);
	cr_expect_eq(cap2, 8 * MB);
	sora_big_give(b, cap2);
	char *c = sora_big_take(4 * MB, &cap); /* 8 > 4 + 1: a new one, and the pool emptied */
	cr_assert(c);
	cr_expect_eq(cap, 4 * MB);
	sora_big_give(c, cap);
	sora_big_drain();
}

Test(big_alloc, full_pool_keeps_the_largest)
{
	void *p[9];
	size_t cap[9];
	for (int i = 0; i < 9; i++) {
		p[i] = sora_big_take((size_t)(i + 1) * 1024, &cap[i]);
		cr_assert(p[i]);
	}
	for (int i = 0; i < 9; i++)
		sora_big_give(p[i], cap[i]); /* the ninth displaces the 1 KiB one */
	size_t got;
	void *q = sora_big_take((size_t)9 * 1024, &got);
	cr_expect_eq(q, p[8]);
	sora_big_give(q, got);
	q = sora_big_take((size_t)2 * 1024, &got);
	cr_expect_eq(q, p[1]);
	sora_big_give(q, got);
	sora_big_give(NULL, 0);
	sora_big_drain();
}

Test(big_alloc, huge_pages_are_aligned)
{
	size_t cap;
	void *a = sora_big_take(6 * MB, &cap);
	cr_assert(a);
	cr_expect_eq((uintptr_t)a % (2 * MB), 0);
	sora_big_give(a, cap);
	sora_big_drain();
}

/* From 2 MiB up; and after the first big buffer, glibc serves every buffer from its heap instead of fresh
 * mappings (whose pages fault again on every first touch), those above its 32 MiB mmap ceiling too. */
Test(big_alloc, freed_memory_is_kept_for_reuse)
{
	void *a = sora_big_alloc(3 * MB);
	cr_assert(a);
	cr_expect_eq((uintptr_t)a % (2 * MB), 0);
	const size_t mapped = mallinfo2().hblkhd;
	void *b = malloc(20 * MB);
	cr_assert(b);
	cr_expect_eq(mallinfo2().hblkhd, mapped, "a 20 MiB buffer was mapped on its own");
	void *c = malloc(80 * MB);
	cr_assert(c);
	cr_expect_eq(mallinfo2().hblkhd, mapped, "an 80 MiB buffer was mapped on its own");
	free(c);
	free(b);
	free(a);
}
