/* The text clean-up transformers' CLIPTokenizer applies before BPE: ftfy.fix_text (the steps that change
 * real prompts: HTML entities, mojibake, C1 controls, Latin ligatures, full/half width, curly quotes,
 * line breaks, terminal escapes, control characters, NFC), then `\s+` → " " and strip, then Python's
 * str.lower(). Unicode properties and normalisation come from utf8proc. */
#ifndef SORA_TEXT_CLEAN_H
#define SORA_TEXT_CLEAN_H

#include "../util/err.h"

#include <stdint.h>

/* A code point string. */
typedef struct sora_u32 {
	int32_t *v;
	int n, cap;
} sora_u32;

int sora_u32_push(sora_u32 *s, int32_t cp);
void sora_u32_free(sora_u32 *s);
/* Decodes UTF-8 (invalid UTF-8 is an error) / encodes to a malloc'd UTF-8 string. */
int sora_u32_from_utf8(sora_u32 *s, const char *text, size_t len, sora_err *e);
char *sora_u32_to_utf8(const sora_u32 *s);
/* 0 when text[0..len) is valid UTF-8, else -1 with the byte offset of the first bad sequence. */
int sora_utf8_check(const char *text, size_t len, sora_err *e);

/* ftfy.fix_text with its default configuration, in place. */
int sora_ftfy_fix(sora_u32 *s, sora_err *e);
/* CLIP's whitespace_clean (Unicode \s runs → one space, stripped) then lower(), in place. */
int sora_clip_normalize(sora_u32 *s, sora_err *e);

/* Python's str.isspace() / Unicode White_Space. */
int sora_is_space(int32_t cp);

#endif
