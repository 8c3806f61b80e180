/* numpy's default_rng(seed).random(), draw for draw: SeedSequence(seed) → PCG64 (XSL-RR 128/64) → 53-bit
 * doubles. Open-Sora's Bucket.get_bucket_id decides its keep_prob < 1 buckets with these draws, so a clip
 * lands in the same bucket here as in the official loader. */
#ifndef SORA_FLOW_NP_RNG_H
#define SORA_FLOW_NP_RNG_H

#include <stdint.h>

typedef struct sora_np_rng {
	unsigned __int128 state, inc;
} sora_np_rng;

/* numpy.random.default_rng(seed) for a non-negative integer seed. */
void sora_np_rng_seed(sora_np_rng *g, uint64_t seed);
uint64_t sora_np_rng_u64(sora_np_rng *g);
/* Generator.random(): [0, 1). */
double sora_np_rng_random(sora_np_rng *g);

#endif
