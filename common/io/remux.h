/* Stream copy into MP4, without decoding: a time range of one file's video stream, and optionally the
 * audio of a time range of another (or the same) file.
 *
 * Video is copied from the keyframe at or before the start (a copy cannot begin elsewhere), so the
 * file holds a few frames more than asked: inexact by nature. It stops at the first packet, in decode
 * order, at or past the end, so every frame before the end keeps its references. Timestamps are
 * shifted so that the file starts at 0; audio is shifted by the same amount as video. */
#ifndef SORA_REMUX_H
#define SORA_REMUX_H

#include "../util/err.h"

#include <stdint.h>

typedef struct sora_remux_src {
	const char *path;
	double start_sec, end_sec; /* from the stream's start; end_sec <= 0: to the end */
} sora_remux_src;

typedef struct sora_remux_result {
	int64_t video_packets;  /* frames in the file */
	double video_start_sec; /* where the copy really starts in the video source (its keyframe) */
} sora_remux_result;

/* Writes dst (MP4). audio may be NULL (no audio) or name a file without audio (none is copied). */
int sora_remux(const char *dst, const sora_remux_src *video, const sora_remux_src *audio,
	       sora_remux_result *r, sora_err *e);

#endif
