/* sora-encode: captioned rows in, training shards out (T5 and CLIP embeddings of each row's prompt, with
 * the row's fields, in a dataset folder: shards.h, docs/formats.md). With --vae, each row's clip is also
 * put in its Open-Sora bucket and encoded to its VAE latent (clip_latent.h), stored in the same record.
 *
 * Not a rowmap program: the models run on batches of rows, and every row goes to one shard writer. Rows
 * are read in order, checked and tokenized; each full batch goes through T5 and CLIP, and its rows are
 * written to the open shard, then to the output CSV (the rows this run added, with `prompt` and
 * `shard`). A row whose id is already in a sealed shard is skipped (counted as filtered), so a re-run
 * after a kill redoes only what was lost. */
#include "encode/clip_latent.h"
#include "encode/model_id.h"
#include "encode/prompt.h"
#include "encode/text_encoder.h"
#include "io/shards.h"
#include "models/text_clean.h"
#include "models/weights.h"
#include "util/cli.h"
#include "util/clip_range.h"
#include "util/csv.h"
#include "util/file.h"
#include "util/log.h"
#include "util/progress.h"

#include <cblas.h>
#include <ctype.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Open-Sora 2.0's stage-1 table: from the working directory (the repository root, where `make demo` and
 * the pipeline run), else beside the program (bin/../configs). */
#define SORA_DEFAULT_BUCKETS "configs/buckets/stage1.json"

static int is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static const char *default_buckets(char *buf, size_t n)
{
	ssize_t len;
	char *slash;
	if (access(SORA_DEFAULT_BUCKETS, R_OK) == 0 || n < 64 ||
	    (len = readlink("/proc/self/exe", buf, n - 40)) <= 0)
		return SORA_DEFAULT_BUCKETS;
	buf[len] = 0;
	if (!(slash = strrchr(buf, '/')))
		return SORA_DEFAULT_BUCKETS;
	strcpy(slash, "/../" SORA_DEFAULT_BUCKETS);
	return access(buf, R_OK) == 0 ? buf : SORA_DEFAULT_BUCKETS;
}

typedef struct row {
	sora_fields f;
	int64_t num; /* 1-based input row, for messages */
	char *id, *prompt;
	sora_prompt_tokens tok;
	sora_clip_latent lat; /* with --vae */
} row;

typedef struct enc {
	const char *out_dir, *t5_dir, *clip_dir;
	int batch, shard_mb, t5_trim, no_suffix;
	const char *vae_path, *vae_cfg, *buckets_path;
	int vae_sample, seed;
	const sora_common_opts *c;

	sora_vae vae;
	sora_bucket *buckets; /* with --vae */
	sora_range_cols range;

	sora_text_encoder te;
	sora_shard_writer *w;
	sora_fields header;
	int text, id, path, start, end, fps, motion, height, width, frames; /* columns, -1 when absent */
	int prompt_col, shard_col;                                          /* in the output */
	FILE *out, *rej;

	row *rows;
	int nrows;
	sora_fields *pending; /* output rows of the open shard: written once it is sealed */
	int npending, cap_pending, sealed;
	int64_t in, added, rejected, skipped, t5_cut, clip_cut;
	int fatal, stopped;
	sora_progress prog;
} enc;

static void row_free(row *r)
{
	sora_fields_free(&r->f);
	free(r->id);
	free(r->prompt);
	sora_clip_latent_free(&r->lat);
	memset(r, 0, sizeof *r);
}

/* ---- set-up ---- */

