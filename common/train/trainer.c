#include "trainer.h"

#include "../io/safetensors.h"
#include "../models/mmdit.h"
#include "../models/mmdit_train.h"
#include "../nn/ops_optim.h"
#include "../util/log.h"
#include "checkpoint.h"
#include "loader.h"
#include "train_step.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = sig;
}

/* The model and everything the optimizer holds, all in checkpoint order in four flat buffers. */
typedef struct state {
	sora_mmdit loaded, m, g;
	int have_loaded, have_m, have_g;
	float *w, *gw, *mom1, *mom2; /* n floats each */
	size_t n;
	sora_named_f32 *params; /* per tensor: name, shape, its master weights in w */
	float **p_w, **p_m1, **p_m2;
	int np, cap;
	float *null_t5, *null_clip;
	int null_t5_len;
	int64_t step, epoch, index; /* optimizer steps done; the loader position of the next batch */
	sora_train_rng rng;
	FILE *metrics;
	char misfit[16][96]; /* shapes of batches that do not fit the model, named once each */
	int nmisfit;
	int64_t misfit_rows, misfit_batches; /* rows skipped so; batches skipped in a row */
} state;

static int list_param(void *ctx, const char *name, sora_tensor *t, sora_err *e)
{
	state *s = ctx;
	CHECK(e, s->np < s->cap, "trainer: more tensors than the model counted");
	sora_named_f32 *p = &s->params[s->np];
	CHECK_ALLOC(e, p->name = strdup(name));
	p->ndim = t->ndim;
	memcpy(p->shape, t->shape, sizeof p->shape);
	p->data = t->data;
	const size_t off = (size_t)((float *)t->data - s->w);
	s->p_w[s->np] = s->w + off;
	s->p_m1[s->np] = s->mom1 + off;
	s->p_m2[s->np] = s->mom2 + off;
	s->np++;
	return 0;
fail:
	return -1;
}

static int state_open(state *s, const sora_trainer_opts *o, sora_err *e)
{
	const double *w = o->cfg->cond_weights;
	const int i2v =
	    w[SORA_TRAIN_I2V_HEAD] > 0 || w[SORA_TRAIN_I2V_TAIL] > 0 || w[SORA_TRAIN_I2V_LOOP] > 0;
	TRY(sora_mmdit_load(&s->loaded, o->model, o->model_config, e));
	s->have_loaded = 1;
	/* FLUX.1-dev's layout trains as Open-Sora 2.0's (flux1-dev-fused-rope): converted here. */
	const int flux = s->loaded.cfg.fused_qkv;
	const sora_mmdit_config c = flux ? sora_mmdit_flux_config(&s->loaded.cfg, 0, i2v) : s->loaded.cfg;
	CHECK(e, !i2v || c.cond_embed,
	      "condition_config asks for i2v conditions but %s has no cond_in (train it t2v: --condition "
	      "t2v=1)",
	      o->model);
	TRY(sora_mmdit_view_config(&s->g, &c, NULL, e)); /* counts the parameters */
	s->n = (size_t)s->g.n_params;
	sora_mmdit_free(&s->g);
	CHECK_ALLOC(e, s->w = malloc(s->n * sizeof *s->w));
	CHECK_ALLOC(e, s->gw = calloc(s->n, sizeof *s->gw));
	CHECK_ALLOC(e, s->mom1 = calloc(s->n, sizeof *s->mom1));
	CHECK_ALLOC(e, s->mom2 = calloc(s->n, sizeof *s->mom2));
	if (flux) {
		TRY(sora_mmdit_from_flux(&s->m, &s->loaded, s->w, 0, i2v, e));
		log_info("%s: FLUX.1-dev layout converted to Open-Sora 2.0's (split q/k/v, half-split RoPE), "
			 "guidance_in dropped%s",
			 o->model, i2v ? ", a zero cond_in added" : "");
	} else {
		TRY(sora_mmdit_view(&s->m, &s->loaded, s->w, 1, e));
	}
	s->have_m = 1;
	TRY(sora_mmdit_view_config(&s->g, &c, s->gw, e));
	s->have_g = 1;
	s->cap = (int)s->m.n_tensors;
	CHECK_ALLOC(e, s->params = calloc((size_t)s->cap, sizeof *s->params));
	CHECK_ALLOC(e, s->p_w = calloc((size_t)s->cap, sizeof *s->p_w));
	CHECK_ALLOC(e, s->p_m1 = calloc((size_t)s->cap, sizeof *s->p_m1));
	CHECK_ALLOC(e, s->p_m2 = calloc((size_t)s->cap, sizeof *s->p_m2));
	TRY(sora_mmdit_each(&s->m, list_param, s, e));
	return 0;
fail:
	return -1;
}

