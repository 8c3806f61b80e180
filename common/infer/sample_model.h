/* The MMDiT as the sampler's model callback (flow/denoise.h sora_flow_model): holds the text batch
 * [prompt; neg; neg] of B samples (T5 states and CLIP pooled vectors, 3B rows) and the position ids, and
 * runs one forward on the 3B copies of x that the guidance batch needs. Each call is timed so that the
 * caller can print progress with an ETA. */
#ifndef SORA_INFER_SAMPLE_MODEL_H
#define SORA_INFER_SAMPLE_MODEL_H

#include "../models/mmdit.h"
#include "../util/err.h"

#include <stdint.h>

typedef struct sora_sample_model {
	sora_mmdit *m;
	int n;                /* rows of the batch: 3B */
	int64_t Lt;           /* text tokens */
	const float *txt;     /* [n, Lt, context_in_dim] */
	const float *y_vec;   /* [n, vec_in_dim] */
	int T, h, w;          /* the token grid: latent frames, latent H / patch, latent W / patch */
	float *img_ids;       /* [n, T·h·w, 3] */
	float *txt_ids;       /* [n, Lt, 3] zeros */
	float *ts;            /* [n] */
	int num_steps;        /* for the progress line; 0: none */
	int quiet;            /* no progress line */
	double t0, last_call; /* seconds: start of the loop, the last call's duration */
} sora_sample_model;

/* Checks the text widths against the model and builds the ids for a latent of T × (h·p) × (w·p). */
int sora_sample_model_init(sora_sample_model *s, sora_mmdit *m, int n, int64_t Lt, const float *txt,
			   int64_t txt_dim, const float *y_vec, int64_t y_dim, int T, int h, int w,
			   sora_err *e);
void sora_sample_model_free(sora_sample_model *s);

/* sora_flow_model over a sora_sample_model (ctx); prints "step i/N ... ETA" on stderr unless quiet. */
int sora_sample_model_call(void *ctx, int step, int n, float t, const float *img, const float *cond,
			   float *pred, sora_err *e);

#endif
