/* sora-score: motion and quality scores of each clip row, appended as columns. */
#include "score/scores.h"
#include "util/cli.h"
#include "util/clip_range.h"
#include "util/log.h"
#include "util/rowmap.h"

#include <math.h>
#include <stdio.h>

/* Columns in this order, each present when its score is asked for. */
static const struct {
	unsigned score;
	const char *column;
} all_columns[] = {
    {SORA_SCORE_VMAFMOTION, "score_vmafmotion"},
    {SORA_SCORE_VMAFMOTION, "vmafmotion_avg"},
    {SORA_SCORE_FLOW, "flow"},
    {SORA_SCORE_BLUR, "blur"},
    {SORA_SCORE_BRIGHTNESS, "brightness"},
    {SORA_SCORE_BLACK, "black_ratio"},
    {SORA_SCORE_FREEZE, "freeze_ratio"},
};
enum { N_COLUMNS = sizeof all_columns / sizeof *all_columns };

typedef struct score {
	sora_score_opts o;
	const char *columns[N_COLUMNS + 1];
	sora_range_cols cols;
} score;

static int prepare(void *ctx, const sora_fields *header, sora_err *e)
{
	score *s = ctx;
	sora_range_cols_find(&s->cols, header);
	if (s->cols.path < 0)
		return SORA_FAIL(e, "the input CSV has no 'path' column");
	return 0;
}

static int score_row(void *ctx, int worker, const sora_fields *in, sora_out *out, sora_err *e)
{
	const score *s = ctx;
	const char *path = in->v[s->cols.path];
	double start, end;
	sora_score_result r;
	CHECK(e, path[0], "empty path");
	TRY(sora_row_range(&s->cols, in, &start, &end, e));
	TRY(sora_score_clip(path, start, end, &s->o, &r, e));

	const double values[N_COLUMNS] = {r.vmafmotion, r.vmafmotion_avg, r.flow,        r.blur,
					  r.brightness, r.black_ratio,    r.freeze_ratio};
	sora_out_add(out);
	for (int i = 0, col = 0; i < N_COLUMNS; i++)
		if (s->o.mask & all_columns[i].score)
			sora_out_setd(out, col++, values[i]);
	return 0;
fail:
	return -1;
}

int main(int argc, char **argv)
{
	score s = {
	    .o = {.flow_fps = 2,
		  .flow_side = 256,
		  .black_pix_th = 0.10,
		  .black_pic_th = 0.98,
		  .freeze_noise = 0.001,
		  .freeze_seconds = 2},
	};
	const char *list = "vmafmotion,blur,brightness";
	const sora_opt opts[] = {
	    {"scores", 0, SORA_OPT_STR, &list, "LIST",
	     "scores to compute, comma-separated: vmafmotion flow blur brightness black freeze"},
	    {"black-pix-th", 0, SORA_OPT_DOUBLE, &s.o.black_pix_th, "X",
	     "black: a pixel is black at or below this fraction of the luma range (blackdetect pix_th)"},
	    {"black-pic-th", 0, SORA_OPT_DOUBLE, &s.o.black_pic_th, "X",
	     "black: a frame is black when this fraction of its pixels is (blackdetect pic_th)"},
	    {"freeze-noise", 0, SORA_OPT_DOUBLE, &s.o.freeze_noise, "X",
	     "freeze: largest mean difference from the still frame, 0-1 (freezedetect n)"},
	    {"freeze-duration", 0, SORA_OPT_DOUBLE, &s.o.freeze_seconds, "SEC",
	     "freeze: shortest still run flagged, in seconds (freezedetect d)"},
	    {0},
	};
	const sora_cli cli = {
	    .prog = "sora-score",
	    .usage = "[files | dirs]...",
	    .summary =
		"Appends score columns to each clip row: score_vmafmotion and vmafmotion_avg (FFmpeg's\n"
		"vmafmotion), flow (Farneback), blur (variance of the Laplacian), brightness, black_ratio,\n"
		"freeze_ratio. A row's scores cover its [start_sec, end_sec) range (empty or absent: the "
		"whole\n"
		"video); each clip is decoded once. Reads a CSV with a `path` column on stdin, or videos\n"
		"named on the command line.",
	    .opts = opts,
	};
	sora_common_opts c;
	int first;
	int rc = sora_cli_parse(&cli, argc, argv, &c, &first);
	if (rc != SORA_CLI_OK)
		return rc == SORA_CLI_EXIT ? SORA_EXIT_OK : SORA_EXIT_USAGE;
	sora_err e;
	if (sora_scores_parse(list, &s.o.mask, &e) < 0) {
		log_error("--scores: %s", e.msg);
		return SORA_EXIT_USAGE;
	}
	if (!(s.o.black_pix_th >= 0 && s.o.black_pix_th <= 1 && s.o.black_pic_th >= 0 &&
	      s.o.black_pic_th <= 1 && s.o.freeze_noise >= 0 && s.o.freeze_noise <= 1 &&
	      s.o.freeze_seconds >= 0 && isfinite(s.o.freeze_seconds))) {
		log_error("--black-pix-th, --black-pic-th and --freeze-noise are fractions in [0, 1]; "
			  "--freeze-duration is seconds >= 0");
		return SORA_EXIT_USAGE;
	}
	int n = 0;
	for (int i = 0; i < N_COLUMNS; i++)
		if (s.o.mask & all_columns[i].score)
			s.columns[n++] = all_columns[i].column;
	const sora_rowmap_spec spec = {
	    .input = SORA_INPUT_MEDIA,
	    .columns = s.columns,
	    .unit = "clips",
	    .ctx = &s,
	    .prepare = prepare,
	    .process = score_row,
	};
	return sora_rowmap_run(&spec, &c, argc - first, argv + first);
}
