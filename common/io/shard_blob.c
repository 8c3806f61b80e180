#include "shard_blob.h"

#include "safetensors.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int sora_blob_encode(const char *const *names, const sora_tensor *tensors, int n, const char *const *meta_kv,
		     void **blob, size_t *size, sora_err *e)
{
	return sora_st_serialize(names, tensors, n, meta_kv, blob, size, e);
}

/* The tensors become typed views into r->data: our dtypes, at most SORA_MAX_DIMS, aligned. */
static int view(sora_record *r, int k, const sora_st_tensor *s, sora_err *e)
{
	sora_tensor *t = &r->t[k];
	sora_dtype d;
	TRY(sora_st_dtype(s, &d, e));
	CHECK(e, s->ndim <= SORA_MAX_DIMS, "%s: tensor '%s' has %d dims (at most %d)", s->file, s->name,
	      s->ndim, SORA_MAX_DIMS);
	CHECK(e, (uintptr_t)s->data % (uintptr_t)s->elem_size == 0,
	      "%s: tensor '%s' is not aligned to its element size", s->file, s->name);
	sora_tensor_view(t, d, s->ndim, s->shape, (void *)s->data);
	CHECK_ALLOC(e, r->names[k] = strdup(s->name));
	return 0;
fail:
	return -1;
}

int sora_record_parse(sora_record *r, const void *blob, size_t size, const char *what, sora_err *e)
{
	const unsigned char *b = blob;
	sora_safetensors *st = NULL;
	memset(r, 0, sizeof *r);
	/* A copy placed so that its data area starts 64-byte aligned (the header is a multiple of 8 long
	 * as written, but any length is read). */
	uint64_t hn = 0;
	for (int i = 0; size >= 8 && i < 8; i++)
		hn |= (uint64_t)b[i] << (8 * i);
	size_t shift = size >= 8 && hn <= size - 8 ? (64 - (8 + (size_t)hn) % 64) % 64 : 0;
	CHECK_ALLOC(e, r->data = aligned_alloc(64, (shift + size + 63) / 64 * 64 + 64));
	if (size)
		memcpy((char *)r->data + shift, blob, size);
	TRY(sora_st_open_mem(&st, (char *)r->data + shift, size, what, e));
	r->n = sora_st_count(st);
	r->nmeta = sora_st_metadata_count(st);
	CHECK_ALLOC(e, r->names = calloc((size_t)r->n + 1, sizeof *r->names));
	CHECK_ALLOC(e, r->t = calloc((size_t)r->n + 1, sizeof *r->t));
	CHECK_ALLOC(e, r->keys = calloc((size_t)r->nmeta + 1, sizeof *r->keys));
	CHECK_ALLOC(e, r->vals = calloc((size_t)r->nmeta + 1, sizeof *r->vals));
	for (int k = 0; k < r->n; k++)
		TRY(view(r, k, sora_st_get(st, k), e));
	for (int m = 0; m < r->nmeta; m++) {
		const char *key, *val;
		sora_st_metadata_at(st, m, &key, &val);
		CHECK_ALLOC(e, r->keys[m] = strdup(key));
		CHECK_ALLOC(e, r->vals[m] = strdup(val));
	}
	sora_st_close(st);
	return 0;
fail:
	sora_st_close(st);
	sora_record_free(r);
	return -1;
}

const sora_tensor *sora_record_tensor(const sora_record *r, const char *name)
{
	for (int k = 0; k < r->n; k++)
		if (!strcmp(r->names[k], name))
			return &r->t[k];
	return NULL;
}

const char *sora_record_meta(const sora_record *r, const char *key)
{
	for (int k = 0; k < r->nmeta; k++)
		if (!strcmp(r->keys[k], key))
			return r->vals[k];
	return NULL;
}

void sora_record_free(sora_record *r)
{
	for (int k = 0; r->names && k < r->n + 1; k++)
		free(r->names[k]);
	for (int k = 0; r->keys && k < r->nmeta; k++) {
		free(r->keys[k]);
		if (r->vals)
			free(r->vals[k]);
	}
	free(r->names);
	free(r->t);
	free(r->keys);
	free(r->vals);
	free(r->data);
	free(r->id);
	memset(r, 0, sizeof *r);
}
