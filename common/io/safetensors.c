#include "safetensors.h"

#include "../util/file.h"

#include <cJSON.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct st_file {
	char *path;
	void *map; /* the file's mapping, or the caller's bytes (sora_st_open_mem) */
	size_t size;
	int mapped; /* map is ours to unmap */
} st_file;

struct sora_safetensors {
	st_file *files;
	int nfiles;
	sora_st_tensor *t;
	int n, cap;
	cJSON *meta; /* __metadata__ of the first file */
};

static const struct {
	const char *name;
	int size;
} dtypes[] = {
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
    {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},     {"F64", 8},     {"I64", 8}, {"U64", 8},
};

static int dtype_size(const char *name)
{
	for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++)
		if (!strcmp(dtypes[i].name, name))
			return dtypes[i].size;
	return 0;
}

/* JSON numbers are doubles: an index must be a whole number that a double holds exactly. */
static int json_index(const cJSON *v, int64_t *out)
{
	if (!cJSON_IsNumber(v))
		return -1;
	double d = v->valuedouble;
	if (!isfinite(d) || d < 0 || d > 9007199254740992.0 || d != floor(d))
		return -1;
	*out = (int64_t)d;
	return 0;
}

/* Validates one tensor entry of file f (data area of data_size bytes) into t. */
static int parse_entry(sora_st_tensor *t, const cJSON *item, const st_file *f, size_t data_start, sora_err *e)
{
	const char *path = f->path, *name = item->string;
	CHECK(e, cJSON_IsObject(item), "%s: tensor '%s': entry is not an object", path, name);
	const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
	const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
	const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
	CHECK(e, cJSON_IsString(dt), "%s: tensor '%s': no dtype", path, name);
	int size = dtype_size(dt->valuestring);
	CHECK(e, size > 0, "%s: tensor '%s': unknown dtype '%.16s'", path, name, dt->valuestring);
	CHECK(e, cJSON_IsArray(shape), "%s: tensor '%s': no shape", path, name);
	int ndim = cJSON_GetArraySize(shape);
	CHECK(e, ndim <= SORA_ST_MAX_DIMS, "%s: tensor '%s': %d dims (at most %d)", path, name, ndim,
	      SORA_ST_MAX_DIMS);
	CHECK(e, cJSON_IsArray(offs) && cJSON_GetArraySize(offs) == 2,
	      "%s: tensor '%s': no data_offsets [begin, end]", path, name);
	int64_t begin, end, bytes = size;
	int k = 0;
	for (const cJSON *d = shape->child; d; d = d->next, k++) {
		CHECK(e, json_index(d, &t->shape[k]) == 0, "%s: tensor '%s': shape dim %d is not a size",
		      path, name, k);
		CHECK(e, !t->shape[k] || bytes <= INT64_MAX / t->shape[k], "%s: tensor '%s': shape too large",
		      path, name);
		bytes *= t->shape[k];
	}
	CHECK(e,
	      json_index(offs->child, &begin) == 0 && json_index(offs->child->next, &end) == 0 &&
		  begin <= end,
	      "%s: tensor '%s': data_offsets are not a range", path, name);
	size_t data_size = f->size - data_start;
	CHECK(e, (uint64_t)end <= data_size,
	      "%s: tensor '%s': data_offsets [%lld, %lld] outside the %zu-byte data area", path, name,
	      (long long)begin, (long long)end, data_size);
	CHECK(e, end - begin == bytes, "%s: tensor '%s': %lld bytes for a shape needing %lld", path, name,
	      (long long)(end - begin), (long long)bytes);
	CHECK_ALLOC(e, t->name = strdup(name));
	snprintf(t->dtype, sizeof t->dtype, "%s", dt->valuestring);
	t->elem_size = size;
	t->ndim = ndim;
	t->data = (const char *)f->map + data_start + begin;
	t->nbytes = (size_t)bytes;
	t->file = f->path;
	return 0;
fail:
	return -1;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const sora_st_tensor *)a)->name, ((const sora_st_tensor *)b)->name);
}

typedef struct range {
	const char *begin, *end, *name;
} range;

