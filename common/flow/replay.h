/* The replay behind `sora-sample --replay FILE --prefix P --out OUT`: the sampling loop run from stored
 * inputs named as in the fixtures, writing every step's model input and prediction, so that sora.c (or
 * any port) can be compared with the official code step by step.
 *
 * Inputs (any float dtype): P.noise [B, 16, T, H, W] (required), P.masks [B, 1, T, H, W] and
 * P.masked_ref [B, 16, T, H, W] (both or neither: neither = t2v), P.timesteps [steps + 1] (absent: the
 * schedule from the options), P.txt [3B, L, D] and P.y_vec [3B, D] for the model callback.
 * Output: stepN.x_in and stepN.pred [3B, tokens, 64] for every step N, x_final [B, 16, T, H, W] (unpacked,
 * before reference frames are put back). All steps are kept in memory until the file is written. */
#ifndef SORA_FLOW_REPLAY_H
#define SORA_FLOW_REPLAY_H

#include "../util/err.h"
#include "sampler.h"

#include <stdint.h>

typedef struct sora_replay {
	int B, C, T, H, W;                 /* the latent */
	float *noise, *masks, *masked_ref; /* masks, masked_ref NULL: no condition */
	float *timesteps;                  /* NULL: not stored */
	int num_steps;                     /* of the stored timesteps */
	float *txt, *y_vec;                /* NULL when not stored */
	int64_t txt_len, txt_dim, y_dim;
} sora_replay;

/* Reads P.* from path; every missing or mis-shaped tensor is an error naming it. */
int sora_replay_load(sora_replay *r, const char *path, const char *prefix, sora_err *e);
void sora_replay_free(sora_replay *r);

/* Runs the loop with the guidance switches of o (and its schedule when P.timesteps is absent) and writes
 * out_path. */
int sora_replay_run(const sora_replay *r, const sora_sample_opts *o, sora_flow_model model, void *ctx,
		    const char *out_path, sora_err *e);

#endif
