/* sora-train's settings: a JSON object with the reference's training keys (the configs/diffusion/train files
 * of Open-Sora 2.0, the keys that exist there) and ours, each overridable by a flag. An unknown key is an
 * error naming it, so a misspelt setting never silently keeps its default.
 *
 *   lr 1e-5, betas [0.9, 0.999], eps 1e-15, weight_decay 0    HybridAdam(adamw_mode=True) as configured
 *   warmup_steps 0                                           linear warm-up from 0, then constant
 *   grad_clip 1.0                                            global-norm clipping (0: none)
 *   accumulation_steps 1                                     micro-batches per optimizer step
 *   grad_ckpt_settings [0, 0]                                blocks that recompute in the backward
 *   dropout_ratio {"t5": 0.31622777, "clip": 0.31622777}     per sample, to the empty prompt
 *   condition_config {"t2v": 1}                              weights of t2v, i2v_head, i2v_tail, i2v_loop
 *   bucket_config {...}                                      batch sizes per bucket (flow/bucket.h)
 *   batch_size 1                                             for buckets without a bucket_config
 *   seed 1024, epochs 1, max_steps 0 (0: the epochs decide)
 *   ckpt_every 0 (0: only at the end), log_every 1, keep_n_latest 0 (0: all)
 *   model_dtype "bf16"                                       model.safetensors' dtype ("bf16" or "f32") */
#ifndef SORA_TRAIN_CONFIG_H
#define SORA_TRAIN_CONFIG_H

#include "../util/err.h"
#include "train_step.h"

#include <cJSON.h>
#include <stdint.h>

typedef struct sora_train_config {
	double lr, beta1, beta2, eps, weight_decay, grad_clip;
	int64_t warmup_steps, accumulation_steps;
	int64_t grad_ckpt_double, grad_ckpt_single;
	double dropout_t5, dropout_clip;
	double cond_weights[SORA_TRAIN_NCOND];
	cJSON *bucket_config; /* owned; NULL: none */
	int64_t batch_size, seed, epochs, max_steps, ckpt_every, log_every, keep_n_latest;
	int model_bf16;
} sora_train_config;

/* The defaults above. */
void sora_train_config_defaults(sora_train_config *c);
/* Defaults, then the keys of the JSON object in path (NULL: defaults only). */
int sora_train_config_load(sora_train_config *c, const char *path, sora_err *e);
/* The settings as a JSON object in the file's key names (the run's record in state.json). */
cJSON *sora_train_config_json(const sora_train_config *c);
void sora_train_config_free(sora_train_config *c);

#endif
