/* The dataset writer (shards.h: how a shard is sealed and why a killed run leaves nothing behind). */
#include "shard_index.h"
#include "shards.h"

#include <dirent.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIRST_MAP_BYTES ((size_t)64 << 20)

struct sora_shard_writer {
	char *dir;
	cJSON *encoders;
	int64_t shard_bytes;
	sora_dataset *sealed; /* the sealed shards, for sora_shard_writer_has */

	/* The open shard, when env is not NULL. */
	int64_t num;
	char open_path[4096];
	int open_fd; /* holds the lock that marks the file as in use */
	MDB_env *env;
	MDB_dbi dbi;
	size_t map_bytes;
	int64_t rows;
	cJSON *buckets;
	char last[32]; /* file name of the shard the last row went to */
	int nsealed;   /* shards sealed by this writer */
};

static void hidden_name(char *buf, size_t n, const char *dir, int64_t num, const char *kind)
{
	snprintf(buf, n, "%s/.shard-%05lld.%s", dir, (long long)num, kind);
}

/* A hidden file of a killed run: nobody holds its lock. Never true for our own files (fcntl locks belong
 * to the process). */
static int abandoned(const char *path)
{
	int fd = open(path, O_RDWR);
	if (fd < 0)
		return 0;
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	int free_ = fcntl(fd, F_SETLK, &fl) == 0;
	close(fd);
	return free_;
}

static int in_index(const cJSON *index, const char *file)
{
	const cJSON *s;
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(index, "shards"))
	{
		const cJSON *f = cJSON_GetObjectItemCaseSensitive(s, "file");
		if (cJSON_IsString(f) && !strcmp(f->valuestring, file))
			return 1;
	}
	return 0;
}

/* With the folder locked: removes what killed runs left (see shards.h) and returns the largest shard
 * number in use, in the index or in the folder (-1 when none). */
static int64_t sweep(const char *dir, const cJSON *index, int remove, int *removed, sora_err *e)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	int64_t top = -1, k;
	char path[4096];
	CHECK(e, dp, "%s: cannot list: %s", dir, strerror(errno));
	const cJSON *s;
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(index, "shards"))
	{
		k = sora_shard_number(cJSON_GetObjectItemCaseSensitive(s, "file")->valuestring, "shard-",
				      ".mdb");
		top = k > top ? k : top;
	}
	while ((de = readdir(dp))) {
		const char *name = de->d_name;
		snprintf(path, sizeof path, "%s/%s", dir, name);
		if ((k = sora_shard_number(name, "shard-", ".mdb")) >= 0) {
			if (remove && !in_index(index, name) && unlink(path) == 0) {
				++*removed;
				continue;
			}
		} else if ((k = sora_shard_number(name, ".shard-", ".open")) < 0 &&
			   (k = sora_shard_number(name, ".shard-", ".seal")) < 0) {
			if (remove && !strcmp(name, ".index.json.tmp"))
				unlink(path);
			continue;
		} else if (remove && abandoned(path) && unlink(path) == 0) {
			++*removed;
			continue;
		}
		top = k > top ? k : top;
	}
	closedir(dp);
	return top;
fail:
	return -2;
}

