#include "tokenizer_clip.h"

#include "text_clean.h"

#include "../util/file.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* transformers reads merges.txt lines 1 .. 49152 − 256 − 2 (the first line is "#version"). */
#define MAX_MERGES (49152 - 256 - 2)

/* String → int, open addressing; keys are owned. */
typedef struct strmap {
	char **keys;
	int *vals;
	size_t cap; /* a power of two */
} strmap;

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static int map_init(strmap *m, size_t n)
{
	m->cap = 1;
	while (m->cap < 2 * n)
		m->cap <<= 1;
	m->keys = calloc(m->cap, sizeof *m->keys);
	m->vals = calloc(m->cap, sizeof *m->vals);
	return m->keys && m->vals ? 0 : -1;
}

/* The value of key s[0..n), or -1. */
static int map_get(const strmap *m, const char *s, size_t n)
{
	for (size_t i = fnv1a(s, n) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->keys[i])
			return -1;
		if (!strncmp(m->keys[i], s, n) && !m->keys[i][n])
			return m->vals[i];
	}
}

/* Adds a key (kept first when repeated). The map is sized so that it never fills. */
static int map_put(strmap *m, const char *s, int val)
{
	size_t n = strlen(s), i = fnv1a(s, n) & (m->cap - 1);
	for (; m->keys[i]; i = (i + 1) & (m->cap - 1))
		if (!strcmp(m->keys[i], s))
			return 0;
	if (!(m->keys[i] = strdup(s)))
		return -1;
	m->vals[i] = val;
	return 0;
}

static void map_free(strmap *m)
{
	for (size_t i = 0; m->keys && i < m->cap; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->vals);
}

struct sora_clip_tok {
	strmap vocab;          /* byte-level token → id */
	strmap merges;         /* "a b" → rank */
	char byte_sym[256][3]; /* GPT-2's bytes_to_unicode, as UTF-8 */
};

