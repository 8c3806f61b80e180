#include "sample_job.h"

#include "../flow/denoise.h"
#include "../flow/torch_rng.h"
#include "../models/mmdit.h"
#include "../models/vae_hunyuan.h"
#include "../util/csv.h"
#include "../util/log.h"
#include "../util/progress.h"
#include "sample_model.h"
#include "sample_ref.h"
#include "sample_save.h"
#include "sample_text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sora_sample_job_opts(const sora_sample_job_args *a, sora_sample_opts *o, sora_err *e)
{
	sora_sample_plan p;
	sora_sample_opts_default(o);
	if (a->height || a->width) {
		CHECK(e, a->height > 0 && a->width > 0,
		      "--height and --width go together and must be positive");
		o->resolution = o->aspect_ratio = NULL;
		o->height = a->height;
		o->width = a->width;
	} else {
		o->resolution = a->resolution;
		o->aspect_ratio = a->aspect_ratio;
	}
	o->num_frames = a->num_frames;
	o->num_steps = a->num_steps;
	o->flow_shift = a->flow_shift > 0 ? a->flow_shift : -1;
	o->guidance = (float)a->guidance;
	o->guidance_img = (float)a->guidance_img;
	o->text_osci = o->image_osci = o->scale_temporal_osci = !a->no_osci;
	TRY(sora_cond_type_parse(a->cond_type, &o->cond, e));
	CHECK(e, a->seed >= 0, "--seed %d: must be 0 or more", a->seed);
	CHECK(e, a->num_sample >= 1, "--num-sample %d: must be 1 or more", a->num_sample);
	CHECK(e, a->fps_save >= 1 && a->fps_save <= 1000, "--fps-save %d: must be 1 to 1000", a->fps_save);
	TRY(sora_sample_plan_init(&p, o, e));
	return 0;
fail:
	return -1;
}

/* One prompt of the run: its own text, reference, output name and negative prompt; then the inference
 * prompt and the encoded batch [prompt; neg; neg]. */
typedef struct row {
	char *text, *ref, *name, *neg;
	char *prompt;
	float *txt, *y_vec; /* [3, 512, T5 width], [3, CLIP width] */
} row;

static void rows_free(row *r, int n)
{
	for (int i = 0; r && i < n; i++) {
		free(r[i].text);
		free(r[i].ref);
		free(r[i].name);
		free(r[i].neg);
		free(r[i].prompt);
		free(r[i].txt);
		free(r[i].y_vec);
	}
	free(r);
}

/* --prompt, or the rows of --csv (column text required; ref, name, neg optional, empty = the flag's). */
static int read_rows(const sora_sample_job_args *a, row **out, int *n, sora_err *e)
{
	FILE *fp = NULL;
	sora_csv_reader *r = NULL;
	sora_fields hdr = {0}, rec = {0};
	row *rows = NULL;
	int cap = 0, got;
	*n = 0;
	if (a->prompt) {
		CHECK_ALLOC(e, rows = calloc(1, sizeof *rows));
		*n = 1;
		CHECK_ALLOC(e, rows[0].text = strdup(a->prompt));
		*out = rows;
		return 0;
	}
	CHECK_SYS(e, (fp = fopen(a->csv, "r")) ? 0 : -1, a->csv);
	TRY(sora_csv_reader_open(&r, fp, a->csv, e));
	TRY(got = sora_csv_read(r, &hdr, e));
	CHECK(e, got == 1, "%s: empty CSV", a->csv);
	const int ct = sora_fields_find(&hdr, "text"), cr = sora_fields_find(&hdr, "ref"),
		  cn = sora_fields_find(&hdr, "name"), cg = sora_fields_find(&hdr, "neg");
	CHECK(e, ct >= 0, "%s: no column named text", a->csv);
	while ((got = sora_csv_read(r, &rec, e)) == 1) {
		if (*n == cap) {
			row *bigger;
			cap = cap ? 2 * cap : 16;
			CHECK_ALLOC(e, bigger = realloc(rows, (size_t)cap * sizeof *rows));
			rows = bigger;
		}
		row *w = &rows[(*n)++];
		memset(w, 0, sizeof *w);
		CHECK(e, ct < rec.n, "%s: row %d has no text field", a->csv, *n);
		CHECK_ALLOC(e, w->text = strdup(rec.v[ct]));
		if (cr >= 0 && cr < rec.n && *rec.v[cr])
			CHECK_ALLOC(e, w->ref = strdup(rec.v[cr]));
		if (cn >= 0 && cn < rec.n && *rec.v[cn])
			CHECK_ALLOC(e, w->name = strdup(rec.v[cn]));
		if (cg >= 0 && cg < rec.n && *rec.v[cg])
			CHECK_ALLOC(e, w->neg = strdup(rec.v[cg]));
		sora_fields_free(&rec);
	}
	TRY(got);
	CHECK(e, *n > 0, "%s: no prompts", a->csv);
	sora_fields_free(&hdr);
	sora_csv_reader_close(r);
	fclose(fp);
	*out = rows;
	return 0;
fail:
	sora_fields_free(&hdr);
	sora_fields_free(&rec);
	sora_csv_reader_close(r);
	if (fp)
		fclose(fp);
	rows_free(rows, *n);
	*n = 0;
	return -1;
}