static void state_free(state *s)
{
	for (int i = 0; i < s->np; i++)
		free((char *)s->params[i].name);
	free(s->params);
	free(s->p_w);
	free(s->p_m1);
	free(s->p_m2);
	free(s->w);
	free(s->gw);
	free(s->mom1);
	free(s->mom2);
	free(s->null_t5);
	free(s->null_clip);
	if (s->have_g)
		sora_mmdit_free(&s->g);
	if (s->have_m)
		sora_mmdit_free(&s->m);
	if (s->have_loaded)
		sora_mmdit_free(&s->loaded);
	if (s->metrics)
		fclose(s->metrics);
}

/* Row 0 of `name` in a sora-embed file: T5's last_hidden_state [N, L, D] or CLIP's pooler_output [N, D]. */
static int read_null(const char *path, const char *name, int ndim, float **out, int64_t *dims, sora_err *e)
{
	sora_safetensors *st = NULL;
	TRY(sora_st_open(&st, path, e));
	TRY(sora_st_read_f32(st, path, name, ndim, dims, out, 1, e));
	sora_st_close(st);
	return 0; /* row 0 is at the start */
fail:
	sora_st_close(st);
	return -1;
}

static int read_nulls(state *s, const sora_trainer_opts *o, sora_err *e)
{
	const sora_train_config *c = o->cfg;
	const sora_mmdit_config *mc = &s->loaded.cfg;
	int64_t d[3];
	if (c->dropout_t5 > 0) {
		CHECK(e, o->null_t5,
		      "dropout_ratio.t5 is %g: give --null-t5 FILE, the empty prompt's T5 states (sora-embed "
		      "--t5 DIR "
		      "--out FILE on a CSV with one empty text), or set it to 0",
		      c->dropout_t5);
		TRY(read_null(o->null_t5, "last_hidden_state", 3, &s->null_t5, d, e));
		CHECK(e, d[2] == mc->context_in_dim, "%s: %lld-wide T5 states, the model takes %d",
		      o->null_t5, (long long)d[2], mc->context_in_dim);
		s->null_t5_len = (int)d[1];
	}
	if (c->dropout_clip > 0) {
		CHECK(e, o->null_clip,
		      "dropout_ratio.clip is %g: give --null-clip FILE, the empty prompt's CLIP vector "
		      "(sora-embed "
		      "--clip DIR), or set it to 0",
		      c->dropout_clip);
		TRY(read_null(o->null_clip, "pooler_output", 2, &s->null_clip, d, e));
		CHECK(e, d[1] == mc->vec_in_dim, "%s: a %lld-wide CLIP vector, the model takes %d",
		      o->null_clip, (long long)d[1], mc->vec_in_dim);
	}
	return 0;
fail:
	return -1;
}

/* ---- the random streams in state.json: every bit, as hex ---- */

static int rng_to_json(cJSON *o, const sora_train_rng *r)
{
	char *mt = malloc(624 * 8 + 1), hx[32];
	if (!mt)
		return -1;
	for (int i = 0; i < 624; i++)
		snprintf(mt + (size_t)8 * i, 9, "%08" PRIx32, r->torch.mt[i]);
	cJSON *g = cJSON_AddObjectToObject(o, "rng");
	int ok = g && cJSON_AddStringToObject(g, "torch_mt", mt) &&
		 cJSON_AddNumberToObject(g, "torch_idx", r->torch.idx) &&
		 cJSON_AddNumberToObject(g, "torch_has_normal", r->torch.has_next_normal);
	uint64_t bits;
	memcpy(&bits, &r->torch.next_normal, sizeof bits);
	snprintf(hx, sizeof hx, "%016" PRIx64, bits);
	ok = ok && cJSON_AddStringToObject(g, "torch_normal_bits", hx);
	snprintf(hx, sizeof hx, "%016" PRIx64, r->aux);
	ok = ok && cJSON_AddStringToObject(g, "aux", hx);
	free(mt);
	return ok ? 0 : -1;
}