int sora_shard_writer_open(sora_shard_writer **out, const char *dir, const cJSON *encoders,
			   int64_t shard_bytes, int *removed, sora_err *e)
{
	sora_shard_writer *w = calloc(1, sizeof *w);
	cJSON *index = NULL;
	int lock = -1, dummy = 0;
	*out = NULL;
	removed = removed ? removed : &dummy;
	*removed = 0;
	CHECK_ALLOC(e, w);
	w->open_fd = -1;
	w->shard_bytes = shard_bytes;
	CHECK_ALLOC(e, (w->dir = strdup(dir)) && (w->encoders = cJSON_Duplicate(encoders, 1)));
	CHECK(e, mkdir(dir, 0777) == 0 || errno == EEXIST, "%s: cannot create the folder: %s", dir,
	      strerror(errno));
	TRY(sora_shard_dir_lock(dir, &lock, e));
	TRY(sora_shard_index_load(dir, 1, &index, e));
	if (!index) {
		/* Shards without an index are not ours to sweep away. */
		cJSON *none = sora_shard_index_new(encoders);
		int unused = 0;
		CHECK_ALLOC(e, none);
		int64_t top = sweep(dir, none, 0, &unused, e);
		cJSON_Delete(none);
		TRY(top >= -1 ? 0 : -1);
		CHECK(e, top < 0,
		      "%s holds shard files but no index.json: restore it, or write to another folder", dir);
		CHECK_ALLOC(e, index = sora_shard_index_new(encoders));
		TRY(sora_shard_index_save(dir, index, e));
	} else {
		const cJSON *had = cJSON_GetObjectItemCaseSensitive(index, "encoders");
		char diff[256] = "";
		sora_shard_index_diff(had, encoders, diff, sizeof diff);
		CHECK(e, cJSON_Compare(had, encoders, 1),
		      "%s was made with other encoders or settings (%s differs): write to another folder",
		      dir, diff[0] ? diff : "encoders");
	}
	TRY(sweep(dir, index, 1, removed, e) >= -1 ? 0 : -1);
	sora_shard_dir_unlock(lock);
	lock = -1;
	cJSON_Delete(index);
	index = NULL;
	TRY(sora_dataset_open(&w->sealed, dir, e));
	*out = w;
	return 0;
fail:
	sora_shard_dir_unlock(lock);
	cJSON_Delete(index);
	sora_shard_writer_abort(w);
	return -1;
}

int sora_shard_writer_has(sora_shard_writer *w, const char *id, sora_err *e)
{
	int rc = sora_dataset_get(w->sealed, id, NULL, NULL, e);
	if (rc != 0 || !w->env)
		return rc;
	MDB_txn *txn;
	MDB_val k = {strlen(id), (void *)id}, v;
	rc = mdb_txn_begin(w->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0)
		return SORA_FAIL(e, "%s: %s", w->open_path, mdb_strerror(rc));
	rc = mdb_get(txn, w->dbi, &k, &v);
	mdb_txn_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return SORA_FAIL(e, "%s: %s", w->open_path, mdb_strerror(rc));
	return rc == 0;
}

static void close_open(sora_shard_writer *w)
{
	if (w->env)
		mdb_env_close(w->env);
	w->env = NULL;
	if (w->open_fd >= 0)
		close(w->open_fd);
	w->open_fd = -1;
	cJSON_Delete(w->buckets);
	w->buckets = NULL;
	w->rows = 0;
}

/* A new hidden file, locked: it is ours until we unlink or rename it. */
static int create_locked(const char *path, sora_err *e)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
	CHECK(e, fd >= 0, "%s: cannot create: %s", path, strerror(errno));
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	CHECK(e, fcntl(fd, F_SETLK, &fl) == 0, "%s: cannot lock: %s", path, strerror(errno));
	return fd;
fail:
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	return -1;
}