static int find_columns(enc *x, sora_err *e)
{
	const sora_fields *h = &x->header;
	x->text = sora_fields_find(h, "text");
	x->id = sora_fields_find(h, "id");
	x->path = sora_fields_find(h, "path");
	x->start = sora_fields_find(h, "start_sec");
	x->end = sora_fields_find(h, "end_sec");
	x->fps = sora_fields_find(h, "fps");
	x->motion = sora_fields_find(h, "score_vmafmotion");
	x->height = sora_fields_find(h, "height");
	x->width = sora_fields_find(h, "width");
	x->frames = sora_fields_find(h, "num_frames");
	CHECK(e, x->text >= 0, "the input CSV has no 'text' column");
	for (int i = 0; i < h->n; i++) /* each column becomes one metadata key */
		CHECK(e, sora_fields_find(h, h->v[i]) == i, "the input CSV has column '%s' twice", h->v[i]);
	CHECK(e, x->id >= 0 || x->path >= 0,
	      "the input CSV has neither an 'id' nor a 'path' column to key rows by");
	if (x->buckets) {
		CHECK(e, x->path >= 0, "--vae: the input CSV has no 'path' column to read clips from");
		sora_range_cols_find(&x->range, h);
	}
	if (sora_fields_find(h, "prompt") >= 0 || sora_fields_find(h, "t5_tokens") >= 0)
		log_info("the input already has a 'prompt' or 't5_tokens' column; replacing it");
	return 0;
fail:
	return -1;
}

static int open_outputs(enc *x, sora_err *e)
{
	sora_fields oh = {0}, rh = {0};
	for (int i = 0; i < x->header.n; i++)
		CHECK_ALLOC(e, sora_fields_push(&oh, x->header.v[i], strlen(x->header.v[i])) == 0);
	if ((x->prompt_col = sora_fields_find(&oh, "prompt")) < 0) {
		x->prompt_col = oh.n;
		CHECK_ALLOC(e, sora_fields_push(&oh, "prompt", 6) == 0);
	}
	if ((x->shard_col = sora_fields_find(&oh, "shard")) < 0) {
		x->shard_col = oh.n;
		CHECK_ALLOC(e, sora_fields_push(&oh, "shard", 5) == 0);
	}
	x->out = stdout;
	if (x->c->output)
		CHECK(e, x->out = fopen(x->c->output, "w"), "cannot write %s: %s", x->c->output,
		      strerror(errno));
	TRY(sora_csv_write(x->out, oh.v, oh.n, e));
	fflush(x->out);
	if (x->c->rejects) {
		CHECK(e, x->rej = fopen(x->c->rejects, "w"), "cannot write %s: %s", x->c->rejects,
		      strerror(errno));
		for (int i = 0; i < x->header.n; i++)
			CHECK_ALLOC(e, sora_fields_push(&rh, x->header.v[i], strlen(x->header.v[i])) == 0);
		if (sora_fields_find(&rh, "error") < 0)
			CHECK_ALLOC(e, sora_fields_push(&rh, "error", 5) == 0);
		TRY(sora_csv_write(x->rej, rh.v, rh.n, e));
	}
	sora_fields_free(&oh);
	sora_fields_free(&rh);
	return 0;
fail:
	sora_fields_free(&oh);
	sora_fields_free(&rh);
	return -1;
}

/* The bucket_config object of a buckets file (where it was checked by sora_bucket_load). */
static cJSON *buckets_json(const char *path, sora_err *e)
{
	size_t n;
	char *text = sora_read_file(path, 1 << 20, "buckets file", &n, e);
	cJSON *j = text ? cJSON_ParseWithLength(text, n) : NULL, *c = NULL;
	free(text);
	CHECK(e, j, "%s: not JSON", path);
	c = cJSON_GetObjectItemCaseSensitive(j, "bucket_config");
	c = cJSON_Duplicate(c ? c : j, 1);
	CHECK_ALLOC(e, c);
fail:
	cJSON_Delete(j);
	return c;
}

