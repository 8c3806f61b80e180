#include "detect.h"

#include <math.h>
#include <stdlib.h>

int sora_cuts_push(sora_cuts *c, int64_t frame, sora_err *e)
{
	if (c->n == c->cap) {
		int64_t cap = c->cap ? 2 * c->cap : 64;
		int64_t *p = realloc(c->v, (size_t)cap * sizeof *p);
		CHECK_ALLOC(e, p);
		c->v = p;
		c->cap = cap;
	}
	c->v[c->n++] = frame;
	return 0;
fail:
	return -1;
}

void sora_cuts_free(sora_cuts *c)
{
	free(c->v);
	*c = (sora_cuts){0};
}

/* PySceneDetect's FlashFilter, MERGE mode: a burst of above-threshold frames closer together than
 * min_len (a flash, fast strobing) becomes one cut at the burst's last frame. The first frame counts as
 * "above", so no cut comes in the first min_len frames. */
int sora_detect_content(const double *score, int64_t n, double threshold, int min_len, sora_cuts *out,
			sora_err *e)
{
	int64_t last_above = 0, merge_start = 0;
	int merge_enabled = 0, merging = 0;
	for (int64_t t = 0; t < n; t++) {
		int above = score[t] >= threshold;
		if (min_len <= 0) {
			if (above)
				TRY(sora_cuts_push(out, t, e));
			continue;
		}
		int long_enough = t - last_above >= min_len;
		if (above)
			last_above = t;
		if (merging) {
			if (long_enough && !above && last_above - merge_start >= min_len) {
				merging = 0;
				TRY(sora_cuts_push(out, last_above, e));
			}
			continue;
		}
		if (!above)
			continue;
		if (long_enough) {
			merge_enabled = 1;
			TRY(sora_cuts_push(out, t, e));
		} else if (merge_enabled) {
			merging = 1;
			merge_start = t;
		}
	}
	return 0;
fail:
	return -1;
}

/* AdaptiveDetector: the target frame is the middle of a 2w + 1 window, so it is judged only once its w
 * successors are known; the last w frames are never targets, as in PySceneDetect. The spacing test
 * measures from the previous cut to the newest frame of the window, as PySceneDetect does. */
int sora_detect_adaptive(const double *score, int64_t n, const sora_adaptive_opts *o, sora_cuts *out,
			 sora_err *e)
{
	int w = o->window;
	int64_t last_cut = 0;
	for (int64_t t = w; t + w < n; t++) {
		double sum = 0;
		for (int64_t j = t - w; j <= t + w; j++)
			sum += j == t ? 0 : score[j];
		double avg = sum / (2.0 * w), s = score[t];
		double ratio = fabs(avg) < 1e-5 ? (s >= o->min_content ? 255.0 : 0.0) : fmin(s / avg, 255.0);
		if (ratio >= o->ratio && s >= o->min_content && (t + w) - last_cut >= o->min_len) {
			last_cut = t;
			TRY(sora_cuts_push(out, t, e));
		}
	}
	return 0;
fail:
	return -1;
}
