#include "config.h"

#include "../util/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const cond_names[SORA_TRAIN_NCOND] = {"t2v", "i2v_head", "i2v_tail", "i2v_loop"};

void sora_train_config_defaults(sora_train_config *c)
{
	*c = (sora_train_config){.lr = 1e-5,
				 .beta1 = 0.9,
				 .beta2 = 0.999,
				 .eps = 1e-15,
				 .grad_clip = 1.0,
				 .accumulation_steps = 1,
				 .dropout_t5 = 0.31622777,
				 .dropout_clip = 0.31622777,
				 .cond_weights = {1, 0, 0, 0},
				 .batch_size = 1,
				 .seed = 1024,
				 .epochs = 1,
				 .log_every = 1,
				 .model_bf16 = 1};
}

void sora_train_config_free(sora_train_config *c)
{
	cJSON_Delete(c->bucket_config);
	c->bucket_config = NULL;
}

/* A number in [lo, hi] at key. */
static int num(const sora_json *j, const char *key, double lo, double hi, double *out, sora_err *e)
{
	TRY(sora_json_double(j, key, out, e));
	CHECK(e, isfinite(*out) && *out >= lo && *out <= hi, "%s: %s is %g, must be in [%g, %g]", j->path,
	      key, *out, lo, hi);
	return 0;
fail:
	return -1;
}

/* An array of n numbers in [lo, hi] at key. */
static int nums(const sora_json *j, const char *key, int n, double lo, double hi, double *out, sora_err *e)
{
	const cJSON *a = sora_json_find(j, key);
	CHECK(e, cJSON_IsArray(a) && cJSON_GetArraySize(a) == n, "%s: %s must be an array of %d numbers",
	      j->path, key, n);
	for (int i = 0; i < n; i++) {
		const cJSON *it = cJSON_GetArrayItem(a, i);
		CHECK(e, cJSON_IsNumber(it) && it->valuedouble >= lo && it->valuedouble <= hi,
		      "%s: %s[%d] must be a number in [%g, %g]", j->path, key, i, lo, hi);
		out[i] = it->valuedouble;
	}
	return 0;
fail:
	return -1;
}

/* An object whose keys are names[0..n) (each optional, others refused) with numbers ≥ 0. */
static int named(const sora_json *j, const char *key, const char *const *names, int n, double hi, double *out,
		 sora_err *e)
{
	const cJSON *o = sora_json_find(j, key), *it;
	CHECK(e, cJSON_IsObject(o), "%s: %s must be an object", j->path, key);
	cJSON_ArrayForEach(it, o)
	{
		int k = 0;
		while (k < n && strcmp(it->string, names[k]) != 0)
			k++;
		CHECK(e, k < n, "%s: %s has an unknown key '%s'", j->path, key, it->string);
		CHECK(e, cJSON_IsNumber(it) && it->valuedouble >= 0 && it->valuedouble <= hi,
		      "%s: %s.%s must be a number in [0, %g]", j->path, key, it->string, hi);
		out[k] = it->valuedouble;
	}
	return 0;
fail:
	return -1;
}

static int read_key(sora_train_config *c, const sora_json *j, const char *k, sora_err *e)
{
	double pair[2];
	if (!strcmp(k, "lr"))
		return num(j, k, 0, 1, &c->lr, e);
	if (!strcmp(k, "betas")) {
		TRY(nums(j, k, 2, 0, 0.999999999, pair, e));
		c->beta1 = pair[0], c->beta2 = pair[1];
		return 0;
	}
	if (!strcmp(k, "eps"))
		return num(j, k, 0, 1, &c->eps, e);
	if (!strcmp(k, "weight_decay"))
		return num(j, k, 0, 1, &c->weight_decay, e);
	if (!strcmp(k, "grad_clip"))
		return num(j, k, 0, 1e9, &c->grad_clip, e);
	if (!strcmp(k, "warmup_steps"))
		return sora_json_int(j, k, 0, INT64_MAX / 2, &c->warmup_steps, e);
	if (!strcmp(k, "accumulation_steps"))
		return sora_json_int(j, k, 1, 1 << 20, &c->accumulation_steps, e);
	if (!strcmp(k, "grad_ckpt_settings")) {
		TRY(nums(j, k, 2, 0, 1e6, pair, e));
		c->grad_ckpt_double = (int64_t)pair[0], c->grad_ckpt_single = (int64_t)pair[1];
		return 0;
	}
	if (!strcmp(k, "dropout_ratio")) {
		static const char *const enc[] = {"t5", "clip"};
		double r[2] = {c->dropout_t5, c->dropout_clip};
		TRY(named(j, k, enc, 2, 1, r, e));
		c->dropout_t5 = r[0], c->dropout_clip = r[1];
		return 0;
	}
	if (!strcmp(k, "condition_config")) {
		double w[SORA_TRAIN_NCOND] = {0};
		TRY(named(j, k, cond_names, SORA_TRAIN_NCOND, 1e9, w, e));
		memcpy(c->cond_weights, w, sizeof w);
		return 0;
	}
	if (!strcmp(k, "bucket_config")) {
		const cJSON *b = sora_json_find(j, k);
		CHECK(e, cJSON_IsObject(b), "%s: bucket_config must be an object", j->path);
		cJSON_Delete(c->bucket_config);
		CHECK_ALLOC(e, c->bucket_config = cJSON_Duplicate(b, 1));
		return 0;
	}
	if (!strcmp(k, "batch_size"))
		return sora_json_int(j, k, 1, 1 << 16, &c->batch_size, e);
	if (!strcmp(k, "seed"))
		return sora_json_int(j, k, 0, INT64_MAX, &c->seed, e);
	if (!strcmp(k, "epochs"))
		return sora_json_int(j, k, 1, INT64_MAX / 2, &c->epochs, e);
	if (!strcmp(k, "max_steps"))
		return sora_json_int(j, k, 0, INT64_MAX / 2, &c->max_steps, e);
	if (!strcmp(k, "ckpt_every"))
		return sora_json_int(j, k, 0, INT64_MAX / 2, &c->ckpt_every, e);
	if (!strcmp(k, "log_every"))
		return sora_json_int(j, k, 1, INT64_MAX / 2, &c->log_every, e);
	if (!strcmp(k, "keep_n_latest"))
		return sora_json_int(j, k, 0, 1 << 20, &c->keep_n_latest, e);
	if (!strcmp(k, "model_dtype")) {
		const char *s;
		TRY(sora_json_string(j, k, &s, e));
		CHECK(e, !strcmp(s, "bf16") || !strcmp(s, "f32"),
		      "%s: model_dtype is '%s', not \"bf16\" or \"f32\"", j->path, s);
		c->model_bf16 = !strcmp(s, "bf16");
		return 0;
	}
	return SORA_FAIL(
	    e,
	    "%s: unknown key '%s' (keys: lr, betas, eps, weight_decay, warmup_steps, grad_clip, "
	    "accumulation_steps, grad_ckpt_settings, dropout_ratio, condition_config, bucket_config, "
	    "batch_size, seed, epochs, max_steps, ckpt_every, log_every, keep_n_latest, model_dtype)",
	    j->path, k);
fail:
	return -1;
}

