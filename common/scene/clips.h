/* From shot boundaries to clips: hard cuts and gradual transitions become shots, shots are trimmed,
 * split into chunks of at most max_sec and checked against min_sec.
 *
 * Times come from the frames' presentation timestamps, so they are right on variable frame rate: a
 * clip [start, end) of frame indices runs from pts[start] to pts[end] (the stream's end time when end
 * is the frame count). */
#ifndef SORA_SCENE_CLIPS_H
#define SORA_SCENE_CLIPS_H

#include "detect.h"
#include "transition.h"

typedef struct sora_clip_opts {
	double min_sec;       /* shorter clips are filtered */
	double max_sec;       /* longer shots are split into chunks of at most this; 0: no limit */
	double trim_sec;      /* dropped at both ends of every shot before chunking */
	int keep_transitions; /* transitions stay inside clips: a single cut at their cut point */
} sora_clip_opts;

typedef struct sora_clip {
	int64_t start, end; /* frames [start, end) */
	double start_sec, end_sec;
	sora_tr_kind before, after; /* what separates the clip from its neighbours; chunks of one shot:
				       none */
	int64_t index;              /* 0-based among every clip of the video, filtered ones included */
	int too_short;              /* fails min_sec (or trimmed away) */
} sora_clip;

typedef struct sora_clips {
	sora_clip *v;
	int64_t n, cap;
} sora_clips;

/* n frames with timestamps pts[0..n) and the stream end time. Transitions may overlap and come in any
 * order (they are merged: a fade absorbs a dissolve it overlaps); a cut inside a transition is dropped. */
int sora_make_clips(int64_t n, const double *pts, double end_sec, const sora_cuts *cuts, sora_transitions *tr,
		    const sora_clip_opts *o, sora_clips *out, sora_err *e);
void sora_clips_free(sora_clips *c);

#endif