/* What describes the rows' tensors in index.json: a dataset is only ever added to with the same. */
static cJSON *describe(const enc *x, sora_err *e)
{
	cJSON *d = cJSON_CreateObject(), *t5, *clip;
	CHECK_ALLOC(e, d && (t5 = cJSON_AddObjectToObject(d, "t5")) &&
			   (clip = cJSON_AddObjectToObject(d, "clip")));
	TRY(sora_model_id(x->t5_dir, t5, e));
	CHECK_ALLOC(e, cJSON_AddNumberToObject(t5, "length", x->te.t5_len) &&
			   cJSON_AddNumberToObject(t5, "width", x->te.t5.cfg.d_model) &&
			   cJSON_AddBoolToObject(t5, "trim", x->t5_trim) &&
			   cJSON_AddStringToObject(t5, "dtype", "BF16"));
	TRY(sora_model_id(x->clip_dir, clip, e));
	CHECK_ALLOC(e, cJSON_AddNumberToObject(clip, "length", x->te.clip_len) &&
			   cJSON_AddNumberToObject(clip, "width", x->te.clip.cfg.hidden) &&
			   cJSON_AddStringToObject(clip, "dtype", "BF16"));
	CHECK_ALLOC(e, cJSON_AddStringToObject(d, "prompt",
					       x->no_suffix ? "caption"
							    : "caption + Open-Sora 2.0 suffix (fps_max 24)"));
	if (x->buckets) {
		cJSON *vae = cJSON_AddObjectToObject(d, "latent"), *bk;
		CHECK_ALLOC(e, vae);
		TRY(sora_model_id_files(x->vae_cfg, x->vae_path, vae, e));
		CHECK_ALLOC(e, cJSON_AddNumberToObject(vae, "channels", x->vae.cfg.latent_channels) &&
				   cJSON_AddNumberToObject(vae, "scale_factor", x->vae.cfg.scale_factor) &&
				   cJSON_AddStringToObject(vae, "z", x->vae_sample ? "sample" : "mean") &&
				   cJSON_AddStringToObject(vae, "dtype", "BF16"));
		if (x->vae_sample)
			CHECK_ALLOC(e, cJSON_AddNumberToObject(vae, "seed", x->seed));
		if (!(bk = buckets_json(x->buckets_path, e)))
			goto fail;
		CHECK_ALLOC(e, cJSON_AddItemToObject(vae, "bucket_config", bk));
	}
	return d;
fail:
	cJSON_Delete(d);
	return NULL;
}

/* ---- rows ---- */

static int blank(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			return 0;
	return 1;
}

/* The row's key: its id, else its path with the clip's range when the rows have one (the key
 * sora-caption's cache uses). */
static int row_id(const enc *x, row *r, sora_err *e)
{
	const char *const *v = (const char *const *)r->f.v;
	size_t n;
	if (x->id >= 0 && v[x->id][0]) {
		CHECK_ALLOC(e, r->id = strdup(v[x->id]));
	} else {
		CHECK(e, x->path >= 0 && v[x->path][0], "no id and no path to make one from");
		n = strlen(v[x->path]) + 4 + (x->start >= 0 ? strlen(v[x->start]) : 0) +
		    (x->end >= 0 ? strlen(v[x->end]) : 0);
		CHECK_ALLOC(e, r->id = malloc(n));
		if (x->start >= 0 || x->end >= 0)
			snprintf(r->id, n, "%s#%s-%s", v[x->path], x->start >= 0 ? v[x->start] : "",
				 x->end >= 0 ? v[x->end] : "");
		else
			snprintf(r->id, n, "%s", v[x->path]);
	}
	n = strlen(r->id);
	CHECK(e, n <= SORA_SHARD_MAX_KEY, "id of %zu bytes (at most %d)", n, SORA_SHARD_MAX_KEY);
	return 0;
fail:
	return -1;
}

/* ε's seed for --vae-sample: the row's id hashed with --seed, so a row draws the same ε whatever its
 * position in the input. */
static uint64_t id_seed(const char *id, uint64_t seed)
{
	uint64_t h = 0xcbf29ce484222325ull ^ seed;
	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 0x100000001b3ull;
	return h;
}

