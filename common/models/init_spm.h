/* Training a SentencePiece model with SentencePiece's own trainer (libsentencepiece_train), for the tiny
 * T5 tokenizers of test and demo models. C face over C++, nothing else. */
#ifndef SORA_INIT_SPM_H
#define SORA_INIT_SPM_H

#include "../util/err.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A unigram model over the n sentences, with T5's special ids (<pad> 0, </s> 1, <unk> 2, no <s>),
 * nmt_nfkc normalisation and at most `pieces` pieces (fewer when the sentences do not hold that many).
 * The serialized ModelProto (spiece.model's bytes) is returned in *model (malloc'd), *len bytes. Single
 * threaded, so the same sentences give the same bytes. */
int sora_spm_train(const char *const *sentences, int n, int pieces, char **model, size_t *len, sora_err *e);

#ifdef __cplusplus
}
#endif

#endif