static void bytes_to_unicode(sora_clip_tok *t)
{
	int n = 0;
	for (int b = 0; b < 256; b++) {
		int printable =
		    (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
		int cp = printable ? b : 256 + n++;
		utf8proc_uint8_t buf[4] = {0};
		utf8proc_encode_char(cp, buf);
		memcpy(t->byte_sym[b], buf, 3);
	}
}

int sora_clip_tok_load(sora_clip_tok **out, const char *dir, sora_err *e)
{
	char path[4096];
	char *text = NULL;
	cJSON *vocab = NULL;
	sora_clip_tok *t = calloc(1, sizeof *t);
	*out = NULL;
	CHECK_ALLOC(e, t);
	bytes_to_unicode(t);

	snprintf(path, sizeof path, "%s/vocab.json", dir);
	TRY((text = sora_read_file(path, 64 << 20, "tokenizer file", NULL, e)) ? 0 : -1);
	vocab = cJSON_Parse(text);
	CHECK(e, cJSON_IsObject(vocab), "%s: not a JSON object", path);
	CHECK_ALLOC(e, map_init(&t->vocab, (size_t)cJSON_GetArraySize(vocab)) == 0);
	for (const cJSON *it = vocab->child; it; it = it->next) {
		CHECK(e, cJSON_IsNumber(it) && it->valuedouble >= 0 && it->valuedouble < 1e9,
		      "%s: '%s' has no id", path, it->string);
		CHECK_ALLOC(e, map_put(&t->vocab, it->string, it->valueint) == 0);
	}
	CHECK(e,
	      map_get(&t->vocab, "<|startoftext|>", 15) == SORA_CLIP_BOS &&
		  map_get(&t->vocab, "<|endoftext|>", 13) == SORA_CLIP_EOS,
	      "%s: not the CLIP vocabulary (<|startoftext|> and <|endoftext|> are not 49406 and 49407)",
	      path);
	cJSON_Delete(vocab);
	vocab = NULL;
	free(text);

	snprintf(path, sizeof path, "%s/merges.txt", dir);
	TRY((text = sora_read_file(path, 64 << 20, "tokenizer file", NULL, e)) ? 0 : -1);
	CHECK_ALLOC(e, map_init(&t->merges, MAX_MERGES) == 0);
	char *line = strchr(text, '\n'); /* skip "#version: ..." */
	for (int rank = 0; line && rank < MAX_MERGES; rank++) {
		line++;
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (!*line)
			break;
		char *sp = strchr(line, ' ');
		CHECK(e, sp && sp > line && sp[1] && !strchr(sp + 1, ' '), "%s:%d: not a merge \"a b\"", path,
		      rank + 2);
		CHECK_ALLOC(e, map_put(&t->merges, line, rank) == 0);
		line = nl;
	}
	free(text);
	*out = t;
	return 0;
fail:
	cJSON_Delete(vocab);
	free(text);
	sora_clip_tok_free(t);
	return -1;
}

void sora_clip_tok_free(sora_clip_tok *t)
{
	if (!t)
		return;
	map_free(&t->vocab);
	map_free(&t->merges);
	free(t);
}

typedef struct ids {
	int *v;
	int n, cap;
} ids;

static int ids_push(ids *a, int id)
{
	if (a->n == a->cap) {
		int cap = a->cap * 2 + 64;
		int *v = realloc(a->v, (size_t)cap * sizeof *v);
		if (!v)
			return -1;
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = id;
	return 0;
}

/* Byte-level BPE of one pre-token (its UTF-8 bytes). Symbols are spans of the mapped string
 * `sym(b0) sym(b1) ... </w>`; merging two neighbours joins their spans. */
static int bpe(const sora_clip_tok *t, const char *tok, size_t len, ids *out, sora_err *e)
{
	char *s = malloc(len * 2 + 5), *key = malloc(len * 2 + 6);
	int *start = malloc((len + 1) * sizeof *start), n = 0;
	size_t k = 0;
	CHECK_ALLOC(e, s && key && start);
	for (size_t i = 0; i < len; i++) {
		const char *u = t->byte_sym[(unsigned char)tok[i]];
		start[n++] = (int)k;
		size_t ul = strlen(u);
		memcpy(s + k, u, ul);
		k += ul;
	}
	memcpy(s + k, "</w>", 5);
	start[n] = (int)k + 4; /* start[i + 1] ends symbol i */
	for (;;) {
		int best = -1, best_rank = 0;
		for (int i = 0; i + 1 < n; i++) {
			int la = start[i + 1] - start[i], lb = start[i + 2] - start[i + 1];
			memcpy(key, s + start[i], (size_t)la);
			key[la] = ' ';
			memcpy(key + la + 1, s + start[i + 1], (size_t)lb);
			int r = map_get(&t->merges, key, (size_t)la + 1 + (size_t)lb);
			if (r >= 0 && (best < 0 || r < best_rank))
				best = i, best_rank = r;
		}
		if (best < 0)
			break;
		/* Merge every occurrence of the pair, left to right, as transformers does. */
		int a0 = start[best], la = start[best + 1] - a0, lb = start[best + 2] - start[best + 1];
		int m = 0;
		for (int i = 0; i < n; m++) {
			int match = i + 1 < n && start[i + 1] - start[i] == la &&
				    start[i + 2] - start[i + 1] == lb &&
				    !memcmp(s + start[i], s + a0, (size_t)la + (size_t)lb);
			start[m] = start[i];
			i += match ? 2 : 1;
		}
		start[m] = start[n];
		n = m;
	}
	for (int i = 0; i < n; i++) {
		int id = map_get(&t->vocab, s + start[i], (size_t)(start[i + 1] - start[i]));
		CHECK(e, id >= 0, "BPE symbol '%.*s' is not in the vocabulary", start[i + 1] - start[i],
		      s + start[i]);
		CHECK_ALLOC(e, ids_push(out, id) == 0);
	}
	free(s);
	free(key);
	free(start);
	return 0;
fail:
	free(s);
	free(key);
	free(start);
	return -1;
}

static int is_letter(int32_t c)
{
	utf8proc_category_t k = utf8proc_category(c);
	return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO;
}

static int is_number(int32_t c)
{
	utf8proc_category_t k = utf8proc_category(c);
	return k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO;
}

/* Does s[i..] start with the ASCII string lit (case-insensitively, as the pattern is IGNORECASE)? */
static int starts(const sora_u32 *s, int i, const char *lit)
{
	for (; *lit; lit++, i++)
		if (i >= s->n || s->v[i] > 0x7f || (s->v[i] | 0x20) != (*lit | 0x20))
			return 0;
	return 1;
}

/* One cleaned piece of text: CLIP's pattern
 * <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 * applied as re.findall, then BPE on each match, until `limit` ids are out (the rest would be truncated
 * away, and BPE is quadratic in a word's length, so a huge prompt must not be worked through). */
static int encode_piece(const sora_clip_tok *t, const sora_u32 *s, int limit, ids *out, sora_err *e)
{
	static const char *const lits[] = {
	    "<|startoftext|>", "<|endoftext|>", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
	char *buf = malloc((size_t)s->n * 4 + 1);
	CHECK_ALLOC(e, buf);
	for (int i = 0; i < s->n && out->n < limit;) {
		int j = i;
		size_t lit = 0;
		for (; lit < sizeof lits / sizeof *lits; lit++)
			if (starts(s, i, lits[lit])) {
				j = i + (int)strlen(lits[lit]);
				break;
			}
		if (lit < 2) { /* the literal special tokens keep their ids (transformers' bpe cache) */
			CHECK_ALLOC(e, ids_push(out, lit ? SORA_CLIP_EOS : SORA_CLIP_BOS) == 0);
			i = j;
			continue;
		}
		if (j == i && is_letter(s->v[i]))
			while (j < s->n && is_letter(s->v[j]))
				j++;
		else if (j == i && is_number(s->v[i]))
			j = i + 1;
		else if (j == i && !sora_is_space(s->v[i]))
			while (j < s->n && !sora_is_space(s->v[j]) && !is_letter(s->v[j]) &&
			       !is_number(s->v[j]))
				j++;
		if (j == i) {
			i++;
			continue;
		}
		size_t len = 0;
		for (int k = i; k < j; k++)
			len += (size_t)utf8proc_encode_char(s->v[k], (utf8proc_uint8_t *)buf + len);
		TRY(bpe(t, buf, len, out, e));
		i = j;
	}
	free(buf);
	return 0;
fail:
	free(buf);
	return -1;
}

int sora_clip_tok_encode(const sora_clip_tok *t, const char *text, int max_len, int *out_ids, int *num_tokens,
			 sora_err *e)
{
	ids all = {0};
	sora_u32 piece = {0};
	CHECK(e, max_len >= 2, "max length %d is below 2", max_len);
	/* The whole text, though encoding may stop early: a row is rejected for any bad byte. */
	TRY(sora_utf8_check(text, strlen(text), e));
	const char *chunk = text;
	for (const char *p = text; all.n < max_len - 2; p++) {
		int special = !strncmp(p, "<|startoftext|>", 15) ? SORA_CLIP_BOS
			      : !strncmp(p, "<|endoftext|>", 13) ? SORA_CLIP_EOS
								 : -1;
		if (special < 0 && *p)
			continue;
		if (p > chunk) {
			piece.n = 0;
			TRY(sora_u32_from_utf8(&piece, chunk, (size_t)(p - chunk), e));
			TRY(sora_ftfy_fix(&piece, e));
			TRY(sora_clip_normalize(&piece, e));
			TRY(encode_piece(t, &piece, max_len - 2, &all, e));
		}
		if (!*p)
			break;
		CHECK_ALLOC(e, ids_push(&all, special) == 0);
		p += special == SORA_CLIP_BOS ? 14 : 12;
		chunk = p + 1;
	}
	int keep = all.n < max_len - 2 ? all.n : max_len - 2;
	out_ids[0] = SORA_CLIP_BOS;
	for (int i = 0; i < keep; i++)
		out_ids[i + 1] = all.v[i];
	out_ids[keep + 1] = SORA_CLIP_EOS;
	*num_tokens = keep + 2;
	for (int i = keep + 2; i < max_len; i++)
		out_ids[i] = SORA_CLIP_EOS;
	free(all.v);
	sora_u32_free(&piece);
	return 0;
fail:
	free(all.v);
	sora_u32_free(&piece);
	return -1;
}
