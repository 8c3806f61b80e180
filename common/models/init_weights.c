#include "init_weights.h"

#include "../io/safetensors.h"
#include "init_corpus.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A recursive-descent reader of the shape and init expressions. */
typedef struct parser {
	const char *s, *p;
	const sora_json *cfg;
	const char *scope;
	sora_err *e;
} parser;

static int expr(parser *ps, double *v);

static int key_value(parser *ps, const char *key, size_t n, double *v)
{
	char k[256];
	const cJSON *it = NULL;
	if (*ps->scope) {
		snprintf(k, sizeof k, "%s%.*s", ps->scope, (int)n, key);
		it = sora_json_find(ps->cfg, k);
	}
	if (!it) {
		snprintf(k, sizeof k, "%.*s", (int)n, key);
		it = sora_json_find(ps->cfg, k);
	}
	if (!cJSON_IsNumber(it))
		return SORA_FAIL(ps->e, "%s: %s%.*s is %s (needed by \"%s\")", ps->cfg->path, ps->scope,
				 (int)n, key, it ? "not a number" : "missing", ps->s);
	*v = it->valuedouble;
	return 0;
}

static void skip_space(parser *ps)
{
	while (isspace((unsigned char)*ps->p))
		ps->p++;
}

static int primary(parser *ps, double *v)
{
	skip_space(ps);
	const char *p = ps->p;
	if (*p == '(') {
		ps->p++;
		TRY(expr(ps, v));
		skip_space(ps);
		CHECK(ps->e, *ps->p == ')', "expression \"%s\": ')' expected at \"%s\"", ps->s, ps->p);
		ps->p++;
		return 0;
	}
	if (*p == '-') {
		ps->p++;
		TRY(primary(ps, v));
		*v = -*v;
		return 0;
	}
	if (isdigit((unsigned char)*p) || *p == '.') {
		char *end;
		*v = strtod(p, &end);
		ps->p = end;
		return 0;
	}
	CHECK(ps->e, isalpha((unsigned char)*p) || *p == '_', "expression \"%s\": unexpected \"%s\"", ps->s,
	      p);
	while (isalnum((unsigned char)*ps->p) || *ps->p == '_' || *ps->p == '.')
		ps->p++;
	return key_value(ps, p, (size_t)(ps->p - p), v);
fail:
	return -1;
}

static int power(parser *ps, double *v)
{
	double x;
	TRY(primary(ps, v));
	skip_space(ps);
	if (*ps->p == '^') {
		ps->p++;
		TRY(primary(ps, &x));
		*v = pow(*v, x);
	}
	return 0;
fail:
	return -1;
}

static int term(parser *ps, double *v)
{
	double x;
	TRY(power(ps, v));
	for (skip_space(ps); *ps->p == '*' || *ps->p == '/'; skip_space(ps)) {
		char op = *ps->p++;
		TRY(power(ps, &x));
		*v = op == '*' ? *v * x : *v / x;
	}
	return 0;
fail:
	return -1;
}

static int expr(parser *ps, double *v)
{
	double x;
	TRY(term(ps, v));
	for (skip_space(ps); *ps->p == '+' || *ps->p == '-'; skip_space(ps)) {
		char op = *ps->p++;
		TRY(term(ps, &x));
		*v = op == '+' ? *v + x : *v - x;
	}
	return 0;
fail:
	return -1;
}

int sora_init_eval(const sora_json *cfg, const char *scope, const char *s, double *out, sora_err *e)
{
	parser ps = {.s = s, .p = s, .cfg = cfg, .scope = scope, .e = e};
	TRY(expr(&ps, out));
	skip_space(&ps);
	CHECK(e, !*ps.p, "expression \"%s\": unexpected \"%s\"", s, ps.p);
	CHECK(e, isfinite(*out), "expression \"%s\" is not finite for %s", s, cfg->path);
	return 0;
fail:
	return -1;
}

const sora_init_kind *sora_init_kind_find(const char *name)
{
	for (const sora_init_kind *k = sora_init_kinds; k->name; k++)
		if (!strcmp(k->name, name))
			return k;
	return NULL;
}

/* "KEY~PREFIX" or "!KEY~PREFIX" against the config. */
static int applies(const sora_json *cfg, const char *scope, const char *when, int *yes, sora_err *e)
{
	char key[256];
	const char *s = NULL;
	int neg = *when == '!';
	const char *t = strchr(when, '~');
	CHECK(e, t, "condition \"%s\": KEY~PREFIX expected", when);
	snprintf(key, sizeof key, "%s%.*s", scope, (int)(t - when - neg), when + neg);
	TRY(sora_json_string(cfg, key, &s, e));
	*yes = (strncmp(s, t + 1, strlen(t + 1)) == 0) != neg;
	return 0;
fail:
	return -1;
}