static int hex_u64(const cJSON *s, uint64_t *out)
{
	char *end;
	if (!cJSON_IsString(s) || strlen(s->valuestring) != 16)
		return -1;
	*out = strtoull(s->valuestring, &end, 16);
	return *end ? -1 : 0;
}

static int rng_from_json(const cJSON *st, sora_train_rng *r, const char *dir, sora_err *e)
{
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(st, "rng");
	const cJSON *mt = cJSON_GetObjectItemCaseSensitive(g, "torch_mt");
	const cJSON *idx = cJSON_GetObjectItemCaseSensitive(g, "torch_idx");
	const cJSON *has = cJSON_GetObjectItemCaseSensitive(g, "torch_has_normal");
	uint64_t bits;
	CHECK(e,
	      cJSON_IsString(mt) && strlen(mt->valuestring) == (size_t)624 * 8 && cJSON_IsNumber(idx) &&
		  cJSON_IsNumber(has) && idx->valueint >= 0 && idx->valueint <= 624,
	      "%s/state.json: rng is missing or damaged", dir);
	for (int i = 0; i < 624; i++) {
		char w[9], *end;
		memcpy(w, mt->valuestring + (size_t)8 * i, 8);
		w[8] = 0;
		r->torch.mt[i] = (uint32_t)strtoul(w, &end, 16);
		CHECK(e, !*end, "%s/state.json: rng.torch_mt is not hex", dir);
	}
	r->torch.idx = idx->valueint;
	r->torch.has_next_normal = has->valueint;
	CHECK(e, !hex_u64(cJSON_GetObjectItemCaseSensitive(g, "torch_normal_bits"), &bits),
	      "%s/state.json: rng.torch_normal_bits is not 16 hex digits", dir);
	memcpy(&r->torch.next_normal, &bits, sizeof bits);
	CHECK(e, !hex_u64(cJSON_GetObjectItemCaseSensitive(g, "aux"), &r->aux),
	      "%s/state.json: rng.aux is not 16 hex digits", dir);
	return 0;
fail:
	return -1;
}

/* ---- checkpoints ---- */

static int save(state *s, const sora_trainer_opts *o, double loss, char *dir, size_t n, sora_err *e)
{
	cJSON *st = cJSON_CreateObject(), *cfg = sora_train_config_json(o->cfg);
	int rc = -1;
	CHECK_ALLOC(e, st && cfg);
	CHECK_ALLOC(e, cJSON_AddNumberToObject(st, "step", (double)s->step) &&
			   cJSON_AddNumberToObject(st, "epoch", (double)s->epoch) &&
			   cJSON_AddNumberToObject(st, "index", (double)s->index) &&
			   cJSON_AddNumberToObject(st, "loss", loss) && !rng_to_json(st, &s->rng));
	cJSON_AddItemToObject(st, "config", cfg);
	cfg = NULL;
	TRY(sora_ckpt_save(o->run, s->epoch, s->step, s->params, (const float *const *)s->p_w,
			   (const float *const *)s->p_m1, (const float *const *)s->p_m2, s->np,
			   o->cfg->model_bf16 ? SORA_BF16 : SORA_F32, SORA_CKPT_SHARD_BYTES, st,
			   (int)o->cfg->keep_n_latest, dir, n, e));
	rc = 0;
fail:
	cJSON_Delete(st);
	cJSON_Delete(cfg);
	return rc;
}

static int64_t json_i64(const cJSON *o, const char *k)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(it) ? (int64_t)it->valuedouble : -1;
}

