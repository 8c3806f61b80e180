/* Cross-dissolves, by a windowed linearity test on small luma thumbnails.
 *
 * Inside a dissolve every frame is a blend (1 - a) A + a B whose weight moves steadily, so a frame is
 * close to the average of the frames k before and k after it, while those two differ clearly. Frame c
 * is "blending" when D = mean |T[c-k] - T[c+k]| >= min_diff and E = mean |T[c] - (T[c-k] + T[c+k]) / 2|
 * <= max_ratio x D. A hard cut in the window fails the test (the middle frame equals one side: E = D/2),
 * a still shot has D near 0, and motion moves pixels, so the midpoint of two displaced pictures is not
 * the middle picture (E large). A run of at least min_run blending frames is a dissolve; it reaches k
 * frames beyond the run at both ends. */
#ifndef SORA_SCENE_DISSOLVE_H
#define SORA_SCENE_DISSOLVE_H

#include "transition.h"

typedef struct sora_dissolve sora_dissolve;

typedef struct sora_dissolve_opts {
	int tw, th;       /* thumbnail size */
	int k;            /* half window, frames */
	double min_diff;  /* D threshold, 0-255 luma */
	double max_ratio; /* E / D threshold */
	int min_run;      /* blending frames in a row */
} sora_dissolve_opts;

/* The thumbnail: luma (BT.601 weights) averaged over boxes of (w / tw) x (h / th) pixels. */
void sora_luma_thumb(const uint8_t *rgb, int ls, int w, int h, uint8_t *thumb, int tw, int th);

int sora_dissolve_open(sora_dissolve **out, const sora_dissolve_opts *o, sora_err *e);
/* The thumbnail of the next frame (frames are numbered from 0 in the order pushed). */
int sora_dissolve_push(sora_dissolve *d, const uint8_t *thumb, sora_err *e);
/* Appends the dissolves found, in order. */
int sora_dissolve_finish(sora_dissolve *d, sora_transitions *out, sora_err *e);
void sora_dissolve_close(sora_dissolve *d);

#endif