/* Checks and tokenizes row r into the next batch slot: 0 taken, 1 already in the dataset, -1 rejected. */
static int take_row(enc *x, row *r, sora_err *e)
{
	const char *const *v = (const char *const *)r->f.v;
	CHECK(e, r->f.n == x->header.n, "malformed CSV row: %d fields, the header has %d", r->f.n,
	      x->header.n);
	for (int i = 0; i < r->f.n; i++)
		if (sora_utf8_check(v[i], strlen(v[i]), e) < 0) {
			sora_err_prefix(e, "column %s: ", x->header.v[i]);
			return -1;
		}
	TRY(row_id(x, r, e));
	CHECK(e, !blank(v[x->text]), "empty text");
	int rc = sora_shard_writer_has(x->w, r->id, e);
	if (rc < 0) {
		x->fatal = 1;
		return -1;
	}
	if (rc > 0)
		return 1;
	for (int b = 0; b < x->nrows; b++)
		CHECK(e, strcmp(x->rows[b].id, r->id) != 0, "id '%s' appears twice in the input", r->id);
	/* Without the fps and motion fields the prompt is the caption alone. */
	TRY(sora_prompt_build(v[x->text], x->fps >= 0 && !x->no_suffix ? v[x->fps] : NULL,
			      x->motion >= 0 && !x->no_suffix ? v[x->motion] : NULL, SORA_FPS_MAX, &r->prompt,
			      e));
	TRY(sora_text_encoder_tokenize(&x->te, x->nrows, r->prompt, &r->tok, e));
	if (x->buckets) {
		double start, end;
		const sora_clip_latent_opts o = {
		    .vae = &x->vae,
		    .buckets = x->buckets,
		    .bucket_seed =
			(uint64_t)x->seed + (uint64_t)(r->num - 1) * (uint64_t)x->buckets->num_bucket,
		    .sample = x->vae_sample,
		    .eps_seed = id_seed(r->id, (uint64_t)x->seed),
		};
		TRY(sora_row_range(&x->range, &r->f, &start, &end, e));
		TRY(sora_clip_latent_make(&o, v[x->path], start, end, &r->lat, e));
	}
	return 0;
fail:
	return -1;
}

static void reject(enc *x, row *r, const sora_err *err)
{
	char label[64];
	sora_err e = {0};
	x->rejected++;
	snprintf(label, sizeof label, "CSV row %lld", (long long)r->num);
	sora_log_err(SORA_LOG_WARN, r->id ? r->id : label, err);
	if (!x->rej)
		return;
	int n = x->header.n, col = sora_fields_find(&x->header, "error");
	if (sora_fields_resize(&r->f, n + (col < 0)) < 0 ||
	    sora_fields_set(&r->f, col < 0 ? n : col, err->msg) < 0 ||
	    sora_csv_write(x->rej, r->f.v, r->f.n, &e) < 0) {
		log_error("%s: %s", x->c->rejects, e.msg[0] ? e.msg : "out of memory");
		x->fatal = 1;
	}
	fflush(x->rej);
}

/* The histogram key of a row: height x width x num_frames (of its bucket with --vae, else its columns). */
static void bucket_of(const enc *x, const row *r, char *buf, size_t n)
{
	if (x->buckets)
		snprintf(buf, n, "%dx%dx%d", r->lat.h, r->lat.w, r->lat.t);
	else if (x->height < 0 || x->width < 0 || x->frames < 0 || !r->f.v[x->height][0] ||
		 !r->f.v[x->width][0] || !r->f.v[x->frames][0])
		snprintf(buf, n, "unknown");
	else
		snprintf(buf, n, "%.20sx%.20sx%.20s", r->f.v[x->height], r->f.v[x->width], r->f.v[x->frames]);
}

/* The metadata keys sora-encode sets itself; a CSV column of the same name is replaced. */
static const char *const own_keys[] = {"prompt",       "t5_tokens",     "bucket",       "bucket_height",
				       "bucket_width", "bucket_frames", "frame_stride", NULL};

static int own_key(const char *k)
{
	for (int i = 0; own_keys[i]; i++)
		if (!strcmp(k, own_keys[i]))
			return 1;
	return 0;
}

/* One row's record: `t5` [L, d_model] (L = its tokens with --t5-trim), `clip` [hidden], both bf16, and
 * with --vae `latent` [C, t, h, w] bf16; the CSV fields, `prompt`, `t5_tokens` and the bucket as
 * metadata. */
