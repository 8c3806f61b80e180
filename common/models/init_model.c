#include "init_model.h"

#include "../util/file.h"
#include "init_bpe.h"
#include "init_corpus.h"
#include "init_spm.h"
#include "spm_shim.h"
#include "tokenizer_clip.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Sentences the tokenizers are trained on; CLIP merges learned from them. */
#define CORPUS_LINES 3000
#define BPE_MERGES   1000
/* T5's layout: 32128 embedding rows = 32000 pieces + 100 <extra_id_N> + 28 unused. */
#define T5_EXTRA_IDS 100
#define T5_UNUSED    28

/* bytes into dir/name, through a temporary file and a rename. */
static int write_bytes(const char *dir, const char *name, const char *data, size_t n, sora_err *e)
{
	char path[4096], tmp[4200];
	FILE *f = NULL;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	CHECK(e, (f = fopen(tmp, "wb")), "%s: cannot create: %s", tmp, strerror(errno));
	CHECK(e, fwrite(data, 1, n, f) == n, "%s: cannot write: %s", tmp, strerror(errno));
	CHECK(e, fclose(f) == 0, "%s: cannot write: %s", tmp, strerror(errno));
	f = NULL;
	CHECK_SYS(e, rename(tmp, path), path);
	return 0;
fail:
	if (f)
		fclose(f);
	return -1;
}

/* mkdir -p */
static int make_dirs(const char *dir, sora_err *e)
{
	char p[4096];
	snprintf(p, sizeof p, "%s", dir);
	for (char *s = p + 1;; s++) {
		if (*s && *s != '/')
			continue;
		char c = *s;
		*s = '\0';
		CHECK(e, mkdir(p, 0777) == 0 || errno == EEXIST, "%s: cannot create: %s", p, strerror(errno));
		if (!c)
			return 0;
		*s = c;
	}
fail:
	return -1;
}

/* The tokenizer's vocabulary size, checked before anything is written. */
static int vocab_size(const sora_init_kind *k, const sora_json *cfg, int *out, sora_err *e)
{
	int64_t v;
	TRY(sora_json_int(cfg, k->vocab, 1, 1 << 24, &v, e));
	*out = (int)v;
	if (k->tokenizer == SORA_TOK_SPM)
		CHECK(e, v >= 64 + T5_EXTRA_IDS + T5_UNUSED,
		      "%s: vocab_size %d is too small for a T5 tokenizer (at least %d)", cfg->path, *out,
		      64 + T5_EXTRA_IDS + T5_UNUSED);
	else
		CHECK(e, v == SORA_CLIP_EOS + 1,
		      "%s: vocab_size %d: a CLIP vocabulary has 49408 ids (the tokenizer's <|startoftext|> "
		      "and <|endoftext|> are 49406 and 49407)",
		      cfg->path, *out);
	return 0;
fail:
	return -1;
}

/* spiece.model: about vocab − 128 pieces, and a check that every id the tokenizer makes
 * (pieces + <extra_id_N>) is a row of the embedding. */
static int make_spm(const sora_corpus *c, int vocab, const char *dir, int *pieces_out, sora_err *e)
{
	char *model = NULL, path[4096];
	size_t len;
	sora_spm *spm = NULL;
	int pieces = vocab - T5_EXTRA_IDS - T5_UNUSED;
	TRY(sora_spm_train((const char *const *)c->lines, c->n, pieces, &model, &len, e));
	TRY(write_bytes(dir, "spiece.model", model, len, e));
	snprintf(path, sizeof path, "%s/spiece.model", dir);
	TRY(sora_spm_load(&spm, path, e));
	pieces = sora_spm_piece_count(spm);
	CHECK(e, pieces + T5_EXTRA_IDS <= vocab, "%s: %d pieces + %d extra ids do not fit vocab_size %d",
	      path, pieces, T5_EXTRA_IDS, vocab);
	*pieces_out = pieces;
	sora_spm_free(spm);
	free(model);
	return 0;
fail:
	sora_spm_free(spm);
	free(model);
	return -1;
}

int sora_init_model(const sora_init_kind *k, const char *config, const char *dir, uint64_t seed,
		    sora_dtype dtype, sora_init_report *r, sora_err *e)
{
	sora_json cfg = {0};
	sora_corpus corpus = {0};
	char *text = NULL, path[4096];
	size_t len;
	int vocab = 0;
	*r = (sora_init_report){0};
	TRY(sora_json_load(&cfg, config, e));
	if (k->tokenizer != SORA_TOK_NONE)
		TRY(vocab_size(k, &cfg, &vocab, e));
	TRY(make_dirs(dir, e));
	TRY((text = sora_read_file(config, 16 << 20, "config", &len, e)) ? 0 : -1);
	TRY(write_bytes(dir, "config.json", text, len, e));
	snprintf(path, sizeof path, "%s/model.safetensors", dir);
	TRY(sora_init_write(k, &cfg, seed, dtype, path, &r->tensors, &r->params, e));
	if (k->tokenizer != SORA_TOK_NONE) {
		TRY(sora_corpus_make(&corpus, CORPUS_LINES, seed, e));
		if (k->tokenizer == SORA_TOK_SPM)
			TRY(make_spm(&corpus, vocab, dir, &r->pieces, e));
		else
			TRY(sora_bpe_write((const char *const *)corpus.lines, corpus.n, BPE_MERGES, dir,
					   &r->merges, e));
	}
	sora_corpus_free(&corpus);
	sora_json_free(&cfg);
	free(text);
	return 0;
fail:
	sora_corpus_free(&corpus);
	sora_json_free(&cfg);
	free(text);
	return -1;
}
