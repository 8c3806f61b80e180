#include "replay_step.h"

#include "../flow/train.h"
#include "../io/safetensors.h"
#include "../models/mmdit.h"
#include "../models/mmdit_train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The step's stored inputs and what it computes. */
typedef struct step {
	sora_safetensors *st;
	float *x_t, *t, *txt, *y_vec, *cond, *target, *img_ids, *txt_ids, *guidance;
	int B, L, Lt;
	float *pred, *dpred, *gimg, *gtxt, *gy, *gcond;
	float *w, *gw;
	sora_mmdit loaded, m, g;
	int have_loaded, have_m, have_g;
} step;

static int read_in(step *s, const sora_train_replay *r, const char *name, int ndim, int64_t *dims,
		   float **out, int required, sora_err *e)
{
	char key[256];
	snprintf(key, sizeof key, "%s%s", r->prefix, name);
	return sora_st_read_f32(s->st, r->file, key, ndim, dims, out, required, e);
}

/* Every input, with its shape checked against x_t's and the model's. */
static int read_inputs(step *s, const sora_train_replay *r, sora_err *e)
{
	const sora_mmdit_config *c = &s->loaded.cfg;
	int64_t x[3], t[1], tx[3], y[2], k[3], v[3], ii[3], ti[3], g[1];
	TRY(read_in(s, r, "x_t", 3, x, &s->x_t, 1, e));
	s->B = (int)x[0], s->L = (int)x[1];
	CHECK(e, x[2] == c->in_channels, "%s: %sx_t has %lld channels, the model takes %d", r->file,
	      r->prefix, (long long)x[2], c->in_channels);
	TRY(read_in(s, r, "t", 1, t, &s->t, 1, e));
	TRY(read_in(s, r, "in.text_t5", 3, tx, &s->txt, 1, e));
	s->Lt = (int)tx[1];
	TRY(read_in(s, r, "in.text_clip", 2, y, &s->y_vec, 1, e));
	TRY(read_in(s, r, "target_v", 3, v, &s->target, 1, e));
	TRY(read_in(s, r, "img_ids", 3, ii, &s->img_ids, 1, e));
	TRY(read_in(s, r, "txt_ids", 3, ti, &s->txt_ids, 1, e));
	TRY(read_in(s, r, "in.cond", 3, k, &s->cond, 0, e));
	TRY(read_in(s, r, "guidance", 1, g, &s->guidance, c->guidance_embed, e));
	CHECK(e, t[0] == s->B && tx[0] == s->B && y[0] == s->B,
	      "%s: t, in.text_t5 and in.text_clip must have %d rows", r->file, s->B);
	CHECK(e, tx[2] == c->context_in_dim && y[1] == c->vec_in_dim,
	      "%s: text widths %lld and %lld, the model takes %d and %d", r->file, (long long)tx[2],
	      (long long)y[1], c->context_in_dim, c->vec_in_dim);
	CHECK(e, v[0] == x[0] && v[1] == x[1] && v[2] == x[2], "%s: target_v must have x_t's shape", r->file);
	CHECK(e,
	      ii[0] == s->B && ii[1] == s->L && ii[2] == 3 && ti[0] == s->B && ti[1] == s->Lt && ti[2] == 3,
	      "%s: img_ids must be [%d, %d, 3] and txt_ids [%d, %d, 3]", r->file, s->B, s->L, s->B, s->Lt);
	if (s->cond)
		CHECK(e,
		      c->cond_embed && k[0] == s->B && k[1] == s->L &&
			  k[2] == c->in_channels + c->patch_size * c->patch_size,
		      "%s: in.cond [%lld, %lld, %lld] does not fit this model", r->file, (long long)k[0],
		      (long long)k[1], (long long)k[2]);
	else if (c->cond_embed) /* a t2v step: the condition is zeros */
		CHECK_ALLOC(e, s->cond = calloc((size_t)s->B * s->L *
						    (c->in_channels + c->patch_size * c->patch_size),
						sizeof *s->cond));
	if (s->guidance)
		CHECK(e, g[0] == s->B, "%s: guidance must have %d values", r->file, s->B);
	return 0;
fail:
	return -1;
}

typedef struct out_list {
	const char **names;
	sora_tensor *t;
	char **owned; /* names made here */
	int n, cap;
} out_list;

static int add(out_list *o, const char *name, int own, float *data, int ndim, const int64_t *shape,
	       sora_err *e)
{
	if (o->n == o->cap) {
		int cap = o->cap ? 2 * o->cap : 64;
		const char **nn = realloc(o->names, (size_t)cap * sizeof *nn);
		CHECK_ALLOC(e, nn);
		o->names = nn;
		sora_tensor *tt = realloc(o->t, (size_t)cap * sizeof *tt);
		CHECK_ALLOC(e, tt);
		o->t = tt;
		char **oo = realloc(o->owned, (size_t)cap * sizeof *oo);
		CHECK_ALLOC(e, oo);
		o->owned = oo;
		o->cap = cap;
	}
	o->owned[o->n] = NULL;
	if (own)
		CHECK_ALLOC(e, o->owned[o->n] = strdup(name));
	o->names[o->n] = own ? o->owned[o->n] : name;
	sora_tensor_view(&o->t[o->n], SORA_F32, ndim, shape, data);
	o->n++;
	return 0;
fail:
	return -1;
}

