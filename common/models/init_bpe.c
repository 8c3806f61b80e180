#include "init_bpe.h"

#include "tokenizer_clip.h"

#include <cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define NBASE 512 /* byte symbols, without and with </w> */

typedef struct word {
	int *sym, n; /* symbol ids */
	long freq;
	char *text; /* for finding repeats */
} word;

typedef struct learner {
	char **syms; /* symbol id → UTF-8 token */
	int nsyms, capsyms;
	word *words;
	int nwords, capwords;
	int (*merges)[2]; /* merge i joined symbols merges[i][0] and merges[i][1] */
	int nmerges;
} learner;

typedef struct pair {
	int a, b;
	long freq;
} pair;

static int add_sym(learner *l, const char *s)
{
	if (l->nsyms == l->capsyms) {
		int c = l->capsyms ? 2 * l->capsyms : 1024;
		char **p = realloc(l->syms, (size_t)c * sizeof *p);
		if (!p)
			return -1;
		l->syms = p;
		l->capsyms = c;
	}
	if (!(l->syms[l->nsyms] = strdup(s)))
		return -1;
	l->nsyms++;
	return 0;
}

/* The 512 base symbols in CLIP's order: bytes_to_unicode's printable bytes first, then the others. */
static int base_syms(learner *l, int byte_id[256])
{
	int order[256], k = 0, extra = 0;
	char cp_of[256][8];
	for (int b = 0; b < 256; b++) {
		int printable =
		    (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
		if (printable)
			order[k++] = b;
	}
	for (int b = 0; b < 256; b++) {
		int printable =
		    (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
		utf8proc_uint8_t buf[8] = {0};
		utf8proc_encode_char(printable ? b : 256 + extra++, buf);
		memcpy(cp_of[b], buf, sizeof buf);
		if (!printable)
			order[k++] = b;
	}
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < 256; i++) {
			char s[16];
			snprintf(s, sizeof s, "%s%s", cp_of[order[i]], pass ? "</w>" : "");
			if (add_sym(l, s) < 0)
				return -1;
			if (!pass)
				byte_id[order[i]] = i;
		}
	return 0;
}

static int add_word(learner *l, const char *s, size_t n, const int byte_id[256])
{
	for (int i = 0; i < l->nwords; i++)
		if (strlen(l->words[i].text) == n && !memcmp(l->words[i].text, s, n)) {
			l->words[i].freq++;
			return 0;
		}
	if (l->nwords == l->capwords) {
		int c = l->capwords ? 2 * l->capwords : 256;
		word *p = realloc(l->words, (size_t)c * sizeof *p);
		if (!p)
			return -1;
		l->words = p;
		l->capwords = c;
	}
	word *w = &l->words[l->nwords];
	*w = (word){.sym = malloc(n * sizeof(int)), .n = (int)n, .freq = 1, .text = strndup(s, n)};
	if (!w->sym || !w->text) {
		free(w->sym);
		free(w->text);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		w->sym[i] = byte_id[(unsigned char)s[i]] + (i + 1 == n ? 256 : 0);
	l->nwords++;
	return 0;
}

/* CLIP's pattern on lower-cased ASCII: [a-z]+ | [0-9] | [^\s a-z 0-9]+ */
static int split_words(learner *l, const char *text, const int byte_id[256])
{
	char buf[1024];
	size_t n = strlen(text) < sizeof buf - 1 ? strlen(text) : sizeof buf - 1;
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)tolower((unsigned char)text[i]);
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)buf[i];
		size_t j = i + 1;
		if (isspace(c)) {
			i++;
			continue;
		}
		if (isalpha(c))
			while (j < n && isalpha((unsigned char)buf[j]))
				j++;
		else if (!isdigit(c))
			while (j < n && !isspace((unsigned char)buf[j]) && !isalnum((unsigned char)buf[j]))
				j++;
		if (add_word(l, buf + i, j - i, byte_id) < 0)
			return -1;
		i = j;
	}
	return 0;
}

static int pair_cmp(const void *x, const void *y)
{
	const pair *p = x, *q = y;
	return p->a != q->a ? (p->a > q->a) - (p->a < q->a) : (p->b > q->b) - (p->b < q->b);
}

/* The most frequent adjacent pair (ties: smaller tokens in byte order); freq 0 when none occurs twice. */
static int best_pair(const learner *l, pair *best, sora_err *e)
{
	size_t np = 0;
	for (int i = 0; i < l->nwords; i++)
		np += (size_t)(l->words[i].n > 1 ? l->words[i].n - 1 : 0);
	pair *all = malloc((np + 1) * sizeof *all);
	CHECK_ALLOC(e, all);
	np = 0;
	for (int i = 0; i < l->nwords; i++)
		for (int k = 0; k + 1 < l->words[i].n; k++)
			all[np++] = (pair){l->words[i].sym[k], l->words[i].sym[k + 1], l->words[i].freq};
	qsort(all, np, sizeof *all, pair_cmp);
	*best = (pair){0};
	for (size_t i = 0; i < np;) {
		pair p = all[i++];
		while (i < np && all[i].a == p.a && all[i].b == p.b)
			p.freq += all[i++].freq;
		int better = p.freq > best->freq;
		if (p.freq == best->freq && p.freq > 0) {
			int c = strcmp(l->syms[p.a], l->syms[best->a]);
			better = c < 0 || (c == 0 && strcmp(l->syms[p.b], l->syms[best->b]) < 0);
		}
		if (better)
			*best = p;
	}
	if (best->freq < 2)
		best->freq = 0;
	free(all);
	return 0;
fail:
	return -1;
}

