/* The safetensors writer, to a file or to memory (the reader is safetensors.c). */
#include "safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct buf {
	char *p;
	size_t n, cap;
	int oom;
} buf;

static void put(buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = (b->n + n + 1) * 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void puts_(buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* A JSON string literal. */
static void put_str(buf *b, const char *s)
{
	put(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\', esc[1] = (char)c;
			put(b, esc, 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof esc, "\\u%04x", c);
			put(b, esc, 6);
		} else {
			put(b, (const char *)&c, 1);
		}
	}
	put(b, "\"", 1);
}

static const char *st_dtype_name(sora_dtype d)
{
	static const char *const names[] = {"F32", "BF16", "F16", "I32", "I64"};
	return names[d];
}

static const sora_tensor *sort_tensors;
static const char *const *sort_names;

/* The reference writer's order: larger elements first (so each tensor stays aligned), then by name. */
static int cmp_layout(const void *a, const void *b)
{
	int i = *(const int *)a, j = *(const int *)b;
	size_t si = sora_dtype_size(sort_tensors[i].dtype), sj = sora_dtype_size(sort_tensors[j].dtype);
	if (si != sj)
		return si > sj ? -1 : 1;
	return strcmp(sort_names[i], sort_names[j]);
}

/* Checks the arguments, fills order (the data layout) and builds the header in h, padded to 8 bytes;
 * *data_bytes is the size of the data that follows it. `what` names the output in messages. */
static int layout(const char *what, const char *const *names, const sora_tensor *tensors, int n,
		  const char *const *meta_kv, int *order, buf *h, uint64_t *data_bytes, sora_err *e)
{
	for (int i = 0; i < n; i++) {
		order[i] = i;
		CHECK(e, tensors[i].device == SORA_CPU, "%s: tensor '%s' is not on the CPU", what, names[i]);
		CHECK(e, strcmp(names[i], "__metadata__"), "%s: '__metadata__' is not a tensor name", what);
		for (int j = 0; j < i; j++)
			CHECK(e, strcmp(names[i], names[j]), "%s: tensor '%s' given twice", what, names[i]);
	}
	/* qsort has no context argument; the writer is not called from several threads at once. */
	sort_tensors = tensors;
	sort_names = names;
	qsort(order, (size_t)n, sizeof *order, cmp_layout);

	puts_(h, "{");
	if (meta_kv && meta_kv[0]) {
		puts_(h, "\"__metadata__\":{");
		for (int k = 0; meta_kv[k]; k += 2) {
			CHECK(e, meta_kv[k + 1], "%s: metadata key '%s' has no value", what, meta_kv[k]);
			for (int j = 0; j < k; j += 2)
				CHECK(e, strcmp(meta_kv[j], meta_kv[k]), "%s: metadata key '%s' given twice",
				      what, meta_kv[k]);
			if (k)
				puts_(h, ",");
			put_str(h, meta_kv[k]);
			puts_(h, ":");
			put_str(h, meta_kv[k + 1]);
		}
		puts_(h, "}");
	}
	uint64_t off = 0;
	for (int k = 0; k < n; k++) {
		const sora_tensor *t = &tensors[order[k]];
		char num[48];
		if (k || (meta_kv && meta_kv[0]))
			puts_(h, ",");
		put_str(h, names[order[k]]);
		puts_(h, ":{\"dtype\":\"");
		puts_(h, st_dtype_name(t->dtype));
		puts_(h, "\",\"shape\":[");
		for (int d = 0; d < t->ndim; d++) {
			snprintf(num, sizeof num, "%s%lld", d ? "," : "", (long long)t->shape[d]);
			puts_(h, num);
		}
		uint64_t end = off + sora_tensor_nbytes(t);
		snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
			 (unsigned long long)end);
		puts_(h, num);
		off = end;
	}
	puts_(h, "}");
	while (h->n % 8)
		puts_(h, " ");
	CHECK_ALLOC(e, !h->oom);
	*data_bytes = off;
	return 0;
fail:
	return -1;
}

static void put_len(unsigned char len[8], uint64_t n)
{
	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)(n >> (8 * i));
}

int sora_st_serialize(const char *const *names, const sora_tensor *tensors, int n, const char *const *meta_kv,
		      void **out, size_t *size, sora_err *e)
{
	buf h = {0};
	uint64_t data_bytes;
	unsigned char *p = NULL;
	int *order = malloc((size_t)(n ? n : 1) * sizeof *order);
	*out = NULL;
	CHECK_ALLOC(e, order);
	TRY(layout("safetensors blob", names, tensors, n, meta_kv, order, &h, &data_bytes, e));
	*size = 8 + h.n + (size_t)data_bytes;
	CHECK_ALLOC(e, p = malloc(*size));
	put_len(p, h.n);
	memcpy(p + 8, h.p, h.n);
	size_t at = 8 + h.n;
	for (int k = 0; k < n; k++) {
		size_t nb = sora_tensor_nbytes(&tensors[order[k]]);
		if (nb)
			memcpy(p + at, tensors[order[k]].data, nb);
		at += nb;
	}
	*out = p;
	free(order);
	free(h.p);
	return 0;
fail:
	free(order);
	free(h.p);
	return -1;
}

int sora_st_write(const char *path, const char *const *names, const sora_tensor *tensors, int n,
		  const char *const *meta_kv, sora_err *e)
{
	buf h = {0};
	uint64_t data_bytes;
	int *order = malloc((size_t)(n ? n : 1) * sizeof *order);
	char *tmp = NULL;
	FILE *fp = NULL;
	CHECK_ALLOC(e, order);
	TRY(layout(path, names, tensors, n, meta_kv, order, &h, &data_bytes, e));

	CHECK_ALLOC(e, tmp = malloc(strlen(path) + 5));
	sprintf(tmp, "%s.tmp", path);
	fp = fopen(tmp, "wb");
	CHECK(e, fp, "%s: cannot create: %s", tmp, strerror(errno));
	unsigned char len[8];
	put_len(len, h.n);
	CHECK(e, fwrite(len, 1, 8, fp) == 8 && fwrite(h.p, 1, h.n, fp) == h.n, "%s: write error: %s", tmp,
	      strerror(errno));
	for (int k = 0; k < n; k++) {
		const sora_tensor *t = &tensors[order[k]];
		size_t nb = sora_tensor_nbytes(t);
		CHECK(e, fwrite(t->data, 1, nb, fp) == nb, "%s: write error: %s", tmp, strerror(errno));
	}
	int rc = fclose(fp);
	fp = NULL;
	CHECK(e, rc == 0, "%s: write error: %s", tmp, strerror(errno));
	CHECK_SYS(e, rename(tmp, path), "cannot rename the written file into place");
	free(tmp);
	free(order);
	free(h.p);
	return 0;
fail:
	if (fp)
		fclose(fp);
	if (tmp)
		unlink(tmp);
	free(tmp);
	free(order);
	free(h.p);
	return -1;
}
