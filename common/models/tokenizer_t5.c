#include "tokenizer_t5.h"

#include "spm_shim.h"
#include "text_clean.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PAD = 0, EOS = 1, UNK = 2, EXTRA_IDS = 100 };

struct sora_t5_tok {
	sora_spm *spm;
	int extra_base; /* <extra_id_N> = extra_base − N: 32099 for a 32000-piece model */
};

int sora_t5_tok_load(sora_t5_tok **out, const char *dir, sora_err *e)
{
	char path[4096];
	sora_t5_tok *t = calloc(1, sizeof *t);
	*out = NULL;
	CHECK_ALLOC(e, t);
	snprintf(path, sizeof path, "%s/spiece.model", dir);
	TRY(sora_spm_load(&t->spm, path, e));
	t->extra_base = sora_spm_piece_count(t->spm) + EXTRA_IDS - 1;
	*out = t;
	return 0;
fail:
	sora_t5_tok_free(t);
	return -1;
}

void sora_t5_tok_free(sora_t5_tok *t)
{
	if (!t)
		return;
	sora_spm_free(t->spm);
	free(t);
}

/* The id of the added token that starts at s, with its length; -1 when none does. */
static int special_at(const sora_t5_tok *t, const char *s, int *len)
{
	static const struct {
		const char *text;
		int id;
	} fixed[] = {{"</s>", EOS}, {"<pad>", PAD}, {"<unk>", UNK}};
	for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
		if (!strncmp(s, fixed[i].text, strlen(fixed[i].text))) {
			*len = (int)strlen(fixed[i].text);
			return fixed[i].id;
		}
	if (strncmp(s, "<extra_id_", 10) != 0)
		return -1;
	int n = 0, k = 10;
	while (s[k] >= '0' && s[k] <= '9' && k < 13)
		n = n * 10 + (s[k++] - '0');
	/* The token list is <extra_id_0>..<extra_id_99>, so no leading zeros and at most two digits. */
	if (k == 10 || s[k] != '>' || n >= EXTRA_IDS || (s[10] == '0' && k > 11))
		return -1;
	*len = k + 1;
	return t->extra_base - n;
}

int sora_t5_tok_encode(const sora_t5_tok *t, const char *text, int max_len, int *ids, int *num_tokens,
		       sora_err *e)
{
	int *all = NULL, n = 0, cap = 0;
	size_t len = strlen(text);
	CHECK(e, max_len >= 1, "max length %d is below 1", max_len);
	TRY(sora_utf8_check(text, len, e));
	/* transformers splits the added tokens out of the text first; each chunk between them goes to
	 * SentencePiece on its own (legacy mode), so each gets its own leading "▁". */
	const char *chunk = text;
	for (const char *p = text;; p++) {
		int slen = 0, id = *p == '<' ? special_at(t, p, &slen) : -1;
		if (id < 0 && *p)
			continue;
		if (p > chunk)
			TRY(sora_spm_encode(t->spm, chunk, (size_t)(p - chunk), &all, &n, &cap, e));
		if (!*p)
			break;
		if (n == cap) {
			cap = cap * 2 + 16;
			int *q = realloc(all, (size_t)cap * sizeof *q);
			CHECK_ALLOC(e, q);
			all = q;
		}
		all[n++] = id;
		p += slen - 1;
		chunk = p + 1;
	}
	int keep = n < max_len - 1 ? n : max_len - 1;
	for (int i = 0; i < keep; i++)
		ids[i] = all[i];
	if (keep == 0 || ids[keep - 1] != EOS)
		ids[keep++] = EOS;
	*num_tokens = keep;
	for (int i = keep; i < max_len; i++)
		ids[i] = PAD;
	free(all);
	return 0;
fail:
	free(all);
	return -1;
}
