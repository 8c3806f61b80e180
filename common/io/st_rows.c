#include "st_rows.h"

#include "safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct rows_tensor {
	char *name;
	int ndim; /* with the row dimension */
	int64_t shape[SORA_MAX_DIMS];
	size_t row_floats;
	FILE *fp; /* the rows so far, in an unlinked file */
} rows_tensor;

struct sora_st_rows {
	char *path;
	rows_tensor *t;
	int n;
};

int sora_st_rows_open(sora_st_rows **out, const char *path, sora_err *e)
{
	sora_st_rows *w = calloc(1, sizeof *w);
	CHECK_ALLOC(e, w);
	CHECK_ALLOC(e, w->path = strdup(path));
	*out = w;
	return 0;
fail:
	free(w);
	return -1;
}

int sora_st_rows_add(sora_st_rows *w, const char *name, int row_ndim, const int64_t *row_shape, sora_err *e)
{
	char *tmp = NULL;
	int fd = -1;
	rows_tensor *t = NULL;
	CHECK(e, row_ndim >= 0 && row_ndim < SORA_MAX_DIMS, "%s: tensor '%s': %d dims per row", w->path, name,
	      row_ndim);
	t = realloc(w->t, (size_t)(w->n + 1) * sizeof *t);
	CHECK_ALLOC(e, t);
	w->t = t;
	t = &w->t[w->n];
	memset(t, 0, sizeof *t);
	t->ndim = row_ndim + 1;
	t->row_floats = 1;
	for (int d = 0; d < row_ndim; d++) {
		t->shape[d + 1] = row_shape[d];
		t->row_floats *= (size_t)row_shape[d];
	}
	/* Beside the output, so that it lands on the same (large) file system. */
	CHECK_ALLOC(e, tmp = malloc(strlen(w->path) + 16));
	sprintf(tmp, "%s.rows-XXXXXX", w->path);
	fd = mkstemp(tmp);
	CHECK(e, fd >= 0, "%s: cannot create a temporary file: %s", tmp, strerror(errno));
	unlink(tmp);
	CHECK(e, t->fp = fdopen(fd, "w+b"), "%s: %s", tmp, strerror(errno));
	fd = -1;
	CHECK_ALLOC(e, t->name = strdup(name));
	free(tmp);
	return w->n++;
fail:
	if (fd >= 0)
		close(fd);
	if (t && t->fp)
		fclose(t->fp);
	free(tmp);
	return -1;
}

int sora_st_rows_append(sora_st_rows *w, int h, const float *rows, int64_t n, sora_err *e)
{
	rows_tensor *t = &w->t[h];
	size_t k = t->row_floats * (size_t)n;
	CHECK(e, fwrite(rows, sizeof *rows, k, t->fp) == k, "%s: cannot write the rows of '%s': %s", w->path,
	      t->name, strerror(errno));
	t->shape[0] += n;
	return 0;
fail:
	return -1;
}

static void free_rows(sora_st_rows *w, void **maps, size_t *sizes)
{
	for (int i = 0; i < w->n; i++) {
		if (maps && maps[i] && maps[i] != MAP_FAILED)
			munmap(maps[i], sizes[i]);
		if (w->t[i].fp)
			fclose(w->t[i].fp);
		free(w->t[i].name);
	}
	free(w->t);
	free(w->path);
	free(w);
}

int sora_st_rows_close(sora_st_rows *w, const char *const *meta_kv, sora_err *e)
{
	void **maps = calloc((size_t)w->n + 1, sizeof *maps);
	size_t *sizes = calloc((size_t)w->n + 1, sizeof *sizes);
	const char **names = calloc((size_t)w->n + 1, sizeof *names);
	sora_tensor *views = calloc((size_t)w->n + 1, sizeof *views);
	CHECK_ALLOC(e, maps && sizes && names && views);
	for (int i = 0; i < w->n; i++) {
		rows_tensor *t = &w->t[i];
		CHECK(e, t->shape[0] == w->t[0].shape[0], "%s: '%s' has %lld rows, '%s' %lld", w->path,
		      t->name, (long long)t->shape[0], w->t[0].name, (long long)w->t[0].shape[0]);
		CHECK(e, fflush(t->fp) == 0, "%s: cannot write the rows of '%s': %s", w->path, t->name,
		      strerror(errno));
		sizes[i] = (size_t)t->shape[0] * t->row_floats * sizeof(float);
		if (sizes[i]) {
			maps[i] = mmap(NULL, sizes[i], PROT_READ, MAP_SHARED, fileno(t->fp), 0);
			CHECK(e, maps[i] != MAP_FAILED, "%s: cannot map the rows of '%s': %s", w->path,
			      t->name, strerror(errno));
		}
		names[i] = t->name;
		sora_tensor_view(&views[i], SORA_F32, t->ndim, t->shape, maps[i]);
	}
	TRY(sora_st_write(w->path, names, views, w->n, meta_kv, e));
	free_rows(w, maps, sizes);
	free(maps), free(sizes), free(names), free(views);
	return 0;
fail:
	free_rows(w, maps, sizes);
	free(maps), free(sizes), free(names), free(views);
	return -1;
}

void sora_st_rows_abort(sora_st_rows *w)
{
	if (w)
		free_rows(w, NULL, NULL);
}
