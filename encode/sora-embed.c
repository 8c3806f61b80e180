/* sora-embed: the encoders on the command line. Prompts (a CSV `text` column) through T5 or CLIP's text
 * tower, or image and video paths (a CSV `path` column) through CLIP's vision tower and the aesthetic
 * predictor; out, one safetensors file holding the outputs of every row that was not rejected, in input
 * order, named as transformers names them.
 *
 * Rows go through sora_rowmap_run like every program: its -j workers tokenize prompts or decode and
 * preprocess images, and it owns rejects, progress and the summary. A prepared row waits in a slot whose
 * number rowmap's output row carries in its `index` column; that CSV, in input order, reaches the batcher
 * thread through a pipe. The batcher runs the model on --batch rows at once (the forward passes are its
 * alone: one model, one thread), appends their outputs to the safetensors rows, and passes each row on
 * (-o, default stdout) with `index` set to its row in the tensors. */
#define _GNU_SOURCE /* F_SETPIPE_SZ */
#include "io/image_file.h"
#include "io/image_prep.h"
#include "io/st_rows.h"
#include "io/video.h"
#include "models/aesthetic.h"
#include "models/clip_text.h"
#include "models/clip_vision.h"
#include "models/t5.h"
#include "models/tokenizer_clip.h"
#include "models/tokenizer_t5.h"
#include "models/weights.h"
#include "util/cli.h"
#include "util/clip_range.h"
#include "util/log.h"
#include "util/progress.h"
#include "util/rowmap.h"

#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum { C_INDEX };
static const char *const columns[] = {"index", NULL};

typedef enum { M_T5, M_CLIP, M_VISION } mode;

/* Frames a video row is embedded from: at 10%, 50% and 90% of its range, as Open-Sora's aesthetic
 * scorer samples them. */
#define VIDEO_FRAMES 3

/* One row made ready by a worker: its token ids, or its preprocessed frames. */
typedef struct prepared {
	int32_t *ids; /* [L] */
	int num_tokens;
	float *pixels; /* [frames, 3, S, S] */
	int frames;
} prepared;

typedef struct embed {
	mode mode;
	const char *dir;
	int max_length, batch, t5_mask;
	sora_t5_tok *t5_tok;
	sora_clip_tok *clip_tok;
	sora_t5 t5;
	sora_clip_text clip;
	sora_clip_vision *vision;
	sora_aesthetic *aes;
	int L, D, P, S; /* tokens per prompt, hidden width; projection width, image size */
	int text_col;
	sora_range_cols range;
	/* Prepared rows by slot number, from the workers to the batcher. */
	pthread_mutex_t lock;
	prepared **slots;
	int64_t nslots, cap;
} embed;

static void prepared_free(prepared *p)
{
	if (p) {
		free(p->ids);
		free(p->pixels);
		free(p);
	}
}

/* ---- workers: one row each ---- */

static int prepare_header(void *ctx, const sora_fields *header, sora_err *e)
{
	embed *m = ctx;
	if (m->mode == M_VISION) {
		sora_range_cols_find(&m->range, header);
		CHECK(e, m->range.path >= 0, "the input CSV has no 'path' column");
	} else {
		m->text_col = sora_fields_find(header, "text");
		CHECK(e, m->text_col >= 0, "the input CSV has no 'text' column");
	}
	return 0;
fail:
	return -1;
}

/* Still images are told from videos by their extension (io/video.c refuses still images). */
static int is_image(const char *path)
{
	static const char *const exts[] = {"png", "jpg",  "jpeg", "bmp",  "ppm", "pgm",
					   "pnm", "webp", "tif",  "tiff", NULL};
	const char *dot = strrchr(path, '.');
	for (int i = 0; dot && !strchr(dot, '/') && exts[i]; i++)
		if (!strcasecmp(dot + 1, exts[i]))
			return 1;
	return 0;
}

