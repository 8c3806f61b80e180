/* The frames FFmpeg's vmafmotion filter actually sees. It takes yuv420p/422p/444p and their 10-bit
 * forms only; for any other format ffmpeg inserts a scaler that converts to the closest of those, with
 * the ffmpeg CLI's default flags (bicubic). Doing the same conversion keeps score_vmafmotion equal to
 * `ffmpeg -vf vmafmotion` on those inputs too (12-bit, gray, nv12). That scaler keeps the range of the
 * samples (measured on ffmpeg 5.1: full-range gray and yuvj* reach the filter unscaled), so yuvj420p,
 * 422p and 444p are read as decoded. */
#ifndef SORA_VMAF_INPUT_H
#define SORA_VMAF_INPUT_H

#include "util/err.h"

#include <stdint.h>

typedef struct sora_vmaf_input sora_vmaf_input;

/* For frames of pix_fmt (an AVPixelFormat), w x h: *out stays NULL when the filter takes the format as
 * it is; *depth is the luma bit depth vmafmotion will see. */
int sora_vmaf_input_open(sora_vmaf_input **out, int pix_fmt, int w, int h, int *depth, sora_err *e);
void sora_vmaf_input_close(sora_vmaf_input *c);

/* Converts a frame; *luma and *linesize point at the converted luma plane until the next call. */
int sora_vmaf_input_convert(sora_vmaf_input *c, uint8_t *const data[4], const int linesize[4],
			    const uint8_t **luma, int *luma_linesize, sora_err *e);

#endif
