/* sora-train's checkpoints, in Open-Sora's layout (opensora/utils/ckpt.py): one folder per save inside the
 * run folder, RUN/epoch{E}-global_step{S}/, holding
 *   model.safetensors        the model's weights under their published names, F32 or BF16 (what sora-sample
 *                            --model and Open-Sora's loader read); above shard_bytes cut as Hugging Face and
 *                            ColossalAI cut them: model-00001-of-0000N.safetensors ... and
 *                            model.safetensors.index.json {"metadata": {"total_size"}, "weight_map"};
 *   master.safetensors       the f32 master weights, same names;
 *   optimizer.safetensors    AdamW's exp_avg.<name> and exp_avg_sq.<name> (f32), metadata "step";
 *   state.json               the caller's JSON object (step, epoch, data position, RNG states, config), as
 *                            given (cJSON prints numbers as doubles: keep 64-bit RNG words in strings).
 *
 * Crash safety: a save writes everything into RUN/.tmp-epoch{E}-global_step{S}/, fsyncs each file and the
 * folder, renames the folder into place (exchanging it atomically with an existing folder of the same
 * name where the file system can: Linux's renameat2; elsewhere the old one is renamed aside first) and
 * fsyncs RUN. A folder under its final name is therefore always complete, and a kill at any
 * moment leaves the last complete checkpoint loadable; the hidden .tmp-* folders a killed save leaves are
 * never read and are removed by the next save. Old checkpoints are renamed to a hidden name before they
 * are removed, for the same reason. One process saves into a run folder at a time (rank 0). */
#ifndef SORA_TRAIN_CHECKPOINT_H
#define SORA_TRAIN_CHECKPOINT_H

#include "../nn/tensor.h"
#include "../util/err.h"

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* ColossalAI's size_per_shard=4096 (MB), the size above which model.safetensors is sharded. */
#define SORA_CKPT_SHARD_BYTES ((int64_t)4096 << 20)

/* One parameter: its published name, shape, and the f32 weights the model computes with (what
 * model.safetensors stores; on the CPU usually the master weights themselves). */
typedef struct sora_named_f32 {
	const char *name;
	int ndim;
	int64_t shape[SORA_MAX_DIMS];
	float *data;
} sora_named_f32;

/* Saves RUN/epoch{E}-global_step{S}/ (RUN is created when missing) as described above: params[i].data
 * into the model file in model_dtype (F32, BF16 or F16, rounded to nearest even), master[i], exp_avg[i] and
 * exp_avg_sq[i] (params[i]'s shape each) and state (a JSON object). shard_bytes <= 0 means
 * SORA_CKPT_SHARD_BYTES. Then all but the newest `keep` complete checkpoints of RUN (by step) are removed,
 * never the one just written (keep <= 0: keep all). The folder's path goes to dir_out (may be NULL). */
int sora_ckpt_save(const char *run, int64_t epoch, int64_t step, const sora_named_f32 *params,
		   const float *const *master, const float *const *exp_avg, const float *const *exp_avg_sq,
		   int n, sora_dtype model_dtype, int64_t shard_bytes, const cJSON *state, int keep,
		   char *dir_out, size_t dir_n, sora_err *e);

/* The newest complete checkpoint folder of RUN (by step, then epoch) into dir: 1 when found, 0 when there
 * is none (or no RUN yet). Only folders named epoch{E}-global_step{S} count: hidden .tmp-* never do. */
int sora_ckpt_latest(const char *run, char *dir, size_t n, sora_err *e);

/* Reads the checkpoint folder dir into the caller's buffers: master, exp_avg and exp_avg_sq by params'
 * names and shapes (strict: a tensor missing, of another shape or dtype, or one the params lack is an
 * error naming it and the file), the optimizer's step, and state.json (*state, freed by the caller with
 * cJSON_Delete; state may be NULL). params[i].data is not touched: the caller derives its working weights
 * from master. */
int sora_ckpt_load(const char *dir, const sora_named_f32 *params, float *const *master, float *const *exp_avg,
		   float *const *exp_avg_sq, int n, int64_t *step, cJSON **state, sora_err *e);

#endif
