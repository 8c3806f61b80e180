#include "shard_index.h"

#include "../util/file.h"
#include "shards.h"

#include <ctype.h>
#include <fcntl.h>
#include <lmdb.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_INDEX_BYTES (1 << 30)

int64_t sora_shard_number(const char *name, const char *prefix, const char *suffix)
{
	size_t np = strlen(prefix), ns = strlen(suffix), n = strlen(name);
	if (n < np + ns + 5 || strncmp(name, prefix, np) != 0 || strcmp(name + n - ns, suffix) != 0)
		return -1;
	int64_t v = 0;
	for (size_t i = np; i < n - ns; i++) {
		if (!isdigit((unsigned char)name[i]) || v > INT64_MAX / 100)
			return -1;
		v = v * 10 + (name[i] - '0');
	}
	return v;
}

/* A non-negative whole number that a double holds exactly. */
static int get_count(const cJSON *obj, const char *key, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
	    v->valuedouble > 9007199254740992.0 || v->valuedouble != floor(v->valuedouble))
		return -1;
	*out = (int64_t)v->valuedouble;
	return 0;
}

int sora_shard_index_load(const char *dir, int missing_ok, cJSON **out, sora_err *e)
{
	char path[4096];
	char *text = NULL;
	cJSON *idx = NULL;
	*out = NULL;
	snprintf(path, sizeof path, "%s/index.json", dir);
	if (missing_ok && access(path, F_OK) != 0 && errno == ENOENT)
		return 0;
	text = sora_read_file(path, MAX_INDEX_BYTES, "dataset index", NULL, e);
	if (!text)
		goto fail;
	idx = cJSON_Parse(text);
	CHECK(e, cJSON_IsObject(idx), "%s: not a JSON object (a damaged index?)", path);
	const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(idx, "format");
	int64_t version = 0, rows = 0, total = 0;
	CHECK(e, cJSON_IsString(fmt) && !strcmp(fmt->valuestring, SORA_SHARDS_FORMAT), "%s: not a %s index",
	      path, SORA_SHARDS_FORMAT);
	CHECK(e, get_count(idx, "version", &version) == 0, "%s: no version", path);
	CHECK(e, version <= SORA_SHARDS_VERSION, "%s: format version %lld, this sora.c reads up to %d", path,
	      (long long)version, SORA_SHARDS_VERSION);
	CHECK(e, cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(idx, "encoders")), "%s: no encoders object",
	      path);
	const cJSON *shards = cJSON_GetObjectItemCaseSensitive(idx, "shards"), *s;
	CHECK(e, cJSON_IsArray(shards), "%s: no shards array", path);
	cJSON_ArrayForEach(s, shards)
	{
		const cJSON *file = cJSON_GetObjectItemCaseSensitive(s, "file");
		int64_t bytes;
		CHECK(e, cJSON_IsString(file) && sora_shard_number(file->valuestring, "shard-", ".mdb") >= 0,
		      "%s: a shard entry has no file name shard-NNNNN.mdb", path);
		CHECK(e, get_count(s, "rows", &rows) == 0 && get_count(s, "bytes", &bytes) == 0,
		      "%s: shard %s has no row count or byte size", path, file->valuestring);
		total += rows;
	}
	CHECK(e, get_count(idx, "rows", &rows) == 0 && rows == total,
	      "%s: total rows differ from the shards' sum", path);
	free(text);
	*out = idx;
	return 0;
fail:
	free(text);
	cJSON_Delete(idx);
	return -1;
}

int sora_fsync_dir(const char *dir, sora_err *e)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK(e, fd >= 0, "%s: cannot open the folder: %s", dir, strerror(errno));
	/* Some file systems cannot fsync a directory (EINVAL); the rename is then as durable as they make it.
	 */
	CHECK(e, fsync(fd) == 0 || errno == EINVAL, "%s: cannot sync the folder: %s", dir, strerror(errno));
	close(fd);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

int sora_shard_index_save(const char *dir, const cJSON *index, sora_err *e)
{
	char tmp[4096], path[4096];
	char *text = NULL;
	int fd = -1;
	snprintf(tmp, sizeof tmp, "%s/.index.json.tmp", dir);
	snprintf(path, sizeof path, "%s/index.json", dir);
	CHECK_ALLOC(e, text = cJSON_Print(index));
	size_t n = strlen(text);
	text[n] = '\n'; /* replaces the NUL: the file ends with a newline */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(e, fd >= 0, "%s: cannot create: %s", tmp, strerror(errno));
	for (size_t done = 0; done < n + 1;) {
		ssize_t k = write(fd, text + done, n + 1 - done);
		CHECK(e, k > 0, "%s: cannot write: %s", tmp, sora_shard_strerror(errno));
		done += (size_t)k;
	}
	CHECK(e, fsync(fd) == 0, "%s: cannot sync: %s", tmp, sora_shard_strerror(errno));
	CHECK(e, close(fd) == 0, "%s: cannot write: %s", tmp, sora_shard_strerror(errno));
	fd = -1;
	CHECK(e, rename(tmp, path) == 0, "%s: cannot rename into place: %s", tmp, strerror(errno));
	cJSON_free(text);
	return sora_fsync_dir(dir, e);
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	cJSON_free(text);
	return -1;
}

