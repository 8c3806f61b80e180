/* The aesthetic score of a clip or image, as Open-Sora's tools/scoring/aesthetic (v1.3) computes it:
 * three frames of the clip, at 10%, 50% and 90% of its frames, each prepared as openai CLIP's
 * _transform does, CLIP ViT-L/14 image_embeds in one batch, the LAION aesthetic predictor on each, and
 * the mean. An image is one frame.
 *
 *     sora_aes *a;                       // the models: loaded once, read-only, shared by threads
 *     TRY(sora_aes_open(&a, "clip-vit-large-patch14", "aes.safetensors", e));
 *     sora_aes_ws *ws;                   // one per thread
 *     TRY(sora_aes_ws_new(&ws, a, e));
 *     TRY(sora_aes_score(a, ws, "clip.mp4", 0, INFINITY, &r, e));
 *     sora_aes_ws_free(ws);
 *     sora_aes_close(a);
 */
#ifndef SORA_AES_H
#define SORA_AES_H

#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

enum { SORA_AES_FRAMES = 3 };

typedef struct sora_aes sora_aes;
typedef struct sora_aes_ws sora_aes_ws;

/* clip_dir: a CLIP model folder as published (config.json of a CLIPVisionConfig or a whole CLIPConfig,
 * model.safetensors or its sharded index); aes: the predictor's weights as safetensors. Fails, naming
 * both, when CLIP's projection_dim is not the predictor's input width. */
int sora_aes_open(sora_aes **out, const char *clip_dir, const char *aes, sora_err *e);
void sora_aes_close(sora_aes *a);

/* What scoring with `workers` threads will hold, from clip_dir's config alone (nothing loaded): the
 * weights (f32) and, per worker, the activations of one batch of SORA_AES_FRAMES images. */
typedef struct sora_aes_memory {
	size_t weights, per_worker;
} sora_aes_memory;
int sora_aes_estimate(const char *clip_dir, sora_aes_memory *m, sora_err *e);

/* A worker's buffers: CLIP activations, pixels, embeddings. */
int sora_aes_ws_new(sora_aes_ws **out, const sora_aes *a, sora_err *e);
void sora_aes_ws_free(sora_aes_ws *ws);

typedef struct sora_aes_result {
	double aes;                     /* mean of score[0..n) */
	int n;                          /* frames scored: 3 for a clip, 1 for an image */
	int64_t frames;                 /* frames in the clip's range (1 for an image) */
	int64_t index[SORA_AES_FRAMES]; /* the frames scored, counted from the range's first */
	float score[SORA_AES_FRAMES];   /* the predictor's score of each */
} sora_aes_result;

/* The frame Open-Sora's extract_frames picks at fraction p of n frames: int(p · n), at most n − 1. */
int64_t sora_aes_frame_index(double p, int64_t n);

/* 1 when path names an image by its extension (Open-Sora's list: jpg jpeg png ppm bmp pgm tif tiff
 * webp, any case); such a row is scored as one frame and its range is ignored. */
int sora_aes_is_image(const char *path);

/* openai CLIP's _transform of packed RGB24 [h, w, 3] (stride bytes per row) to pixels [3, S, S] with S
 * the model's image_size: Pillow bicubic resize of the short side to S, centre crop with torchvision's
 * offset round((side − S) / 2) (half to even; transformers floors it instead, which differs by one
 * pixel when side − S ≡ 3 mod 4), /255, CLIP's mean and std. */
int sora_aes_preprocess(const sora_aes *a, float *pixels, const uint8_t *rgb, int w, int h, int stride,
			sora_err *e);

/* Scores pre-processed pixels [n, 3, S, S] (n <= SORA_AES_FRAMES) in one batch: r->score, r->n, r->aes. */
int sora_aes_pixels(const sora_aes *a, sora_aes_ws *ws, const float *pixels, int n, sora_aes_result *r,
		    sora_err *e);

/* Scores the frames of path in [start, end) seconds (end INFINITY: to the end), or the image path.
 * Fails when the range holds no frame or the file cannot be decoded. */
int sora_aes_score(const sora_aes *a, sora_aes_ws *ws, const char *path, double start, double end,
		   sora_aes_result *r, sora_err *e);

#endif
