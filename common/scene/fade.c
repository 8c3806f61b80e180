#include "fade.h"

#include <math.h>

/* How much brighter each frame of a fade must be than the next one darker: more than the drift of a
 * moving picture (a few tenths), less than a slow fade of a dark picture. */
static const double MIN_STEP = 0.3;

int sora_detect_fades(const double *mean, int64_t n, double threshold, int64_t max_len, sora_transitions *out,
		      sora_err *e)
{
	for (int64_t i = 0; i < n;) {
		if (mean[i] >= threshold) {
			i++;
			continue;
		}
		int64_t b0 = i;
		while (i < n && mean[i] < threshold)
			i++;
		int64_t b1 = i;
		/* Widen while the picture keeps getting darker towards the black (backwards) and brighter
		 * after it. Both ends take the frame where the ramp stops as well: a fade's outermost frame
		 * may be dimmed by less than the frame-to-frame noise. */
		int64_t a = b0;
		while (a > 0 && b0 - a < max_len && mean[a - 1] > mean[a] + MIN_STEP)
			a--;
		int64_t z = b1;
		while (z < n && z - b1 < max_len && mean[z] > mean[z - 1] + MIN_STEP)
			z++;
		sora_transition t = {.start = a, .end = z, .kind = SORA_TR_FADE};
		t.cut = b0 + (int64_t)llround((double)(b1 - b0) / 2.0);
		TRY(sora_transitions_push(out, t, e));
		i = z > b1 ? z : b1;
	}
	return 0;
fail:
	return -1;
}
