/* One training step of Open-Sora 2.0 (scripts/diffusion/train.py prepare_inputs + run_iter) on a batch of
 * stored latents and text embeddings: conditioning dropout, the visual condition, the logit-normal t with
 * the resolution/length shift, x_t and the velocity target, the model's forward and backward, the loss.
 *
 * Random draws: t and the noise x_1 come from a torch-compatible generator in the reference's order
 * (randn(B), then randn_like(x_0)), so a batch seeded as the fixture's reproduces the official step; the
 * dropout and condition-type draws from a separate splitmix64 stream. Both are part of the trainer's saved
 * state, so a resumed run draws what the uninterrupted one would. */
#ifndef SORA_TRAIN_STEP_H
#define SORA_TRAIN_STEP_H

#include "../flow/torch_rng.h"
#include "../models/mmdit.h"
#include "../models/mmdit_train.h"
#include "../util/err.h"

#include <stdint.h>

/* A batch as the loader gives it (f32, batch-major). */
typedef struct sora_train_batch {
	int B, C, T, H, W;   /* latent [B, C, T, H, W] */
	const float *latent; /* the VAE's scaled z */
	int Lt, Dt;
	const float *t5; /* [B, Lt, Dt] */
	int Dc;
	const float *clip; /* [B, Dc] */
} sora_train_batch;

/* condition_config weights, in this order (the reference's t2v, i2v_head, i2v_tail, i2v_loop). */
enum { SORA_TRAIN_T2V, SORA_TRAIN_I2V_HEAD, SORA_TRAIN_I2V_TAIL, SORA_TRAIN_I2V_LOOP, SORA_TRAIN_NCOND };

typedef struct sora_train_step_opts {
	double dropout_t5, dropout_clip; /* per sample, independent: replaced by the null embeddings */
	const float *null_t5;            /* [null_t5_len, Dt]: T5 of the empty prompt (dropout_t5 > 0) */
	int null_t5_len;
	const float *null_clip;                /* [Dc]: CLIP of the empty prompt (dropout_clip > 0) */
	double cond_weights[SORA_TRAIN_NCOND]; /* all 0: t2v (a cond_in model still gets zeros) */
} sora_train_step_opts;

typedef struct sora_train_rng {
	sora_torch_rng torch; /* t and noise */
	uint64_t aux;         /* splitmix64 state: dropout and condition types */
} sora_train_rng;

/* Buffers sized by the largest batch seen. */
typedef struct sora_train_scratch {
	size_t cap_x, cap_txt, cap_vec, cap_cond, cap_ids, cap_txt_ids, cap_lat;
	float *x0, *x1, *xt, *target, *pred, *dpred;
	float *txt, *vec, *cond, *img_ids, *txt_ids, *masks, *masked;
	float t[64], normal[64];
} sora_train_scratch;

void sora_train_scratch_free(sora_train_scratch *s);

/* Adds the batch's gradients into grad (the caller zeroes it once per optimizer step) and returns the
 * loss in *loss. counts (may be NULL) += the condition types drawn, per type. */
int sora_train_step(sora_mmdit *m, sora_mmdit *grad, sora_mmdit_tape *tp, const sora_train_batch *b,
		    const sora_train_step_opts *o, sora_train_rng *rng, sora_train_scratch *s, double *loss,
		    int64_t *counts, sora_err *e);

/* A condition type drawn with weights [SORA_TRAIN_NCOND] (t2v when they are all 0). */
int sora_train_draw_cond(sora_train_rng *r, const double *weights);
/* A uniform double in [0, 1) from the splitmix64 stream. */
double sora_train_rng_uniform(sora_train_rng *r);

#endif
