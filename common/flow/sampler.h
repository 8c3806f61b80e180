/* What sora-sample runs between the text encoders and the VAE decoder, as Open-Sora's prepare_api.api_fn
 * does it (opensora/utils/sampling.py, inference.py):
 *
 *   sora_sample_prompt    prompt + ". {fps} FPS. {motion} motion score."   (the inference rule)
 *   sora_sample_plan_init sizes (resolution/aspect table, rounded up to 16), latent frames (4k+1 → k+1),
 *                         the shifted schedule, the guidance switches for the condition type
 *   sora_sample_noise     get_noise: torch's CPU normal draws for a seed
 *   sora_sample_run       pack, condition (mask + reference latent), the denoising loop through the model
 *                         callback, unpack, reference frames put back
 *
 * The callback sees the batch [x; x; x] against the text batch [prompt; neg; neg] (neg = "" by default):
 * the caller encodes those 3B texts (T5 512 tokens, CLIP pooled) and keeps them in the callback's context. */
#ifndef SORA_FLOW_SAMPLER_H
#define SORA_FLOW_SAMPLER_H

#include "../util/err.h"
#include "denoise.h"

#include <stddef.h>
#include <stdint.h>

#define SORA_SAMPLE_MAX_FRAMES 129

/* The inference prompt: trimmed, ending in ".", then " {fps} FPS." unless it already ends in "N FPS.",
 * then " {motion_score} motion score." when motion_score is not NULL ("dynamic", which asks a chat model,
 * is refused). Returns a malloc'd string. */
char *sora_sample_prompt(const char *prompt, int fps, const char *motion_score, sora_err *e);

typedef struct sora_sample_opts {
	const char *resolution;   /* "256px", "768px", ... with aspect_ratio; NULL: height × width */
	const char *aspect_ratio; /* "16:9", "9:16", "1:1", ... */
	int height, width;        /* pixels, when resolution is NULL */
	int num_frames;           /* 4k + 1 up to 129; 1 = an image */
	int num_steps;            /* 50 */
	int shift;                /* 1: shift the schedule by α (or flow_shift) */
	double flow_shift;        /* < 0: α from the resolution and length */
	float guidance;           /* text, 7.5 */
	float guidance_img;       /* image, 3.0 */
	int text_osci, image_osci, scale_temporal_osci; /* 1, 1, 1 */
	sora_cond_type cond;
} sora_sample_opts;

/* The released inference defaults (configs/diffusion/inference/256px.py): 256px 16:9, 129 frames,
 * 50 steps, shift, guidance 7.5 / 3.0 with all oscillations, t2v. */
void sora_sample_opts_default(sora_sample_opts *o);

typedef struct sora_sample_plan {
	int height, width;                          /* pixels, multiples of 16 */
	int num_frames;                             /* output frames */
	int latent_c, latent_t, latent_h, latent_w; /* the noise / latent: 16 × T × 2⌈H/16⌉ × 2⌈W/16⌉ */
	int patch;                                  /* 2 */
	int64_t tokens;                             /* T · latent_h/2 · latent_w/2 */
	int features, cond_features;                /* 64, 68 per token */
	int num_steps;
	float timesteps[1025]; /* num_steps + 1 values, 1 → 0 */
	sora_guidance guidance;
	sora_cond_type cond;
} sora_sample_plan;

/* Validates o (frames 4k+1 and ≤ 129, steps 1..1024, a known resolution / aspect ratio, positive sizes)
 * and fills the plan; every failure names the option. */
int sora_sample_plan_init(sora_sample_plan *p, const sora_sample_opts *o, sora_err *e);

/* The seed of sample k of --num-sample, as scripts/diffusion/inference.py passes it: seed + k, except that
 * a seed of 0 counts as unset there and api_fn then falls back to the option's own seed, 0, for every k.
 * (With no seed at all the reference draws one from Python's random module; sora-sample picks its own.) */
uint64_t sora_sample_seed(uint64_t seed, int k);

/* The reference's output path without extension (inference.py, get_save_path_name):
 * <save_dir>/<image|video>_<resolution>/<prefix><name>, or <prefix><fallback>_<index:04d> when the row has
 * no name, then _<k> for sample k > 0. resolution NULL prints as the reference's f-string does ("None").
 * Fails when the path does not fit in n bytes. */
int sora_sample_save_name(char *buf, size_t n, const char *save_dir, int num_frames, const char *resolution,
			  const char *prefix, const char *name, const char *fallback, int index, int k,
			  sora_err *e);

/* get_noise for B samples from one seed: [B, 16, T, h, w] (allocate B · sora_sample_latent_size). */
int sora_sample_noise(const sora_sample_plan *p, int B, uint64_t seed, float *noise, sora_err *e);
/* Values in one sample's latent: 16 · T · h · w. */
int64_t sora_sample_latent_size(const sora_sample_plan *p);

/* noise [B, 16, T, h, w] → latent [B, 16, T, h, w] (may be the same buffer): the whole loop. refs[b] holds
 * sample b's reference latents for an i2v / v2v condition (NULL or empty: t2v for that sample). */
int sora_sample_run(const sora_sample_plan *p, int B, const float *noise, const sora_cond_ref *refs,
		    sora_flow_model model, void *ctx, float *latent, sora_err *e);

#endif
