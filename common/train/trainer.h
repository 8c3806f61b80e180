/* sora-train's loop (scripts/diffusion/train.py's main): batches from the loader, train_step's forward and
 * backward, global-norm clipping and AdamW over f32 master weights, a log line per step on stderr and in
 * RUN/metrics.jsonl, checkpoints (checkpoint.h) every ckpt_every steps and at the end.
 *
 * Resume is exact: a checkpoint holds the master weights, the moments, the optimizer step, the loader's
 * position and both random streams, so a run stopped after step k and resumed from it takes the same
 * batches and draws, and ends with the same losses and weights bit for bit as the uninterrupted run (on
 * the same number of threads: OpenBLAS's sums depend on it). SIGINT or SIGTERM (Slurm's preemption)
 * finishes the step in flight, saves a checkpoint and returns. */
#ifndef SORA_TRAINER_H
#define SORA_TRAINER_H

#include "../util/err.h"
#include "config.h"

typedef struct sora_trainer_opts {
	const sora_train_config *cfg;
	const char *const *data; /* dataset folders */
	int ndata;
	const char *model, *model_config; /* the weights to start from (ignored when resuming) */
	const char *null_t5, *null_clip;  /* sora-embed files of the empty prompt (needed by dropout) */
	const char *run;                  /* the run folder: checkpoints, metrics.jsonl */
	int resume;                       /* continue from RUN's newest checkpoint, if any */
	int quiet;                        /* no per-step lines on stderr */
} sora_trainer_opts;

/* What a run did, for the caller's summary. */
typedef struct sora_trainer_result {
	int64_t first_step, steps; /* the step it started from (0, or the checkpoint's) and where it ended */
	double first_loss, last_loss;
	int64_t skipped_rows; /* rows the loader left out */
	int interrupted;      /* stopped by a signal (a checkpoint was saved) */
	char last_ckpt[4096];
} sora_trainer_result;

int sora_trainer_run(const sora_trainer_opts *o, sora_trainer_result *r, sora_err *e);

#endif
