/* A small generated English corpus of video captions, the text the tiny tokenizers of test and demo
 * models are trained on: sentences built from fixed word lists by a seeded generator, so the same seed
 * gives the same corpus on every machine. */
#ifndef SORA_INIT_CORPUS_H
#define SORA_INIT_CORPUS_H

#include "../util/err.h"

#include <stdint.h>

typedef struct sora_corpus {
	char **lines; /* n sentences, UTF-8, no newline */
	int n;
} sora_corpus;

int sora_corpus_make(sora_corpus *c, int n, uint64_t seed, sora_err *e);
void sora_corpus_free(sora_corpus *c);

/* The generator behind it (splitmix64): a stream of 64-bit values from a seed. */
uint64_t sora_rng_next(uint64_t *state);

#endif
