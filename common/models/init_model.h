/* A model folder for tests and the demo: config.json, randomly initialised weights (init_weights.h) and
 * tokenizer files trained on a generated caption corpus (init_corpus.h, init_spm.h, init_bpe.h). */
#ifndef SORA_INIT_MODEL_H
#define SORA_INIT_MODEL_H

#include "../nn/tensor.h"
#include "../util/err.h"
#include "init_weights.h"

#include <stdint.h>

typedef struct sora_init_report {
	int tensors;    /* in model.safetensors */
	int64_t params; /* their elements */
	int pieces;     /* T5: pieces of spiece.model (the <extra_id_N> follow them) */
	int merges;     /* CLIP: BPE merges learned */
} sora_init_report;

/* Writes DIR (created with its parents when missing): config.json (a copy of `config`),
 * model.safetensors, and for T5 spiece.model (about vocab_size − 128 pieces, as t5-v1_1's 32000 of
 * 32128), for CLIP vocab.json and merges.txt (vocab_size must be 49408). Same seed, same bytes. */
int sora_init_model(const sora_init_kind *k, const char *config, const char *dir, uint64_t seed,
		    sora_dtype dtype, sora_init_report *r, sora_err *e);

#endif
