/* A gradual transition: frames [start, end) belong to neither shot; `cut` is where a single cut would
 * go (the first frame of the new shot when the transition is kept inside the clips). */
#ifndef SORA_SCENE_TRANSITION_H
#define SORA_SCENE_TRANSITION_H

#include "../util/err.h"

#include <stdint.h>

typedef enum { SORA_TR_NONE = 0, SORA_TR_CUT, SORA_TR_FADE, SORA_TR_DISSOLVE } sora_tr_kind;

typedef struct sora_transition {
	int64_t start, end, cut;
	sora_tr_kind kind;
} sora_transition;

typedef struct sora_transitions {
	sora_transition *v;
	int64_t n, cap;
} sora_transitions;

int sora_transitions_push(sora_transitions *t, sora_transition x, sora_err *e);
void sora_transitions_free(sora_transitions *t);
/* "none", "cut", "fade", "dissolve": the values of transition_before / transition_after. */
const char *sora_tr_name(sora_tr_kind k);

#endif
