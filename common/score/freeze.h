/* FFmpeg 5.1 freezedetect's decision, frame by frame: a frame is frozen when the mean absolute
 * difference of all its planes from the reference (the first frame of the still run), divided by
 * 2^depth, is <= noise; a run is reported once a frame of it, or the first frame after it, comes
 * `duration` seconds or more after the reference. The flagged frames are the reported runs, reference
 * included. */
#ifndef SORA_FREEZE_H
#define SORA_FREEZE_H

#include "util/err.h"

#include <stdint.h>

typedef struct sora_freeze sora_freeze;

/* Frames of pix_fmt (an AVPixelFormat), w x h. */
int sora_freeze_open(sora_freeze **out, int pix_fmt, int w, int h, double noise, double duration,
		     sora_err *e);
void sora_freeze_close(sora_freeze *f);

void sora_freeze_push(sora_freeze *f, uint8_t *const data[4], const int linesize[4], double pts_sec);

/* Flagged frames / frames pushed (0 before any). */
double sora_freeze_ratio(const sora_freeze *f);

#endif
