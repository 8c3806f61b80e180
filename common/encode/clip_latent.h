/* One row's video latent for the shards: the clip's bucket (Open-Sora's Bucket.get_bucket_id over the
 * frames in the row's range), its frames prepared as the training loader does (clip_frames.h), and the
 * HunyuanVideo VAE's latent of them, z = scale · mean (or scale · (mean + std · ε) when sampling). */
#ifndef SORA_CLIP_LATENT_H
#define SORA_CLIP_LATENT_H

#include "../flow/bucket.h"
#include "../models/vae_hunyuan.h"
#include "../nn/tensor.h"
#include "../util/err.h"

#include <stdint.h>

typedef struct sora_clip_latent {
	sora_bucket_id bucket; /* names point into the sora_bucket */
	int t, h, w;           /* the bucket's frames and pixel size */
	int stride;            /* frame interval of map_target_fps (fps_max 24) */
	int total;             /* frames in the row's range */
	sora_tensor z;         /* [latent_channels, (t − 1)/4 + 1, h/8, w/8] bf16 */
} sora_clip_latent;

typedef struct sora_clip_latent_opts {
	const sora_vae *vae;
	const sora_bucket *buckets;
	uint64_t bucket_seed; /* get_bucket_id's seed (matters only where a keep probability is below 1) */
	int sample;           /* z from mean + std · ε, ε from eps_seed (sora_vae_gaussian) */
	uint64_t eps_seed;
} sora_clip_latent_opts;

/* The latent of path's frames within [start, end). A clip no bucket takes (too short, too small) is an
 * error saying which. */
int sora_clip_latent_make(const sora_clip_latent_opts *o, const char *path, double start, double end,
			  sora_clip_latent *out, sora_err *e);
void sora_clip_latent_free(sora_clip_latent *c);

#endif