/* The models and buffers of one run. */
typedef struct job {
	const sora_sample_job_args *a;
	sora_sample_plan plan;
	sora_sample_text text;
	sora_mmdit dit;
	sora_vae vae;
	int have_text, have_dit, have_vae, quiet;
	int txt_dim, vec_dim;  /* of the text encoders */
	sora_torch_rng global; /* torch's global generator: the reference posterior draws */
	float *noise, *latent, *pixels, *head, *tail;
} job;

/* Part `last ? last : first` of a "a.png;b.mp4" reference list (the reference splits on ';'). */
static int ref_part(const char *ref, int last, char *buf, size_t n, sora_err *e)
{
	const char *start = last && strrchr(ref, ';') ? strrchr(ref, ';') + 1 : ref;
	const char *end = last ? start + strlen(start) : start + strcspn(start, ";");
	CHECK(e, (size_t)(end - start) < n && end > start, "reference list \"%s\": an empty or too long path",
	      ref);
	memcpy(buf, start, (size_t)(end - start));
	buf[end - start] = '\0';
	return 0;
fail:
	return -1;
}

/* The reference latents of one row for the condition, as collect_references_batch takes them: i2v_head
 * the first frame of the first path, i2v_tail the last frame of the last path, i2v_loop both; v2v_* the
 * first or last 33 (65) frames of the first path. */
static int encode_ref(job *j, const char *ref, sora_cond_ref *cr, sora_err *e)
{
	const sora_sample_plan *p = &j->plan;
	const sora_cond_type c = p->cond;
	char path[4096];
	memset(cr, 0, sizeof *cr);
	if (c == SORA_COND_V2V_HEAD || c == SORA_COND_V2V_TAIL || c == SORA_COND_V2V_HEAD_EASY ||
	    c == SORA_COND_V2V_TAIL_EASY) {
		float *clip = NULL;
		int T;
		TRY(ref_part(ref, 0, path, sizeof path, e));
		TRY(sora_sample_ref_clip(
		    path, p->height, p->width, c == SORA_COND_V2V_HEAD_EASY || c == SORA_COND_V2V_TAIL_EASY,
		    c == SORA_COND_V2V_TAIL || c == SORA_COND_V2V_TAIL_EASY, &clip, &T, e));
		const int rc =
		    sora_sample_ref_latent(&j->vae, clip, T, p->height, p->width, &j->global, j->head, e);
		free(clip);
		TRY(rc);
		cr->head = j->head, cr->head_frames = (T - 1) / 4 + 1;
	}
	if (c == SORA_COND_I2V_HEAD || c == SORA_COND_I2V_LOOP) {
		TRY(ref_part(ref, 0, path, sizeof path, e));
		TRY(sora_sample_ref_pixels(path, p->height, p->width, 0, j->pixels, e));
		TRY(sora_sample_ref_latent(&j->vae, j->pixels, 1, p->height, p->width, &j->global, j->head,
					   e));
		cr->head = j->head, cr->head_frames = 1;
	}
	if (c == SORA_COND_I2V_TAIL || c == SORA_COND_I2V_LOOP) {
		TRY(ref_part(ref, 1, path, sizeof path, e));
		TRY(sora_sample_ref_pixels(path, p->height, p->width, 1, j->pixels, e));
		TRY(sora_sample_ref_latent(&j->vae, j->pixels, 1, p->height, p->width, &j->global, j->tail,
					   e));
		cr->tail = j->tail, cr->tail_frames = 1;
	}
	return 0;
fail:
	return -1;
}

