/* Fades to and from black, as PySceneDetect's ThresholdDetector sees them (the mean of every R, G, B
 * value falls below a threshold, 12 by default), widened to the whole fade: the frames darkening into
 * the black run and brightening out of it belong to the transition too, since training clips must
 * not hold them. */
#ifndef SORA_SCENE_FADE_H
#define SORA_SCENE_FADE_H

#include "transition.h"

/* mean[i]: sora_rgb_mean of frame i. max_len bounds how far a fade reaches either side of its black
 * run (frames). Appends the fades, in order, to out. The cut point is the middle of the black run
 * (PySceneDetect's placement with fade_bias 0). */
int sora_detect_fades(const double *mean, int64_t n, double threshold, int64_t max_len, sora_transitions *out,
		      sora_err *e);

#endif
