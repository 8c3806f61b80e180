/* The replay behind `sora-train --replay FILE --prefix P --model F --out OUT`: one training step of the
 * MMDiT from stored inputs named as the fixtures name them, written out for comparison with the official
 * code (tests, and users checking a port):
 *
 *   in:  P.x_t [B, L, in], P.t [B], P.in.text_t5 [B, Lt, ctx], P.in.text_clip [B, vec], P.target_v [B, L,
 * in], P.img_ids [B, L, 3], P.txt_ids [B, Lt, 3], P.in.cond [B, L, in + p²] (cond_in models; zeros when
 *        absent), P.guidance [B] (guidance_in models)
 *   out: pred, loss, dloss_dpred, grad.<parameter name> for every parameter, grad_input.{img, txt, y_vec,
 *        cond} (cond only for cond_in models), all F32. */
#ifndef SORA_TRAIN_REPLAY_STEP_H
#define SORA_TRAIN_REPLAY_STEP_H

#include "../util/err.h"

typedef struct sora_train_replay {
	const char *file, *prefix, *model, *model_config, *out;
	int ckpt_double, ckpt_single; /* grad_ckpt_settings: blocks that recompute in the backward */
} sora_train_replay;

/* Runs the step and writes `out`; *loss (may be NULL) gets the loss. */
int sora_train_replay_run(const sora_train_replay *r, double *loss, sora_err *e);

#endif