/* The newest checkpoint of RUN into the state: 1 when there was one. */
static int resume(state *s, const sora_trainer_opts *o, sora_err *e)
{
	char dir[4096];
	cJSON *st = NULL;
	int64_t step;
	int found;
	TRY(found = sora_ckpt_latest(o->run, dir, sizeof dir, e));
	if (!found)
		return 0;
	TRY(sora_ckpt_load(dir, s->params, s->p_w, s->p_m1, s->p_m2, s->np, &step, &st, e));
	s->step = json_i64(st, "step");
	s->epoch = json_i64(st, "epoch");
	s->index = json_i64(st, "index");
	CHECK(e, s->step == step && s->epoch >= 0 && s->index >= 0,
	      "%s: state.json's step, epoch or index is missing or disagrees with optimizer.safetensors",
	      dir);
	TRY(rng_from_json(st, &s->rng, dir, e));
	log_info("resuming from %s (step %lld)", dir, (long long)s->step);
	cJSON_Delete(st);
	return 1;
fail:
	cJSON_Delete(st);
	return -1;
}

/* ---- metrics.jsonl ---- */

/* Opens RUN/metrics.jsonl for appending, first dropping lines past `step` (a run killed after its last
 * checkpoint logged steps the resumed run takes again). */
static int metrics_open(state *s, const char *run, int64_t step, sora_err *e)
{
	char path[4096], tmp[4200], line[4096];
	snprintf(path, sizeof path, "%s/metrics.jsonl", run);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *in = fopen(path, "r");
	if (in) {
		FILE *out = fopen(tmp, "w");
		CHECK(e, out, "%s: cannot write", tmp);
		while (fgets(line, sizeof line, in)) {
			const char *k = strstr(line, "\"step\":");
			if (k && strtoll(k + 7, NULL, 10) <= step)
				fputs(line, out);
		}
		fclose(in);
		in = NULL;
		CHECK(e, fclose(out) == 0 && rename(tmp, path) == 0, "%s: cannot rewrite", path);
	}
	CHECK(e, s->metrics = fopen(path, "a"), "%s: cannot open for appending", path);
	return 0;
fail:
	if (in)
		fclose(in);
	return -1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the loop ---- */

typedef struct step_stats {
	double loss, grad_norm, lr, seconds;
	int64_t samples, tokens;
} step_stats;

/* Whether a batch fits the model; when not, one line per latent shape and text widths, and its rows
 * counted as skipped. */
static int fits(state *s, const sora_batch *b)
{
	const sora_mmdit_config *c = &s->m.cfg;
	const int p = c->patch_size;
	if (b->C * p * p == c->in_channels && b->H % p == 0 && b->W % p == 0 && b->Dt == c->context_in_dim &&
	    b->Dc == c->vec_in_dim)
		return 1;
	char key[96];
	snprintf(key, sizeof key, "%dx%dx%dx%d/%d/%d", b->C, b->T, b->H, b->W, b->Dt, b->Dc);
	int seen = 0;
	for (int i = 0; i < s->nmisfit && !seen; i++)
		seen = !strcmp(s->misfit[i], key);
	if (!seen && s->nmisfit < (int)(sizeof s->misfit / sizeof *s->misfit)) {
		snprintf(s->misfit[s->nmisfit++], sizeof *s->misfit, "%s", key);
		log_warn("skipping rows like %s: latent [%d, %d, %d, %d], %d-wide T5, %d-wide CLIP; the "
			 "model takes "
			 "%d input channels (patch %d), %d-wide T5, %d-wide CLIP",
			 b->ids[0], b->C, b->T, b->H, b->W, b->Dt, b->Dc, c->in_channels, p,
			 c->context_in_dim, c->vec_in_dim);
	}
	s->misfit_rows += b->B;
	return 0;
}

/* One optimizer step: accumulation_steps micro-batches, clipping, AdamW. */
static int optimizer_step(state *s, const sora_trainer_opts *o, sora_loader *ld, sora_mmdit_tape *tp,
			  const sora_train_step_opts *so, sora_train_scratch *sc, step_stats *st, sora_err *e)
{
	const sora_train_config *c = o->cfg;
	const int accum = (int)c->accumulation_steps;
	const double t0 = now_s();
	sora_batch b = {0};
	memset(s->gw, 0, s->n * sizeof *s->gw);
	st->loss = 0;
	st->samples = st->tokens = 0;
	for (int k = 0; k < accum; k++) {
		double loss;
		TRY(sora_loader_next(ld, &b, e));
		s->epoch = b.epoch;
		s->index = b.index + 1;
		if (!fits(s, &b)) { /* a dataset of another model: skipped, counted, named once per shape */
			sora_batch_free(&b);
			k--;
			CHECK(e, ++s->misfit_batches <= sora_loader_batches_per_epoch(ld),
			      "no batch of the data fits the model (%d input channels, %d-wide T5, %d-wide "
			      "CLIP)",
			      s->m.cfg.in_channels, s->m.cfg.context_in_dim, s->m.cfg.vec_in_dim);
			continue;
		}
		s->misfit_batches = 0;
		const sora_train_batch tb = {.B = b.B,
					     .C = b.C,
					     .T = b.T,
					     .H = b.H,
					     .W = b.W,
					     .latent = b.latent,
					     .Lt = b.Lt,
					     .Dt = b.Dt,
					     .t5 = b.t5,
					     .Dc = b.Dc,
					     .clip = b.clip};
		TRY(sora_train_step(&s->m, &s->g, tp, &tb, so, &s->rng, sc, &loss, NULL, e));
		CHECK(e, isfinite(loss),
		      "step %lld: the loss is %g (batch of %s...): stopping before it reaches the weights",
		      (long long)s->step + 1, loss, b.ids[0]);
		st->loss += loss / accum;
		st->samples += b.B;
		st->tokens +=
		    (int64_t)b.B * (b.T * (b.H / s->m.cfg.patch_size) * (b.W / s->m.cfg.patch_size) + b.Lt);
		sora_batch_free(&b);
	}
	double sumsq;
	TRY(sora_cpu_sumsq(&sumsq, s->gw, s->n, e));
	/* The mean over micro-batches, then torch's clip_grad_norm_ on it. */
	st->grad_norm = sqrt(sumsq) / accum;
	CHECK(e, isfinite(st->grad_norm),
	      "step %lld: the gradient norm is %g: stopping before it reaches the weights",
	      (long long)s->step + 1, st->grad_norm);
	const float scale = (float)(sora_clip_coef(st->grad_norm, c->grad_clip) / accum);
	st->lr = c->warmup_steps > 0 && s->step < c->warmup_steps
		     ? c->lr * (double)(s->step + 1) / (double)c->warmup_steps
		     : c->lr;
	const sora_adamw_args a = {.lr = st->lr,
				   .beta1 = c->beta1,
				   .beta2 = c->beta2,
				   .eps = c->eps,
				   .weight_decay = c->weight_decay,
				   .step = s->step + 1,
				   .grad_scale = scale};
	TRY(sora_cpu_adamw(s->w, s->gw, s->mom1, s->mom2, s->n, &a, e));
	s->step++;
	st->seconds = now_s() - t0;
	return 0;
fail:
	sora_batch_free(&b);
	return -1;
}

static void log_step(state *s, const sora_trainer_opts *o, const step_stats *st, int64_t total,
		     double elapsed, int64_t done)
{
	const double eta = done > 0 ? elapsed / (double)done * (double)(total - s->step) : 0;
	fprintf(s->metrics,
		"{\"step\":%lld,\"epoch\":%lld,\"loss\":%.9g,\"grad_norm\":%.9g,\"lr\":%.9g,\"samples_per_"
		"s\":%.4g,"
		"\"tokens_per_s\":%.4g,\"step_s\":%.4g}\n",
		(long long)s->step, (long long)s->epoch, st->loss, st->grad_norm, st->lr,
		st->samples / st->seconds, st->tokens / st->seconds, st->seconds);
	fflush(s->metrics);
	if (!o->quiet && (s->step % o->cfg->log_every == 0 || s->step == total))
		log_info("step %lld/%lld  loss %.6f  grad norm %.4g  lr %.3g  %.2f samples/s  %.0f tokens/s  "
			 "ETA %lld:%02lld:%02lld",
			 (long long)s->step, (long long)total, st->loss, st->grad_norm, st->lr,
			 st->samples / st->seconds, st->tokens / st->seconds, (long long)eta / 3600,
			 (long long)eta / 60 % 60, (long long)eta % 60);
}

int sora_trainer_run(const sora_trainer_opts *o, sora_trainer_result *r, sora_err *e)
{
	const sora_train_config *c = o->cfg;
	state s = {0};
	sora_loader *ld = NULL;
	sora_mmdit_tape *tp = NULL;
	sora_train_scratch sc = {0};
	struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
	int rc = -1, have_sig = 0;
	double loss = NAN;
	memset(r, 0, sizeof *r);
	TRY(state_open(&s, o, e));
	TRY(read_nulls(&s, o, e));
	sora_torch_rng_seed(&s.rng.torch, (uint64_t)c->seed);
	s.rng.aux = (uint64_t)c->seed ^ 0x5851f42d4c957f2dull;
	if (o->resume)
		TRY(resume(&s, o, e));
	const sora_loader_opts lo = {.dirs = o->data,
				     .ndirs = o->ndata,
				     .bucket_config = c->bucket_config,
				     .batch_size = (int)c->batch_size,
				     .seed = (uint64_t)c->seed,
				     .world = 1};
	TRY(sora_loader_open(&ld, &lo, e));
	TRY(sora_loader_seek(ld, s.epoch, s.index, e));
	const int64_t per_epoch = sora_loader_batches_per_epoch(ld) / c->accumulation_steps;
	const int64_t total = c->max_steps > 0 ? c->max_steps : c->epochs * (per_epoch > 0 ? per_epoch : 1);
	CHECK_ALLOC(e, tp = sora_mmdit_tape_new((int)c->grad_ckpt_double, (int)c->grad_ckpt_single));
	CHECK(e, mkdir(o->run, 0777) == 0 || errno == EEXIST, "%s: cannot create the run folder: %s", o->run,
	      strerror(errno));
	TRY(metrics_open(&s, o->run, s.step, e));
	const sora_train_step_opts so = {
	    .dropout_t5 = c->dropout_t5,
	    .dropout_clip = c->dropout_clip,
	    .null_t5 = s.null_t5,
	    .null_t5_len = s.null_t5_len,
	    .null_clip = s.null_clip,
	    .cond_weights = {c->cond_weights[0], c->cond_weights[1], c->cond_weights[2], c->cond_weights[3]}};
	stop_requested = 0;
	sigemptyset(&sa.sa_mask);
	CHECK(e, sigaction(SIGINT, &sa, &old_int) == 0 && sigaction(SIGTERM, &sa, &old_term) == 0,
	      "cannot install the signal handlers");
	have_sig = 1;
	r->first_step = s.step;
	if (!o->quiet)
		log_info("training %lld parameters for %lld steps (%lld batches per epoch) from step %lld",
			 (long long)s.n, (long long)total, (long long)sora_loader_batches_per_epoch(ld),
			 (long long)s.step);
	const double start = now_s();
	while (s.step < total && !stop_requested) {
		step_stats st;
		TRY(optimizer_step(&s, o, ld, tp, &so, &sc, &st, e));
		loss = st.loss;
		if (s.step == r->first_step + 1)
			r->first_loss = loss;
		log_step(&s, o, &st, total, now_s() - start, s.step - r->first_step);
		if (c->ckpt_every > 0 && s.step % c->ckpt_every == 0 && s.step < total)
			TRY(save(&s, o, loss, r->last_ckpt, sizeof r->last_ckpt, e));
	}
	if (s.step > r->first_step || stop_requested)
		TRY(save(&s, o, loss, r->last_ckpt, sizeof r->last_ckpt, e));
	r->steps = s.step;
	r->last_loss = loss;
	r->skipped_rows = sora_loader_skipped(ld) + s.misfit_rows;
	r->interrupted = stop_requested != 0;
	rc = 0;
fail:
	if (have_sig) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
	}
	sora_train_scratch_free(&sc);
	sora_mmdit_tape_free(tp);
	sora_loader_close(ld);
	state_free(&s);
	return rc;
}
