/* The T5 tokenizer, as transformers' slow T5Tokenizer(legacy=True) called with truncation=True,
 * padding="max_length" (what Open-Sora v2 does): SentencePiece ids of the text, the literal special
 * tokens `</s>` `<pad>` `<unk>` `<extra_id_N>` split out and mapped to their ids first, the first
 * max_len − 1 ids kept, `</s>` = 1 appended unless the ids already end with it, then 0-padded. */
#ifndef SORA_TOKENIZER_T5_H
#define SORA_TOKENIZER_T5_H

#include "../util/err.h"

#define SORA_T5_MAX_LENGTH 512

typedef struct sora_t5_tok sora_t5_tok;

/* Loads DIR/spiece.model. */
int sora_t5_tok_load(sora_t5_tok **out, const char *dir, sora_err *e);
void sora_t5_tok_free(sora_t5_tok *t);

/* ids[0..max_len) of a UTF-8 text; *num_tokens = ids before the padding. Invalid UTF-8 is an error.
 * Thread-safe. */
int sora_t5_tok_encode(const sora_t5_tok *t, const char *text, int max_len, int *ids, int *num_tokens,
		       sora_err *e);

#endif
