/* Open-Sora 2.0's sampler (sampling.py I2VDenoiser, inference.py prepare_inference_condition): shifted
 * Euler steps over packed latent tokens with three-way classifier-free guidance, in the reference's
 * float32 order of operations. The model is a callback, so the loop runs (and is tested) without the
 * MMDiT.
 *
 * Each step the model sees 3B copies of the current x: [x; x; x] with cond [cond; cond; 0] and the text
 * batch [prompt; neg; neg] (the callback's context holds the text), and returns c, u, u2:
 *     v = u2 + ig·(u − u2) + tg·(c − u),   x += (t_next − t)·v
 * tg, ig: the text and image guidance; with oscillation, steps ≥ 10 that are odd use 1.0; with the temporal
 * ramp (i2v only) ig > 1 becomes linspace(1, linspace(ig, 1, steps + 1)[i], T)[f] for latent frame f. */
#ifndef SORA_FLOW_DENOISE_H
#define SORA_FLOW_DENOISE_H

#include "../util/err.h"

#include <stdint.h>

typedef enum {
	SORA_COND_T2V,
	SORA_COND_I2V_HEAD,
	SORA_COND_I2V_TAIL,
	SORA_COND_I2V_LOOP,
	SORA_COND_V2V_HEAD,
	SORA_COND_V2V_TAIL,
	SORA_COND_V2V_HEAD_EASY,
	SORA_COND_V2V_TAIL_EASY,
} sora_cond_type;

/* "t2v", "i2v_head", ... (the reference's names); an unknown name is an error listing them. */
int sora_cond_type_parse(const char *name, sora_cond_type *out, sora_err *e);
const char *sora_cond_type_name(sora_cond_type c);
/* Image conditions (i2v_*) use the temporal image-guidance ramp; video conditions do not. */
int sora_cond_is_i2v(sora_cond_type c);

/* The reference latents of one sample, each [C, frames, H, W]: head (i2v_head, i2v_loop, and the one
 * reference video of v2v_*) and tail (i2v_tail, i2v_loop). i2v uses frame 0 of head / the last frame of
 * tail; v2v_head the first 9 (17 for *_easy) frames of head, v2v_tail its last 9 (17): 8 + 1 for the
 * causal VAE. */
typedef struct sora_cond_ref {
	const float *head, *tail;
	int head_frames, tail_frames;
} sora_cond_ref;

/* prepare_inference_condition for B samples of a [C, T, H, W] latent: masks [B, 1, T, H, W] (1 on the
 * conditioned latent frames) and masked [B, C, T, H, W] (the reference there, 0 elsewhere). A sample
 * whose ref is NULL (or whose latent has one frame) stays unconditioned, as t2v. */
int sora_prepare_condition(float *masks, float *masked, int B, int C, int T, int H, int W,
			   sora_cond_type type, const sora_cond_ref *refs, sora_err *e);

/* pack(cat(masks, masked)) → cond [B, T·(H/p)·(W/p), (1 + C)·p·p], the model's cond_in input. */
int sora_pack_condition(float *cond, const float *masks, const float *masked, int B, int C, int T, int H,
			int W, int p, sora_err *e);

/* The model: pred [n, L, F] for img [n, L, F] at timestep t (the same for all n), cond [n, L, Fc]; step is
 * the step index (for logging and for tests that replay stored predictions). */
typedef int (*sora_flow_model)(void *ctx, int step, int n, float t, const float *img, const float *cond,
			       float *pred, sora_err *e);

typedef struct sora_guidance {
	float text;  /* guidance, 7.5 */
	float image; /* guidance_img, 3.0 */
	int text_osci, image_osci;
	int temporal_ramp; /* scale_temporal_osci and an i2v condition */
} sora_guidance;

/* I2VDenoiser.denoise: x [B, L, F] holds the packed start noise and receives the result; L = T·tokens per
 * frame; cond [B, L, Fc] (NULL: zeros, t2v); timesteps[0..num_steps]. Runs steps first_step..num_steps−1
 * (0: the whole loop; later: resume from the x of that step). */
int sora_denoise(float *x, int B, int T, int64_t L, int F, const float *cond, int Fc, const float *timesteps,
		 int num_steps, int first_step, const sora_guidance *g, sora_flow_model model, void *ctx,
		 sora_err *e);

/* DistilledDenoiser.denoise (the FLUX text-to-image step of t2i2v): one model call per step on the B
 * samples alone, no guidance batch (a guidance-distilled model takes its guidance as an input: keep it in
 * the callback's context), cond NULL; x += (t_next − t)·pred. */
int sora_denoise_distilled(float *x, int B, int64_t L, int F, const float *timesteps, int num_steps,
			   sora_flow_model model, void *ctx, sora_err *e);

/* After unpacking, api_fn puts the reference latent frames back: head → latent frame 0 (i2v_head,
 * i2v_loop), tail → the last (i2v_tail, i2v_loop), also for a one-frame latent (an image), as the reference
 * does. x is [B, C, T, H, W]; every sample with a ref gets its own (the reference patches only sample 0,
 * which is the same for one sample). */
void sora_restore_ref_frames(float *x, int B, int C, int T, int H, int W, sora_cond_type type,
			     const sora_cond_ref *refs);

/* get_oscillation_gs(g, i): g on the first 10 steps and on even steps, else 1.0. */
float sora_oscillation(float g, int step);

#endif
