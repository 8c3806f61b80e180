/* Datasets of shards: what sora-encode writes and sora-train reads (docs/formats.md, "Shards").
 *
 * A dataset is a folder: index.json (format, version, what encoded the rows, the sealed shards with
 * their row counts, byte sizes and bucket histograms, and the totals) and shard-NNNNN.mdb files, each an
 * LMDB environment in one file (MDB_NOSUBDIR), compacted, never written again once sealed. Key: the row
 * id (UTF-8, at most 511 bytes). Value: one safetensors blob (shard_blob.h).
 *
 *     sora_dataset *d;
 *     TRY(sora_dataset_open(&d, "shards/", e));
 *     for (int64_t i = 0; i < sora_dataset_count(d); i++) {
 *         sora_record r;
 *         TRY(sora_dataset_at(d, i, &r, e));              // shards in index order, keys in byte order
 *         ... sora_record_tensor(&r, "t5") ...
 *         sora_record_free(&r);
 *     }
 *     sora_dataset_close(d);
 *
 * Reading opens every shard read-only without a lock file (MDB_RDONLY | MDB_NOLOCK): safe on shared
 * file systems, from many threads at once, and in a process forked after the open (a child reopens the
 * files on its first call).
 *
 * Writing (one writer per shard; several processes may add shards to one folder, e.g. sora-encode
 * --shard i/n jobs): rows go into a hidden `.shard-NNNNN.open` until it reaches the target size; it is
 * then sealed — a compacted copy `.shard-NNNNN.seal` is written and fsynced and renamed to
 * shard-NNNNN.mdb — and only then is index.json rewritten (temp file, fsync, rename). Both renames
 * happen under a lock on `DIR/.lock` (fcntl), so a shard file not in index.json, or a hidden file no live
 * process holds a lock on, was left by a killed run: opening a writer removes them. fcntl locks belong to
 * a process, so a process opens at most one writer per folder. */
#ifndef SORA_SHARDS_H
#define SORA_SHARDS_H

#include "../util/err.h"
#include "shard_blob.h"

#include <cJSON.h>
#include <stdint.h>

#define SORA_SHARDS_FORMAT  "sora-shards"
#define SORA_SHARDS_VERSION 1
#define SORA_SHARD_MAX_KEY  511 /* LMDB's key size limit */

typedef struct sora_dataset sora_dataset;

/* Reads DIR/index.json and opens every shard it lists, checking each file's size and row count against
 * the index. */
int sora_dataset_open(sora_dataset **out, const char *dir, sora_err *e);
void sora_dataset_close(sora_dataset *d);

int64_t sora_dataset_count(const sora_dataset *d);
/* The parsed index.json (owned by d). */
const cJSON *sora_dataset_index(const sora_dataset *d);

/* The row with key id: 1 (r filled; free it), 0 when absent, -1 on an error. *shard (may be NULL) gets
 * the index of the shard holding it. With r NULL only the presence is looked up. */
int sora_dataset_get(sora_dataset *d, const char *id, sora_record *r, int *shard, sora_err *e);
/* Row i of the dataset (0 ≤ i < count): shards in index order, keys in byte order within a shard.
 * r is zeroed first, so freeing it is always safe. */
int sora_dataset_at(sora_dataset *d, int64_t i, sora_record *r, sora_err *e);
/* The file name of shard s ("shard-00003.mdb"). */
const char *sora_dataset_shard_file(const sora_dataset *d, int s);

typedef struct sora_shard_writer sora_shard_writer;

/* Opens DIR for adding rows (creating it and an empty index.json when needed). `encoders` describes what
 * makes the rows (models, their hashes, settings); a dataset made with a different description is
 * refused, naming the first key that differs. shard_bytes: seal a shard once it holds that much.
 * *removed (may be NULL) counts the files of killed runs that were removed. */
int sora_shard_writer_open(sora_shard_writer **out, const char *dir, const cJSON *encoders,
			   int64_t shard_bytes, int *removed, sora_err *e);
/* 1 when id is in a sealed shard or was put by this writer, else 0; -1 on an error. */
int sora_shard_writer_has(sora_shard_writer *w, const char *id, sora_err *e);
/* Adds a row (a blob of shard_blob.h) under id; `bucket` is its key in the histograms. A duplicate id
 * is an error. The shard is sealed when it reaches the target size. */
int sora_shard_writer_put(sora_shard_writer *w, const char *id, const void *blob, size_t size,
			  const char *bucket, sora_err *e);
/* The shard file the last row went to ("shard-00003.mdb"). */
const char *sora_shard_writer_shard(const sora_shard_writer *w);
/* Shards this writer has sealed so far: when it grows, every row put before is in a sealed shard. */
int sora_shard_writer_sealed(const sora_shard_writer *w);
/* Seals the open shard (if any) and frees w; w is freed on failure too. */
int sora_shard_writer_close(sora_shard_writer *w, sora_err *e);
/* Removes the open shard's files (its rows are lost: a later run redoes them) and frees w. */
void sora_shard_writer_abort(sora_shard_writer *w);

#endif
