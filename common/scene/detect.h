/* Hard cuts from per-frame content scores, as PySceneDetect's ContentDetector (threshold + FlashFilter
 * in MERGE mode) and AdaptiveDetector (score over the mean of its neighbours) decide them. A cut is the
 * index of the first frame of the new shot. min_len counts frames (PySceneDetect converts its
 * min_scene_len to seconds with the first frame's rate; on constant frame rate this is the same). */
#ifndef SORA_SCENE_DETECT_H
#define SORA_SCENE_DETECT_H

#include "../util/err.h"

#include <stdint.h>

typedef struct sora_cuts {
	int64_t *v;
	int64_t n, cap;
} sora_cuts;

int sora_cuts_push(sora_cuts *c, int64_t frame, sora_err *e);
void sora_cuts_free(sora_cuts *c);

/* score[i] compares frame i with frame i - 1; score[0] is 0. */
int sora_detect_content(const double *score, int64_t n, double threshold, int min_len, sora_cuts *out,
			sora_err *e);

typedef struct sora_adaptive_opts {
	double ratio;       /* adaptive threshold: 3.0 */
	double min_content; /* the score must also reach this: 15.0 */
	int window;         /* neighbours on each side: 2 */
	int min_len;        /* frames since the previous cut: 15 */
} sora_adaptive_opts;

int sora_detect_adaptive(const double *score, int64_t n, const sora_adaptive_opts *o, sora_cuts *out,
			 sora_err *e);

#endif
