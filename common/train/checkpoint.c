/* Training checkpoints (checkpoint.h): a temporary folder written and synced, then renamed into place. */
#define _GNU_SOURCE /* renameat2 */
#include "checkpoint.h"

#include "../io/safetensors.h"
#include "../io/shard_index.h"
#include "../util/json.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMP_PREFIX ".tmp-"

/* A path from a format into out[PATH_MAX]; too long is an error naming its start. */
__attribute__((format(printf, 3, 4))) static int path_fmt(char *out, sora_err *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(out, PATH_MAX, fmt, ap);
	va_end(ap);
	CHECK(e, k >= 0 && k < PATH_MAX, "path too long: %.200s...", out);
	return 0;
fail:
	return -1;
}

/* E and S of a folder name "epoch{E}-global_step{S}" (decimal digits only); 1 when it is one, else 0. */
static int parse_name(const char *name, int64_t *epoch, int64_t *step)
{
	static const char *const parts[2] = {"epoch", "-global_step"};
	int64_t *out[2] = {epoch, step};
	for (int k = 0; k < 2; k++) {
		size_t len = strlen(parts[k]);
		if (strncmp(name, parts[k], len) != 0)
			return 0;
		name += len;
		int64_t v = 0;
		const char *start = name;
		for (; *name >= '0' && *name <= '9'; name++) {
			if (v > (INT64_MAX - 9) / 10)
				return 0;
			v = v * 10 + (*name - '0');
		}
		if (name == start)
			return 0;
		*out[k] = v;
	}
	return *name == '\0';
}

/* ---- folders ---- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* rm -r path (symbolic links removed, not followed). */
static int remove_tree(const char *path, sora_err *e)
{
	CHECK_SYS(e, nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS), path);
	return 0;
fail:
	return -1;
}

/* A checkpoint folder of a run: its name and numbers. */
typedef struct ckpt_entry {
	char name[NAME_MAX + 1];
	int64_t epoch, step;
} ckpt_entry;

static int cmp_entry(const void *a, const void *b)
{
	const ckpt_entry *x = a, *y = b;
	if (x->step != y->step)
		return x->step < y->step ? -1 : 1;
	return x->epoch < y->epoch ? -1 : x->epoch > y->epoch;
}

/* The run's complete checkpoint folders, oldest first (hidden == 0), or the leftovers of a killed save or
 * removal, every name starting .tmp-epoch (hidden == 1); *list malloc'd. A missing run folder has none. */
static int list_ckpts(const char *run, int hidden, ckpt_entry **list, int *count, sora_err *e)
{
	DIR *d = opendir(run);
	ckpt_entry *l = NULL;
	int n = 0, cap = 0;
	*list = NULL, *count = 0;
	if (!d && errno == ENOENT)
		return 0;
	CHECK(e, d, "%s: cannot open the run folder: %s", run, strerror(errno));
	for (struct dirent *de; (errno = 0, de = readdir(d));) {
		const char *name = de->d_name;
		ckpt_entry c = {.epoch = 0, .step = 0};
		if (de->d_type != DT_DIR &&
		    de->d_type != DT_UNKNOWN) /* a file of that name is no checkpoint */
			continue;
		if (hidden ? strncmp(name, TMP_PREFIX "epoch", strlen(TMP_PREFIX "epoch")) != 0
			   : !parse_name(name, &c.epoch, &c.step))
			continue;
		if (n == cap) {
			ckpt_entry *grown = realloc(l, (size_t)(cap = cap ? 2 * cap : 16) * sizeof *l);
			CHECK_ALLOC(e, grown);
			l = grown;
		}
		snprintf(c.name, sizeof c.name, "%s", name);
		l[n++] = c;
	}
	CHECK(e, errno == 0, "%s: cannot read the run folder: %s", run, strerror(errno));
	closedir(d);
	if (n) /* qsort's array must not be NULL, even empty */
		qsort(l, (size_t)n, sizeof *l, cmp_entry);
	*list = l, *count = n;
	return 0;
fail:
	if (d)
		closedir(d);
	free(l);
	return -1;
}

