/* The prompt Open-Sora 2.0 trains on (opensora/datasets/datasets.py, TextDataset.getitem, with the
 * training config's fps_max=24 and vmaf=True):
 *
 *     text + " " + ", ".join(postfixes) + "."      (nothing added when there is no postfix)
 *
 * postfixes: "{new_fps} FPS" when the row's fps maps to a new_fps other than 0, then
 * "{int(score_vmafmotion + 0.5)} motion score" when the row has that column and it is not NaN.
 * new_fps comes from map_target_fps (opensora/datasets/utils.py): NaN → 0 (no postfix); fps < fps_max →
 * fps itself, a float, so Python writes it as repr does ("15.0", "23.976"); otherwise
 * interval = ceil(fps / fps_max) and new_fps = floor(fps / interval), an int (30 → "15", 60 → "20",
 * 25 → "12", 24 → "24"). int() truncates toward zero. A field that is empty or "nan" (any case) is NaN,
 * as pandas reads it; any other field must be a finite decimal number. */
#ifndef SORA_PROMPT_H
#define SORA_PROMPT_H

#include "../util/err.h"

#define SORA_FPS_MAX 24 /* configs/diffusion/train/image.py */

/* new_fps and the sampling interval of map_target_fps; *is_int: new_fps is a Python int. */
void sora_map_target_fps(double fps, double fps_max, double *new_fps, int *interval, int *is_int);

/* The training prompt of a caption; fps and motion are the row's fields, NULL when the column is absent.
 * *out is malloc'd. Fails, naming the column, on a field that is not a number. */
int sora_prompt_build(const char *text, const char *fps, const char *motion, double fps_max, char **out,
		      sora_err *e);

#endif
