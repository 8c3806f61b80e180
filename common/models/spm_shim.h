/* A thin C face over SentencePiece (C++): load a model, encode text to ids. Nothing else. */
#ifndef SORA_SPM_SHIM_H
#define SORA_SPM_SHIM_H

#include "../util/err.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sora_spm sora_spm;

int sora_spm_load(sora_spm **out, const char *path, sora_err *e);
void sora_spm_free(sora_spm *m);
/* The ids of text[0..len) appended to *ids (realloc'd; *n and *cap updated). Thread-safe. */
int sora_spm_encode(const sora_spm *m, const char *text, size_t len, int **ids, int *n, int *cap,
		    sora_err *e);
int sora_spm_piece_count(const sora_spm *m);

#ifdef __cplusplus
}
#endif

#endif
