#include "clips.h"

#include <stdlib.h>

typedef struct boundary {
	int64_t a, b; /* the shot before ends at a (exclusive), the next starts at b */
	sora_tr_kind kind;
} boundary;

typedef struct ctx {
	int64_t n;
	const double *pts;
	double end_sec;
	const sora_clip_opts *o;
	sora_clips *out;
	int64_t next_index;
} ctx;

static double t_of(const ctx *c, int64_t i)
{
	return i < c->n ? c->pts[i] : c->end_sec;
}

static int cmp_tr(const void *x, const void *y)
{
	const sora_transition *a = x, *b = y;
	return (a->start > b->start) - (a->start < b->start);
}

static int cmp_boundary(const void *x, const void *y)
{
	const boundary *a = x, *b = y;
	return (a->a > b->a) - (a->a < b->a);
}

/* Sorts and unites overlapping transitions in place; returns how many remain. */
static int64_t merge_transitions(sora_transitions *tr)
{
	if (!tr->n)
		return 0;
	qsort(tr->v, (size_t)tr->n, sizeof *tr->v, cmp_tr);
	int64_t m = 0;
	for (int64_t i = 1; i < tr->n; i++) {
		sora_transition *cur = &tr->v[m], *nx = &tr->v[i];
		if (nx->start >= cur->end) {
			tr->v[++m] = *nx;
			continue;
		}
		/* A fade to black also looks like a dissolve (into black): the fade names it. */
		if (nx->kind == SORA_TR_FADE && cur->kind != SORA_TR_FADE) {
			cur->kind = SORA_TR_FADE;
			cur->cut = nx->cut;
		}
		cur->end = nx->end > cur->end ? nx->end : cur->end;
		if (cur->kind != SORA_TR_FADE)
			cur->cut = (cur->start + cur->end) / 2;
	}
	return tr->n = m + 1;
}

static int push_clip(ctx *c, int64_t s, int64_t z, sora_tr_kind before, sora_tr_kind after, sora_err *e)
{
	sora_clips *out = c->out;
	if (out->n == out->cap) {
		int64_t cap = out->cap ? 2 * out->cap : 16;
		sora_clip *p = realloc(out->v, (size_t)cap * sizeof *p);
		CHECK_ALLOC(e, p);
		out->v = p;
		out->cap = cap;
	}
	sora_clip *k = &out->v[out->n++];
	*k = (sora_clip){.start = s, .end = z, .before = before, .after = after, .index = c->next_index++};
	k->start_sec = t_of(c, s);
	k->end_sec = t_of(c, z);
	k->too_short = z <= s || k->end_sec - k->start_sec < c->o->min_sec - 1e-9;
	return 0;
fail:
	return -1;
}

/* A shot [s, z): trimmed at both ends by time, then cut into chunks no longer than max_sec. */
static int add_shot(ctx *c, int64_t s, int64_t z, sora_tr_kind before, sora_tr_kind after, sora_err *e)
{
	const sora_clip_opts *o = c->o;
	const double eps = 1e-9;
	if (o->trim_sec > 0) {
		double t0 = t_of(c, s) + o->trim_sec, t1 = t_of(c, z) - o->trim_sec;
		while (s < z && t_of(c, s) < t0 - eps)
			s++;
		while (z > s && t_of(c, z) > t1 + eps)
			z--;
	}
	if (z <= s)
		return push_clip(c, s, s, before, after, e);
	while (s < z) {
		int64_t j = z;
		if (o->max_sec > 0) {
			j = s + 1;
			while (j < z && t_of(c, j + 1) - t_of(c, s) <= o->max_sec + eps)
				j++;
		}
		TRY(push_clip(c, s, j, before, j == z ? after : SORA_TR_NONE, e));
		before = SORA_TR_NONE;
		s = j;
	}
	return 0;
fail:
	return -1;
}

int sora_make_clips(int64_t n, const double *pts, double end_sec, const sora_cuts *cuts, sora_transitions *tr,
		    const sora_clip_opts *o, sora_clips *out, sora_err *e)
{
	ctx c = {.n = n, .pts = pts, .end_sec = end_sec, .o = o, .out = out};
	boundary *bd = NULL;
	int64_t nb = 0, ntr = merge_transitions(tr);
	sora_tr_kind first_before = SORA_TR_NONE, last_after = SORA_TR_NONE;
	CHECK_ALLOC(e, bd = malloc((size_t)(cuts->n + ntr + 1) * sizeof *bd));
	for (int64_t i = 0, j = 0; i < cuts->n; i++) {
		int64_t f = cuts->v[i];
		while (j < ntr && tr->v[j].end < f)
			j++;
		if (j < ntr && tr->v[j].start <= f)
			continue;
		if (f > 0 && f < n)
			bd[nb++] = (boundary){f, f, SORA_TR_CUT};
	}
	for (int64_t j = 0; j < ntr; j++) {
		const sora_transition *t = &tr->v[j];
		if (!o->keep_transitions)
			bd[nb++] = (boundary){t->start, t->end, t->kind};
		else if (t->start == 0)
			first_before = t->kind;
		else if (t->end >= n)
			last_after = t->kind;
		else
			bd[nb++] = (boundary){t->cut, t->cut, t->kind};
	}
	qsort(bd, (size_t)nb, sizeof *bd, cmp_boundary);
	int64_t s = 0;
	sora_tr_kind before = first_before;
	for (int64_t i = 0; i < nb; i++) {
		if (bd[i].a > s)
			TRY(add_shot(&c, s, bd[i].a, before, bd[i].kind, e));
		before = bd[i].kind;
		s = bd[i].b > s ? bd[i].b : s;
	}
	if (n > s)
		TRY(add_shot(&c, s, n, before, last_after, e));
	free(bd);
	return 0;
fail:
	free(bd);
	return -1;
}

void sora_clips_free(sora_clips *c)
{
	free(c->v);
	*c = (sora_clips){0};
}