/* One tensor's values: normal(0, std) from the generator, or a constant. */
static void fill(float *x, int64_t n, char init, double value, uint64_t seed, const char *name)
{
	uint64_t s = seed;
	for (const char *c = name; *c; c++) /* FNV-1a of the name */
		s = (s ^ (unsigned char)*c) * 1099511628211ull;
	for (int64_t i = 0; i < n; i++) {
		if (init == 'c') {
			x[i] = (float)value;
			continue;
		}
		/* Box-Muller on two uniforms in (0, 1] */
		double u1 = (double)((sora_rng_next(&s) >> 11) + 1) * 0x1p-53;
		double u2 = (double)((sora_rng_next(&s) >> 11) + 1) * 0x1p-53;
		x[i] = (float)(value * sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
	}
}

typedef struct out_list {
	char **names;
	sora_tensor *t;
	int n, cap;
} out_list;

static int add_tensor(out_list *o, const char *name, int ndim, const int64_t *shape, char init, double value,
		      uint64_t seed, sora_dtype dtype, sora_err *e)
{
	sora_tensor f = {0};
	if (o->n == o->cap) {
		int c = o->cap ? 2 * o->cap : 64;
		char **nn = realloc(o->names, (size_t)c * sizeof *nn);
		CHECK_ALLOC(e, nn);
		o->names = nn;
		sora_tensor *tt = realloc(o->t, (size_t)c * sizeof *tt);
		CHECK_ALLOC(e, tt);
		o->t = tt;
		o->cap = c;
	}
	for (int i = 0; i < o->n; i++)
		CHECK(e, strcmp(o->names[i], name), "tensor %s is listed twice", name);
	TRY(sora_tensor_alloc(&f, SORA_F32, ndim, shape, e));
	fill(f.data, sora_tensor_numel(&f), init, value, seed, name);
	sora_tensor *t = &o->t[o->n];
	*t = (sora_tensor){0};
	TRY(sora_tensor_alloc(t, dtype, ndim, shape, e));
	TRY(sora_from_f32(t->data, dtype, f.data, (size_t)sora_tensor_numel(&f), e));
	sora_tensor_free(&f);
	if (!(o->names[o->n] = strdup(name))) {
		sora_tensor_free(t);
		CHECK_ALLOC(e, NULL);
	}
	o->n++;
	return 0;
fail:
	sora_tensor_free(&f);
	return -1;
}

/* Every tensor of one part. */
static int add_part(out_list *o, const sora_init_part *part, const sora_json *cfg, uint64_t seed,
		    sora_dtype dtype, sora_err *e)
{
	char name[512];
	for (const sora_init_tensor *t = part->tensors; t->name; t++) {
		double count = 1, value, d;
		int64_t shape[SORA_MAX_DIMS];
		int ndim = 0, yes = 1;
		if (t->when)
			TRY(applies(cfg, part->scope, t->when, &yes, e));
		if (!yes)
			continue;
		if (t->count)
			TRY(sora_init_eval(cfg, part->scope, t->count, &count, e));
		CHECK(e, count >= 0 && count <= 1 << 16 && count == floor(count), "%s: %s = %g layers",
		      cfg->path, t->count, count);
		for (; ndim < SORA_MAX_DIMS && t->shape[ndim]; ndim++) {
			TRY(sora_init_eval(cfg, part->scope, t->shape[ndim], &d, e));
			CHECK(e, d >= 1 && d <= (double)(1ll << 40) && d == floor(d),
			      "%s: dimension %s of %s is %g", cfg->path, t->shape[ndim], t->name, d);
			shape[ndim] = (int64_t)d;
		}
		TRY(sora_init_eval(cfg, part->scope, t->value, &value, e));
		for (int i = 0; i < (int)count; i++) {
			if (t->count)
				snprintf(name, sizeof name, t->name, i);
			else
				snprintf(name, sizeof name, "%s", t->name);
			TRY(add_tensor(o, name, ndim, shape, t->init, value, seed, dtype, e));
		}
	}
	return 0;
fail:
	return -1;
}

int sora_init_write(const sora_init_kind *k, const sora_json *cfg, uint64_t seed, sora_dtype dtype,
		    const char *path, int *count, int64_t *params, sora_err *e)
{
	out_list o = {0};
	static const char *const meta[] = {"format", "pt", NULL};
	CHECK(e, dtype == SORA_F32 || dtype == SORA_BF16, "dtype %s: f32 or bf16", sora_dtype_name(dtype));
	for (int i = 0; i < 4 && k->parts[i].tensors; i++)
		TRY(add_part(&o, &k->parts[i], cfg, seed, dtype, e));
	TRY(sora_st_write(path, (const char *const *)o.names, o.t, o.n, meta, e));
	*count = o.n;
	*params = 0;
	for (int i = 0; i < o.n; i++)
		*params += sora_tensor_numel(&o.t[i]);
	for (int i = 0; i < o.n; i++) {
		free(o.names[i]);
		sora_tensor_free(&o.t[i]);
	}
	free(o.names);
	free(o.t);
	return 0;
fail:
	for (int i = 0; i < o.n; i++) {
		free(o.names[i]);
		sora_tensor_free(&o.t[i]);
	}
	free(o.names);
	free(o.t);
	return -1;
}