static int add_grad(void *ctx, const char *name, sora_tensor *t, sora_err *e)
{
	char key[300];
	snprintf(key, sizeof key, "grad.%s", name);
	return add(ctx, key, 1, t->data, t->ndim, t->shape, e);
}

static void out_free(out_list *o)
{
	for (int i = 0; i < o->n; i++)
		free(o->owned[i]);
	free(o->owned);
	free(o->names);
	free(o->t);
}

static int write_out(step *s, const sora_train_replay *r, float *loss, sora_err *e)
{
	const sora_mmdit_config *c = &s->loaded.cfg;
	const int64_t B = s->B, L = s->L, Lt = s->Lt, K = c->in_channels + c->patch_size * c->patch_size;
	out_list o = {0};
	TRY(add(&o, "pred", 0, s->pred, 3, (int64_t[]){B, L, c->in_channels}, e));
	TRY(add(&o, "loss", 0, loss, 1, (int64_t[]){1}, e));
	TRY(add(&o, "dloss_dpred", 0, s->dpred, 3, (int64_t[]){B, L, c->in_channels}, e));
	TRY(sora_mmdit_each(&s->g, add_grad, &o, e));
	TRY(add(&o, "grad_input.img", 0, s->gimg, 3, (int64_t[]){B, L, c->in_channels}, e));
	TRY(add(&o, "grad_input.txt", 0, s->gtxt, 3, (int64_t[]){B, Lt, c->context_in_dim}, e));
	TRY(add(&o, "grad_input.y_vec", 0, s->gy, 2, (int64_t[]){B, c->vec_in_dim}, e));
	if (c->cond_embed)
		TRY(add(&o, "grad_input.cond", 0, s->gcond, 3, (int64_t[]){B, L, K}, e));
	TRY(sora_st_write(r->out, o.names, o.t, o.n, NULL, e));
	out_free(&o);
	return 0;
fail:
	out_free(&o);
	return -1;
}

static void step_free(step *s)
{
	float *bufs[] = {s->x_t,     s->t,       s->txt,      s->y_vec, s->cond,  s->target,
			 s->img_ids, s->txt_ids, s->guidance, s->pred,  s->dpred, s->gimg,
			 s->gtxt,    s->gy,      s->gcond,    s->w,     s->gw};
	for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
		free(bufs[i]);
	if (s->have_g)
		sora_mmdit_free(&s->g);
	if (s->have_m)
		sora_mmdit_free(&s->m);
	if (s->have_loaded)
		sora_mmdit_free(&s->loaded);
	sora_st_close(s->st);
}

int sora_train_replay_run(const sora_train_replay *r, double *loss_out, sora_err *e)
{
	step s = {0};
	sora_mmdit_tape *tp = NULL;
	int rc = -1;
	TRY(sora_mmdit_load(&s.loaded, r->model, r->model_config, e));
	s.have_loaded = 1;
	TRY(sora_st_open(&s.st, r->file, e));
	TRY(read_inputs(&s, r, e));
	const sora_mmdit_config *c = &s.loaded.cfg;
	const size_t np = (size_t)s.loaded.n_params, nout = (size_t)s.B * s.L * c->in_channels;
	CHECK_ALLOC(e, s.w = malloc(np * sizeof *s.w));
	CHECK_ALLOC(e, s.gw = calloc(np, sizeof *s.gw));
	TRY(sora_mmdit_view(&s.m, &s.loaded, s.w, 1, e));
	s.have_m = 1;
	TRY(sora_mmdit_view(&s.g, &s.loaded, s.gw, 0, e));
	s.have_g = 1;
	CHECK_ALLOC(e, s.pred = malloc(nout * sizeof *s.pred));
	CHECK_ALLOC(e, s.dpred = malloc(nout * sizeof *s.dpred));
	CHECK_ALLOC(e, s.gimg = calloc(nout, sizeof *s.gimg));
	CHECK_ALLOC(e, s.gtxt = calloc((size_t)s.B * s.Lt * c->context_in_dim, sizeof *s.gtxt));
	CHECK_ALLOC(e, s.gy = calloc((size_t)s.B * c->vec_in_dim, sizeof *s.gy));
	if (c->cond_embed)
		CHECK_ALLOC(
		    e, s.gcond = calloc((size_t)s.B * s.L * (c->in_channels + c->patch_size * c->patch_size),
					sizeof *s.gcond));
	CHECK_ALLOC(e, tp = sora_mmdit_tape_new(r->ckpt_double, r->ckpt_single));
	const sora_mmdit_input in = {.B = s.B,
				     .L = s.L,
				     .Lt = s.Lt,
				     .img = s.x_t,
				     .img_ids = s.img_ids,
				     .txt = s.txt,
				     .txt_ids = s.txt_ids,
				     .timesteps = s.t,
				     .y_vec = s.y_vec,
				     .cond = s.cond,
				     .guidance = s.guidance};
	TRY(sora_mmdit_train_forward(&s.m, tp, &in, s.pred, e));
	float loss = (float)sora_flow_mse(s.pred, s.target, (int64_t)nout, s.dpred);
	const sora_mmdit_input_grad gin = {.img = s.gimg, .txt = s.gtxt, .y_vec = s.gy, .cond = s.gcond};
	TRY(sora_mmdit_backward(&s.m, &s.g, tp, &in, s.dpred, &gin, e));
	TRY(write_out(&s, r, &loss, e));
	if (loss_out)
		*loss_out = loss;
	rc = 0;
fail:
	sora_mmdit_tape_free(tp);
	step_free(&s);
	return rc;
}
