/* Writing one clip of a source video to its own MP4: re-encoded with libx264 (frame-exact: the file
 * holds exactly the source frames [start, end), decoded from the keyframe before the start), with the
 * display rotation applied, optionally scaled down and resampled to another frame rate.
 *
 * With copy, the packets are copied instead (common/io/remux.h): the clip then starts at the
 * keyframe at or before start_sec and is neither resized nor resampled.
 *
 * The file is written under a temporary name in the same directory and renamed when complete, so a
 * file with the final name is always whole; a second run finds it and keeps it. */
#ifndef SORA_SCENE_CUT_H
#define SORA_SCENE_CUT_H

#include "../util/err.h"

#include <stdint.h>

typedef struct sora_cut_opts {
	int resize_short; /* scale so the short side is this (never up); 0: keep the size */
	double fps;       /* resample to this rate; 0: the source's average rate */
	int threads;      /* decoder threads */
	int copy;         /* stream copy from the keyframe at or before the start: no re-encoding, inexact */
	int audio;        /* keep the source's audio of the clip's time range (copied, not re-encoded) */
	int crf;
	const char *preset;
} sora_cut_opts;

typedef struct sora_cut_result {
	int64_t num_frames; /* frames in the file */
	int width, height;
	double fps;
	int existed; /* the file was already complete: nothing written */
} sora_cut_result;

/* The size a clip of a w x h (displayed) source is written at: even, short side at most
 * resize_short. */
void sora_cut_size(int w, int h, int resize_short, int *ow, int *oh);

/* Frames [start, end) of src, which run from start_sec to end_sec (presentation times). */
int sora_cut_clip(const char *src, const char *dst, int64_t start, int64_t end, double start_sec,
		  double end_sec, const sora_cut_opts *o, sora_cut_result *r, sora_err *e);

#endif
