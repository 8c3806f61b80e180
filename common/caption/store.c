#include "store.h"

#include "../util/csv.h"

#include <cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Open addressing on FNV-1a; grown at half load. Later entries for a key replace earlier ones. */
typedef struct entry {
	char *key, *text;
} entry;

struct sora_caption_store {
	entry *tab;
	size_t cap, n;
	int64_t skipped;
	FILE *append;
	pthread_mutex_t mu;
};

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static entry *slot(entry *tab, size_t cap, const char *key)
{
	size_t i = hash(key) & (cap - 1);
	while (tab[i].key && strcmp(tab[i].key, key) != 0)
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static int grow(sora_caption_store *s)
{
	size_t cap = s->cap ? s->cap * 2 : 1024;
	entry *tab = calloc(cap, sizeof *tab);
	if (!tab)
		return -1;
	for (size_t i = 0; i < s->cap; i++)
		if (s->tab[i].key)
			*slot(tab, cap, s->tab[i].key) = s->tab[i];
	free(s->tab);
	s->tab = tab;
	s->cap = cap;
	return 0;
}

/* Takes ownership of key and text. */
static int set(sora_caption_store *s, char *key, char *text)
{
	if ((s->n + 1) * 2 > s->cap && grow(s) < 0)
		goto oom;
	entry *en = slot(s->tab, s->cap, key);
	if (en->key) {
		free(key);
		free(en->text);
	} else {
		en->key = key;
		s->n++;
	}
	en->text = text;
	return 0;
oom:
	free(key);
	free(text);
	return -1;
}

static int set_copy(sora_caption_store *s, const char *key, const char *text)
{
	char *k = strdup(key), *t = strdup(text);
	if (!k || !t) {
		free(k);
		free(t);
		return -1;
	}
	return set(s, k, t);
}

static int load_jsonl(sora_caption_store *s, FILE *fp, const char *path, sora_err *e)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, fp)) > 0) {
		cJSON *j = cJSON_ParseWithLength(line, (size_t)len);
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(j, "id");
		if (!cJSON_IsString(k))
			k = cJSON_GetObjectItemCaseSensitive(j, "path");
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "text");
		if (cJSON_IsString(k) && cJSON_IsString(t)) {
			if (set_copy(s, k->valuestring, t->valuestring) < 0) {
				cJSON_Delete(j);
				free(line);
				return SORA_FAIL(e, "%s: out of memory", path);
			}
		} else if (strspn(line, " \t\r\n") != (size_t)len) {
			s->skipped++;
		}
		cJSON_Delete(j);
	}
	free(line);
	return 0;
}

static int load_csv(sora_caption_store *s, FILE *fp, const char *path, sora_err *e)
{
	sora_csv_reader *r = NULL;
	sora_fields h = {0}, row = {0};
	TRY(sora_csv_reader_open(&r, fp, path, e));
	CHECK(e, sora_csv_read(r, &h, e) > 0, "%s: empty CSV", path);
	int kc = sora_fields_find(&h, "id"), tc = sora_fields_find(&h, "text");
	if (kc < 0)
		kc = sora_fields_find(&h, "path");
	CHECK(e, kc >= 0 && tc >= 0, "%s: needs an `id` (or `path`) and a `text` column", path);
	int rc;
	while ((rc = sora_csv_read(r, &row, e)) > 0) {
		if (row.n == h.n)
			CHECK(e, set_copy(s, row.v[kc], row.v[tc]) == 0, "%s: out of memory", path);
		else
			s->skipped++;
		sora_fields_free(&row);
	}
	TRY(rc);
	sora_fields_free(&h);
	sora_csv_reader_close(r);
	return 0;
fail:
	sora_fields_free(&row);
	sora_fields_free(&h);
	sora_csv_reader_close(r);
	return -1;
}

int sora_caption_store_open(sora_caption_store **out, const char *path, int append, sora_err *e)
{
	sora_caption_store *s = calloc(1, sizeof *s);
	FILE *fp = NULL;
	CHECK_ALLOC(e, s);
	pthread_mutex_init(&s->mu, NULL);
	CHECK(e, grow(s) == 0, "out of memory");
	fp = fopen(path, "r");
	CHECK(e, fp || errno == ENOENT, "%s: cannot read: %s", path, strerror(errno));
	CHECK(e, fp || append, "%s: %s", path, strerror(errno));
	if (fp) {
		size_t n = strlen(path);
		int csv = n > 4 && strcmp(path + n - 4, ".csv") == 0;
		TRY(csv ? load_csv(s, fp, path, e) : load_jsonl(s, fp, path, e));
		fclose(fp);
		fp = NULL;
	}
	if (append)
		CHECK(e, s->append = fopen(path, "a"), "%s: cannot append: %s", path, strerror(errno));
	*out = s;
	return 0;
fail:
	if (fp)
		fclose(fp);
	sora_caption_store_close(s);
	return -1;
}

void sora_caption_store_close(sora_caption_store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->cap; i++) {
		free(s->tab[i].key);
		free(s->tab[i].text);
	}
	free(s->tab);
	if (s->append)
		fclose(s->append);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

const char *sora_caption_store_get(sora_caption_store *s, const char *key)
{
	pthread_mutex_lock(&s->mu);
	const entry *en = slot(s->tab, s->cap, key);
	const char *text = en->key ? en->text : NULL;
	pthread_mutex_unlock(&s->mu);
	return text;
}

int sora_caption_store_put(sora_caption_store *s, const char *key, const char *caption, sora_err *e)
{
	cJSON *j = cJSON_CreateObject();
	char *line = NULL;
	int rc = -1;
	CHECK_ALLOC(e, j);
	CHECK_ALLOC(e, cJSON_AddStringToObject(j, "id", key) && cJSON_AddStringToObject(j, "text", caption));
	CHECK_ALLOC(e, line = cJSON_PrintUnformatted(j));
	pthread_mutex_lock(&s->mu);
	int ok = set_copy(s, key, caption) == 0;
	if (ok && s->append)
		ok = fprintf(s->append, "%s\n", line) > 0 && fflush(s->append) == 0;
	pthread_mutex_unlock(&s->mu);
	CHECK(e, ok, "cannot write the cache: %s", strerror(errno));
	rc = 0;
fail:
	free(line);
	cJSON_Delete(j);
	return rc;
}

int64_t sora_caption_store_count(const sora_caption_store *s)
{
	return (int64_t)s->n;
}

int64_t sora_caption_store_skipped(const sora_caption_store *s)
{
	return s->skipped;
}