static int start_shard(sora_shard_writer *w, sora_err *e)
{
	cJSON *index = NULL;
	MDB_txn *txn = NULL;
	int lock = -1, rc, removed = 0;
	TRY(sora_shard_dir_lock(w->dir, &lock, e));
	TRY(sora_shard_index_load(w->dir, 0, &index, e));
	int64_t top = sweep(w->dir, index, 0, &removed, e);
	TRY(top >= -1 ? 0 : -1);
	w->num = top + 1;
	hidden_name(w->open_path, sizeof w->open_path, w->dir, w->num, "open");
	TRY(w->open_fd = create_locked(w->open_path, e));
	sora_shard_dir_unlock(lock);
	lock = -1;
	CHECK_ALLOC(e, w->buckets = cJSON_CreateObject());
	w->map_bytes = FIRST_MAP_BYTES;
	CHECK(e, (rc = mdb_env_create(&w->env)) == 0, "%s: %s", w->open_path, mdb_strerror(rc));
	CHECK(e, (rc = mdb_env_set_mapsize(w->env, w->map_bytes)) == 0, "%s: %s", w->open_path,
	      mdb_strerror(rc));
	/* Not synced: an open shard that did not reach its seal is thrown away, so only the seal syncs. */
	rc =
	    mdb_env_open(w->env, w->open_path, MDB_NOSUBDIR | MDB_NOLOCK | MDB_NOSYNC | MDB_NOMETASYNC, 0644);
	CHECK(e, rc == 0, "%s: %s", w->open_path, sora_shard_strerror(rc));
	CHECK(e, (rc = mdb_txn_begin(w->env, NULL, 0, &txn)) == 0, "%s: %s", w->open_path, mdb_strerror(rc));
	CHECK(e, (rc = mdb_dbi_open(txn, NULL, 0, &w->dbi)) == 0, "%s: %s", w->open_path, mdb_strerror(rc));
	rc = mdb_txn_commit(txn);
	txn = NULL;
	CHECK(e, rc == 0, "%s: %s", w->open_path, sora_shard_strerror(rc));
	cJSON_Delete(index);
	return 0;
fail:
	if (txn)
		mdb_txn_abort(txn);
	sora_shard_dir_unlock(lock);
	cJSON_Delete(index);
	if (w->open_fd >= 0)
		unlink(w->open_path);
	close_open(w);
	return -1;
}

/* Compacted copy, fsync, rename into place, then the index (under the folder lock). */
static int seal(sora_shard_writer *w, sora_err *e)
{
	char seal_path[4096], final[4096], file[32];
	cJSON *index = NULL;
	int fd = -1, lock = -1, renamed = 0, rc;
	MDB_stat st;
	struct stat fs;
	snprintf(file, sizeof file, "shard-%05lld.mdb", (long long)w->num);
	snprintf(final, sizeof final, "%s/%s", w->dir, file);
	hidden_name(seal_path, sizeof seal_path, w->dir, w->num, "seal");
	/* Created and locked under the folder lock, so that no writer's sweep sees it unlocked. */
	TRY(sora_shard_dir_lock(w->dir, &lock, e));
	fd = create_locked(seal_path, e);
	sora_shard_dir_unlock(lock);
	lock = -1;
	TRY(fd);
	CHECK(e, (rc = mdb_env_stat(w->env, &st)) == 0, "%s: %s", w->open_path, mdb_strerror(rc));
	rc = mdb_env_copyfd2(w->env, fd, MDB_CP_COMPACT);
	CHECK(e, rc == 0, "%s: cannot write the sealed copy: %s", seal_path, sora_shard_strerror(rc));
	CHECK(e, fsync(fd) == 0, "%s: cannot sync: %s", seal_path, sora_shard_strerror(errno));
	CHECK(e, fstat(fd, &fs) == 0, "%s: %s", seal_path, strerror(errno));
	TRY(sora_shard_dir_lock(w->dir, &lock, e));
	TRY(sora_shard_index_load(w->dir, 0, &index, e));
	CHECK(e, rename(seal_path, final) == 0, "%s: cannot rename into place: %s", seal_path,
	      strerror(errno));
	renamed = 1;
	TRY(sora_fsync_dir(w->dir, e));
	TRY(sora_shard_index_add(index, file, (int64_t)st.ms_entries, (int64_t)fs.st_size, w->buckets, e));
	TRY(sora_shard_index_save(w->dir, index, e));
	sora_shard_dir_unlock(lock);
	close(fd);
	cJSON_Delete(index);
	unlink(w->open_path);
	close_open(w);
	w->nsealed++;
	sora_dataset_close(w->sealed);
	w->sealed = NULL;
	return sora_dataset_open(&w->sealed, w->dir, e);
fail:
	/* A renamed shard missing from the index is removed by the next writer (it holds the lock we hold).
	 */
	if (renamed)
		unlink(final);
	else if (fd >= 0)
		unlink(seal_path);
	sora_shard_dir_unlock(lock);
	if (fd >= 0)
		close(fd);
	cJSON_Delete(index);
	return -1;
}

