/* The reference of an image-to-video condition (opensora/utils/inference.py collect_references_batch):
 * an image, or a frame of a video, read as datasets/utils.py read_from_path(path, (H, W), "resize_crop")
 * reads it (Pillow bicubic resize to fill, then the centre crop), in [−1, 1], then encoded by the VAE
 * with the posterior sampled: z = scale · (mean + std · ε − shift), ε from torch's global generator. */
#ifndef SORA_INFER_SAMPLE_REF_H
#define SORA_INFER_SAMPLE_REF_H

#include "../flow/torch_rng.h"
#include "../models/vae_hunyuan.h"
#include "../util/err.h"

#include <stdint.h>

/* resize_crop_to_fill of an RGB24 image [h, w, 3] to pixels [3, H, W] = (v / 255 − 0.5) / 0.5. */
int sora_resize_crop_fill(float *pixels, int H, int W, const uint8_t *rgb, int w, int h, sora_err *e);

/* The reference file's frame as pixels [3, H, W]: an image (.png, .jpg, .jpeg, .bmp, .ppm, .webp, ...)
 * or a video (.mp4, .avi, .mov, .mkv): its first frame, or its last when last is set. Any other file
 * is an error naming it. */
int sora_sample_ref_pixels(const char *path, int H, int W, int last, float *pixels, sora_err *e);

/* A v2v reference: the first (tail: the last) 33 frames of a video, or 65 for *_easy when the video has
 * at least 64, as pixels [3, *T, H, W] (malloc'd), each frame resize_crop'd. Fewer frames than that, or
 * an image, is an error naming the count. */
int sora_sample_ref_clip(const char *path, int H, int W, int easy, int tail, float **pixels, int *T,
			 sora_err *e);

/* pixels [3, T, H, W] (T = 4k+1) → z [latent, k+1, H/8, W/8] (z allocated by the caller), ε drawn from g. */
int sora_sample_ref_latent(const sora_vae *vae, const float *pixels, int T, int H, int W, sora_torch_rng *g,
			   float *z, sora_err *e);

#endif