static int write_row(enc *x, int b, sora_err *e)
{
	row *r = &x->rows[b];
	const int D = x->te.t5.cfg.d_model, C = x->te.clip.cfg.hidden,
		  L = x->t5_trim ? r->tok.t5 : x->te.t5_len;
	const char **meta = calloc(2 * (size_t)x->header.n + 16, sizeof *meta);
	sora_tensor t[3] = {0};
	const char *names[3] = {"t5", "clip", "latent"};
	void *blob = NULL;
	size_t size, k = 0;
	char ntok[16], bucket[80], bname[96], bh[16], bw[16], bt[16], bs[16];
	CHECK_ALLOC(e, meta);
	TRY(sora_tensor_alloc(&t[0], SORA_BF16, 2, (int64_t[]){L, D}, e));
	TRY(sora_tensor_alloc(&t[1], SORA_BF16, 1, (int64_t[]){C}, e));
	TRY(sora_from_f32(t[0].data, SORA_BF16, sora_text_encoder_t5(&x->te, b), (size_t)L * D, e));
	TRY(sora_from_f32(t[1].data, SORA_BF16, sora_text_encoder_clip(&x->te, b), (size_t)C, e));
	for (int i = 0; i < x->header.n; i++)
		if (!own_key(x->header.v[i])) {
			meta[k++] = x->header.v[i];
			meta[k++] = r->f.v[i];
		}
	snprintf(ntok, sizeof ntok, "%d", r->tok.t5);
	meta[k++] = "prompt";
	meta[k++] = r->prompt;
	meta[k++] = "t5_tokens";
	meta[k++] = ntok;
	if (x->buckets) {
		const sora_clip_latent *l = &r->lat;
		snprintf(bname, sizeof bname, "%.31s/%.15s/%d", l->bucket.resolution, l->bucket.ratio, l->t);
		snprintf(bh, sizeof bh, "%d", l->h);
		snprintf(bw, sizeof bw, "%d", l->w);
		snprintf(bt, sizeof bt, "%d", l->t);
		snprintf(bs, sizeof bs, "%d", l->stride);
		const char *kv[] = {"bucket",        bname, "bucket_height", bh, "bucket_width", bw,
				    "bucket_frames", bt,    "frame_stride",  bs};
		for (size_t i = 0; i < sizeof kv / sizeof *kv; i++)
			meta[k++] = kv[i];
		t[2] = l->z; /* borrowed: row_free frees it */
	}
	TRY(sora_blob_encode(names, t, x->buckets ? 3 : 2, meta, &blob, &size, e));
	bucket_of(x, r, bucket, sizeof bucket);
	TRY(sora_shard_writer_put(x->w, r->id, blob, size, bucket, e));
	sora_tensor_free(&t[0]);
	sora_tensor_free(&t[1]);
	free(blob);
	free(meta);
	return 0;
fail:
	sora_tensor_free(&t[0]);
	sora_tensor_free(&t[1]);
	free(blob);
	free(meta);
	return -1;
}

/* The output rows of shards now sealed. */
static int emit_pending(enc *x, sora_err *e)
{
	for (int i = 0; i < x->npending; i++) {
		TRY(sora_csv_write(x->out, x->pending[i].v, x->pending[i].n, e));
		x->added++;
	}
	fflush(x->out);
	for (int i = 0; i < x->npending; i++)
		sora_fields_free(&x->pending[i]);
	x->npending = 0;
	return 0;
fail:
	return -1;
}

/* Encodes the batch and writes its rows; a failure here is fatal (the models, the disk). */
static int flush(enc *x, sora_err *e)
{
	if (x->nrows == 0)
		return 0;
	TRY(sora_text_encoder_run(&x->te, x->nrows, e));
	for (int b = 0; b < x->nrows; b++) {
		row *r = &x->rows[b];
		TRY(write_row(x, b, e));
		x->t5_cut += r->tok.t5_cut;
		x->clip_cut += r->tok.clip_cut;
		if (r->tok.t5_cut || r->tok.clip_cut)
			log_debug("%s: prompt cut to the %s tokenizer's length", r->id,
				  r->tok.t5_cut ? (r->tok.clip_cut ? "T5 and CLIP" : "T5") : "CLIP");
		int n = x->header.n, w = x->shard_col > x->prompt_col ? x->shard_col + 1 : x->prompt_col + 1;
		CHECK_ALLOC(e, sora_fields_resize(&r->f, w > n ? w : n) == 0 &&
				   sora_fields_set(&r->f, x->prompt_col, r->prompt) == 0 &&
				   sora_fields_set(&r->f, x->shard_col, sora_shard_writer_shard(x->w)) == 0);
		if (x->npending == x->cap_pending) {
			int cap = x->cap_pending ? 2 * x->cap_pending : 64;
			sora_fields *p = realloc(x->pending, (size_t)cap * sizeof *p);
			CHECK_ALLOC(e, p);
			x->pending = p;
			x->cap_pending = cap;
		}
		x->pending[x->npending++] = r->f;
		memset(&r->f, 0, sizeof r->f);
		if (sora_shard_writer_sealed(x->w) != x->sealed) {
			x->sealed = sora_shard_writer_sealed(x->w);
			TRY(emit_pending(x, e));
		}
	}
	for (int b = 0; b < x->nrows; b++)
		row_free(&x->rows[b]);
	x->nrows = 0;
	return 0;
fail:
	return -1;
}

