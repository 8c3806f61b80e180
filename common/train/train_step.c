#include "train_step.h"

#include "../flow/denoise.h"
#include "../flow/pack.h"
#include "../flow/schedule.h"
#include "../flow/train.h"

#include <stdlib.h>
#include <string.h>

void sora_train_scratch_free(sora_train_scratch *s)
{
	float *bufs[] = {s->x0,  s->x1,   s->xt,      s->target,  s->pred,  s->dpred, s->txt,
			 s->vec, s->cond, s->img_ids, s->txt_ids, s->masks, s->masked};
	for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
		free(bufs[i]);
	memset(s, 0, sizeof *s);
}

/* Each of the count buffers holds at least n floats (grown together, never shrunk; *cap tracks them). */
static int fit(float **const *bufs, int count, size_t *cap, size_t n, sora_err *e)
{
	if (n <= *cap)
		return 0;
	for (int i = 0; i < count; i++) {
		float *q = realloc(*bufs[i], n * sizeof *q);
		CHECK_ALLOC(e, q);
		*bufs[i] = q;
	}
	*cap = n;
	return 0;
fail:
	return -1;
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

double sora_train_rng_uniform(sora_train_rng *r)
{
	return (double)(splitmix64(&r->aux) >> 11) * 0x1p-53;
}

int sora_train_draw_cond(sora_train_rng *r, const double *w)
{
	double total = 0;
	for (int i = 0; i < SORA_TRAIN_NCOND; i++)
		total += w[i];
	if (total <= 0)
		return SORA_TRAIN_T2V;
	double u = sora_train_rng_uniform(r) * total;
	for (int i = 0; i < SORA_TRAIN_NCOND; i++) {
		if (u < w[i])
			return i;
		u -= w[i];
	}
	return SORA_TRAIN_NCOND - 1; /* u landed on the rounding edge of the last weight */
}

/* The text inputs after dropout: each sample's T5 rows and CLIP vector, or the empty prompt's. The null
 * T5 states are cut to Lt rows, or extended by repeating their last row (the reference's right extension
 * when seq_align padding made txt longer). */
static int text_inputs(const sora_train_batch *b, const sora_train_step_opts *o, sora_train_rng *r,
		       sora_train_scratch *s, sora_err *e)
{
	const size_t row = (size_t)b->Dt;
	for (int i = 0; i < b->B; i++) {
		float *txt = s->txt + (size_t)i * b->Lt * row, *vec = s->vec + (size_t)i * b->Dc;
		const int drop_t5 = o->dropout_t5 > 0 && sora_train_rng_uniform(r) < o->dropout_t5;
		const int drop_clip = o->dropout_clip > 0 && sora_train_rng_uniform(r) < o->dropout_clip;
		if (drop_t5) {
			CHECK(e, o->null_t5 && o->null_t5_len > 0,
			      "T5 dropout needs the empty prompt's T5 states");
			for (int l = 0; l < b->Lt; l++) {
				const int k = l < o->null_t5_len ? l : o->null_t5_len - 1;
				memcpy(txt + (size_t)l * row, o->null_t5 + (size_t)k * row,
				       row * sizeof *txt);
			}
		} else {
			memcpy(txt, b->t5 + (size_t)i * b->Lt * row, (size_t)b->Lt * row * sizeof *txt);
		}
		if (drop_clip) {
			CHECK(e, o->null_clip, "CLIP dropout needs the empty prompt's CLIP vector");
			memcpy(vec, o->null_clip, (size_t)b->Dc * sizeof *vec);
		} else {
			memcpy(vec, b->clip + (size_t)i * b->Dc, (size_t)b->Dc * sizeof *vec);
		}
	}
	return 0;
fail:
	return -1;
}

/* cond [B, L, (1 + C)·p²]: per sample, the drawn type's mask and reference latent frames, as
 * prepare_visual_condition_causal builds them. The reference frame of i2v_head is the clip's own first
 * latent frame, which the causal VAE encodes from the first pixel frame alone, as the reference encodes
 * it; i2v_tail's is the clip's last latent frame, which also saw the 3 pixel frames before the last (the
 * reference encodes the last frame alone; stored latents have no such frame). */
static int condition(const sora_mmdit_config *c, const sora_train_batch *b, const sora_train_step_opts *o,
		     sora_train_rng *r, sora_train_scratch *s, int64_t *counts, sora_err *e)
{
	static const sora_cond_type types[SORA_TRAIN_NCOND] = {SORA_COND_T2V, SORA_COND_I2V_HEAD,
							       SORA_COND_I2V_TAIL, SORA_COND_I2V_LOOP};
	const int p = c->patch_size, C = b->C, T = b->T, H = b->H, W = b->W;
	const size_t lat = (size_t)C * T * H * W, L = (size_t)T * (H / p) * (W / p),
		     Fc = (size_t)(1 + C) * p * p;
	for (int i = 0; i < b->B; i++) {
		const int k = sora_train_draw_cond(r, o->cond_weights);
		const float *x = b->latent + (size_t)i * lat;
		const sora_cond_ref ref = {.head = x, .tail = x, .head_frames = T, .tail_frames = T};
		if (counts)
			counts[k]++;
		TRY(sora_prepare_condition(s->masks, s->masked, 1, C, T, H, W, types[k], &ref, e));
		TRY(sora_pack_condition(s->cond + (size_t)i * L * Fc, s->masks, s->masked, 1, C, T, H, W, p,
					e));
	}
	return 0;
fail:
	return -1;
}

int sora_train_step(sora_mmdit *m, sora_mmdit *grad, sora_mmdit_tape *tp, const sora_train_batch *b,
		    const sora_train_step_opts *o, sora_train_rng *rng, sora_train_scratch *s, double *loss,
		    int64_t *counts, sora_err *e)
{
	const sora_mmdit_config *c = &m->cfg;
	const int B = b->B, p = c->patch_size;
	CHECK(e, B > 0 && B <= (int)(sizeof s->t / sizeof *s->t), "training step: batch of %d (1 to %zu)", B,
	      sizeof s->t / sizeof *s->t);
	CHECK(e, b->H % p == 0 && b->W % p == 0 && b->C * p * p == c->in_channels,
	      "training step: a [%d, %d, %d, %d] latent does not fit the model (%d input channels, patch %d)",
	      b->C, b->T, b->H, b->W, c->in_channels, p);
	CHECK(e, b->Dt == c->context_in_dim && b->Dc == c->vec_in_dim,
	      "training step: text widths %d and %d, the model takes %d and %d", b->Dt, b->Dc,
	      c->context_in_dim, c->vec_in_dim);
	CHECK(e, !c->guidance_embed, "training a guidance-distilled model (guidance_in) is not supported");
	const size_t L = (size_t)b->T * (b->H / p) * (b->W / p), F = (size_t)c->in_channels,
		     n = (size_t)B * L * F;
	const size_t Fc = (size_t)(1 + b->C) * p * p;
	TRY(fit((float **const[]){&s->x0, &s->x1, &s->xt, &s->target, &s->pred, &s->dpred}, 6, &s->cap_x, n,
		e));
	TRY(fit((float **const[]){&s->txt}, 1, &s->cap_txt, (size_t)B * b->Lt * b->Dt, e));
	TRY(fit((float **const[]){&s->vec}, 1, &s->cap_vec, (size_t)B * b->Dc, e));
	TRY(fit((float **const[]){&s->img_ids}, 1, &s->cap_ids, (size_t)B * L * 3, e));
	TRY(fit((float **const[]){&s->txt_ids}, 1, &s->cap_txt_ids, (size_t)B * b->Lt * 3 + 1, e));
	if (c->cond_embed) {
		TRY(fit((float **const[]){&s->cond}, 1, &s->cap_cond, (size_t)B * L * Fc, e));
		TRY(fit((float **const[]){&s->masks, &s->masked}, 2, &s->cap_lat,
			(size_t)(1 + b->C) * b->T * b->H * b->W, e));
	}
	/* prepare_inputs: t from randn(B), then the noise from randn_like(x_0), from one generator. */
	TRY(sora_pack(s->x0, b->latent, B, b->C, b->T, b->H, b->W, p, e)); /* x_0 [B, L, F] */
	sora_torch_randn(&rng->torch, s->normal, B);
	/* α from the latent's tokens per frame at patch 2 (H·W//4, as train.py computes it for any patch) */
	sora_train_t(s->t, s->normal, B, sora_flow_alpha((int64_t)b->H * b->W / 4, b->T));
	sora_torch_randn(&rng->torch, s->x1, (int64_t)n); /* x_1 [B, L, F] */
	sora_flow_interpolate(s->xt, s->x0, s->x1, s->t, B, (int64_t)(L * F));
	sora_flow_target(s->target, s->x0, s->x1, (int64_t)n);
	sora_img_ids(s->img_ids, B, b->T, b->H / p, b->W / p);
	sora_txt_ids(s->txt_ids, B, b->Lt);
	TRY(text_inputs(b, o, rng, s, e));
	if (c->cond_embed)
		TRY(condition(c, b, o, rng, s, counts, e));
	const sora_mmdit_input in = {.B = B,
				     .L = (int)L,
				     .Lt = b->Lt,
				     .img = s->xt,
				     .img_ids = s->img_ids,
				     .txt = s->txt,
				     .txt_ids = s->txt_ids,
				     .timesteps = s->t,
				     .y_vec = s->vec,
				     .cond = c->cond_embed ? s->cond : NULL,
				     .guidance = NULL};
	TRY(sora_mmdit_train_forward(m, tp, &in, s->pred, e));
	*loss = sora_flow_mse(s->pred, s->target, (int64_t)n, s->dpred);
	TRY(sora_mmdit_backward(m, grad, tp, &in, s->dpred, NULL, e));
	return 0;
fail:
	return -1;
}
