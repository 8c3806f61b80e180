/* sora-train's data loader: batches of latents and text embeddings from one or several datasets written
 * by sora-encode (io/shards.h), in Open-Sora's bucketed order, decoded ahead by a background thread.
 *
 *     const char *dirs[] = {"shards/a", "shards/b"};
 *     sora_loader_opts o = {.dirs = dirs, .ndirs = 2, .bucket_config = cfg, .seed = 42, .world = 1};
 *     sora_loader *ld;
 *     TRY(sora_loader_open(&ld, &o, e));
 *     TRY(sora_loader_seek(ld, ckpt_epoch, ckpt_index, e));      // resuming: where the checkpoint was
 *     for (;;) {
 *         sora_batch b;
 *         if (sora_loader_next(ld, &b, e) < 0) goto fail;
 *         ... train on b; a checkpoint saves (b.epoch, b.index + 1) ...
 *         sora_batch_free(&b);
 *     }
 *     sora_loader_close(ld);
 *
 * Rows. Each row's `latent` [C, T, H, W], `t5` [Lt, Dt] and `clip` [Dc] (F32, BF16 or F16 stored; every
 * sora-encode row is BF16) arrive widened to f32, bit-exact. Other tensors and metadata are ignored.
 *
 * Buckets. Rows are grouped by their latent shape (C, T, H, W): a batch never mixes shapes. Its batch size
 * is the bucket_config's ({res: {frames: [keep_prob, batch_size]}}, flow/bucket.h) for the bucket the row's
 * metadata "bucket" names ("256px/16:9/33": resolution, ratio, frames), or opts.batch_size when there is no
 * bucket_config. keep_prob is not applied here: sora-encode applied it when it chose the row's bucket.
 * When rows of one shape name buckets of different batch sizes, the smallest is used.
 *
 * Open reads every row's safetensors header (not its tensors) to learn shapes and widths: one LMDB cursor
 * walk per shard, touching the first page of each value. Past 5 s it prints a progress line every 5 s.
 *
 * Bad rows never stop training. A row is left out, with one line on stderr naming it and why, when its
 * value is not a valid blob, latent/t5/clip is missing or of the wrong rank or dtype, or t5/clip has another
 * width than the dataset's (index.json's encoders.{t5,clip}.width when given, else the most common width
 * among the rows). With a bucket_config, a row without a "bucket" name is left out the same way, and the
 * rows of a bucket the config lacks are left out with one line per bucket. All of these are counted by
 * sora_loader_skipped. A row that passed at open but cannot be read later (not expected: shards are
 * immutable) is named once, counted once, and its batch goes out one row smaller in every epoch.
 * A shard that cannot be opened, or whose LMDB structure fails the cursor walk, makes open fail naming it;
 * a shard that opens but holds garbage values costs only its rows (each a bad row).
 *
 * Epoch e. From (seed, e) alone (the PRNG and the shuffle are in loader.c): the rows of each bucket are
 * shuffled, cut into batches of the bucket's size in that order (the last batch of a bucket holds the
 * remainder: nothing is dropped or repeated), and the batches of all buckets are shuffled into one
 * order. With rank r of world w the loader gives batches r, r + w, r + 2w, ... of that order: the ranks
 * together read every batch once, and a rank's batch count may exceed another's by one.
 *
 * Text. Rows written with --t5-trim have different Lt: a batch's t5 is [B, Lt, Dt] with Lt its longest
 * row, shorter rows padded with zeros; t5_len gives each row's own length.
 *
 * Threads. One background thread decodes up to opts.prefetch batches ahead; next blocks only when none
 * is ready. Calls on one loader come from one thread. */
#ifndef SORA_TRAIN_LOADER_H
#define SORA_TRAIN_LOADER_H

#include "../util/err.h"

#include <cJSON.h>
#include <stdint.h>

typedef struct sora_batch {
	int B, C, T, H, W; /* B rows, each latent [C, T, H, W] */
	int Lt, Dt, Dc;    /* t5 [Lt, Dt] after padding, clip [Dc] */
	float *latent;     /* [B, C, T, H, W] */
	float *t5;         /* [B, Lt, Dt], zeros past t5_len[b] */
	float *clip;       /* [B, Dc] */
	int *t5_len;       /* [B] */
	char **ids;        /* [B] the rows' keys */
	int64_t epoch;     /* this batch's position: the index-th batch of this rank in the epoch */
	int64_t index;
} sora_batch;

typedef struct sora_loader_opts {
	const char *const *dirs; /* dataset folders; their rows are read together */
	int ndirs;
	const cJSON *bucket_config; /* may be NULL: then every bucket holds batch_size rows */
	int batch_size;
	uint64_t seed;
	int rank, world; /* data parallelism: 0 ≤ rank < world; world 0 reads as 1 */
	int prefetch;    /* batches decoded ahead, 1 to 16; 0: 2 */
} sora_loader_opts;

typedef struct sora_loader sora_loader;

/* Opens the datasets, reads every row's header and starts the reader at (epoch 0, index 0). Fails when
 * a folder or shard cannot be opened, on a bad option, or when no batch is left for this rank. */
int sora_loader_open(sora_loader **out, const sora_loader_opts *o, sora_err *e);
/* The next batch (fill b; free it with sora_batch_free): 1, or -1 on an error (out of memory, or no row
 * of a whole epoch readable), which every later call repeats until a seek. After an epoch's last batch
 * comes the next epoch's first. */
int sora_loader_next(sora_loader *ld, sora_batch *b, sora_err *e);
/* The following batches are those an uninterrupted run reads from the index-th batch of this rank in
 * epoch on: 0 ≤ index ≤ batches per epoch (index = batches per epoch is the next epoch's start). */
int sora_loader_seek(sora_loader *ld, int64_t epoch, int64_t index, sora_err *e);
/* This rank's batches in an epoch. */
int64_t sora_loader_batches_per_epoch(const sora_loader *ld);
/* Rows of the datasets that no batch holds (bad rows, buckets the bucket_config lacks). */
int64_t sora_loader_skipped(const sora_loader *ld);
/* Stops the reader thread (even mid-decode) and frees everything. */
void sora_loader_close(sora_loader *ld);

void sora_batch_free(sora_batch *b);

#endif
