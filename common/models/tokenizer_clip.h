/* The CLIP tokenizer, as transformers' slow CLIPTokenizer for openai/clip-vit-large-patch14 called with
 * truncation=True, padding="max_length" (what Open-Sora v2 does): the literal `<|startoftext|>` and
 * `<|endoftext|>` split out first; each piece between them cleaned (text_clean.h: ftfy, whitespace,
 * lower-case), split with CLIP's pattern, its UTF-8 bytes mapped through GPT-2's bytes_to_unicode and
 * merged by byte-level BPE with `</w>` on the last symbol; then [49406] + the first max_len − 2 ids +
 * [49407], padded with 49407. Reads vocab.json and merges.txt from the model folder. */
#ifndef SORA_TOKENIZER_CLIP_H
#define SORA_TOKENIZER_CLIP_H

#include "../util/err.h"

#define SORA_CLIP_MAX_LENGTH 77
#define SORA_CLIP_BOS        49406
#define SORA_CLIP_EOS        49407

typedef struct sora_clip_tok sora_clip_tok;

int sora_clip_tok_load(sora_clip_tok **out, const char *dir, sora_err *e);
void sora_clip_tok_free(sora_clip_tok *t);

/* ids[0..max_len) (max_len ≥ 2) of a UTF-8 text; *num_tokens = ids before the padding. Thread-safe. */
int sora_clip_tok_encode(const sora_clip_tok *t, const char *text, int max_len, int *ids, int *num_tokens,
			 sora_err *e);

#endif