int sora_train_config_load(sora_train_config *c, const char *path, sora_err *e)
{
	sora_json j = {0};
	const cJSON *it;
	sora_train_config_defaults(c);
	if (!path)
		return 0;
	TRY(sora_json_load(&j, path, e));
	CHECK(e, cJSON_IsObject(j.root), "%s: a training config is a JSON object", path);
	cJSON_ArrayForEach(it, j.root) TRY(read_key(c, &j, it->string, e));
	sora_json_free(&j);
	return 0;
fail:
	sora_json_free(&j);
	sora_train_config_free(c);
	return -1;
}

cJSON *sora_train_config_json(const sora_train_config *c)
{
	cJSON *o = cJSON_CreateObject(), *d = cJSON_CreateObject(), *w = cJSON_CreateObject();
	const double betas[2] = {c->beta1, c->beta2};
	const int ckpt[2] = {(int)c->grad_ckpt_double, (int)c->grad_ckpt_single};
	if (!o || !d || !w) {
		cJSON_Delete(o);
		cJSON_Delete(d);
		cJSON_Delete(w);
		return NULL;
	}
	cJSON_AddNumberToObject(o, "lr", c->lr);
	cJSON_AddItemToObject(o, "betas", cJSON_CreateDoubleArray(betas, 2));
	cJSON_AddNumberToObject(o, "eps", c->eps);
	cJSON_AddNumberToObject(o, "weight_decay", c->weight_decay);
	cJSON_AddNumberToObject(o, "warmup_steps", (double)c->warmup_steps);
	cJSON_AddNumberToObject(o, "grad_clip", c->grad_clip);
	cJSON_AddNumberToObject(o, "accumulation_steps", (double)c->accumulation_steps);
	cJSON_AddItemToObject(o, "grad_ckpt_settings", cJSON_CreateIntArray(ckpt, 2));
	cJSON_AddNumberToObject(d, "t5", c->dropout_t5);
	cJSON_AddNumberToObject(d, "clip", c->dropout_clip);
	cJSON_AddItemToObject(o, "dropout_ratio", d);
	for (int i = 0; i < SORA_TRAIN_NCOND; i++)
		cJSON_AddNumberToObject(w, cond_names[i], c->cond_weights[i]);
	cJSON_AddItemToObject(o, "condition_config", w);
	if (c->bucket_config)
		cJSON_AddItemToObject(o, "bucket_config", cJSON_Duplicate(c->bucket_config, 1));
	cJSON_AddNumberToObject(o, "batch_size", (double)c->batch_size);
	cJSON_AddNumberToObject(o, "seed", (double)c->seed);
	cJSON_AddNumberToObject(o, "epochs", (double)c->epochs);
	cJSON_AddNumberToObject(o, "max_steps", (double)c->max_steps);
	cJSON_AddNumberToObject(o, "ckpt_every", (double)c->ckpt_every);
	cJSON_AddNumberToObject(o, "log_every", (double)c->log_every);
	cJSON_AddNumberToObject(o, "keep_n_latest", (double)c->keep_n_latest);
	cJSON_AddStringToObject(o, "model_dtype", c->model_bf16 ? "bf16" : "f32");
	return o;
}