static int cmp_begin(const void *a, const void *b)
{
	const range *x = a, *y = b;
	return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* No two non-empty ranges of the tensors t[first..n) share a byte. */
static int check_overlaps(sora_safetensors *st, int first, const char *path, sora_err *e)
{
	int n = 0, rc = -1;
	range *by = malloc((size_t)(st->n - first + 1) * sizeof(range));
	CHECK_ALLOC(e, by);
	for (int i = first; i < st->n; i++)
		if (st->t[i].nbytes) /* empty tensors take no bytes, wherever they point */
			by[n++] = (range){st->t[i].data, (const char *)st->t[i].data + st->t[i].nbytes,
					  st->t[i].name};
	qsort(by, (size_t)n, sizeof(range), cmp_begin);
	for (int i = 1; i < n; i++)
		CHECK(e, by[i - 1].end <= by[i].begin, "%s: tensor '%s': data overlaps tensor '%s'", path,
		      by[i].name, by[i - 1].name);
	rc = 0;
fail:
	free(by);
	return rc;
}

/* A new file entry of st named path, its bytes not yet attached. */
static st_file *new_file(sora_safetensors *st, const char *path, sora_err *e)
{
	st_file *files = realloc(st->files, (size_t)(st->nfiles + 1) * sizeof *files);
	CHECK_ALLOC(e, files);
	st->files = files;
	st_file *f = &st->files[st->nfiles];
	memset(f, 0, sizeof *f);
	CHECK_ALLOC(e, f->path = strdup(path));
	st->nfiles++;
	return f;
fail:
	return NULL;
}

/* Validates the header of f's bytes and adds its tensors to st. */
static int parse_file(sora_safetensors *st, const st_file *f, sora_err *e)
{
	const char *path = f->path;
	char *hdr = NULL;
	cJSON *root = NULL;
	CHECK(e, f->size >= 8, "%s: not a safetensors file (%zu bytes, shorter than the header length)", path,
	      f->size);
	const unsigned char *p = f->map;
	uint64_t hlen = 0;
	for (int i = 7; i >= 0; i--)
		hlen = hlen << 8 | p[i];
	CHECK(e, hlen <= SORA_ST_MAX_HEADER, "%s: header length %llu is over the 100 MB limit", path,
	      (unsigned long long)hlen);
	CHECK(e, hlen <= f->size - 8, "%s: header length %llu runs past the end of the %zu-byte file", path,
	      (unsigned long long)hlen, f->size);
	CHECK(e, !memchr(p + 8, 0, hlen), "%s: the header holds a NUL byte", path);
	CHECK_ALLOC(e, hdr = malloc(hlen + 1));
	memcpy(hdr, p + 8, hlen);
	hdr[hlen] = '\0';
	root = cJSON_ParseWithLengthOpts(hdr, hlen + 1, NULL, 1);
	CHECK(e, root, "%s: the header is not well-formed JSON", path);
	CHECK(e, cJSON_IsObject(root), "%s: the header is not a JSON object", path);

	int first = st->n;
	for (const cJSON *it = root->child; it; it = it->next) {
		if (!strcmp(it->string, "__metadata__")) {
			CHECK(e, cJSON_IsObject(it), "%s: __metadata__ is not an object", path);
			for (const cJSON *m = it->child; m; m = m->next)
				CHECK(e, cJSON_IsString(m), "%s: __metadata__ '%s' is not a string", path,
				      m->string);
			if (!st->meta)
				CHECK_ALLOC(e, st->meta = cJSON_Duplicate(it, 1));
			continue;
		}
		if (st->n == st->cap) {
			int cap = st->cap ? 2 * st->cap : 64;
			sora_st_tensor *t = realloc(st->t, (size_t)cap * sizeof *t);
			CHECK_ALLOC(e, t);
			st->t = t;
			st->cap = cap;
		}
		memset(&st->t[st->n], 0, sizeof *st->t);
		TRY(parse_entry(&st->t[st->n], it, f, 8 + hlen, e));
		st->n++;
	}
	TRY(check_overlaps(st, first, path, e));
	cJSON_Delete(root);
	free(hdr);
	return 0;
fail:
	cJSON_Delete(root);
	free(hdr);
	return -1;
}

static int add_file(sora_safetensors *st, const char *path, sora_err *e)
{
	int fd = -1;
	st_file *f = new_file(st, path, e);
	if (!f)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(e, fd >= 0, "%s: cannot open: %s", path, strerror(errno));
	struct stat sb;
	CHECK_SYS(e, fstat(fd, &sb), path);
	CHECK(e, S_ISREG(sb.st_mode), "%s: not a regular file", path);
	CHECK(e, sb.st_size >= 8, "%s: not a safetensors file (%lld bytes, shorter than the header length)",
	      path, (long long)sb.st_size);
	f->size = (size_t)sb.st_size;
	f->map = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK(e, f->map != MAP_FAILED, "%s: cannot map: %s", path, strerror(errno));
	f->mapped = 1;
	close(fd);
	return parse_file(st, f, e);
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcmp(s + n - k, suffix);
}

/* A shard's path: the index's directory + the name it gives. */
static char *shard_path(const char *index, const char *file, sora_err *e)
{
	const char *slash = strrchr(index, '/');
	int dirlen = slash ? (int)(slash - index + 1) : 0;
	char *p = malloc((size_t)dirlen + strlen(file) + 1);
	if (!p) {
		SORA_FAIL(e, "out of memory");
		return NULL;
	}
	sprintf(p, "%.*s%s", dirlen, index, file);
	return p;
}

/* A sharded checkpoint: every shard the index names, and each tensor in the shard it is mapped to. */
static int add_index(sora_safetensors *st, const char *path, sora_err *e)
{
	cJSON *root = NULL;
	char *text = NULL, *shard = NULL;
	TRY((text = sora_read_file(path, SORA_ST_MAX_HEADER, "safetensors index", NULL, e)) ? 0 : -1);
	root = cJSON_Parse(text);
	CHECK(e, root, "%s: not well-formed JSON", path);
	const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
	CHECK(e, cJSON_IsObject(map), "%s: no weight_map object", path);
	int nmapped = 0;
	for (const cJSON *it = map->child; it; it = it->next, nmapped++) {
		CHECK(e, cJSON_IsString(it), "%s: tensor '%s': shard is not a string", path, it->string);
		const char *file = it->valuestring;
		CHECK(e, file[0] && file[0] != '/' && !strstr(file, ".."),
		      "%s: tensor '%s': bad shard name '%s'", path, it->string, file);
		free(shard);
		TRY((shard = shard_path(path, file, e)) ? 0 : -1);
		int seen = 0;
		for (int i = 0; i < st->nfiles && !seen; i++)
			seen = !strcmp(st->files[i].path, shard);
		if (!seen)
			TRY(add_file(st, shard, e));
	}
	if (st->n)
		qsort(st->t, (size_t)st->n, sizeof *st->t, cmp_name);
	for (const cJSON *it = map->child; it; it = it->next) {
		const sora_st_tensor *t = sora_st_find(st, it->string);
		CHECK(e, t, "%s: tensor '%s': not in its shard %s", path, it->string, it->valuestring);
		free(shard);
		TRY((shard = shard_path(path, it->valuestring, e)) ? 0 : -1);
		CHECK(e, !strcmp(t->file, shard), "%s: tensor '%s': found in %s, the index says %s", path,
		      it->string, t->file, it->valuestring);
	}
	CHECK(e, nmapped == st->n, "%s: the shards hold %d tensors, the index maps %d", path, st->n, nmapped);
	free(shard);
	free(text);
	cJSON_Delete(root);
	return 0;
fail:
	free(shard);
	free(text);
	cJSON_Delete(root);
	return -1;
}

/* Tensors sorted by name, each name once; then st is the caller's. */
static int finish(sora_safetensors *st, sora_safetensors **out, sora_err *e)
{
	if (st->n)
		qsort(st->t, (size_t)st->n, sizeof *st->t, cmp_name);
	for (int i = 1; i < st->n; i++)
		CHECK(e, strcmp(st->t[i - 1].name, st->t[i].name), "%s: tensor '%s' appears twice",
		      st->t[i].file, st->t[i].name);
	*out = st;
	return 0;
fail:
	sora_st_close(st);
	return -1;
}

int sora_st_open(sora_safetensors **out, const char *path, sora_err *e)
{
	sora_safetensors *st = calloc(1, sizeof *st);
	*out = NULL;
	CHECK_ALLOC(e, st);
	if (ends_with(path, ".index.json"))
		TRY(add_index(st, path, e));
	else
		TRY(add_file(st, path, e));
	return finish(st, out, e);
fail:
	sora_st_close(st);
	return -1;
}

int sora_st_open_mem(sora_safetensors **out, const void *data, size_t size, const char *name, sora_err *e)
{
	sora_safetensors *st = calloc(1, sizeof *st);
	st_file *f;
	*out = NULL;
	CHECK_ALLOC(e, st);
	TRY((f = new_file(st, name, e)) ? 0 : -1);
	f->map = (void *)data;
	f->size = size;
	TRY(parse_file(st, f, e));
	return finish(st, out, e);
fail:
	sora_st_close(st);
	return -1;
}

void sora_st_close(sora_safetensors *st)
{
	if (!st)
		return;
	for (int i = 0; i < st->nfiles; i++) {
		if (st->files[i].mapped)
			munmap(st->files[i].map, st->files[i].size);
		free(st->files[i].path);
	}
	for (int i = 0; i < st->n; i++)
		free(st->t[i].name);
	cJSON_Delete(st->meta);
	free(st->files);
	free(st->t);
	free(st);
}

int sora_st_count(const sora_safetensors *st)
{
	return st->n;
}

const sora_st_tensor *sora_st_get(const sora_safetensors *st, int i)
{
	return i >= 0 && i < st->n ? &st->t[i] : NULL;
}

const sora_st_tensor *sora_st_find(const sora_safetensors *st, const char *name)
{
	const sora_st_tensor key = {.name = (char *)name};
	return bsearch(&key, st->t, (size_t)st->n, sizeof *st->t, cmp_name);
}

int sora_st_metadata_count(const sora_safetensors *st)
{
	return st->meta ? cJSON_GetArraySize(st->meta) : 0;
}

void sora_st_metadata_at(const sora_safetensors *st, int i, const char **key, const char **value)
{
	const cJSON *m = cJSON_GetArrayItem(st->meta, i);
	*key = m->string;
	*value = m->valuestring;
}

const char *sora_st_metadata(const sora_safetensors *st, const char *key)
{
	const cJSON *v = st->meta ? cJSON_GetObjectItemCaseSensitive(st->meta, key) : NULL;
	return v && cJSON_IsString(v) ? v->valuestring : NULL;
}

int sora_st_dtype(const sora_st_tensor *t, sora_dtype *out, sora_err *e)
{
	static const struct {
		const char *name;
		sora_dtype d;
	} ours[] = {
	    {"F32", SORA_F32}, {"BF16", SORA_BF16}, {"F16", SORA_F16}, {"I32", SORA_I32}, {"I64", SORA_I64}};
	for (size_t i = 0; i < sizeof ours / sizeof *ours; i++)
		if (!strcmp(t->dtype, ours[i].name)) {
			*out = ours[i].d;
			return 0;
		}
	return SORA_FAIL(e, "%s: tensor '%s': dtype %s is not supported here", t->file, t->name, t->dtype);
}

int sora_st_read_f32(const sora_safetensors *st, const char *path, const char *key, int ndim, int64_t *dims,
		     float **out, int required, sora_err *e)
{
	*out = NULL;
	const sora_st_tensor *t = sora_st_find(st, key);
	if (!t) {
		CHECK(e, !required, "%s: tensor %s missing", path, key);
		return 0;
	}
	CHECK(e, t->ndim == ndim, "%s: %s has %d dimensions, expected %d", path, key, t->ndim, ndim);
	sora_dtype dt;
	TRY(sora_st_dtype(t, &dt, e));
	CHECK(e, dt == SORA_F32 || dt == SORA_BF16 || dt == SORA_F16, "%s: %s is %s, expected a float type",
	      path, key, t->dtype);
	int64_t n = 1;
	for (int i = 0; i < ndim; i++) {
		dims[i] = t->shape[i];
		n *= dims[i];
	}
	CHECK(e, n > 0, "%s: %s is empty", path, key);
	CHECK_ALLOC(e, *out = malloc((size_t)n * sizeof **out));
	TRY(sora_to_f32(*out, t->data, dt, (size_t)n, e));
	return 0;
fail:
	free(*out);
	*out = NULL;
	return -1;
}
