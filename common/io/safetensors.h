/* safetensors checkpoints: memory-mapped and validated before any tensor is used.
 *
 * Layout: u64 LE header length N | N bytes of JSON {"name": {"dtype", "shape", "data_offsets": [b, e]},
 * "__metadata__": {str: str}} | data (offsets relative to its start). The reader checks that N fits in
 * the file and is at most 100 MB, the JSON is well formed, every dtype is known, every shape is
 * non-negative and shape × dtype size = e − b without overflow, every range lies inside the data area,
 * no two ranges overlap and no name repeats; a failure names the file and the tensor.
 *
 * Sharded checkpoints are opened through their `*.safetensors.index.json` (`weight_map`: tensor → shard
 * file); every shard is validated and every tensor must be in the shard the index names. */
#ifndef SORA_SAFETENSORS_H
#define SORA_SAFETENSORS_H

#include "../nn/tensor.h"
#include "../util/err.h"

#include <stddef.h>
#include <stdint.h>

#define SORA_ST_MAX_DIMS   8
#define SORA_ST_MAX_HEADER 100000000

typedef struct sora_st_tensor {
	char *name;
	char dtype[8]; /* as in the file: "F32", "BF16", ... */
	int elem_size; /* bytes per element */
	int ndim;      /* 0 for a scalar */
	int64_t shape[SORA_ST_MAX_DIMS];
	const void *data; /* inside the mapping; nbytes long */
	size_t nbytes;
	const char *file; /* the file it is in, for messages */
} sora_st_tensor;

typedef struct sora_safetensors sora_safetensors;

/* Opens a .safetensors file, or a sharded checkpoint through its .index.json. */
int sora_st_open(sora_safetensors **out, const char *path, sora_err *e);
/* The same checks on size bytes in memory, which must outlive the handle (tensors point into them);
 * `name` stands for the file in messages. */
int sora_st_open_mem(sora_safetensors **out, const void *data, size_t size, const char *name, sora_err *e);
void sora_st_close(sora_safetensors *st);

int sora_st_count(const sora_safetensors *st);
/* Tensors sorted by name. */
const sora_st_tensor *sora_st_get(const sora_safetensors *st, int i);
const sora_st_tensor *sora_st_find(const sora_safetensors *st, const char *name);
/* A `__metadata__` value of the (first) file, or NULL. */
const char *sora_st_metadata(const sora_safetensors *st, const char *key);
/* The metadata entries in the file's order: count, then key and value of entry i. */
int sora_st_metadata_count(const sora_safetensors *st);
void sora_st_metadata_at(const sora_safetensors *st, int i, const char **key, const char **value);

/* The tensor's dtype in our vocabulary (F32, BF16, F16, I32, I64); fails for the others. */
int sora_st_dtype(const sora_st_tensor *t, sora_dtype *out, sora_err *e);

/* Tensor `key` as a malloc'd f32 copy (*out; F32, BF16 or F16 stored) of rank ndim, its shape into dims;
 * an absent tensor fails when required, else gives *out NULL and 0. `path` names the file in messages. */
int sora_st_read_f32(const sora_safetensors *st, const char *path, const char *key, int ndim, int64_t *dims,
		     float **out, int required, sora_err *e);

/* Writes tensors (CPU, any of our dtypes) under the given names, with optional string metadata
 * (meta_kv: key, value, key, value, ..., NULL). Names must be unique. Data is laid out by decreasing
 * element size then name, so every tensor is aligned to its element size, as the reference writer does;
 * the header is padded with spaces to a multiple of 8. The file is written to path.tmp and renamed. */
int sora_st_write(const char *path, const char *const *names, const sora_tensor *tensors, int n,
		  const char *const *meta_kv, sora_err *e);
/* The same bytes in memory (*out malloc'd, *size bytes): a dataset record (io/shard_blob.h). */
int sora_st_serialize(const char *const *names, const sora_tensor *tensors, int n, const char *const *meta_kv,
		      void **out, size_t *size, sora_err *e);

#endif
