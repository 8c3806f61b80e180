/* CLIP's image preprocessing (transformers CLIPImageProcessor = openai clip._transform): resize the
 * short side to `size` with Pillow's BICUBIC resampler (ported bit for bit from Pillow 9.4 Resample.c),
 * centre crop size × size, scale to [0, 1], normalise with CLIP's mean and std, channels first.
 *
 * Input is packed RGB24: video frames decoded with SORA_PIX_RGB (io/video.h) or image files decoded by
 * io/image_file.h. */
#ifndef SORA_IMAGE_PREP_H
#define SORA_IMAGE_PREP_H

#include "../util/err.h"

#include <stdint.h>

/* Pillow's Image.resize(..., BICUBIC) of a whole RGB24 image: dst [dh, dw, 3] (tightly packed) from src
 * [sh, sw, 3] with `stride` bytes per source row. */
int sora_resize_bicubic_rgb(uint8_t *dst, int dw, int dh, const uint8_t *src, int sw, int sh, int stride,
			    sora_err *e);

/* The short side resized to size (the long one to trunc(size · long / short)), the centre size × size
 * (offsets floored) into crop [size, size, 3] when it is not NULL, and pixels [3, size, size] =
 * (v / 255 − mean) / std in float32 as transformers computes it. */
int sora_clip_preprocess(float *pixels, uint8_t *crop, int size, const uint8_t *rgb, int w, int h, int stride,
			 sora_err *e);

#endif