static int count_bucket(cJSON *buckets, const char *bucket)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(buckets, bucket);
	if (!v)
		return cJSON_AddNumberToObject(buckets, bucket, 1) ? 0 : -1;
	cJSON_SetNumberValue(v, v->valuedouble + 1);
	return 0;
}

int sora_shard_writer_put(sora_shard_writer *w, const char *id, const void *blob, size_t size,
			  const char *bucket, sora_err *e)
{
	MDB_txn *txn = NULL;
	MDB_val k = {strlen(id), (void *)id}, v = {size, (void *)blob};
	MDB_envinfo info;
	MDB_stat st;
	int rc;
	CHECK(e, k.mv_size > 0 && k.mv_size <= SORA_SHARD_MAX_KEY, "id of %zu bytes (1 to %d are allowed)",
	      k.mv_size, SORA_SHARD_MAX_KEY);
	rc = sora_dataset_get(w->sealed, id, NULL, NULL, e);
	TRY(rc);
	CHECK(e, rc == 0, "id '%s' is already in the dataset", id);
	if (!w->env)
		TRY(start_shard(w, e));
	for (;;) {
		CHECK(e, (rc = mdb_txn_begin(w->env, NULL, 0, &txn)) == 0, "%s: %s", w->open_path,
		      mdb_strerror(rc));
		rc = mdb_put(txn, w->dbi, &k, &v, MDB_NOOVERWRITE);
		if (rc == 0) {
			rc = mdb_txn_commit(txn);
			txn = NULL;
		}
		if (rc != MDB_MAP_FULL)
			break;
		if (txn)
			mdb_txn_abort(txn);
		txn = NULL;
		/* The map is address space, not disk: double it and redo the row. */
		CHECK(e, w->map_bytes < ((size_t)1 << 46), "%s: the map cannot grow further", w->open_path);
		w->map_bytes *= 2;
		CHECK(e, (rc = mdb_env_set_mapsize(w->env, w->map_bytes)) == 0, "%s: cannot grow the map: %s",
		      w->open_path, mdb_strerror(rc));
	}
	CHECK(e, rc != MDB_KEYEXIST, "id '%s' appears twice in the input", id);
	CHECK(e, rc == 0, "%s: cannot write row '%s': %s", w->open_path, id, sora_shard_strerror(rc));
	w->rows++;
	snprintf(w->last, sizeof w->last, "shard-%05lld.mdb", (long long)w->num);
	CHECK_ALLOC(e, count_bucket(w->buckets, bucket) == 0);
	CHECK(e, mdb_env_info(w->env, &info) == 0 && mdb_env_stat(w->env, &st) == 0, "%s: cannot stat",
	      w->open_path);
	if ((int64_t)(info.me_last_pgno + 1) * st.ms_psize >= w->shard_bytes)
		TRY(seal(w, e));
	return 0;
fail:
	if (txn)
		mdb_txn_abort(txn);
	return -1;
}

const char *sora_shard_writer_shard(const sora_shard_writer *w)
{
	return w->last;
}

int sora_shard_writer_sealed(const sora_shard_writer *w)
{
	return w->nsealed;
}

int sora_shard_writer_close(sora_shard_writer *w, sora_err *e)
{
	int rc = 0;
	if (w && w->env && w->rows > 0)
		rc = seal(w, e);
	sora_shard_writer_abort(w);
	return rc;
}

void sora_shard_writer_abort(sora_shard_writer *w)
{
	if (!w)
		return;
	if (w->env || w->open_fd >= 0)
		unlink(w->open_path);
	close_open(w);
	sora_dataset_close(w->sealed);
	cJSON_Delete(w->encoders);
	free(w->dir);
	free(w);
}