/* Removes every leftover of a killed save or removal (RUN/.tmp-epoch*). */
static int sweep_leftovers(const char *run, sora_err *e)
{
	ckpt_entry *l = NULL;
	int n = 0;
	char path[PATH_MAX];
	TRY(list_ckpts(run, 1, &l, &n, e));
	for (int i = 0; i < n; i++) {
		TRY(path_fmt(path, e, "%s/%s", run, l[i].name));
		TRY(remove_tree(path, e));
	}
	free(l);
	return 0;
fail:
	free(l);
	return -1;
}

/* Moves the finished folder tmp to dir. An existing dir (the same step saved again, after a resume from an
 * older checkpoint) is exchanged with it in one step, so that dir never goes missing; the old one is left
 * under the hidden name tmp for the sweep. File systems without the exchange get a rename aside first. */
static int move_into_place(const char *tmp, const char *dir, sora_err *e)
{
	char aside[PATH_MAX];
	if (rename(tmp, dir) == 0)
		return 0;
	CHECK(e, errno == ENOTEMPTY || errno == EEXIST, "%s: cannot rename to %s: %s", tmp, dir,
	      strerror(errno));
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) == 0)
		return 0;
	CHECK(e, errno == EINVAL || errno == ENOSYS || errno == ENOTSUP, "%s: cannot exchange with %s: %s",
	      tmp, dir, strerror(errno));
	TRY(path_fmt(aside, e, "%s-old", tmp));
	CHECK(e, rename(dir, aside) == 0 && rename(tmp, dir) == 0, "%s: cannot replace %s: %s", tmp, dir,
	      strerror(errno));
	return 0;
fail:
	return -1;
}

/* All but the newest `keep` complete checkpoints of run, never `just` (the one just saved): each renamed
 * to a hidden name first, so that a removal cut short leaves no incomplete folder under a complete name. */
static int prune(const char *run, int keep, const char *just, sora_err *e)
{
	ckpt_entry *l = NULL;
	int n = 0;
	char path[PATH_MAX], hidden[PATH_MAX];
	TRY(list_ckpts(run, 0, &l, &n, e));
	for (int i = 0; i < n - keep; i++) {
		if (strcmp(l[i].name, just) == 0)
			continue;
		TRY(path_fmt(path, e, "%s/%s", run, l[i].name));
		TRY(path_fmt(hidden, e, "%s/" TMP_PREFIX "%s", run, l[i].name));
		CHECK(e, rename(path, hidden) == 0, "%s: cannot remove: %s", path, strerror(errno));
		TRY(remove_tree(hidden, e));
	}
	free(l);
	return 0;
fail:
	free(l);
	return -1;
}

/* ---- files ---- */

