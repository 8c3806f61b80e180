/* The safetensors writer (the reader is safetensors.c). */
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

int sora_st_write(const char *path, const char *const *names, const sora_tensor *tensors, int n,
		  const char *const *meta_kv, sora_err *e)
{
	buf h = {0};
	int *order = malloc((size_t)(n ? n : 1) * sizeof *order);
	char *tmp = NULL;
	FILE *fp = NULL;
	CHECK_ALLOC(e, order);
	for (int i = 0; i < n; i++) {
		order[i] = i;
		CHECK(e, tensors[i].device == SORA_CPU, "%s: tensor '%s' is not on the CPU", path, names[i]);
		CHECK(e, strcmp(names[i], "__metadata__"), "%s: '__metadata__' is not a tensor name", path);
		for (int j = 0; j < i; j++)
			CHECK(e, strcmp(names[i], names[j]), "%s: tensor '%s' given twice", path, names[i]);
	}
	/* qsort has no context argument; the writer is not called from several threads at once. */
	sort_tensors = tensors;
	sort_names = names;
	qsort(order, (size_t)n, sizeof *order, cmp_layout);

	puts_(&h, "{");
	if (meta_kv && meta_kv[0]) {
		puts_(&h, "\"__metadata__\":{");
		for (int k = 0; meta_kv[k]; k += 2) {
			CHECK(e, meta_kv[k + 1], "%s: metadata key '%s' has no value", path, meta_kv[k]);
			if (k)
				puts_(&h, ",");
			put_str(&h, meta_kv[k]);
			puts_(&h, ":");
			put_str(&h, meta_kv[k + 1]);
		}
		puts_(&h, "}");
	}
	uint64_t off = 0;
	for (int k = 0; k < n; k++) {
		const sora_tensor *t = &tensors[order[k]];
		char num[48];
		if (k || (meta_kv && meta_kv[0]))
			puts_(&h, ",");
		put_str(&h, names[order[k]]);
		puts_(&h, ":{\"dtype\":\"");
		puts_(&h, st_dtype_name(t->dtype));
		puts_(&h, "\",\"shape\":[");
		for (int d = 0; d < t->ndim; d++) {
			snprintf(num, sizeof num, "%s%lld", d ? "," : "", (long long)t->shape[d]);
			puts_(&h, num);
		}
		uint64_t end = off + sora_tensor_nbytes(t);
		snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
			 (unsigned long long)end);
		puts_(&h, num);
		off = end;
	}
	puts_(&h, "}");
	while (h.n % 8)
		puts_(&h, " ");
	CHECK_ALLOC(e, !h.oom);

	CHECK_ALLOC(e, tmp = malloc(strlen(path) + 5));
	sprintf(tmp, "%s.tmp", path);
	fp = fopen(tmp, "wb");
	CHECK(e, fp, "%s: cannot create: %s", tmp, strerror(errno));
	unsigned char len[8];
	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)((uint64_t)h.n >> (8 * i));
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