static void apply_merge(learner *l, pair p, int id)
{
	for (int i = 0; i < l->nwords; i++) {
		word *w = &l->words[i];
		int k = 0;
		for (int j = 0; j < w->n; j++) {
			if (j + 1 < w->n && w->sym[j] == p.a && w->sym[j + 1] == p.b) {
				w->sym[k++] = id;
				j++;
			} else {
				w->sym[k++] = w->sym[j];
			}
		}
		w->n = k;
	}
}

static int write_files(const learner *l, const char *dir, sora_err *e)
{
	char path[4096];
	char *json = NULL;
	FILE *f = NULL;
	cJSON *v = cJSON_CreateObject();
	CHECK_ALLOC(e, v);
	for (int i = 0; i < l->nsyms; i++)
		CHECK_ALLOC(e, cJSON_AddNumberToObject(v, l->syms[i], i));
	CHECK_ALLOC(e, cJSON_AddNumberToObject(v, "<|startoftext|>", SORA_CLIP_BOS));
	CHECK_ALLOC(e, cJSON_AddNumberToObject(v, "<|endoftext|>", SORA_CLIP_EOS));
	CHECK_ALLOC(e, json = cJSON_PrintUnformatted(v));
	snprintf(path, sizeof path, "%s/vocab.json", dir);
	CHECK(e, (f = fopen(path, "w")), "%s: cannot create: %s", path, strerror(errno));
	CHECK(e, fputs(json, f) >= 0 && fclose(f) == 0, "%s: cannot write: %s", path, strerror(errno));
	f = NULL;

	snprintf(path, sizeof path, "%s/merges.txt", dir);
	CHECK(e, (f = fopen(path, "w")), "%s: cannot create: %s", path, strerror(errno));
	int ok = fputs("#version: 0.2\n", f) >= 0;
	for (int i = 0; ok && i < l->nmerges; i++)
		ok = fprintf(f, "%s %s\n", l->syms[l->merges[i][0]], l->syms[l->merges[i][1]]) > 0;
	CHECK(e, fclose(f) == 0 && ok, "%s: cannot write: %s", path, strerror(errno));
	f = NULL;
	cJSON_free(json);
	cJSON_Delete(v);
	return 0;
fail:
	if (f)
		fclose(f);
	cJSON_free(json);
	cJSON_Delete(v);
	return -1;
}

static void learner_free(learner *l)
{
	for (int i = 0; i < l->nsyms; i++)
		free(l->syms[i]);
	for (int i = 0; i < l->nwords; i++) {
		free(l->words[i].sym);
		free(l->words[i].text);
	}
	free(l->syms);
	free(l->words);
	free(l->merges);
}

int sora_bpe_write(const char *const *sentences, int n, int max_merges, const char *dir, int *merges_out,
		   sora_err *e)
{
	learner l = {0};
	int byte_id[256];
	char tok[512];
	CHECK(e, max_merges >= 0 && max_merges <= SORA_CLIP_BOS - NBASE, "BPE: %d merges (at most %d)",
	      max_merges, SORA_CLIP_BOS - NBASE);
	CHECK_ALLOC(e, l.merges = malloc(((size_t)max_merges + 1) * sizeof *l.merges));
	CHECK_ALLOC(e, base_syms(&l, byte_id) == 0);
	for (int i = 0; i < n; i++)
		CHECK_ALLOC(e, split_words(&l, sentences[i], byte_id) == 0);
	while (l.nmerges < max_merges) {
		pair p;
		TRY(best_pair(&l, &p, e));
		if (!p.freq)
			break;
		snprintf(tok, sizeof tok, "%s%s", l.syms[p.a], l.syms[p.b]);
		/* Two merges can spell the same token ("a"+"bc", "ab"+"c"): one vocabulary id for both. */
		int id = -1;
		for (int s = NBASE; s < l.nsyms && id < 0; s++)
			if (!strcmp(l.syms[s], tok))
				id = s;
		if (id < 0) {
			CHECK_ALLOC(e, add_sym(&l, tok) == 0);
			id = l.nsyms - 1;
		}
		l.merges[l.nmerges][0] = p.a;
		l.merges[l.nmerges][1] = p.b;
		l.nmerges++;
		apply_merge(&l, p, id);
	}
	TRY(write_files(&l, dir, e));
	*merges_out = l.nmerges;
	learner_free(&l);
	return 0;
fail:
	sora_err_prefix(e, "CLIP vocabulary in %s: ", dir);
	learner_free(&l);
	return -1;
}
