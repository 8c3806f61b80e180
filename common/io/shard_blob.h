/* One dataset row as one safetensors blob in memory: named tensors plus the row's CSV fields as string
 * `__metadata__` (docs/formats.md, "Shards"). The bytes are sora_st_serialize's, those of a .safetensors
 * file: the header JSON holds `__metadata__` first (keys in the order given), then the tensors by
 * decreasing element size and name, each aligned to its element size; the header is padded with spaces
 * to a multiple of 8.
 *
 *     const char *names[] = {"t5", "clip"};
 *     TRY(sora_blob_encode(names, tensors, 2, meta_kv, &blob, &size, e));   // meta_kv: k, v, ..., NULL
 *     sora_record r;
 *     TRY(sora_record_parse(&r, blob, size, "row 7", e));                    // validated copy
 *     const sora_tensor *t5 = sora_record_tensor(&r, "t5");                   // view into r
 *     sora_record_free(&r); */
#ifndef SORA_SHARD_BLOB_H
#define SORA_SHARD_BLOB_H

#include "../nn/tensor.h"
#include "../util/err.h"

#include <stddef.h>

/* The blob (malloc'd) of n CPU tensors and string metadata (key, value, ..., NULL; may be NULL). Names
 * must be unique and not "__metadata__"; metadata keys must be unique. */
int sora_blob_encode(const char *const *names, const sora_tensor *tensors, int n, const char *const *meta_kv,
		     void **blob, size_t *size, sora_err *e);

typedef struct sora_record {
	char *id;   /* the key, when read from a dataset (else NULL) */
	void *data; /* the tensors' bytes, 64-byte aligned, owned */
	int n;
	char **names;        /* [n] */
	sora_tensor *t;      /* [n], views into data */
	int nmeta;           /* metadata entries, in the blob's order */
	char **keys, **vals; /* [nmeta] */
} sora_record;

/* Validates a blob as the safetensors reader validates a file (io/safetensors.h), plus: dtypes
 * F32/BF16/F16/I32/I64, at most 5 dims, every tensor aligned to its element size; then copies it into r.
 * `what` names the blob in messages ("shard-00002.mdb key 'x'"). Tensors are in name order. */
int sora_record_parse(sora_record *r, const void *blob, size_t size, const char *what, sora_err *e);
/* The tensor or metadata value of that name, or NULL. */
const sora_tensor *sora_record_tensor(const sora_record *r, const char *name);
const char *sora_record_meta(const sora_record *r, const char *key);
void sora_record_free(sora_record *r);

#endif