/* Sample k of one row: noise, the loop, the decode, the files. */
static int one_sample(job *j, const row *r, int index, int k, const sora_cond_ref *cr, const char *fallback,
		      sora_err *e)
{
	const sora_sample_plan *p = &j->plan;
	sora_sample_model s = {0};
	float *video = NULL;
	int vd[4];
	char base[4096], path[4200];
	const uint64_t seed = sora_sample_seed((uint64_t)j->a->seed, k);
	TRY(sora_sample_noise(p, 1, seed, j->noise, e));
	TRY(sora_sample_model_init(&s, &j->dit, 3, SORA_T5_MAX_LENGTH, r->txt, j->txt_dim, r->y_vec,
				   j->vec_dim, p->latent_t, p->latent_h / p->patch, p->latent_w / p->patch,
				   e));
	s.num_steps = p->num_steps;
	s.quiet = j->quiet;
	const double t0 = sora_now();
	TRY(sora_sample_run(p, 1, j->noise, cr, sora_sample_model_call, &s, j->latent, e));
	const int zd[4] = {p->latent_c, p->latent_t, p->latent_h, p->latent_w};
	TRY(sora_vae_decode(&j->vae, j->latent, zd, &video, vd, e));
	CHECK(e, vd[0] == 3 && vd[1] >= p->num_frames && vd[2] == p->height && vd[3] == p->width,
	      "decoded video [%d, %d, %d, %d], expected [3, %d, %d, %d]", vd[0], vd[1], vd[2], vd[3],
	      p->num_frames, p->height, p->width);
	/* an explicit size has no resolution name: the reference prints None there */
	TRY(sora_sample_save_name(base, sizeof base, j->a->save_dir, p->num_frames,
				  j->a->height ? NULL : j->a->resolution, NULL, r->name, fallback, index, k,
				  e));
	/* the first num_frames frames: a view of [3, vd[1], H, W] needs the frames contiguous per channel */
	if (vd[1] != p->num_frames)
		for (int c = 1; c < 3; c++)
			memmove(video + (size_t)c * p->num_frames * vd[2] * vd[3],
				video + (size_t)c * vd[1] * vd[2] * vd[3],
				(size_t)p->num_frames * vd[2] * vd[3] * sizeof *video);
	TRY(sora_sample_save(base, video, p->num_frames, p->height, p->width, j->a->fps_save, r->prompt, path,
			     sizeof path, e));
	if (!j->quiet)
		fprintf(stderr, "%s: %s (seed %llu, %d steps, %.1f s)\n", sora_log_prog(), path,
			(unsigned long long)seed, p->num_steps, sora_now() - t0);
	free(video);
	sora_sample_model_free(&s);
	return 0;
fail:
	free(video);
	sora_sample_model_free(&s);
	return -1;
}