static int prepare_image(const embed *m, const char *path, float *pixels, sora_err *e)
{
	uint8_t *rgb = NULL;
	int w, h;
	TRY(sora_image_load(path, &rgb, &w, &h, e));
	TRY(sora_clip_preprocess(pixels, NULL, m->S, rgb, w, h, w * 3, e));
	free(rgb);
	return 0;
fail:
	free(rgb);
	return -1;
}

/* The first frames at or after 10%, 50% and 90% of [start, end) (end: at most the stream's duration);
 * a point past the last frame takes the previous point's frame. */
static int prepare_video(const embed *m, const char *path, double start, double end, float *pixels,
			 sora_err *e)
{
	sora_video *v = NULL;
	const sora_video_opts o = {.threads = 1, .pix = SORA_PIX_RGB};
	const size_t n = (size_t)3 * m->S * m->S;
	TRY(sora_video_open(&v, path, &o, e));
	const sora_video_info *info = sora_video_get_info(v);
	if (info->duration_sec > 0 && info->duration_sec < end)
		end = info->duration_sec;
	CHECK(e, isfinite(end) && end > start, "no frames in [%g, %g) s (the video lasts %g s)", start, end,
	      info->duration_sec);
	for (int i = 0; i < VIDEO_FRAMES; i++) {
		double t = start + (end - start) * (0.1 + 0.4 * i);
		sora_frame f;
		TRY(sora_video_seek(v, t, e));
		int rc = sora_video_read(v, &f, e);
		TRY(rc);
		if (rc == 0) {
			CHECK(e, i > 0, "no frame at or after %.3f s", t);
			memcpy(pixels + i * n, pixels + (i - 1) * n, n * sizeof *pixels);
			continue;
		}
		TRY(sora_clip_preprocess(pixels + i * n, NULL, m->S, f.data[0], f.width, f.height,
					 f.linesize[0], e));
	}
	sora_video_close(v);
	return 0;
fail:
	sora_video_close(v);
	return -1;
}

