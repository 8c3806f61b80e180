#include "replay.h"

#include "../io/safetensors.h"
#include "pack.h"
#include "schedule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* P.name as f32 with the given rank (shape into dims); *out NULL and 0 returned when absent and optional. */
static int load(const sora_safetensors *st, const char *path, const char *prefix, const char *name, int ndim,
		int64_t *dims, float **out, int required, sora_err *e)
{
	char key[256];
	snprintf(key, sizeof key, "%s%s", prefix, name);
	return sora_st_read_f32(st, path, key, ndim, dims, out, required, e);
}

static int same(const int64_t *a, const int64_t *b, int n)
{
	for (int i = 0; i < n; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

int sora_replay_load(sora_replay *r, const char *path, const char *prefix, sora_err *e)
{
	sora_safetensors *st = NULL;
	int64_t nd[5], md[5], rd[5], td[1], xd[3], yd[2];
	memset(r, 0, sizeof *r);
	TRY(sora_st_open(&st, path, e));
	TRY(load(st, path, prefix, "noise", 5, nd, &r->noise, 1, e));
	CHECK(e, nd[3] % 2 == 0 && nd[4] % 2 == 0 && nd[0] <= 1024 && nd[1] <= 4096,
	      "%s: %snoise [%lld, %lld, %lld, %lld, %lld]: latent height and width must be even", path,
	      prefix, (long long)nd[0], (long long)nd[1], (long long)nd[2], (long long)nd[3],
	      (long long)nd[4]);
	r->B = (int)nd[0];
	r->C = (int)nd[1];
	r->T = (int)nd[2];
	r->H = (int)nd[3];
	r->W = (int)nd[4];
	TRY(load(st, path, prefix, "masks", 5, md, &r->masks, 0, e));
	TRY(load(st, path, prefix, "masked_ref", 5, rd, &r->masked_ref, 0, e));
	CHECK(e, !r->masks == !r->masked_ref, "%s: %smasks and %smasked_ref go together", path, prefix,
	      prefix);
	if (r->masks) {
		int64_t want_m[5] = {nd[0], 1, nd[2], nd[3], nd[4]};
		CHECK(e, same(md, want_m, 5), "%s: %smasks must be [B, 1, T, H, W] of the noise", path,
		      prefix);
		CHECK(e, same(rd, nd, 5), "%s: %smasked_ref must have the shape of the noise", path, prefix);
	}
	TRY(load(st, path, prefix, "timesteps", 1, td, &r->timesteps, 0, e));
	if (r->timesteps) {
		CHECK(e, td[0] >= 2, "%s: %stimesteps needs at least 2 values", path, prefix);
		r->num_steps = (int)td[0] - 1;
	}
	TRY(load(st, path, prefix, "txt", 3, xd, &r->txt, 0, e));
	if (r->txt) {
		CHECK(e, xd[0] == 3 * nd[0], "%s: %stxt holds %lld texts, expected 3B = %lld", path, prefix,
		      (long long)xd[0], (long long)(3 * nd[0]));
		r->txt_len = xd[1];
		r->txt_dim = xd[2];
	}
	TRY(load(st, path, prefix, "y_vec", 2, yd, &r->y_vec, 0, e));
	if (r->y_vec) {
		CHECK(e, yd[0] == 3 * nd[0], "%s: %sy_vec holds %lld vectors, expected 3B = %lld", path,
		      prefix, (long long)yd[0], (long long)(3 * nd[0]));
		r->y_dim = yd[1];
	}
	sora_st_close(st);
	return 0;
fail:
	sora_st_close(st);
	sora_replay_free(r);
	return -1;
}

void sora_replay_free(sora_replay *r)
{
	free(r->noise);
	free(r->masks);
	free(r->masked_ref);
	free(r->timesteps);
	free(r->txt);
	free(r->y_vec);
	memset(r, 0, sizeof *r);
}

/* Keeps a copy of every step's model input and prediction. */
typedef struct recorder {
	sora_flow_model model;
	void *ctx;
	int64_t n; /* values of one model input */
	float **x_in, **pred;
	int num_steps;
} recorder;

static int record(void *ctx, int step, int n, float t, const float *img, const float *cond, float *pred,
		  sora_err *e)
{
	recorder *r = ctx;
	TRY(r->model(r->ctx, step, n, t, img, cond, pred, e));
	CHECK(e, step >= 0 && step < r->num_steps, "replay: step %d outside the schedule", step);
	CHECK_ALLOC(e, r->x_in[step] = malloc((size_t)r->n * sizeof(float)));
	CHECK_ALLOC(e, r->pred[step] = malloc((size_t)r->n * sizeof(float)));
	memcpy(r->x_in[step], img, (size_t)r->n * sizeof(float));
	memcpy(r->pred[step], pred, (size_t)r->n * sizeof(float));
	return 0;
fail:
	return -1;
}

static int write_out(const char *out_path, const recorder *rec, const sora_replay *r, int64_t tokens, int F,
		     float *x_final, sora_err *e)
{
	const int n = 2 * rec->num_steps + 1;
	int rc = -1;
	char **names = calloc((size_t)n, sizeof *names);
	sora_tensor *ts = calloc((size_t)n, sizeof *ts);
	CHECK_ALLOC(e, names && ts);
	for (int i = 0; i < rec->num_steps; i++)
		for (int k = 0; k < 2; k++) {
			char name[64];
			snprintf(name, sizeof name, "step%d.%s", i, k ? "pred" : "x_in");
			CHECK_ALLOC(e, names[2 * i + k] = strdup(name));
			sora_tensor_view(&ts[2 * i + k], SORA_F32, 3,
					 (int64_t[]){3 * (int64_t)r->B, tokens, F},
					 k ? rec->pred[i] : rec->x_in[i]);
		}
	CHECK_ALLOC(e, names[n - 1] = strdup("x_final"));
	sora_tensor_view(&ts[n - 1], SORA_F32, 5, (int64_t[]){r->B, r->C, r->T, r->H, r->W}, x_final);
	rc = sora_st_write(out_path, (const char *const *)names, ts, n, NULL, e);
fail:
	for (int i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	free(ts);
	return rc;
}

int sora_replay_run(const sora_replay *r, const sora_sample_opts *o, sora_flow_model model, void *ctx,
		    const char *out_path, sora_err *e)
{
	const int p = 2, F = r->C * p * p, Fc = (r->C + 1) * p * p;
	const int64_t tokens = (int64_t)r->T * (r->H / p) * (r->W / p),
		      per = (int64_t)r->B * r->C * r->T * r->H * r->W;
	int rc = -1, steps = r->timesteps ? r->num_steps : o->num_steps;
	float *x = NULL, *cond = NULL, *sched = NULL, *x_final = NULL;
	recorder rec = {model, ctx, 3 * (int64_t)r->B * tokens * F, NULL, NULL, steps};
	CHECK(e, steps >= 1 && steps <= 1024, "replay: %d steps (1 to 1024)", steps);
	CHECK_ALLOC(e, x = malloc((size_t)per * sizeof *x));
	CHECK_ALLOC(e, x_final = malloc((size_t)per * sizeof *x_final));
	CHECK_ALLOC(e, cond = calloc((size_t)r->B * tokens * Fc, sizeof *cond));
	CHECK_ALLOC(e, rec.x_in = calloc((size_t)steps, sizeof *rec.x_in));
	CHECK_ALLOC(e, rec.pred = calloc((size_t)steps, sizeof *rec.pred));
	if (!r->timesteps) {
		CHECK_ALLOC(e, sched = malloc((size_t)(steps + 1) * sizeof *sched));
		TRY(sora_get_schedule(sched, steps, (int64_t)r->H * r->W / 4, r->T, o->flow_shift, o->shift,
				      e));
	}
	TRY(sora_pack(x, r->noise, r->B, r->C, r->T, r->H, r->W, p, e));
	if (r->masks)
		TRY(sora_pack_condition(cond, r->masks, r->masked_ref, r->B, r->C, r->T, r->H, r->W, p, e));
	sora_guidance g = {o->guidance, o->guidance_img, o->text_osci, o->image_osci,
			   o->scale_temporal_osci && sora_cond_is_i2v(o->cond)};
	TRY(sora_denoise(x, r->B, r->T, tokens, F, cond, Fc, r->timesteps ? r->timesteps : sched, steps, 0,
			 &g, record, &rec, e));
	/* the latent is H × W: unpack takes pixels, 8 per latent row */
	TRY(sora_unpack(x_final, x, r->B, r->C, r->T, r->H * 8, r->W * 8, p, e));
	TRY(write_out(out_path, &rec, r, tokens, F, x_final, e));
	rc = 0;
fail:
	for (int i = 0; i < steps && rec.x_in; i++)
		free(rec.x_in[i]);
	for (int i = 0; i < steps && rec.pred; i++)
		free(rec.pred[i]);
	free(rec.x_in);
	free(rec.pred);
	free(x);
	free(x_final);
	free(cond);
	free(sched);
	return rc;
}
