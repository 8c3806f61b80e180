#include "clip_range.h"

#include "number.h"

#include <math.h>
#include <string.h>

void sora_range_cols_find(sora_range_cols *c, const sora_fields *header)
{
	c->path = sora_fields_find(header, "path");
	c->source = sora_fields_find(header, "source");
	c->start = sora_fields_find(header, "start_sec");
	c->end = sora_fields_find(header, "end_sec");
}

static int time_field(const sora_fields *row, int col, const char *name, double dflt, double *t, sora_err *e)
{
	*t = dflt;
	if (col < 0 || !row->v[col][0])
		return 0;
	if (!sora_parse_number(row->v[col], t))
		return SORA_FAIL(e, "%s is not a number: '%.60s'", name, row->v[col]);
	return 0;
}

int sora_row_range(const sora_range_cols *c, const sora_fields *row, double *start, double *end, sora_err *e)
{
	*start = 0;
	*end = INFINITY;
	if (c->source >= 0 && c->path >= 0 && row->v[c->source][0] &&
	    strcmp(row->v[c->source], row->v[c->path]) != 0)
		return 0;
	TRY(time_field(row, c->start, "start_sec", 0, start, e));
	TRY(time_field(row, c->end, "end_sec", INFINITY, end, e));
	CHECK(e, *start >= 0, "start_sec is negative: %g", *start);
	CHECK(e, *end > *start, "end_sec (%g) is not after start_sec (%g)", *end, *start);
	return 0;
fail:
	return -1;
}