static void one_row(enc *x, row *r)
{
	sora_err e = {0};
	x->in++;
	int rc = take_row(x, r, &e);
	if (rc == 0) {
		x->rows[x->nrows++] = *r;
		memset(r, 0, sizeof *r);
	} else if (rc > 0) {
		x->skipped++;
	} else if (x->fatal) {
		log_error("%s", e.msg);
	} else {
		reject(x, r, &e);
	}
	row_free(r);
	if (x->c->max_rejects >= 0 && x->rejected > x->c->max_rejects && !x->stopped) {
		log_error("more than %lld rows rejected (--max-rejects); stopping",
			  (long long)x->c->max_rejects);
		x->stopped = 1;
	}
}

/* Reads every input file (or stdin), in order; files after the first must have the same header. */
static void run(enc *x, int nargs, char **args)
{
	sora_err e = {0};
	int64_t num = 0;
	for (int f = 0; f < (nargs ? nargs : 1) && !x->fatal && !x->stopped; f++) {
		const char *name = nargs ? args[f] : "stdin";
		FILE *fp = nargs ? fopen(name, "r") : stdin;
		sora_csv_reader *rd = NULL;
		sora_fields h = {0};
		row r = {0};
		int rc;
		if (!fp || sora_csv_reader_open(&rd, fp, name, &e) < 0) {
			log_error("%s: cannot open: %s", name, fp ? e.msg : strerror(errno));
			x->fatal = 1;
			goto next;
		}
		if (f == 0) {
			rc = sora_csv_read(rd, &x->header, &e);
			if (rc == 0)
				goto next; /* no input at all: nothing to add */
			if (rc < 0 || find_columns(x, &e) < 0) {
				log_error("%s: %s", name, e.msg);
				x->fatal = rc < 0 ? 1 : 2;
				goto next;
			}
			if (open_outputs(x, &e) < 0) {
				log_error("%s", e.msg);
				x->fatal = 1;
				goto next;
			}
		} else {
			rc = sora_csv_read(rd, &h, &e);
			int same = rc > 0 && h.n == x->header.n;
			for (int i = 0; same && i < h.n; i++)
				same = !strcmp(h.v[i], x->header.v[i]);
			sora_fields_free(&h);
			if (!same) {
				log_error("%s: its header differs from the first input's; file skipped",
					  name);
				x->fatal = 1;
				goto next;
			}
		}
		while (!x->fatal && !x->stopped && (rc = sora_csv_read(rd, &r.f, &e)) > 0) {
			r.num = ++num;
			if ((r.num - 1) % x->c->shard_n != x->c->shard_i) {
				row_free(&r);
				continue;
			}
			one_row(x, &r);
			if (x->nrows == x->batch && flush(x, &e) < 0) {
				log_error("%s", e.msg);
				x->fatal = 1;
			}
			sora_progress_tick(&x->prog, x->in, x->rejected);
		}
		if (rc < 0) {
			log_error("%s", e.msg);
			x->fatal = 1;
		}
	next:
		row_free(&r);
		sora_csv_reader_close(rd);
		if (fp && fp != stdin)
			fclose(fp);
	}
	if (!x->fatal && flush(x, &e) < 0) {
		log_error("%s", e.msg);
		x->fatal = 1;
	}
}

