/* Scores of one clip: the frames of [start, end) are decoded once, at native resolution, and every
 * requested score is computed from those same frames. */
#ifndef SORA_SCORES_H
#define SORA_SCORES_H

#include "util/err.h"

#include <stdint.h>

enum {
	SORA_SCORE_VMAFMOTION = 1 << 0,
	SORA_SCORE_FLOW = 1 << 1,
	SORA_SCORE_BLUR = 1 << 2,
	SORA_SCORE_BRIGHTNESS = 1 << 3,
	SORA_SCORE_BLACK = 1 << 4,
	SORA_SCORE_FREEZE = 1 << 5,
	SORA_SCORE_AES = 1 << 6, /* not sora_score_clip's: see aes.h */
};

/* "vmafmotion,blur" -> mask. Names: vmafmotion flow blur brightness black freeze aes; an unknown or
 * empty name is an error naming it. */
int sora_scores_parse(const char *list, unsigned *mask, sora_err *e);

typedef struct sora_score_opts {
	unsigned mask;
	double flow_fps;       /* frames sampled for flow per second (2) */
	int flow_side;         /* short side flow frames are resized to (256) */
	double black_pix_th;   /* blackdetect pixel_black_th (0.10) */
	double black_pic_th;   /* blackdetect picture_black_ratio_th (0.98) */
	double freeze_noise;   /* freezedetect noise (0.001) */
	double freeze_seconds; /* freezedetect duration (2) */
} sora_score_opts;

typedef struct sora_score_result {
	int64_t frames;    /* frames in the range */
	double vmafmotion; /* (mean(m) + mean(motion2)) / 2 */
	double vmafmotion_avg;
	double flow;        /* mean Farneback magnitude over sampled pairs, pixels at flow_side; 0 with < 2 */
	double blur;        /* mean variance of the Laplacian at 10%, 50%, 90% of the range */
	double brightness;  /* mean luma, 0-255 */
	double black_ratio; /* fraction of frames blackdetect calls black */
	double freeze_ratio; /* fraction of frames in the runs freezedetect reports */
} sora_score_result;

/* Scores the frames of path whose presentation time is in [start, end) (end = INFINITY: to the end).
 * Fails when the range holds no frame. */
int sora_score_clip(const char *path, double start, double end, const sora_score_opts *o,
		    sora_score_result *r, sora_err *e);

#endif
