#include "np_rng.h"

#include <stddef.h>

/* SeedSequence's hashing constants (numpy/random/bit_generator.pyx). */
enum {
	POOL = 4,
	XSHIFT = 16,
};
static const uint32_t INIT_A = 0x43b0d7e5u, MULT_A = 0x931e8875u, INIT_B = 0x8b51f9ddu, MULT_B = 0x58f38dedu,
		      MIX_MULT_L = 0xca01f9ddu, MIX_MULT_R = 0x4973f715u;

static uint32_t hashmix(uint32_t value, uint32_t *hash)
{
	value ^= *hash;
	*hash *= MULT_A;
	value *= *hash;
	return value ^ value >> XSHIFT;
}

static uint32_t mix(uint32_t x, uint32_t y)
{
	uint32_t r = MIX_MULT_L * x - MIX_MULT_R * y;
	return r ^ r >> XSHIFT;
}

/* SeedSequence(seed).generate_state(4, uint64): the seed as little-endian 32-bit words mixed into a pool
 * of 4, then 8 words drawn from the pool, paired little-endian into 4 uint64. */
static void seed_sequence(uint64_t seed, uint64_t out[4])
{
	uint32_t entropy[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
	int n_entropy = seed >> 32 ? 2 : 1;
	uint32_t pool[POOL], hash = INIT_A;
	for (int i = 0; i < POOL; i++)
		pool[i] = hashmix(i < n_entropy ? entropy[i] : 0, &hash);
	for (int src = 0; src < POOL; src++)
		for (int dst = 0; dst < POOL; dst++)
			if (src != dst)
				pool[dst] = mix(pool[dst], hashmix(pool[src], &hash));
	uint32_t words[8], h = INIT_B;
	for (int i = 0; i < 8; i++) {
		uint32_t v = pool[i % POOL] ^ h;
		h *= MULT_B;
		v *= h;
		words[i] = v ^ v >> XSHIFT;
	}
	for (int i = 0; i < 4; i++) {
		const uint32_t *pair = words + (ptrdiff_t)2 * i;
		out[i] = (uint64_t)pair[0] | (uint64_t)pair[1] << 32;
	}
}

static const unsigned __int128 PCG_MULT =
    (unsigned __int128)0x2360ed051fc65da4ull << 64 | (unsigned __int128)0x4385df649fccf645ull;

static void pcg_step(sora_np_rng *g)
{
	g->state = g->state * PCG_MULT + g->inc;
}

void sora_np_rng_seed(sora_np_rng *g, uint64_t seed)
{
	uint64_t s[4];
	seed_sequence(seed, s);
	unsigned __int128 init = (unsigned __int128)s[0] << 64 | s[1],
			  seq = (unsigned __int128)s[2] << 64 | s[3];
	g->state = 0;
	g->inc = seq << 1 | 1u;
	pcg_step(g);
	g->state += init;
	pcg_step(g);
}

uint64_t sora_np_rng_u64(sora_np_rng *g)
{
	pcg_step(g);
	uint64_t hi = (uint64_t)(g->state >> 64), lo = (uint64_t)g->state;
	unsigned rot = (unsigned)(hi >> 58);
	uint64_t x = hi ^ lo;
	return rot ? x >> rot | x << (64 - rot) : x;
}

double sora_np_rng_random(sora_np_rng *g)
{
	return (double)(sora_np_rng_u64(g) >> 11) * (1.0 / 9007199254740992.0);
}
