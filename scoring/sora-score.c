/* sora-score: motion and quality scores of each clip row, appended as columns. */
#include "score/aes.h"
#include "score/scores.h"
#include "util/cli.h"
#include "util/clip_range.h"
#include "util/log.h"
#include "util/rowmap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

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
    {SORA_SCORE_AES, "aes"},
};
enum { N_COLUMNS = sizeof all_columns / sizeof *all_columns };

typedef struct score {
	sora_score_opts o;
	const char *columns[N_COLUMNS + 1];
	sora_range_cols cols;
	const char *clip_model, *aes_model;
	sora_aes *aes;        /* the models, shared by the workers */
	sora_aes_ws **aes_ws; /* [threads]: each worker's own buffers, made on its first row */
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
	sora_score_result r = {0};
	sora_aes_result a = {0};
	CHECK(e, path[0], "empty path");
	TRY(sora_row_range(&s->cols, in, &start, &end, e));
	if (s->o.mask & ~SORA_SCORE_AES)
		TRY(sora_score_clip(path, start, end, &s->o, &r, e));
	if (s->aes) {
		if (!s->aes_ws[worker])
			TRY(sora_aes_ws_new(&s->aes_ws[worker], s->aes, e));
		TRY(sora_aes_score(s->aes, s->aes_ws[worker], path, start, end, &a, e));
	}

	const double values[N_COLUMNS] = {r.vmafmotion, r.vmafmotion_avg, r.flow,         r.blur,
					  r.brightness, r.black_ratio,    r.freeze_ratio, a.aes};
	sora_out_add(out);
	for (int i = 0, col = 0; i < N_COLUMNS; i++)
		if (s->o.mask & all_columns[i].score)
			sora_out_setd(out, col++, values[i]);
	return 0;
fail:
	return -1;
}

/* The models, loaded once before any row: a missing or mismatched model stops the run here. */
static int open_aes(score *s, int threads)
{
	sora_err e = {0};
	sora_aes_memory m;
	if (!s->clip_model || !s->aes_model) {
		log_error("--scores aes needs --clip-model DIR and --aes-model FILE");
		return SORA_EXIT_USAGE;
	}
	if (sora_aes_estimate(s->clip_model, &m, &e) < 0) {
		log_error("--clip-model %s", e.msg);
		return SORA_EXIT_USAGE;
	}
	/* Loading copies the mapped checkpoint into f32 tensors: both are resident until it is closed. */
	log_debug(
	    "aes: about %.0f MiB: weights %.0f MiB (f32, shared) + %d workers x %.0f MiB of activations "
	    "(besides the decoders' frames); %.0f MiB at the peak of loading",
	    (double)(m.weights + (size_t)threads * m.per_worker) / 1048576, (double)m.weights / 1048576,
	    threads, (double)m.per_worker / 1048576, (double)(2 * m.weights) / 1048576);
	if (sora_aes_open(&s->aes, s->clip_model, s->aes_model, &e) < 0) {
		log_error("aes: %s", e.msg);
		return SORA_EXIT_USAGE;
	}
	if (!(s->aes_ws = calloc((size_t)threads, sizeof(sora_aes_ws *)))) {
		log_error("out of memory");
		return SORA_EXIT_FAIL;
	}
	return SORA_EXIT_OK;
}

static void close_aes(score *s, int threads)
{
	for (int i = 0; s->aes_ws && i < threads; i++)
		sora_aes_ws_free(s->aes_ws[i]);
	free(s->aes_ws);
	sora_aes_close(s->aes);
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
	     "scores to compute, comma-separated: vmafmotion flow blur brightness black freeze aes"},
	    {"clip-model", 0, SORA_OPT_STR, &s.clip_model, "DIR",
	     "aes: the CLIP ViT-L/14 folder (config.json, model.safetensors), e.g. "
	     "openai/clip-vit-large-patch14"},
	    {"aes-model", 0, SORA_OPT_STR, &s.aes_model, "FILE",
	     "aes: the LAION aesthetic predictor as safetensors (see README: converting the .pth)"},
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
		"freeze_ratio, aes (the LAION aesthetic predictor on CLIP ViT-L/14 at 10%, 50% and 90% of\n"
		"the clip's frames, as Open-Sora's scorer; an image row is one frame). A row's scores cover\n"
		"its [start_sec, end_sec) range (empty or absent: the whole video). Reads a CSV with a\n"
		"`path` column on stdin, or videos named on the command line.",
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
	if (s.o.mask & SORA_SCORE_AES) {
		int rc2 = open_aes(&s, c.threads);
		if (rc2 != SORA_EXIT_OK)
			return rc2;
	} else if (s.clip_model || s.aes_model) {
		log_error("--clip-model and --aes-model are for --scores aes");
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
	rc = sora_rowmap_run(&spec, &c, argc - first, argv + first);
	close_aes(&s, c.threads);
	return rc;
}
