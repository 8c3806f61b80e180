/* The dataset reader (the writer is shard_writer.c). */
#include "shards.h"

#include "shard_index.h"

#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct shard {
	const char *file; /* inside the index */
	char *path;
	int64_t rows, bytes;
	MDB_env *env;
	MDB_dbi dbi;
	char **keys; /* [rows] in byte order, read on the first sora_dataset_at */
} shard;

struct sora_dataset {
	cJSON *index;
	shard *s;
	int n;
	int64_t *start; /* [n + 1]: first row of each shard */
	pid_t pid;      /* the process the files were opened in */
	pthread_mutex_t mu;
};

static void close_env(shard *s)
{
	if (s->env)
		mdb_env_close(s->env);
	s->env = NULL;
}

static int open_env(shard *s, sora_err *e)
{
	MDB_txn *txn = NULL;
	MDB_stat st;
	struct stat fs;
	int rc;
	CHECK(e, stat(s->path, &fs) == 0, "%s: cannot open the shard: %s", s->path, strerror(errno));
	CHECK(e, fs.st_size == s->bytes, "%s: %lld bytes, index.json says %lld (a damaged or partial copy?)",
	      s->path, (long long)fs.st_size, (long long)s->bytes);
	CHECK(e, (rc = mdb_env_create(&s->env)) == 0, "%s: %s", s->path, mdb_strerror(rc));
	rc = mdb_env_open(s->env, s->path, MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS | MDB_NORDAHEAD,
			  0);
	CHECK(e, rc == 0, "%s: cannot open as LMDB: %s", s->path, mdb_strerror(rc));
	CHECK(e, (rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) == 0, "%s: %s", s->path,
	      mdb_strerror(rc));
	CHECK(e, (rc = mdb_dbi_open(txn, NULL, 0, &s->dbi)) == 0, "%s: %s", s->path, mdb_strerror(rc));
	CHECK(e, (rc = mdb_stat(txn, s->dbi, &st)) == 0, "%s: %s", s->path, mdb_strerror(rc));
	CHECK(e, (int64_t)st.ms_entries == s->rows, "%s: %zu rows, index.json says %lld", s->path,
	      st.ms_entries, (long long)s->rows);
	rc = mdb_txn_commit(txn);
	txn = NULL;
	CHECK(e, rc == 0, "%s: %s", s->path, mdb_strerror(rc));
	return 0;
fail:
	if (txn)
		mdb_txn_abort(txn);
	close_env(s);
	return -1;
}

int sora_dataset_open(sora_dataset **out, const char *dir, sora_err *e)
{
	sora_dataset *d = calloc(1, sizeof *d);
	*out = NULL;
	CHECK_ALLOC(e, d);
	pthread_mutex_init(&d->mu, NULL);
	d->pid = getpid();
	TRY(sora_shard_index_load(dir, 0, &d->index, e));
	const cJSON *shards = cJSON_GetObjectItemCaseSensitive(d->index, "shards"), *it;
	int n = cJSON_GetArraySize(shards);
	CHECK_ALLOC(e, d->s = calloc((size_t)n + 1, sizeof *d->s));
	CHECK_ALLOC(e, d->start = calloc((size_t)n + 1, sizeof *d->start));
	cJSON_ArrayForEach(it, shards)
	{
		shard *s = &d->s[d->n];
		s->file = cJSON_GetObjectItemCaseSensitive(it, "file")->valuestring;
		s->rows = (int64_t)cJSON_GetObjectItemCaseSensitive(it, "rows")->valuedouble;
		s->bytes = (int64_t)cJSON_GetObjectItemCaseSensitive(it, "bytes")->valuedouble;
		CHECK_ALLOC(e, s->path = malloc(strlen(dir) + strlen(s->file) + 2));
		sprintf(s->path, "%s/%s", dir, s->file);
		d->n++;
		TRY(open_env(s, e));
		d->start[d->n] = d->start[d->n - 1] + s->rows;
	}
	*out = d;
	return 0;
fail:
	sora_dataset_close(d);
	return -1;
}

