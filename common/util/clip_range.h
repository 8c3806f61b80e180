/* The part of its `path` a row asks for. sora-split's rows locate a clip in its source with
 * start_sec/end_sec; after --cut-dir the row's `path` is the clip's own file and `source` the original,
 * so the range no longer applies to `path`. Every program that reads a clip (score, caption) asks here. */
#ifndef SORA_CLIP_RANGE_H
#define SORA_CLIP_RANGE_H

#include "csv.h"
#include "err.h"

typedef struct sora_range_cols {
	int path, source, start, end; /* column indices, -1 when absent */
} sora_range_cols;

void sora_range_cols_find(sora_range_cols *c, const sora_fields *header);

/* [*start, *end) in seconds of the row's `path`: its start_sec/end_sec (empty or absent: 0 and
 * +infinity), or the whole file when the row has a `source` other than its `path`. Fails on a time that
 * is not a number, a negative start, or an end not after the start. */
int sora_row_range(const sora_range_cols *c, const sora_fields *row, double *start, double *end, sora_err *e);

#endif
