#include "bucket.h"

#include "../util/file.h"
#include "np_rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_frames(sora_bucket_frames *f, const cJSON *item, const char *what, const char *res,
			sora_err *e)
{
	char *end;
	long t = strtol(item->string, &end, 10);
	CHECK(e, end != item->string && *end == '\0' && t >= 1 && t <= 100000,
	      "%s: %s: frame count \"%s\" is not a positive integer", what, res, item->string);
	CHECK(e, cJSON_IsArray(item) && cJSON_GetArraySize(item) == 2,
	      "%s: %s.%s: expected [keep_prob, batch_size]", what, res, item->string);
	const cJSON *p = cJSON_GetArrayItem(item, 0), *bs = cJSON_GetArrayItem(item, 1);
	f->t = (int)t;
	f->next_prob = -1;
	if (cJSON_IsArray(p)) {
		CHECK(e,
		      cJSON_GetArraySize(p) == 2 && cJSON_IsNumber(cJSON_GetArrayItem(p, 0)) &&
			  cJSON_IsNumber(cJSON_GetArrayItem(p, 1)),
		      "%s: %s.%s: keep_prob must be a number or [keep_prob, next_prob]", what, res,
		      item->string);
		f->keep_prob = cJSON_GetArrayItem(p, 0)->valuedouble;
		f->next_prob = cJSON_GetArrayItem(p, 1)->valuedouble;
	} else {
		CHECK(e, cJSON_IsNumber(p), "%s: %s.%s: keep_prob must be a number", what, res, item->string);
		f->keep_prob = p->valuedouble;
	}
	CHECK(e, f->keep_prob >= 0 && f->keep_prob <= 1, "%s: %s.%s: keep_prob %g outside [0, 1]", what, res,
	      item->string, f->keep_prob);
	CHECK(e,
	      cJSON_IsNumber(bs) && bs->valuedouble >= 1 && bs->valuedouble <= 1e6 &&
		  bs->valuedouble == floor(bs->valuedouble),
	      "%s: %s.%s: batch size must be a positive integer", what, res, item->string);
	f->batch_size = (int)bs->valuedouble;
	return 0;
fail:
	return -1;
}

static int by_frames_desc(const void *a, const void *b)
{
	const sora_bucket_frames *x = a, *y = b;
	return (x->t < y->t) - (x->t > y->t);
}

int sora_bucket_init(sora_bucket *b, const cJSON *config, const char *what, sora_err *e)
{
	memset(b, 0, sizeof *b);
	CHECK(e, cJSON_IsObject(config), "%s: bucket_config must be an object {resolution: {frames: ...}}",
	      what);
	const cJSON *r;
	cJSON_ArrayForEach(r, config)
	{
		CHECK(e, b->n_res < SORA_BUCKET_MAX_RES, "%s: more than %d resolutions", what,
		      SORA_BUCKET_MAX_RES);
		CHECK(e, cJSON_IsObject(r) && cJSON_GetArraySize(r) > 0,
		      "%s: %s: expected {frames: [keep, bs]}", what, r->string);
		sora_bucket_res *res = &b->res[b->n_res];
		CHECK(e, strlen(r->string) < sizeof res->name, "%s: resolution name too long", what);
		snprintf(res->name, sizeof res->name, "%s", r->string);
		if (sora_resolution_table(res->name, &res->pixels, &res->ar, e) < 0) {
			sora_err_prefix(e, "%s: ", what);
			goto fail;
		}
		const cJSON *f;
		cJSON_ArrayForEach(f, r)
		{
			CHECK(e, res->n_frames < SORA_BUCKET_MAX_FRAMES, "%s: %s: too many frame counts",
			      what, res->name);
			TRY(parse_frames(&res->f[res->n_frames], f, what, res->name, e));
			for (int k = 0; k < res->n_frames; k++)
				CHECK(e, res->f[k].t != res->f[res->n_frames].t,
				      "%s: %s: frame count %d twice", what, res->name, res->f[k].t);
			res->n_frames++;
		}
		qsort(res->f, (size_t)res->n_frames, sizeof res->f[0], by_frames_desc);
		b->n_res++;
	}
	CHECK(e, b->n_res > 0, "%s: bucket_config is empty", what);
	/* sorted(..., key=pixels, reverse=True) is stable: equal sizes keep their order */
	for (int i = 1; i < b->n_res; i++)
		for (int j = i; j > 0 && b->res[j].pixels > b->res[j - 1].pixels; j--) {
			sora_bucket_res tmp = b->res[j];
			b->res[j] = b->res[j - 1];
			b->res[j - 1] = tmp;
		}
	int id = 0;
	for (int i = 0; i < b->n_res; i++)
		for (int k = 0; k < b->res[i].n_frames; k++) {
			b->res[i].f[k].id = id++;
			b->num_bucket += b->res[i].ar.n;
		}
	return 0;
fail:
	return -1;
}