void sora_dataset_close(sora_dataset *d)
{
	if (!d)
		return;
	for (int i = 0; i < d->n; i++) {
		close_env(&d->s[i]);
		free(d->s[i].path);
		for (int64_t k = 0; d->s[i].keys && k < d->s[i].rows; k++)
			free(d->s[i].keys[k]);
		free(d->s[i].keys);
	}
	free(d->s);
	free(d->start);
	cJSON_Delete(d->index);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

int64_t sora_dataset_count(const sora_dataset *d)
{
	return d->start[d->n];
}

const cJSON *sora_dataset_index(const sora_dataset *d)
{
	return d->index;
}

const char *sora_dataset_shard_file(const sora_dataset *d, int s)
{
	return s >= 0 && s < d->n ? d->s[s].file : NULL;
}

/* In a process forked after the open, the environments are opened again (LMDB handles must not cross a
 * fork). */
static int own_process(sora_dataset *d, sora_err *e)
{
	int rc = 0;
	if (d->pid == getpid())
		return 0;
	pthread_mutex_lock(&d->mu);
	if (d->pid != getpid()) {
		for (int i = 0; i < d->n && rc == 0; i++) {
			close_env(&d->s[i]);
			rc = open_env(&d->s[i], e);
		}
		if (rc == 0)
			d->pid = getpid();
	}
	pthread_mutex_unlock(&d->mu);
	return rc;
}

/* Looks id up in shard s: 1 found (r filled when not NULL), 0 absent, -1 error. */
static int get_in(shard *s, const char *id, size_t len, sora_record *r, sora_err *e)
{
	MDB_txn *txn = NULL;
	MDB_val k = {len, (void *)id}, v;
	char what[600];
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	CHECK(e, rc == 0, "%s: %s", s->path, mdb_strerror(rc));
	rc = mdb_get(txn, s->dbi, &k, &v);
	CHECK(e, rc == 0 || rc == MDB_NOTFOUND, "%s: key '%s': %s", s->path, id, mdb_strerror(rc));
	if (rc == 0 && r) {
		snprintf(what, sizeof what, "%s key '%s'", s->path, id);
		TRY(sora_record_parse(r, v.mv_data, v.mv_size, what, e));
		CHECK_ALLOC(e, r->id = strndup(id, len));
	}
	mdb_txn_abort(txn);
	return rc == 0;
fail:
	if (r && rc == 0)
		sora_record_free(r);
	if (txn)
		mdb_txn_abort(txn);
	return -1;
}

int sora_dataset_get(sora_dataset *d, const char *id, sora_record *r, int *shard_out, sora_err *e)
{
	size_t len = strlen(id);
	if (r)
		memset(r, 0, sizeof *r); /* safe to free whatever happens */
	TRY(own_process(d, e));
	CHECK(e, len > 0 && len <= SORA_SHARD_MAX_KEY, "id of %zu bytes (1 to %d are allowed)", len,
	      SORA_SHARD_MAX_KEY);
	for (int i = 0; i < d->n; i++) {
		int rc = get_in(&d->s[i], id, len, r, e);
		if (rc != 0) {
			if (rc > 0 && shard_out)
				*shard_out = i;
			return rc;
		}
	}
	return 0;
fail:
	return -1;
}

/* The keys of shard s in byte order (a cursor walk reads keys only: values stay on disk). */
static int load_keys(shard *s, sora_err *e)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	char **keys = NULL;
	int64_t n = 0;
	int rc;
	CHECK_ALLOC(e, keys = calloc((size_t)s->rows + 1, sizeof *keys));
	CHECK(e, (rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) == 0, "%s: %s", s->path,
	      mdb_strerror(rc));
	CHECK(e, (rc = mdb_cursor_open(txn, s->dbi, &cur)) == 0, "%s: %s", s->path, mdb_strerror(rc));
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		CHECK(e, n < s->rows, "%s: more rows than index.json says", s->path);
		CHECK_ALLOC(e, keys[n] = strndup(k.mv_data, k.mv_size));
		n++;
	}
	CHECK(e, rc == MDB_NOTFOUND, "%s: %s", s->path, mdb_strerror(rc));
	CHECK(e, n == s->rows, "%s: %lld rows, index.json says %lld", s->path, (long long)n,
	      (long long)s->rows);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	s->keys = keys;
	return 0;
fail:
	if (cur)
		mdb_cursor_close(cur);
	if (txn)
		mdb_txn_abort(txn);
	for (int64_t i = 0; keys && i < n; i++)
		free(keys[i]);
	free(keys);
	return -1;
}

int sora_dataset_at(sora_dataset *d, int64_t i, sora_record *r, sora_err *e)
{
	memset(r, 0, sizeof *r); /* safe to free whatever happens */
	TRY(own_process(d, e));
	CHECK(e, i >= 0 && i < sora_dataset_count(d), "row %lld of a dataset of %lld", (long long)i,
	      (long long)sora_dataset_count(d));
	int lo = 0, hi = d->n - 1; /* the shard with start[s] <= i < start[s + 1] */
	while (lo < hi) {
		int mid = (lo + hi + 1) / 2;
		if (d->start[mid] <= i)
			lo = mid;
		else
			hi = mid - 1;
	}
	shard *s = &d->s[lo];
	int rc = 0;
	pthread_mutex_lock(&d->mu);
	if (!s->keys)
		rc = load_keys(s, e);
	pthread_mutex_unlock(&d->mu);
	TRY(rc);
	const char *id = s->keys[i - d->start[lo]];
	rc = get_in(s, id, strlen(id), r, e);
	CHECK(e, rc != 0, "%s: key '%s' vanished", s->path, id);
	return rc > 0 ? 0 : -1;
fail:
	return -1;
}
