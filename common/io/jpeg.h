/* RGB frames to JPEG bytes with libavcodec's mjpeg encoder (for captioning requests). */
#ifndef SORA_JPEG_H
#define SORA_JPEG_H

#include "../util/err.h"

#include <stddef.h>
#include <stdint.h>

/* Encodes packed RGB24 (w x h, linesize ls) at the given quality (2 = best .. 31 = worst, FFmpeg's
 * qscale). *out is malloc'd; the caller frees it. */
int sora_jpeg_encode(const uint8_t *rgb, int ls, int w, int h, int qscale, uint8_t **out, size_t *size,
		     sora_err *e);

#endif
