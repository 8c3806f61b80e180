/* Open-Sora's training buckets (opensora/datasets/bucket.py): a bucket is (resolution, frame count, aspect
 * ratio), from a bucket_config {resolution: {frames: [keep_prob, batch_size]}} (keep_prob may also be
 * [keep_prob, next_prob]). Resolutions are visited from the most pixels down, frame counts from the most
 * down, as the reference orders them; get_bucket_id draws from numpy's default_rng(seed) where a keep
 * probability is below 1, so a clip lands in the same bucket as in the official loader.
 *
 * The files in configs/buckets/ hold the released stages' bucket_config objects. */
#ifndef SORA_FLOW_BUCKET_H
#define SORA_FLOW_BUCKET_H

#include "../util/err.h"
#include "aspect.h"

#include <cJSON.h>
#include <stdint.h>

#define SORA_BUCKET_MAX_RES    16
#define SORA_BUCKET_MAX_FRAMES 256

typedef struct sora_bucket_frames {
	int t;
	double keep_prob; /* the probability to take this resolution */
	double next_prob; /* [keep, next] configs: the probability to try the next frame count; < 0: none */
	int batch_size;
	int id; /* the reference's bucket_id[res][t] */
} sora_bucket_frames;

typedef struct sora_bucket_res {
	char name[32];
	int64_t pixels;  /* hw_criteria */
	sora_ar_dict ar; /* the training table of this resolution */
	int n_frames;
	sora_bucket_frames f[SORA_BUCKET_MAX_FRAMES]; /* most frames first */
} sora_bucket_res;

typedef struct sora_bucket {
	int n_res;
	sora_bucket_res res[SORA_BUCKET_MAX_RES]; /* most pixels first */
	int num_bucket;                           /* Σ frame counts × ratios: len(Bucket) */
} sora_bucket;

/* The bucket a clip goes to: names point into the sora_bucket. */
typedef struct sora_bucket_id {
	const char *resolution;
	int t;
	const char *ratio;
} sora_bucket_id;

/* Bucket(bucket_config) from a JSON object; `what` names it in messages. */
int sora_bucket_init(sora_bucket *b, const cJSON *config, const char *what, sora_err *e);
/* From a JSON file holding the object (or an object with a "bucket_config" key). */
int sora_bucket_load(sora_bucket *b, const char *path, sora_err *e);

/* Open-Sora's map_target_fps: fps at most max_fps, and the frame stride that gets there. */
int sora_target_fps_interval(double fps, double max_fps, double *new_fps);

/* get_bucket_id(T, H, W, fps, seed, fps_max): 1 and *id when the clip fits a bucket, 0 when it fits none. */
int sora_bucket_get_id(const sora_bucket *b, int T, int H, int W, double fps, uint64_t seed, double fps_max,
		       sora_bucket_id *id);
/* get_thw and get_batch_size of a bucket id; -1 and a message for an id this bucket set lacks. */
int sora_bucket_thw(const sora_bucket *b, const sora_bucket_id *id, int *t, int *h, int *w, sora_err *e);
int sora_bucket_batch_size(const sora_bucket *b, const sora_bucket_id *id, int *bs, sora_err *e);
/* The reference's bucket_id[res][t], or -1. */
int sora_bucket_index(const sora_bucket *b, const char *resolution, int t);

#endif