/* Hands *p over to a new slot (*p becomes NULL). */
static int put_slot(embed *m, prepared **p, int64_t *slot, sora_err *e)
{
	pthread_mutex_lock(&m->lock);
	if (m->nslots == m->cap) {
		int64_t cap = m->cap ? 2 * m->cap : 1024;
		prepared **s = realloc(m->slots, (size_t)cap * sizeof(prepared *));
		if (!s) {
			pthread_mutex_unlock(&m->lock);
			return SORA_FAIL(e, "out of memory");
		}
		memset(s + m->cap, 0, (size_t)(cap - m->cap) * sizeof(prepared *));
		m->slots = s;
		m->cap = cap;
	}
	*slot = m->nslots++;
	m->slots[*slot] = *p;
	*p = NULL;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

static prepared *take_slot(embed *m, int64_t slot)
{
	prepared *p = NULL;
	pthread_mutex_lock(&m->lock);
	if (slot >= 0 && slot < m->nslots) {
		p = m->slots[slot];
		m->slots[slot] = NULL;
	}
	pthread_mutex_unlock(&m->lock);
	return p;
}

static int prepare_row(void *ctx, int worker, const sora_fields *in, sora_out *out, sora_err *e)
{
	embed *m = ctx;
	prepared *p = calloc(1, sizeof *p);
	int64_t slot = -1;
	CHECK_ALLOC(e, p);
	if (m->mode == M_VISION) {
		const char *path = in->v[m->range.path];
		CHECK(e, path[0], "empty path");
		p->frames = is_image(path) ? 1 : VIDEO_FRAMES;
		CHECK_ALLOC(e, p->pixels = malloc((size_t)p->frames * 3 * m->S * m->S * sizeof *p->pixels));
		if (p->frames == 1) {
			TRY(prepare_image(m, path, p->pixels, e));
		} else {
			double start, end;
			TRY(sora_row_range(&m->range, in, &start, &end, e));
			TRY(prepare_video(m, path, start, end, p->pixels, e));
		}
	} else {
		const char *text = in->v[m->text_col];
		CHECK_ALLOC(e, p->ids = malloc((size_t)m->L * sizeof *p->ids));
		if (m->mode == M_T5)
			TRY(sora_t5_tok_encode(m->t5_tok, text, m->L, p->ids, &p->num_tokens, e));
		else
			TRY(sora_clip_tok_encode(m->clip_tok, text, m->L, p->ids, &p->num_tokens, e));
	}
	TRY(put_slot(m, &p, &slot, e)); /* NOLINT(clang-analyzer-unix.Malloc): the slot owns p now */
	sora_out_add(out);
	sora_out_setf(out, C_INDEX, "%lld", (long long)slot);
	return 0;
fail:
	prepared_free(p);
	return -1;
}

/* ---- the batcher: model passes in input order ---- */

typedef struct batcher {
	embed *m;
	FILE *in, *out; /* rowmap's CSV; the row map passed on */
	const char *out_name;
	sora_st_rows *w;
	int h_hidden, h_pooled, h_embeds, h_aes;
	int index_col;
	prepared **rows; /* the batch being filled */
	sora_fields *recs;
	int n;
	int32_t *ids;
	uint8_t *mask;
	float *hidden, *pooled, *pixels, *embeds, *scores, *mean;
	sora_arena scratch;
	int64_t done;
	double forward_sec;
	int failed;
} batcher;

static int batcher_init(batcher *b, sora_err *e)
{
	const embed *m = b->m;
	const size_t B = (size_t)m->batch, L = (size_t)m->L, F = B * VIDEO_FRAMES;
	CHECK_ALLOC(e, b->rows = calloc(B, sizeof(prepared *)));
	CHECK_ALLOC(e, b->recs = calloc(B, sizeof *b->recs));
	if (m->mode == M_VISION) {
		CHECK_ALLOC(e, b->pixels = malloc(F * 3 * m->S * m->S * sizeof *b->pixels));
		CHECK_ALLOC(e, b->embeds = malloc(F * m->P * sizeof *b->embeds));
		CHECK_ALLOC(e, b->scores = malloc(F * sizeof *b->scores));
		CHECK_ALLOC(e, b->mean = malloc((size_t)m->P * sizeof *b->mean));
		TRY(b->h_embeds = sora_st_rows_add(b->w, "image_embeds", 1, (int64_t[]){m->P}, e));
		if (m->aes)
			TRY(b->h_aes = sora_st_rows_add(b->w, "aes", 0, NULL, e));
	} else {
		CHECK_ALLOC(e, b->ids = malloc(B * L * sizeof *b->ids));
		CHECK_ALLOC(e, b->mask = malloc(B * L));
		CHECK_ALLOC(e, b->hidden = malloc(B * L * m->D * sizeof *b->hidden));
		TRY(b->h_hidden = sora_st_rows_add(b->w, "last_hidden_state", 2, (int64_t[]){m->L, m->D}, e));
		if (m->mode == M_CLIP) {
			CHECK_ALLOC(e, b->pooled = malloc(B * m->D * sizeof *b->pooled));
			TRY(b->h_pooled = sora_st_rows_add(b->w, "pooler_output", 1, (int64_t[]){m->D}, e));
		}
	}
	return 0;
fail:
	return -1;
}

static void batcher_free(batcher *b)
{
	for (int i = 0; i < b->n; i++) {
		prepared_free(b->rows[i]);
		sora_fields_free(&b->recs[i]);
	}
	free(b->rows), free(b->recs), free(b->ids), free(b->mask), free(b->hidden), free(b->pooled);
	free(b->pixels), free(b->embeds), free(b->scores), free(b->mean);
	sora_arena_free(&b->scratch);
}

/* image_embeds of each row = the mean of its frames' (one for an image); aes = the mean of its frames'
 * scores, as Open-Sora scores a video. */
static int vision_batch(batcher *b, sora_err *e)
{
	const embed *m = b->m;
	const size_t n = (size_t)3 * m->S * m->S;
	int F = 0;
	for (int i = 0; i < b->n; i++) {
		memcpy(b->pixels + F * n, b->rows[i]->pixels, b->rows[i]->frames * n * sizeof *b->pixels);
		F += b->rows[i]->frames;
	}
	TRY(sora_clip_vision_forward(m->vision, b->pixels, F, b->embeds, NULL, NULL, e)); /* [F, P] */
	if (m->aes)
		TRY(sora_aesthetic_score(m->aes, b->embeds, F, b->scores, e)); /* [F] */
	F = 0;
	for (int i = 0; i < b->n; i++) {
		const int k = b->rows[i]->frames;
		double aes = 0;
		for (int p = 0; p < m->P; p++) {
			double s = 0;
			for (int f = 0; f < k; f++)
				s += b->embeds[(size_t)(F + f) * m->P + p];
			b->mean[p] = (float)(s / k);
		}
		for (int f = 0; m->aes && f < k; f++)
			aes += b->scores[F + f];
		F += k;
		TRY(sora_st_rows_append(b->w, b->h_embeds, b->mean, 1, e));
		if (m->aes) {
			float a = (float)(aes / k);
			TRY(sora_st_rows_append(b->w, b->h_aes, &a, 1, e));
		}
	}
	return 0;
fail:
	return -1;
}

static int text_batch(batcher *b, sora_err *e)
{
	const embed *m = b->m;
	const size_t L = (size_t)m->L;
	for (int i = 0; i < b->n; i++) {
		memcpy(b->ids + i * L, b->rows[i]->ids, L * sizeof *b->ids);
		for (size_t j = 0; j < L; j++)
			b->mask[i * L + j] = (int)j < b->rows[i]->num_tokens;
	}
	if (m->mode == M_T5) {
		TRY(sora_t5_forward(&m->t5, &b->scratch, b->ids, m->t5_mask ? b->mask : NULL, b->n, m->L,
				    b->hidden, e)); /* [n, L, D] */
	} else {
		TRY(sora_clip_text_forward(&m->clip, &b->scratch, b->ids, NULL, b->n, m->L, b->hidden,
					   b->pooled, e)); /* [n, L, D], [n, D] */
		TRY(sora_st_rows_append(b->w, b->h_pooled, b->pooled, b->n, e));
	}
	TRY(sora_st_rows_append(b->w, b->h_hidden, b->hidden, b->n, e));
	return 0;
fail:
	return -1;
}

/* The model on the rows gathered, then those rows passed on with their index in the tensors. */
static int run_batch(batcher *b, sora_err *e)
{
	double t0 = sora_now();
	TRY(b->m->mode == M_VISION ? vision_batch(b, e) : text_batch(b, e));
	b->forward_sec += sora_now() - t0;
	for (int i = 0; i < b->n; i++) {
		char idx[24];
		snprintf(idx, sizeof idx, "%lld", (long long)b->done++);
		CHECK_ALLOC(e, sora_fields_set(&b->recs[i], b->index_col, idx) == 0);
		TRY(sora_csv_write(b->out, b->recs[i].v, b->recs[i].n, e));
		sora_fields_free(&b->recs[i]);
		prepared_free(b->rows[i]);
		b->rows[i] = NULL;
	}
	b->n = 0;
	CHECK(e, fflush(b->out) == 0, "%s: %s", b->out_name, strerror(errno));
	return 0;
fail:
	return -1;
}

static void *batcher_main(void *arg)
{
	batcher *b = arg;
	sora_csv_reader *r = NULL;
	sora_fields rec = {0};
	sora_err e = {0};
	int rc;
	if (sora_csv_reader_open(&r, b->in, "rows", &e) < 0 || (rc = sora_csv_read(r, &rec, &e)) < 0)
		goto failed;
	if (rc > 0) { /* the header */
		b->index_col = sora_fields_find(&rec, "index");
		if (sora_csv_write(b->out, rec.v, rec.n, &e) < 0)
			goto failed;
		sora_fields_free(&rec);
	}
	while ((rc = sora_csv_read(r, &rec, &e)) > 0) {
		const int ok = b->index_col >= 0 && b->index_col < rec.n;
		prepared *p = take_slot(b->m, ok ? strtoll(rec.v[b->index_col], NULL, 10) : -1);
		if (!p) {
			SORA_FAIL(&e, "internal: a row without its prepared data");
			goto failed;
		}
		b->rows[b->n] = p;
		b->recs[b->n++] = rec;
		rec = (sora_fields){0};
		if (b->n == b->m->batch && run_batch(b, &e) < 0)
			goto failed;
	}
	if (rc < 0 || (b->n > 0 && run_batch(b, &e) < 0))
		goto failed;
	goto done;
failed:
	log_error("%s", e.msg);
	b->failed = 1;
done:
	sora_fields_free(&rec);
	sora_csv_reader_close(r);
	/* Drain what is left so that rowmap never blocks on a full pipe. */
	char sink[4096];
	while (fread(sink, 1, sizeof sink, b->in) > 0)
		;
	return NULL;
}

/* ---- set-up ---- */

/* "19.2 GB", "4.4 MB": the -v memory estimate. */
static const char *human(char *buf, size_t n, size_t bytes)
{
	double x = (double)bytes;
	snprintf(buf, n, x >= 1e9 ? "%.1f GB" : "%.1f MB", x >= 1e9 ? x / 1e9 : x / 1e6);
	return buf;
}

/* The estimate said before loading: all of it, the weights, and the activations of one batch. */
static void say_memory(const embed *m, const char *what, size_t total, size_t weights)
{
	char a[32], b[32], c[32];
	log_info("%s %s: about %s: weights (f32) %s, a batch of %d x %d tokens %s", what, m->dir,
		 human(a, sizeof a, total), human(b, sizeof b, weights), m->batch, m->L,
		 human(c, sizeof c, total - weights));
}

static int load_models(embed *m, int verbose, sora_err *e)
{
	char cfg[4096], weights[4096], *report = NULL;
	sora_model_files(m->dir, cfg, sizeof cfg, weights, sizeof weights);
	if (m->mode == M_T5) {
		sora_t5_config c;
		TRY(sora_t5_read_config(&c, cfg, e));
		if (verbose)
			say_memory(m, "T5", sora_t5_memory_bytes(&c, m->batch, m->L),
				   sora_t5_memory_bytes(&c, 0, 0));
		TRY(sora_t5_tok_load(&m->t5_tok, m->dir, e));
		TRY(sora_t5_load(&m->t5, cfg, weights, e));
		m->D = m->t5.cfg.d_model;
	} else if (m->mode == M_CLIP) {
		sora_clip_text_config c;
		TRY(sora_clip_text_read_config(&c, cfg, e));
		CHECK(e, m->L <= c.max_positions, "--max-length %d: the model has %d positions", m->L,
		      c.max_positions);
		if (verbose)
			say_memory(m, "CLIP text", sora_clip_text_memory_bytes(&c, m->batch, m->L),
				   sora_clip_text_memory_bytes(&c, 0, 0));
		TRY(sora_clip_tok_load(&m->clip_tok, m->dir, e));
		TRY(sora_clip_text_load(&m->clip, cfg, weights, e));
		m->D = m->clip.cfg.hidden;
	} else {
		TRY(sora_clip_vision_load(&m->vision, cfg, weights, &report, e));
		const sora_clip_vision_config *c = sora_clip_vision_get_config(m->vision);
		m->P = c->projection_dim;
		m->S = c->image_size;
		CHECK(e, c->num_channels == 3, "%s: %d channels; images are RGB", cfg, c->num_channels);
	}
	return 0;
fail:
	if (report)
		log_debug("%s", report);
	free(report);
	return -1;
}

int main(int argc, char **argv)
{
	embed m = {.batch = 8, .lock = PTHREAD_MUTEX_INITIALIZER};
	const char *t5_dir = NULL, *clip_dir = NULL, *vision_dir = NULL, *aes_path = NULL, *out_path = NULL;
	const sora_opt opts[] = {
	    {"t5", 0, SORA_OPT_STR, &t5_dir, "DIR",
	     "T5 encoder (google/t5-v1_1-xxl): config.json, model.safetensors[.index.json], spiece.model"},
	    {"clip", 0, SORA_OPT_STR, &clip_dir, "DIR",
	     "CLIP text tower (openai/clip-vit-large-patch14, or a CLIPTextModel): config.json, weights, "
	     "vocab.json, merges.txt"},
	    {"clip-vision", 0, SORA_OPT_STR, &vision_dir, "DIR",
	     "CLIP vision tower + projection (openai/clip-vit-large-patch14): config.json, weights"},
	    {"aes-model", 0, SORA_OPT_STR, &aes_path, "FILE",
	     "with --clip-vision: the LAION aesthetic predictor (safetensors); writes aes"},
	    {"out", 0, SORA_OPT_STR, &out_path, "FILE", "the safetensors file to write (required)"},
	    {"max-length", 0, SORA_OPT_INT, &m.max_length, "N",
	     "tokens per prompt, truncated or padded (T5: 512, CLIP: 77)"},
	    {"t5-mask", 0, SORA_OPT_FLAG, &m.t5_mask, NULL,
	     "T5: mask the padding (Open-Sora v1.x); Open-Sora v2 passes no mask"},
	    {"batch", 0, SORA_OPT_INT, &m.batch, "N", "rows per forward pass"},
	    {0},
	};
	const sora_cli cli = {
	    .prog = "sora-embed",
	    .usage = "--t5 DIR | --clip DIR | --clip-vision DIR [--aes-model FILE] --out FILE.safetensors "
		     "[csv files]...",
	    .summary =
		"Runs an encoder over every row and writes one safetensors file, rows in input order: "
		"prompts\n"
		"(the `text` column) through T5 (last_hidden_state [N, L, D]) or CLIP's text tower\n"
		"(last_hidden_state, pooler_output [N, D]); images or videos (the `path` column; a video: "
		"the\n"
		"mean over its frames at 10%, 50% and 90%) through CLIP's vision tower (image_embeds [N, "
		"P])\n"
		"and the aesthetic predictor (aes [N]). The CSV written (stdout or -o) is the input rows "
		"that\n"
		"were embedded, with `index`: their row in the tensors; rejected rows go to --rejects.",
	    .opts = opts,
	};
	sora_common_opts c;
	int first, rc = sora_cli_parse(&cli, argc, argv, &c, &first);
	if (rc != SORA_CLI_OK)
		return rc == SORA_CLI_EXIT ? SORA_EXIT_OK : SORA_EXIT_USAGE;
	if (!!t5_dir + !!clip_dir + !!vision_dir != 1) {
		log_error("give exactly one of --t5 DIR, --clip DIR and --clip-vision DIR");
		return SORA_EXIT_USAGE;
	}
	m.mode = t5_dir ? M_T5 : clip_dir ? M_CLIP : M_VISION;
	m.dir = t5_dir ? t5_dir : clip_dir ? clip_dir : vision_dir;
	const char *problem = !out_path                            ? "--out FILE is required"
			      : aes_path && m.mode != M_VISION     ? "--aes-model goes with --clip-vision"
			      : m.t5_mask && m.mode != M_T5        ? "--t5-mask goes with --t5"
			      : m.max_length && m.mode == M_VISION ? "--max-length is for prompts"
			      : m.batch < 1 || m.batch > 65536     ? "--batch must be between 1 and 65536"
			      : m.max_length && (m.max_length < 2 || m.max_length > 1 << 16)
				  ? "--max-length must be between 2 and 65536"
				  : NULL;
	if (problem) {
		log_error("%s", problem);
		return SORA_EXIT_USAGE;
	}
	m.L = m.max_length ? m.max_length : m.mode == M_T5 ? SORA_T5_MAX_LENGTH : SORA_CLIP_MAX_LENGTH;

	sora_err e = {0};
	batcher b = {.m = &m, .h_aes = -1, .h_pooled = -1};
	int pipe_fd[2] = {-1, -1};
	pthread_t thread;
	rc = SORA_EXIT_FAIL;
	double t0 = sora_now();
	if (load_models(&m, c.verbosity > 0, &e) < 0)
		goto fail;
	if (aes_path) {
		char *report = NULL;
		if (sora_aesthetic_load(&m.aes, aes_path, &report, &e) < 0) {
			free(report);
			goto fail;
		}
		CHECK(&e, sora_aesthetic_dim(m.aes) == m.P,
		      "%s takes %d-wide image_embeds; the CLIP model gives %d", aes_path,
		      sora_aesthetic_dim(m.aes), m.P);
	}
	log_debug("models loaded in %.1f s", sora_now() - t0);
	b.out_name = c.output ? c.output : "stdout";
	CHECK(&e, b.out = c.output ? fopen(c.output, "w") : stdout, "cannot write %s: %s", c.output,
	      strerror(errno));
	if (sora_st_rows_open(&b.w, out_path, &e) < 0 || batcher_init(&b, &e) < 0)
		goto fail;
	CHECK_SYS(&e, pipe(pipe_fd), "pipe");
	/* A small pipe keeps the workers close behind the batcher, so progress tells model passes. */
	fcntl(pipe_fd[1], F_SETPIPE_SZ, 4096);
	CHECK(&e, b.in = fdopen(pipe_fd[0], "r"), "pipe: %s", strerror(errno));
	pipe_fd[0] = -1;
	CHECK(&e, pthread_create(&thread, NULL, batcher_main, &b) == 0, "cannot start the batcher");

	char rows_path[32];
	snprintf(rows_path, sizeof rows_path, "/dev/fd/%d", pipe_fd[1]);
	sora_common_opts rc_opts = c;
	rc_opts.output = rows_path;
	const sora_rowmap_spec spec = {
	    .input = SORA_INPUT_CSV,
	    .columns = columns,
	    .unit = m.mode == M_VISION ? "images" : "prompts",
	    .ctx = &m,
	    .prepare = prepare_header,
	    .process = prepare_row,
	};
	rc = sora_rowmap_run(&spec, &rc_opts, argc - first, argv + first);
	close(pipe_fd[1]);
	pipe_fd[1] = -1;
	pthread_join(thread, NULL);
	if (b.failed) {
		rc = SORA_EXIT_FAIL;
	} else if (rc != SORA_EXIT_USAGE) {
		static const char *const names[] = {"t5", "clip_text", "clip_vision"};
		char L[16];
		snprintf(L, sizeof L, "%d", m.L);
		const char *meta[] = {"format",
				      "pt",
				      "encoder",
				      names[m.mode],
				      "model",
				      m.dir,
				      m.mode == M_VISION ? NULL : "max_length",
				      L,
				      NULL};
		sora_st_rows *w = b.w;
		b.w = NULL;
		if (sora_st_rows_close(w, meta, &e) < 0) {
			log_error("%s", e.msg);
			rc = SORA_EXIT_FAIL;
		} else {
			log_info("%s: %lld rows; model passes %.1f s", out_path, (long long)b.done,
				 b.forward_sec);
		}
	}
	goto done;
fail:
	log_error("%s", e.msg);
done:
	if (pipe_fd[1] >= 0)
		close(pipe_fd[1]);
	if (pipe_fd[0] >= 0)
		close(pipe_fd[0]);
	if (b.in)
		fclose(b.in);
	if (b.out && b.out != stdout && fclose(b.out) != 0 && rc == SORA_EXIT_OK)
		rc = SORA_EXIT_FAIL;
	sora_st_rows_abort(b.w);
	batcher_free(&b);
	for (int64_t i = 0; i < m.nslots; i++)
		prepared_free(m.slots[i]);
	free(m.slots);
	sora_t5_tok_free(m.t5_tok);
	sora_clip_tok_free(m.clip_tok);
	if (m.mode == M_T5 && m.D)
		sora_t5_free(&m.t5);
	if (m.mode == M_CLIP && m.D)
		sora_clip_text_free(&m.clip);
	sora_clip_vision_free(m.vision);
	sora_aesthetic_free(m.aes);
	return rc;
}