int main(int argc, char **argv)
{
	enc x = {.batch = 8, .shard_mb = 4096, .buckets_path = SORA_DEFAULT_BUCKETS};
	char exe_buckets[4096], vae_dir_cfg[4096], vae_dir_weights[4096];
	const sora_opt opts[] = {
	    {"out", 0, SORA_OPT_STR, &x.out_dir, "DIR",
	     "the dataset folder (created; a re-run adds the missing rows)"},
	    {"t5", 0, SORA_OPT_STR, &x.t5_dir, "DIR",
	     "T5 encoder folder: config.json, model.safetensors, spiece.model (google/t5-v1_1-xxl)"},
	    {"clip", 0, SORA_OPT_STR, &x.clip_dir, "DIR",
	     "CLIP text folder: config.json, model.safetensors, vocab.json, merges.txt "
	     "(openai/clip-vit-large-patch14)"},
	    {"batch", 0, SORA_OPT_INT, &x.batch, "N", "prompts per forward pass"},
	    {"shard-mb", 0, SORA_OPT_INT, &x.shard_mb, "MB", "seal a shard once it holds this many MiB"},
	    {"t5-trim", 0, SORA_OPT_FLAG, &x.t5_trim, NULL,
	     "store only the prompt's T5 tokens, not all 512 positions (Open-Sora 2.0 trained on all)"},
	    {"no-prompt-suffix", 0, SORA_OPT_FLAG, &x.no_suffix, NULL,
	     "encode the caption alone, without \" {fps} FPS, {motion} motion score.\""},
	    {"vae", 0, SORA_OPT_STR, &x.vae_path, "FILE|DIR",
	     "also store each clip's VAE latent: hunyuan_vae.safetensors (official tensor names), or a "
	     "folder "
	     "with model.safetensors and config.json"},
	    {"vae-config", 0, SORA_OPT_STR, &x.vae_cfg, "FILE",
	     "AutoEncoder3DConfig JSON for --vae; none: the released values"},
	    {"buckets", 0, SORA_OPT_STR, &x.buckets_path, "FILE", "Open-Sora bucket_config for --vae"},
	    {"vae-sample", 0, SORA_OPT_FLAG, &x.vae_sample, NULL,
	     "latent = scale * (mean + std * eps), eps seeded by --seed and the row's id; else scale * mean"},
	    {"seed", 0, SORA_OPT_INT, &x.seed, "N", "seed of the bucket draw and of --vae-sample's eps"},
	    {0},
	};
	const sora_cli cli = {
	    .prog = "sora-encode",
	    .usage = "--out DIR --t5 DIR --clip DIR [csv files]...",
	    .summary =
		"Encodes each row's prompt (the `text` column plus Open-Sora 2.0's training suffix) with T5\n"
		"and CLIP into the shards of a dataset folder, keyed by the row's `id`. Writes the rows it\n"
		"added as CSV, with `prompt` and `shard`. Rows already in the dataset are skipped, so a\n"
		"re-run (after a kill, or with more rows) adds only what is missing.",
	    .opts = opts,
	};
	sora_common_opts c;
	int first, status = SORA_EXIT_FAIL, removed = 0;
	sora_err e = {0};
	cJSON *desc = NULL;
	int rc = sora_cli_parse(&cli, argc, argv, &c, &first);
	if (rc != SORA_CLI_OK)
		return rc == SORA_CLI_EXIT ? SORA_EXIT_OK : SORA_EXIT_USAGE;
	x.c = &c;
	if (!x.out_dir || !x.t5_dir || !x.clip_dir) {
		log_error("--out DIR, --t5 DIR and --clip DIR are required");
		return SORA_EXIT_USAGE;
	}
	if (x.batch < 1 || x.batch > 4096 || x.shard_mb < 1 || x.shard_mb > (1 << 22)) {
		log_error("--batch must be 1 to 4096 and --shard-mb 1 to 4194304");
		return SORA_EXIT_USAGE;
	}
	if (first == argc && isatty(0)) {
		log_error("no input: name CSV files, or pipe a CSV into stdin (see --help)");
		return SORA_EXIT_USAGE;
	}
	/* A file size limit (ulimit -f) must fail the write with EFBIG, not kill the process. */
	signal(SIGXFSZ, SIG_IGN);
	omp_set_num_threads(c.threads);
	openblas_set_num_threads(c.threads);
	if (!x.vae_path && (x.vae_cfg || x.vae_sample)) {
		log_error("--vae-config and --vae-sample need --vae FILE");
		return SORA_EXIT_USAGE;
	}
	if (x.vae_path && is_dir(x.vae_path)) {
		/* a model folder (sora-mkmodel --kind hunyuan-vae): model.safetensors and config.json */
		sora_model_files(x.vae_path, vae_dir_cfg, sizeof vae_dir_cfg, vae_dir_weights,
				 sizeof vae_dir_weights);
		x.vae_path = vae_dir_weights;
		if (!x.vae_cfg)
			x.vae_cfg = vae_dir_cfg;
	}
	if (x.vae_path) {
		if (!strcmp(x.buckets_path, SORA_DEFAULT_BUCKETS))
			x.buckets_path = default_buckets(exe_buckets, sizeof exe_buckets);
		if (!(x.buckets = malloc(sizeof *x.buckets)) ||
		    sora_bucket_load(x.buckets, x.buckets_path, &e) < 0 ||
		    sora_vae_load(&x.vae, x.vae_path, x.vae_cfg, &e) < 0) {
			log_error("%s", x.buckets ? e.msg : "out of memory");
			goto done;
		}
	}
	if (sora_text_encoder_load(&x.te, x.t5_dir, x.clip_dir, x.batch, &e) < 0 ||
	    !(desc = describe(&x, &e)) ||
	    sora_shard_writer_open(&x.w, x.out_dir, desc, (int64_t)x.shard_mb << 20, &removed, &e) < 0) {
		log_error("%s", e.msg);
		goto done;
	}
	if (removed)
		log_info("%s: removed %d unfinished shard files left by a killed run", x.out_dir, removed);
	if (!(x.rows = calloc((size_t)x.batch, sizeof *x.rows))) {
		log_error("out of memory");
		goto done;
	}
	sora_progress_start(&x.prog, "rows", 0, sora_log_level() >= SORA_LOG_INFO);
	double t0 = sora_now();
	run(&x, argc - first, argv + first);
	sora_progress_end(&x.prog);
	if (!x.fatal) {
		rc = sora_shard_writer_close(x.w, &e);
		x.w = NULL;
		if (rc < 0 || emit_pending(&x, &e) < 0)
			log_error("%s", e.msg), x.fatal = 1;
	}
	if (x.fatal) {
		/* The open shard's rows are dropped; sealed shards and the index are untouched. */
		if (x.npending)
			log_error("the %d rows of the unfinished shard were dropped; a re-run redoes them",
				  x.npending);
		status = x.fatal == 2 ? SORA_EXIT_USAGE : SORA_EXIT_FAIL;
	} else {
		rc = 0;
		if (fflush(x.out) != 0 || (x.rej && fflush(x.rej) != 0))
			log_error("cannot finish writing the output: %s", strerror(errno)), rc = -1;
		status = rc < 0 ? SORA_EXIT_FAIL : x.stopped ? SORA_EXIT_MAX_REJECTS : SORA_EXIT_OK;
	}
	if (x.t5_cut || x.clip_cut)
		log_info("prompts cut to the tokenizer's length: %lld by T5 (512), %lld by CLIP (77)",
			 (long long)x.t5_cut, (long long)x.clip_cut);
	log_info("%lld rows in, %lld out, %lld rejected, %lld filtered (%lld already in %s), %.1f s",
		 (long long)x.in, (long long)x.added, (long long)x.rejected, (long long)x.skipped,
		 (long long)x.skipped, x.out_dir, sora_now() - t0);
done:
	sora_shard_writer_abort(x.w);
	for (int b = 0; x.rows && b < x.nrows; b++)
		row_free(&x.rows[b]);
	for (int i = 0; i < x.npending; i++)
		sora_fields_free(&x.pending[i]);
	free(x.pending);
	free(x.rows);
	cJSON_Delete(desc);
	sora_text_encoder_free(&x.te);
	if (x.buckets)
		sora_vae_free(&x.vae);
	free(x.buckets);
	sora_fields_free(&x.header);
	if (x.out && x.out != stdout)
		fclose(x.out);
	if (x.rej)
		fclose(x.rej);
	return status;
}