cJSON *sora_shard_index_new(const cJSON *encoders)
{
	cJSON *idx = cJSON_CreateObject();
	cJSON *enc = cJSON_Duplicate(encoders, 1);
	if (!idx || !enc || !cJSON_AddStringToObject(idx, "format", SORA_SHARDS_FORMAT) ||
	    !cJSON_AddNumberToObject(idx, "version", SORA_SHARDS_VERSION) ||
	    !cJSON_AddItemToObject(idx, "encoders", enc) || !cJSON_AddNumberToObject(idx, "rows", 0) ||
	    !cJSON_AddNumberToObject(idx, "bytes", 0) || !cJSON_AddObjectToObject(idx, "buckets") ||
	    !cJSON_AddArrayToObject(idx, "shards")) {
		if (!cJSON_GetObjectItemCaseSensitive(idx, "encoders"))
			cJSON_Delete(enc);
		cJSON_Delete(idx);
		return NULL;
	}
	return idx;
}

/* obj[key] += by, creating the number when absent. */
static int add_count(cJSON *obj, const char *key, double by)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v)
		return cJSON_AddNumberToObject(obj, key, by) ? 0 : -1;
	if (!cJSON_IsNumber(v))
		return -1;
	cJSON_SetNumberValue(v, v->valuedouble + by);
	return 0;
}

int sora_shard_index_add(cJSON *index, const char *file, int64_t rows, int64_t bytes, const cJSON *buckets,
			 sora_err *e)
{
	cJSON *shards = cJSON_GetObjectItemCaseSensitive(index, "shards");
	cJSON *total = cJSON_GetObjectItemCaseSensitive(index, "buckets"), *s = cJSON_CreateObject();
	const cJSON *b;
	if (!cJSON_IsObject(total)) {
		cJSON_DeleteItemFromObjectCaseSensitive(index, "buckets");
		total = cJSON_AddObjectToObject(index, "buckets");
	}
	CHECK_ALLOC(e, s && total);
	CHECK_ALLOC(e, cJSON_AddStringToObject(s, "file", file) &&
			   cJSON_AddNumberToObject(s, "rows", (double)rows) &&
			   cJSON_AddNumberToObject(s, "bytes", (double)bytes));
	cJSON *copy = cJSON_Duplicate(buckets, 1);
	CHECK_ALLOC(e, copy);
	cJSON_AddItemToObject(s, "buckets", copy);
	CHECK_ALLOC(e, cJSON_AddItemToArray(shards, s));
	s = NULL;
	CHECK(e, add_count(index, "rows", (double)rows) == 0 && add_count(index, "bytes", (double)bytes) == 0,
	      "index.json: bad totals");
	cJSON_ArrayForEach(b, buckets) CHECK(e, add_count(total, b->string, b->valuedouble) == 0,
					     "index.json: bad bucket '%s'", b->string);
	return 0;
fail:
	cJSON_Delete(s);
	return -1;
}

void sora_shard_index_diff(const cJSON *a, const cJSON *b, char *buf, size_t n)
{
	if (cJSON_IsObject(a) && cJSON_IsObject(b)) {
		const cJSON *x;
		cJSON_ArrayForEach(x, a)
		{
			const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
			if (!y || !cJSON_Compare(x, y, 1)) {
				size_t k = strlen(buf);
				snprintf(buf + k, n - k, "%s%s", k ? "." : "", x->string);
				if (y)
					sora_shard_index_diff(x, y, buf, n);
				return;
			}
		}
		cJSON_ArrayForEach(x, b) if (!cJSON_GetObjectItemCaseSensitive(a, x->string))
		{
			size_t k = strlen(buf);
			snprintf(buf + k, n - k, "%s%s", k ? "." : "", x->string);
			return;
		}
	}
}

int sora_shard_dir_lock(const char *dir, int *fd, sora_err *e)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/.lock", dir);
	*fd = open(path, O_RDWR | O_CREAT, 0644);
	CHECK(e, *fd >= 0, "%s: cannot open the lock file: %s", path, strerror(errno));
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	int rc;
	while ((rc = fcntl(*fd, F_SETLKW, &fl)) < 0 && errno == EINTR)
		;
	CHECK(e, rc == 0, "%s: cannot lock (does this file system support fcntl locks?): %s", path,
	      strerror(errno));
	return 0;
fail:
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	return -1;
}

void sora_shard_dir_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* closing drops the lock */
}

const char *sora_shard_strerror(int rc)
{
	/* LMDB reports a short write as EIO: that is how a full disk or a file size limit shows. */
	if (rc == ENOSPC || rc == EFBIG || rc == EDQUOT || rc == EIO) {
		static _Thread_local char buf[160];
		snprintf(buf, sizeof buf, "%s (is the disk full, or a file size limit reached?)",
			 mdb_strerror(rc));
		return buf;
	}
	return mdb_strerror(rc);
}
