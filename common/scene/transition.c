#include "transition.h"

#include <stdlib.h>

int sora_transitions_push(sora_transitions *t, sora_transition x, sora_err *e)
{
	if (t->n == t->cap) {
		int64_t cap = t->cap ? 2 * t->cap : 16;
		sora_transition *p = realloc(t->v, (size_t)cap * sizeof *p);
		CHECK_ALLOC(e, p);
		t->v = p;
		t->cap = cap;
	}
	t->v[t->n++] = x;
	return 0;
fail:
	return -1;
}

void sora_transitions_free(sora_transitions *t)
{
	free(t->v);
	*t = (sora_transitions){0};
}

const char *sora_tr_name(sora_tr_kind k)
{
	static const char *const names[] = {"none", "cut", "fade", "dissolve"};
	return k >= SORA_TR_NONE && k <= SORA_TR_DISSOLVE ? names[k] : "none";
}