static int fsync_path(const char *path, sora_err *e)
{
	int fd = open(path, O_RDONLY);
	CHECK(e, fd >= 0, "%s: cannot open: %s", path, strerror(errno));
	CHECK(e, fsync(fd) == 0, "%s: cannot sync: %s", path, strerror(errno));
	close(fd);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

/* sora_st_write, then fsync: the folder is renamed into place only once its files are on disk. */
static int write_st(const char *path, const char *const *names, const sora_tensor *t, int n,
		    const char *const *meta, sora_err *e)
{
	TRY(sora_st_write(path, names, t, n, meta, e));
	return fsync_path(path, e);
fail:
	return -1;
}

/* text (NUL-terminated) into path, fsynced. */
static int write_text(const char *path, const char *text, sora_err *e)
{
	size_t n = strlen(text);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(e, fd >= 0, "%s: cannot create: %s", path, strerror(errno));
	for (size_t done = 0; done < n;) {
		ssize_t k = write(fd, text + done, n - done);
		CHECK(e, k > 0, "%s: cannot write: %s", path, strerror(errno));
		done += (size_t)k;
	}
	CHECK(e, fsync(fd) == 0, "%s: cannot sync: %s", path, strerror(errno));
	int rc = close(fd);
	fd = -1;
	CHECK(e, rc == 0, "%s: cannot write: %s", path, strerror(errno));
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

static int write_json(const char *path, const cJSON *j, sora_err *e)
{
	char *text = cJSON_Print(j);
	CHECK_ALLOC(e, text);
	TRY(write_text(path, text, e));
	cJSON_free(text);
	return 0;
fail:
	cJSON_free(text);
	return -1;
}

/* ---- the model file ---- */

/* The tensors of params [lo, hi) as a model file at path, in dtype (F32: views of the data, no copy). */
static int write_model_part(const char *path, const sora_named_f32 *params, int lo, int hi, sora_dtype dtype,
			    sora_err *e)
{
	static const char *const meta[] = {"format", "pt", NULL}; /* what ColossalAI and transformers write */
	const int n = hi - lo;
	sora_tensor *t = calloc((size_t)(n ? n : 1), sizeof *t);
	const char **names = calloc((size_t)(n ? n : 1), sizeof *names);
	int rc = -1;
	CHECK_ALLOC(e, t && names);
	for (int i = 0; i < n; i++) {
		const sora_named_f32 *p = &params[lo + i];
		names[i] = p->name;
		if (dtype == SORA_F32) {
			sora_tensor_view(&t[i], SORA_F32, p->ndim, p->shape, p->data);
			continue;
		}
		TRY(sora_tensor_alloc(&t[i], dtype, p->ndim, p->shape, e));
		TRY(sora_from_f32(t[i].data, dtype, p->data, (size_t)sora_tensor_numel(&t[i]), e));
	}
	rc = write_st(path, names, t, n, meta, e);
fail:
	for (int i = 0; t && i < n; i++)
		sora_tensor_free(&t[i]);
	free(t);
	free(names);
	return rc;
}

/* Bytes of params[i] stored in dtype. */
static int64_t stored_bytes(const sora_named_f32 *p, sora_dtype dtype)
{
	int64_t k = 1;
	for (int d = 0; d < p->ndim; d++)
		k *= p->shape[d];
	return k * (int64_t)sora_dtype_size(dtype);
}

/* model.safetensors, or shards of at most shard_bytes (a larger tensor alone in its own) in params' order
 * and model.safetensors.index.json, as ColossalAI's StateDictSharder and Hugging Face cut them. */
static int write_model(const char *dir, const sora_named_f32 *params, int n, sora_dtype dtype,
		       int64_t shard_bytes, sora_err *e)
{
	/* shard s holds params [first[s], first[s + 1]) */
	int *first = malloc(((size_t)n + 1) * sizeof *first);
	cJSON *index = NULL, *map;
	char path[PATH_MAX], file[64];
	int nshards = 0;
	int64_t total = 0, size = 0;
	CHECK_ALLOC(e, first);
	for (int i = 0; i < n; i++) {
		const int64_t b = stored_bytes(&params[i], dtype);
		if (i == 0 || (size > 0 && size + b > shard_bytes))
			first[nshards++] = i, size = 0;
		size += b, total += b;
	}
	first[nshards] = n;
	if (nshards <= 1) {
		TRY(path_fmt(path, e, "%s/model.safetensors", dir));
		TRY(write_model_part(path, params, 0, n, dtype, e));
		free(first);
		return 0;
	}
	CHECK_ALLOC(e, index = cJSON_CreateObject());
	cJSON *meta = cJSON_AddObjectToObject(index, "metadata");
	CHECK_ALLOC(e, meta && cJSON_AddNumberToObject(meta, "total_size", (double)total));
	CHECK_ALLOC(e, map = cJSON_AddObjectToObject(index, "weight_map"));
	for (int s = 0; s < nshards; s++) {
		snprintf(file, sizeof file, "model-%05d-of-%05d.safetensors", s + 1, nshards);
		TRY(path_fmt(path, e, "%s/%s", dir, file));
		TRY(write_model_part(path, params, first[s], first[s + 1], dtype, e));
		for (int i = first[s]; i < first[s + 1]; i++)
			CHECK_ALLOC(e, cJSON_AddStringToObject(map, params[i].name, file));
	}
	TRY(path_fmt(path, e, "%s/model.safetensors.index.json", dir));
	TRY(write_json(path, index, e));
	cJSON_Delete(index);
	free(first);
	return 0;
fail:
	cJSON_Delete(index);
	free(first);
	return -1;
}

/* ---- master weights and optimizer state ---- */

/* Views of the f32 buffers src[i] of params' shapes, named prefix + name (names[i] malloc'd). */
static int f32_views(const sora_named_f32 *params, const float *const *src, int n, const char *prefix,
		     sora_tensor *t, char **names, sora_err *e)
{
	for (int i = 0; i < n; i++) {
		CHECK_ALLOC(e, names[i] = malloc(strlen(prefix) + strlen(params[i].name) + 1));
		sprintf(names[i], "%s%s", prefix, params[i].name);
		sora_tensor_view(&t[i], SORA_F32, params[i].ndim, params[i].shape, (void *)src[i]);
	}
	return 0;
fail:
	return -1;
}

/* master.safetensors and optimizer.safetensors (exp_avg.* then exp_avg_sq.*, metadata "step"). */
static int write_f32_state(const char *dir, const sora_named_f32 *params, const float *const *master,
			   const float *const *exp_avg, const float *const *exp_avg_sq, int n, int64_t step,
			   sora_err *e)
{
	sora_tensor *t = calloc(2 * (size_t)n + 1, sizeof *t);
	char **names = calloc(2 * (size_t)n + 1, sizeof *names), path[PATH_MAX], num[24];
	const char *meta[] = {"format", "pt", NULL};
	int rc = -1;
	CHECK_ALLOC(e, t && names);
	TRY(f32_views(params, master, n, "", t, names, e));
	TRY(path_fmt(path, e, "%s/master.safetensors", dir));
	TRY(write_st(path, (const char *const *)names, t, n, meta, e));
	for (int i = 0; i < n; i++)
		free(names[i]), names[i] = NULL;
	TRY(f32_views(params, exp_avg, n, "exp_avg.", t, names, e));
	TRY(f32_views(params, exp_avg_sq, n, "exp_avg_sq.", t + n, names + n, e));
	snprintf(num, sizeof num, "%" PRId64, step);
	const char *ometa[] = {"step", num, NULL};
	TRY(path_fmt(path, e, "%s/optimizer.safetensors", dir));
	rc = write_st(path, (const char *const *)names, t, 2 * n, ometa, e);
fail:
	for (int i = 0; names && i < 2 * n; i++)
		free(names[i]);
	free(names);
	free(t);
	return rc;
}

/* ---- save ---- */

static int check_params(const sora_named_f32 *params, int n, sora_dtype dtype, const cJSON *state,
			sora_err *e)
{
	CHECK(e, n >= 0, "checkpoint: %d parameters", n);
	CHECK(e, dtype == SORA_F32 || dtype == SORA_BF16 || dtype == SORA_F16,
	      "checkpoint: the model cannot be stored as %s", sora_dtype_name(dtype));
	CHECK(e, cJSON_IsObject(state), "checkpoint: the state is not a JSON object");
	for (int i = 0; i < n; i++) {
		const sora_named_f32 *p = &params[i];
		CHECK(e, p->ndim >= 0 && p->ndim <= SORA_MAX_DIMS, "checkpoint: parameter '%s' has %d dims",
		      p->name, p->ndim);
		for (int d = 0; d < p->ndim; d++)
			CHECK(e, p->shape[d] >= 0, "checkpoint: parameter '%s' has a negative dim", p->name);
	}
	return 0;
fail:
	return -1;
}

/* Every file of the checkpoint into the empty folder tmp, which is then synced. */
static int write_all(const char *tmp, int64_t step, const sora_named_f32 *params, const float *const *master,
		     const float *const *exp_avg, const float *const *exp_avg_sq, int n,
		     sora_dtype model_dtype, int64_t shard_bytes, const cJSON *state, sora_err *e)
{
	char path[PATH_MAX];
	TRY(write_model(tmp, params, n, model_dtype, shard_bytes, e));
	TRY(write_f32_state(tmp, params, master, exp_avg, exp_avg_sq, n, step, e));
	TRY(path_fmt(path, e, "%s/state.json", tmp));
	TRY(write_json(path, state, e));
	return sora_fsync_dir(tmp, e);
fail:
	return -1;
}

int sora_ckpt_save(const char *run, int64_t epoch, int64_t step, const sora_named_f32 *params,
		   const float *const *master, const float *const *exp_avg, const float *const *exp_avg_sq,
		   int n, sora_dtype model_dtype, int64_t shard_bytes, const cJSON *state, int keep,
		   char *dir_out, size_t dir_n, sora_err *e)
{
	char name[64], tmp[PATH_MAX], dir[PATH_MAX];
	CHECK(e, epoch >= 0 && step >= 0, "checkpoint: epoch %" PRId64 ", step %" PRId64, epoch, step);
	TRY(check_params(params, n, model_dtype, state, e));
	snprintf(name, sizeof name, "epoch%" PRId64 "-global_step%" PRId64, epoch, step);
	TRY(path_fmt(tmp, e, "%s/" TMP_PREFIX "%s", run, name));
	TRY(path_fmt(dir, e, "%s/%s", run, name));
	CHECK(e, mkdir(run, 0755) == 0 || errno == EEXIST, "%s: cannot create the run folder: %s", run,
	      strerror(errno));
	TRY(sweep_leftovers(run, e));
	CHECK(e, mkdir(tmp, 0755) == 0, "%s: cannot create the folder: %s", tmp, strerror(errno));
	TRY(write_all(tmp, step, params, master, exp_avg, exp_avg_sq, n, model_dtype,
		      shard_bytes > 0 ? shard_bytes : SORA_CKPT_SHARD_BYTES, state, e));
	TRY(move_into_place(tmp, dir, e));
	TRY(sora_fsync_dir(run, e));
	TRY(sweep_leftovers(run, e)); /* a replaced folder of the same step */
	if (keep > 0)
		TRY(prune(run, keep, name, e));
	if (dir_out)
		snprintf(dir_out, dir_n, "%s", dir);
	return 0;
fail:
	return -1;
}

int sora_ckpt_latest(const char *run, char *dir, size_t n, sora_err *e)
{
	ckpt_entry *l = NULL;
	int count = 0;
	TRY(list_ckpts(run, 0, &l, &count, e));
	if (count) {
		int k = snprintf(dir, n, "%s/%s", run, l[count - 1].name);
		CHECK(e, k >= 0 && (size_t)k < n, "%s/%s: path too long", run, l[count - 1].name);
	}
	free(l);
	return count > 0;
fail:
	free(l);
	return -1;
}

/* ---- load ---- */

/* Whether a tensor name of a checkpoint file is prefix + a parameter's name, for any of the prefixes. */
static int expected_name(const char *name, const sora_named_f32 *params, int n, const char *const *prefixes)
{
	for (int k = 0; prefixes[k]; k++) {
		size_t len = strlen(prefixes[k]);
		if (strncmp(name, prefixes[k], len) != 0)
			continue;
		for (int i = 0; i < n; i++)
			if (strcmp(name + len, params[i].name) == 0)
				return 1;
	}
	return 0;
}

/* prefix + params[i].name into dst[i]: an F32 tensor of params[i]'s shape, each. */
static int read_named(const sora_safetensors *st, const char *path, const char *prefix,
		      const sora_named_f32 *params, float *const *dst, int n, sora_err *e)
{
	char name[1024], have[64], want[64];
	for (int i = 0; i < n; i++) {
		const sora_named_f32 *p = &params[i];
		CHECK(e, snprintf(name, sizeof name, "%s%s", prefix, p->name) < (int)sizeof name,
		      "%s: tensor name '%s%s' too long", path, prefix, p->name);
		const sora_st_tensor *t = sora_st_find(st, name);
		CHECK(e, t, "%s: tensor '%s' is missing", path, name);
		CHECK(e, strcmp(t->dtype, "F32") == 0, "%s: tensor '%s' is %s, not F32", path, name,
		      t->dtype);
		int same = t->ndim == p->ndim;
		for (int d = 0; same && d < p->ndim; d++)
			same = t->shape[d] == p->shape[d];
		CHECK(e, same, "%s: tensor '%s' has shape %s, the model's is %s", path, name,
		      sora_shape_str(have, sizeof have, t->ndim, t->shape),
		      sora_shape_str(want, sizeof want, p->ndim, p->shape));
		memcpy(dst[i], t->data, t->nbytes);
	}
	return 0;
fail:
	return -1;
}

/* Fails naming a tensor of st that no parameter accounts for, when st holds more than `expected`. */
static int no_extra(const sora_safetensors *st, const char *path, const sora_named_f32 *params, int n,
		    const char *const *prefixes, int expected, sora_err *e)
{
	const int count = sora_st_count(st);
	for (int i = 0; i < count && count != expected; i++) {
		const char *name = sora_st_get(st, i)->name;
		CHECK(e, expected_name(name, params, n, prefixes),
		      "%s: tensor '%s' is not one of the model's", path, name);
	}
	CHECK(e, count == expected, "%s: %d tensors, the model has %d", path, count, expected);
	return 0;
fail:
	return -1;
}

/* The strict read of one f32 file: prefixes[k] + every name into dsts[k]. */
static int read_file(const char *dir, const char *file, const sora_named_f32 *params, int n,
		     const char *const *prefixes, float *const *const *dsts, int64_t *step, sora_err *e)
{
	sora_safetensors *st = NULL;
	char path[PATH_MAX];
	int k = 0;
	TRY(path_fmt(path, e, "%s/%s", dir, file));
	TRY(sora_st_open(&st, path, e));
	for (; prefixes[k]; k++)
		TRY(read_named(st, path, prefixes[k], params, dsts[k], n, e));
	TRY(no_extra(st, path, params, n, prefixes, k * n, e));
	if (step) {
		const char *s = sora_st_metadata(st, "step");
		char *end = NULL;
		errno = 0;
		*step = s ? strtoll(s, &end, 10) : -1;
		CHECK(e, s && *s && !*end && !errno && *step >= 0, "%s: no step in the metadata", path);
	}
	sora_st_close(st);
	return 0;
fail:
	sora_st_close(st);
	return -1;
}

int sora_ckpt_load(const char *dir, const sora_named_f32 *params, float *const *master, float *const *exp_avg,
		   float *const *exp_avg_sq, int n, int64_t *step, cJSON **state, sora_err *e)
{
	static const char *const plain[] = {"", NULL}, *const moments[] = {"exp_avg.", "exp_avg_sq.", NULL};
	float *const *const master_dst[] = {master}, *const *const moment_dst[] = {exp_avg, exp_avg_sq};
	char path[PATH_MAX];
	sora_json j = {0};
	if (state)
		*state = NULL;
	TRY(read_file(dir, "master.safetensors", params, n, plain, master_dst, NULL, e));
	TRY(read_file(dir, "optimizer.safetensors", params, n, moments, moment_dst, step, e));
	if (state) {
		TRY(path_fmt(path, e, "%s/state.json", dir));
		TRY(sora_json_load(&j, path, e));
		CHECK(e, cJSON_IsObject(j.root), "%s: not a JSON object", path);
		*state = j.root, j.root = NULL;
		sora_json_free(&j);
	}
	return 0;
fail:
	sora_json_free(&j);
	return -1;
}