int sora_bucket_load(sora_bucket *b, const char *path, sora_err *e)
{
	cJSON *root = NULL;
	char *text = sora_read_file(path, 1 << 20, "bucket config", NULL, e);
	if (!text)
		return -1;
	root = cJSON_Parse(text);
	CHECK(e, root, "%s: not valid JSON", path);
	const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(root, "bucket_config");
	TRY(sora_bucket_init(b, cfg ? cfg : root, path, e));
	cJSON_Delete(root);
	free(text);
	return 0;
fail:
	cJSON_Delete(root);
	free(text);
	return -1;
}

int sora_target_fps_interval(double fps, double max_fps, double *new_fps)
{
	if (isnan(fps)) {
		*new_fps = 0;
		return 1;
	}
	if (fps < max_fps) {
		*new_fps = fps;
		return 1;
	}
	int interval = (int)ceil(fps / max_fps);
	*new_fps = floor(fps / interval);
	return interval;
}

int sora_bucket_get_id(const sora_bucket *b, int T, int H, int W, double fps, uint64_t seed, double fps_max,
		       sora_bucket_id *id)
{
	double new_fps;
	T /= sora_target_fps_interval(fps, fps_max, &new_fps);
	int64_t pixels = (int64_t)H * W;
	sora_np_rng rng;
	sora_np_rng_seed(&rng, seed);
	for (int i = 0; i < b->n_res; i++) {
		const sora_bucket_res *r = &b->res[i];
		if ((double)pixels < (double)r->pixels * 0.8)
			continue;
		if (T == 1) {
			for (int k = 0; k < r->n_frames; k++)
				if (r->f[k].t == 1 && sora_np_rng_random(&rng) < r->f[k].keep_prob) {
					*id = (sora_bucket_id){r->name, 1, sora_closest_ratio(H, W, &r->ar)};
					return 1;
				}
			continue;
		}
		for (int k = 0; k < r->n_frames; k++) {
			const sora_bucket_frames *f = &r->f[k];
			if (T < f->t || f->t == 1)
				continue;
			if (f->next_prob >= 0 &&
			    (f->next_prob >= 1 || sora_np_rng_random(&rng) <= f->next_prob))
				continue;
			if (f->keep_prob >= 1 || sora_np_rng_random(&rng) <= f->keep_prob) {
				*id = (sora_bucket_id){r->name, f->t, sora_closest_ratio(H, W, &r->ar)};
				return 1;
			}
			break;
		}
	}
	return 0;
}

static const sora_bucket_frames *find(const sora_bucket *b, const char *resolution, int t,
				      const sora_bucket_res **res)
{
	for (int i = 0; i < b->n_res; i++)
		if (!strcmp(b->res[i].name, resolution))
			for (int k = 0; k < b->res[i].n_frames; k++)
				if (b->res[i].f[k].t == t) {
					if (res)
						*res = &b->res[i];
					return &b->res[i].f[k];
				}
	return NULL;
}

int sora_bucket_index(const sora_bucket *b, const char *resolution, int t)
{
	const sora_bucket_frames *f = find(b, resolution, t, NULL);
	return f ? f->id : -1;
}

int sora_bucket_thw(const sora_bucket *b, const sora_bucket_id *id, int *t, int *h, int *w, sora_err *e)
{
	const sora_bucket_res *r = NULL;
	const sora_bucket_frames *f = find(b, id->resolution, id->t, &r);
	CHECK(e, f, "no bucket %s with %d frames", id->resolution, id->t);
	const sora_ar_entry *x = sora_ar_find(&r->ar, id->ratio);
	CHECK(e, x, "bucket %s has no aspect ratio %s", id->resolution, id->ratio);
	*t = f->t;
	*h = x->h;
	*w = x->w;
	return 0;
fail:
	return -1;
}

int sora_bucket_batch_size(const sora_bucket *b, const sora_bucket_id *id, int *bs, sora_err *e)
{
	const sora_bucket_frames *f = find(b, id->resolution, id->t, NULL);
	CHECK(e, f, "no bucket %s with %d frames", id->resolution, id->t);
	*bs = f->batch_size;
	return 0;
fail:
	return -1;
}