static int alloc_buffers(job *j, sora_err *e)
{
	const sora_sample_plan *p = &j->plan;
	const int64_t lat = sora_sample_latent_size(p), ref = lat / p->latent_t;
	CHECK_ALLOC(e, j->noise = malloc((size_t)lat * sizeof *j->noise));
	CHECK_ALLOC(e, j->latent = malloc((size_t)lat * sizeof *j->latent));
	CHECK_ALLOC(e, j->pixels = malloc((size_t)3 * p->height * p->width * sizeof *j->pixels));
	/* up to 17 latent frames: a v2v_*_easy reference */
	CHECK_ALLOC(e, j->head = malloc((size_t)17 * ref * sizeof *j->head));
	CHECK_ALLOC(e, j->tail = malloc((size_t)ref * sizeof *j->tail));
	return 0;
fail:
	return -1;
}

static void job_free(job *j)
{
	if (j->have_text)
		sora_sample_text_free(&j->text);
	if (j->have_dit)
		sora_mmdit_free(&j->dit);
	if (j->have_vae)
		sora_vae_free(&j->vae);
	free(j->noise);
	free(j->latent);
	free(j->pixels);
	free(j->head);
	free(j->tail);
}

/* The name a row without one gets, as the reference's fallback_name: the CSV's stem, or "prompt". */
static void fallback_name(const sora_sample_job_args *a, char *buf, size_t n)
{
	if (!a->csv) {
		snprintf(buf, n, "prompt");
		return;
	}
	const char *s = strrchr(a->csv, '/');
	snprintf(buf, n, "%s", s ? s + 1 : a->csv);
	char *dot = strchr(buf, '.');
	if (dot)
		*dot = '\0';
}

/* Every row's inference prompt and text batch, then the encoders freed: T5 and CLIP are not held while
 * the MMDiT runs (T5-XXL in f32 is 19 GB; each row keeps 3 × 512 × 4096 floats, 25 MB). */
static int encode_texts(job *j, row *rows, int n, sora_err *e)
{
	const sora_sample_job_args *a = j->a;
	TRY(sora_sample_text_load(&j->text, a->t5, a->clip, e));
	j->have_text = 1;
	j->txt_dim = sora_sample_text_dim(&j->text);
	j->vec_dim = sora_sample_vec_dim(&j->text);
	const sora_mmdit_config *c = &j->dit.cfg;
	CHECK(e, j->txt_dim == c->context_in_dim, "T5 %s gives %d-wide states, the MMDiT %s takes %d", a->t5,
	      j->txt_dim, a->model, c->context_in_dim);
	CHECK(e, j->vec_dim == c->vec_in_dim, "CLIP %s gives %d-wide pooled vectors, the MMDiT %s takes %d",
	      a->clip, j->vec_dim, a->model, c->vec_in_dim);
	for (int i = 0; i < n; i++) {
		row *r = &rows[i];
		TRY(!(r->prompt = sora_sample_prompt(r->text, a->fps_save, a->motion_score, e)) ? -1 : 0);
		const char *neg = r->neg ? r->neg : a->neg;
		const char *texts[3] = {r->prompt, neg, neg};
		CHECK_ALLOC(e, r->txt = malloc((size_t)3 * SORA_T5_MAX_LENGTH * j->txt_dim * sizeof *r->txt));
		CHECK_ALLOC(e, r->y_vec = malloc((size_t)3 * j->vec_dim * sizeof *r->y_vec));
		if (sora_sample_text_encode(&j->text, texts, 3, r->txt, r->y_vec, e) < 0) {
			sora_err_prefix(e, "prompt %d: ", i);
			goto fail;
		}
	}
	sora_sample_text_free(&j->text);
	j->have_text = 0;
	return 0;
fail:
	return -1;
}

/* Before any model runs: an i2v run needs a reference somewhere (the reference asserts it), and every
 * path given must be readable. A row without one falls back to t2v, as the reference does (a warning). */
