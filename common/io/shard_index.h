/* index.json of a dataset and the folder lock (shards.h describes both); used by shards.c and
 * shard_writer.c only. */
#ifndef SORA_SHARD_INDEX_H
#define SORA_SHARD_INDEX_H

#include "../util/err.h"

#include <cJSON.h>
#include <stdint.h>

/* DIR/index.json, validated (format, version, every shard's file name, rows and bytes, the totals).
 * A missing file gives *out = NULL and 0 when missing_ok. */
int sora_shard_index_load(const char *dir, int missing_ok, cJSON **out, sora_err *e);
/* Writes DIR/.index.json.tmp, fsyncs it, renames it to DIR/index.json and fsyncs DIR. */
int sora_shard_index_save(const char *dir, const cJSON *index, sora_err *e);
/* An index with no shards. */
cJSON *sora_shard_index_new(const cJSON *encoders);
/* Appends a sealed shard and adds it to the totals. */
int sora_shard_index_add(cJSON *index, const char *file, int64_t rows, int64_t bytes, const cJSON *buckets,
			 sora_err *e);
/* The first key path where two encoder descriptions differ ("t5.config_hash"), into buf. */
void sora_shard_index_diff(const cJSON *a, const cJSON *b, char *buf, size_t n);

/* N of a name "<prefix>N<suffix>" (N: 5 or more digits), else -1. */
int64_t sora_shard_number(const char *name, const char *prefix, const char *suffix);

/* An exclusive fcntl lock on DIR/.lock, waiting for it; *fd to pass to the unlock. */
int sora_shard_dir_lock(const char *dir, int *fd, sora_err *e);
void sora_shard_dir_unlock(int fd);
int sora_fsync_dir(const char *dir, sora_err *e);

/* A message for an LMDB or system error code, with a hint when the disk is full. */
const char *sora_shard_strerror(int rc);

#endif
