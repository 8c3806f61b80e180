/* The frames a captioning request shows: n frames evenly spread over a clip, as JPEG. */
#ifndef SORA_CAPTION_FRAMES_H
#define SORA_CAPTION_FRAMES_H

#include "../util/err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sora_jpegs {
	uint8_t **data;
	size_t *size;
	int n;
	int width, height; /* of every image */
} sora_jpegs;

/* Decodes the frames at the centres of n equal parts of [start, end) seconds of path (end infinite or
 * <= start: to the end of the video), scaled so that the short side is short_side (never upscaled; rotation
 * applied), and encodes each as JPEG. A time past the last frame repeats the last frame decoded. */
int sora_caption_frames(const char *path, double start, double end, int n, int short_side, sora_jpegs *out,
			sora_err *e);
void sora_jpegs_free(sora_jpegs *j);

#endif
