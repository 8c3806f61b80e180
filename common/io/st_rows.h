/* A safetensors file written row by row, for outputs whose row count is known only at the end (one row
 * per input that was not rejected): each tensor's rows stream to an unlinked temporary file beside the
 * output, so memory does not grow with the input (T5-XXL: 8 MiB per prompt), and the file is written at
 * close by sora_st_write (path.tmp, then renamed: a reader never sees a half-written file).
 *
 *     sora_st_rows *w;
 *     TRY(sora_st_rows_open(&w, "out.safetensors", e));
 *     int h = sora_st_rows_add(w, "last_hidden_state", 2, (int64_t[]){512, 4096}, e);   // [N, 512, 4096]
 *     TRY(sora_st_rows_append(w, h, rows, 8, e));                                        // 8 more rows
 *     TRY(sora_st_rows_close(w, meta_kv, e));
 */
#ifndef SORA_ST_ROWS_H
#define SORA_ST_ROWS_H

#include "../util/err.h"

#include <stdint.h>

typedef struct sora_st_rows sora_st_rows;

int sora_st_rows_open(sora_st_rows **out, const char *path, sora_err *e);
/* A new f32 tensor [N, row shape...] (row_ndim ≤ 4); returns its handle (≥ 0), or -1. */
int sora_st_rows_add(sora_st_rows *w, const char *name, int row_ndim, const int64_t *row_shape, sora_err *e);
/* n more rows of tensor h, each of the row shape's size. */
int sora_st_rows_append(sora_st_rows *w, int h, const float *rows, int64_t n, sora_err *e);
/* Writes the file (every tensor must have the same number of rows) with optional metadata (key, value,
 * ..., NULL) and frees w, also on failure. */
int sora_st_rows_close(sora_st_rows *w, const char *const *meta_kv, sora_err *e);
/* Frees w without writing anything. */
void sora_st_rows_abort(sora_st_rows *w);

#endif
