/* PyTorch's CPU generator, draw for draw: `torch.Generator("cpu").manual_seed(seed)` followed by
 * `torch.randn(...)` gives the same float32 values here, so a seed starts sampling from the same noise as
 * the official code on CPU.
 *
 * The engine is mt19937 seeded as torch seeds it (the low 32 bits of the seed). torch.randn on a float32
 * tensor takes one of two paths, by size:
 *   - 16 values or more (contiguous): every value first gets a uniform u = (r & 0xffffff)·2⁻²⁴ from one
 *     32-bit draw, then each block of 16 becomes 8 Box–Muller pairs (u1 = 1 − data[j], u2 = data[j+8]);
 *     when the size is not a multiple of 16 the last 16 values are drawn again and transformed again.
 *     torch's AVX2 kernels (what its x86-64 builds run on an AVX2 machine) evaluate log, sin and cos with
 *     the Cephes polynomials of avx_mathfun.h in float32, compiled with -mfma so that GCC fuses some of
 *     the multiply-adds; those are reproduced operation for operation, fusions included.
 *   - fewer than 16: one double Box–Muller normal per value from two 53-bit uniforms (each from two
 *     32-bit draws), r = √(−2·log(1 − u2)), θ = 2π·u1, the sine half cached in the generator for the next
 *     call, as torch's normal_distribution<double> does.
 */
#ifndef SORA_FLOW_TORCH_RNG_H
#define SORA_FLOW_TORCH_RNG_H

#include "../util/err.h"

#include <stdint.h>

typedef struct sora_torch_rng {
	uint32_t mt[624];
	int idx;
	int has_next_normal; /* the cached second value of the last double Box–Muller pair */
	double next_normal;
} sora_torch_rng;

/* torch.Generator("cpu").manual_seed(seed) (also what torch.manual_seed does to the default generator). */
void sora_torch_rng_seed(sora_torch_rng *g, uint64_t seed);
/* One 32-bit draw (torch's random()) and one 64-bit draw (random64(): first draw in the high half). */
uint32_t sora_torch_rng_u32(sora_torch_rng *g);
uint64_t sora_torch_rng_u64(sora_torch_rng *g);

/* torch.randn(n, dtype=float32, generator=g) into out. */
void sora_torch_randn(sora_torch_rng *g, float *out, int64_t n);

/* torch.rand(n, dtype=float32, generator=g): one 32-bit draw per value, (r & 0xffffff)·2⁻²⁴. */
void sora_torch_rand(sora_torch_rng *g, float *out, int64_t n);

/* Open-Sora's sampling.get_noise(num_samples, height, width, num_frames, seed, patch_size, channel) on CPU in
 * float32: [num_samples, channel, num_frames, patch·⌈height/16⌉, patch·⌈width/16⌉] normal values from a
 * fresh generator seeded with seed. *n receives the element count when out is NULL (a size query). */
int sora_get_noise(float *out, int64_t *n, int num_samples, int height, int width, int num_frames,
		   uint64_t seed, int patch_size, int channel, sora_err *e);

#endif
