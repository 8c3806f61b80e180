/* What sora-sample does between its command line and its files: the options as the program takes them,
 * checked into the sampler's options, and the whole run (text encoders, references, the loop, the VAE
 * decode, the files) over a prompt or a CSV of prompts. */
#ifndef SORA_INFER_SAMPLE_JOB_H
#define SORA_INFER_SAMPLE_JOB_H

#include "../flow/sampler.h"
#include "../util/err.h"

typedef struct sora_sample_job_args {
	const char *prompt, *csv, *ref, *neg, *cond_type;
	const char *model, *model_config, *vae, *vae_config, *t5, *clip;
	const char *resolution, *aspect_ratio;
	int height, width; /* both > 0: an explicit size instead of the resolution tables */
	int num_frames, num_steps, no_osci, seed, num_sample, fps_save;
	double guidance, guidance_img, flow_shift;
	const char *save_dir, *motion_score;
	const char *replay, *prefix, *out;
} sora_sample_job_args;

/* The sampler options of a; every bad value (size, frames, steps, condition type, seed) is named. */
int sora_sample_job_opts(const sora_sample_job_args *a, sora_sample_opts *o, sora_err *e);

/* Every prompt (--prompt, or each row of --csv) × --num-sample: writes the videos under a->save_dir.
 * quiet: no progress lines. */
int sora_sample_job_run(const sora_sample_job_args *a, const sora_sample_opts *o, int quiet, sora_err *e);

#endif