static int check_refs(const job *j, const row *rows, int n, sora_err *e)
{
	int any = 0;
	char path[4096];
	if (j->plan.cond == SORA_COND_T2V)
		return 0;
	for (int i = 0; i < n; i++) {
		const char *ref = rows[i].ref ? rows[i].ref : j->a->ref;
		for (int last = 0; ref && last < 2; last++) {
			TRY(ref_part(ref, last, path, sizeof path, e));
			CHECK(e, access(path, R_OK) == 0, "prompt %d: reference %s: %s", i, path,
			      strerror(errno));
		}
		any |= ref != NULL;
	}
	CHECK(e, any, "--cond-type %s needs a reference: --ref IMAGE|VIDEO or a ref column",
	      sora_cond_type_name(j->plan.cond));
	for (int i = 0; i < n; i++)
		if (!rows[i].ref && !j->a->ref)
			log_warn("prompt %d has no reference: sampled as t2v", i);
	return 0;
fail:
	return -1;
}

/* The MMDiT (memory-mapped: nothing is read yet) and the VAE, checked against the sampler's latent, first,
 * so that a wrong path fails before the text encoders run. */
static int load_models(job *j, sora_err *e)
{
	const sora_sample_job_args *a = j->a;
	TRY(sora_mmdit_load(&j->dit, a->model, a->model_config, e));
	j->have_dit = 1;
	const sora_mmdit_config *c = &j->dit.cfg;
	CHECK(e, c->cond_embed,
	      "%s: no cond_in (a FLUX-layout checkpoint): Open-Sora's video sampler needs an Open-Sora 2.0 "
	      "MMDiT",
	      a->model);
	CHECK(e, c->in_channels == j->plan.features,
	      "%s: the MMDiT takes %d features per token, the sampler packs %d (16 latent channels × 2 × 2)",
	      a->model, c->in_channels, j->plan.features);
	TRY(sora_vae_load(&j->vae, a->vae, a->vae_config, e));
	j->have_vae = 1;
	CHECK(e, j->vae.cfg.latent_channels == j->plan.latent_c,
	      "%s: %d latent channels, the sampler needs %d", a->vae, j->vae.cfg.latent_channels,
	      j->plan.latent_c);
	return 0;
fail:
	return -1;
}

int sora_sample_job_run(const sora_sample_job_args *a, const sora_sample_opts *o, int quiet, sora_err *e)
{
	job j = {.a = a, .quiet = quiet};
	row *rows = NULL;
	int n = 0, rc = -1;
	char fallback[256];
	fallback_name(a, fallback, sizeof fallback);
	TRY(sora_sample_plan_init(&j.plan, o, e));
	TRY(read_rows(a, &rows, &n, e));
	TRY(check_refs(&j, rows, n, e));
	TRY(load_models(&j, e));
	TRY(encode_texts(&j, rows, n, e));
	TRY(alloc_buffers(&j, e));
	sora_torch_rng_seed(&j.global, (uint64_t)a->seed);
	/* as inference.py: every prompt of sample 0, then of sample 1, ...; the references are encoded for
	 * each call, so the posterior draws come off the global generator in the reference's order */
	for (int k = 0; k < a->num_sample; k++)
		for (int i = 0; i < n; i++) {
			const row *r = &rows[i];
			const char *ref = r->ref ? r->ref : a->ref;
			sora_cond_ref cr, *crp = NULL;
			if (j.plan.cond != SORA_COND_T2V && ref) {
				if (encode_ref(&j, ref, &cr, e) < 0) {
					sora_err_prefix(e, "prompt %d: ", i);
					goto fail;
				}
				crp = &cr;
			}
			if (one_sample(&j, r, i, k, crp, fallback, e) < 0) {
				sora_err_prefix(e, "prompt %d, sample %d: ", i, k);
				goto fail;
			}
		}
	rc = 0;
fail:
	rows_free(rows, n);
	job_free(&j);
	return rc;
}
