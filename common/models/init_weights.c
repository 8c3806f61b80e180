#include "init_weights.h"

#include "../io/safetensors.h"
#include "init_corpus.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A recursive-descent reader of the shape, count, condition and init expressions. */
typedef struct vars {
	int i, j;      /* the loop indices (the %d of the name) */
	double fan_in; /* product of the tensor's dims after the first; 0 before the shape is known */
} vars;

typedef struct parser {
	const char *s, *p;
	const sora_json *cfg;
	const char *scope;
	const vars *v;
	sora_err *e;
} parser;

static int expr(parser *ps, double *v);

/* A config item: under the scope first, then from the top. */
static const cJSON *item(const parser *ps, const char *key, size_t n)
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
	return it;
}

static int number(const parser *ps, const cJSON *it, const char *key, size_t n, double *v)
{
	if (cJSON_IsNumber(it) || cJSON_IsBool(it)) {
		*v = cJSON_IsNumber(it) ? it->valuedouble : cJSON_IsTrue(it);
		return 0;
	}
	return SORA_FAIL(ps->e, "%s: %s%.*s is %s (needed by \"%s\")", ps->cfg->path, ps->scope, (int)n, key,
			 it ? "not a number" : "missing", ps->s);
}

static void skip_space(parser *ps)
{
	while (isspace((unsigned char)*ps->p))
		ps->p++;
}

static int expect_char(parser *ps, char c)
{
	skip_space(ps);
	if (*ps->p != c)
		return SORA_FAIL(ps->e, "expression \"%s\": '%c' expected at \"%s\"", ps->s, c, ps->p);
	ps->p++;
	return 0;
}

/* A name: i, j, fan_in, len(KEY), max(a, b), min(a, b), KEY or KEY[index]. */
static int name_value(parser *ps, double *v)
{
	const char *p = ps->p;
	while (isalnum((unsigned char)*ps->p) || *ps->p == '_' || *ps->p == '.')
		ps->p++;
	size_t n = (size_t)(ps->p - p);
	double a = 0, b = 0;
	skip_space(ps);
	if (*ps->p == '(' && ((n == 3 && (!strncmp(p, "max", 3) || !strncmp(p, "min", 3))))) {
		ps->p++;
		TRY(expr(ps, &a));
		TRY(expect_char(ps, ','));
		TRY(expr(ps, &b));
		TRY(expect_char(ps, ')'));
		*v = (*p == 'm' && p[1] == 'a') ? fmax(a, b) : fmin(a, b);
		return 0;
	}
	if (*ps->p == '(' && n == 3 && !strncmp(p, "len", 3)) {
		ps->p++;
		skip_space(ps);
		const char *k = ps->p;
		while (isalnum((unsigned char)*ps->p) || *ps->p == '_' || *ps->p == '.')
			ps->p++;
		const cJSON *it = item(ps, k, (size_t)(ps->p - k));
		CHECK(ps->e, cJSON_IsArray(it), "%s: %s%.*s is not a list (needed by \"%s\")", ps->cfg->path,
		      ps->scope, (int)(ps->p - k), k, ps->s);
		*v = cJSON_GetArraySize(it);
		return expect_char(ps, ')');
	}
	if (n == 1 && (*p == 'i' || *p == 'j')) {
		*v = *p == 'i' ? ps->v->i : ps->v->j;
		return 0;
	}
	if (n == 6 && !strncmp(p, "fan_in", 6)) {
		CHECK(ps->e, ps->v->fan_in > 0, "expression \"%s\": fan_in of a tensor of one dimension",
		      ps->s);
		*v = ps->v->fan_in;
		return 0;
	}
	const cJSON *it = item(ps, p, n);
	if (*ps->p == '[') {
		ps->p++;
		TRY(expr(ps, &a));
		TRY(expect_char(ps, ']'));
		CHECK(ps->e, cJSON_IsArray(it), "%s: %s%.*s is not a list (needed by \"%s\")", ps->cfg->path,
		      ps->scope, (int)n, p, ps->s);
		const int len = cJSON_GetArraySize(it);
		const double k = a < 0 ? a + len : a; /* [-1]: the last, as Python */
		CHECK(ps->e, k >= 0 && k < len && k == floor(k),
		      "%s: %.*s[%g] is outside the list (needed by \"%s\")", ps->cfg->path, (int)n, p, a,
		      ps->s);
		it = cJSON_GetArrayItem(it, (int)k);
	}
	return number(ps, it, p, n, v);
fail:
	return -1;
}

static int primary(parser *ps, double *v)
{
	skip_space(ps);
	const char *p = ps->p;
	if (*p == '(') {
		ps->p++;
		TRY(expr(ps, v));
		return expect_char(ps, ')');
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
	return name_value(ps, v);
fail:
	return -1;
}

static int power(parser *ps, double *v)
{
	double x = 0;
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
	double x = 0;
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

static int sum(parser *ps, double *v)
{
	double x = 0;
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

/* a == b, !=, <, <=, >, >=: 1 or 0 */
static int compare(parser *ps, double *v)
{
	double x = 0;
	TRY(sum(ps, v));
	skip_space(ps);
	const char *p = ps->p;
	if (!*p || !strchr("=!<>", *p))
		return 0;
	int two = p[1] == '=';
	if ((*p == '=' || *p == '!') && !two)
		return 0;
	ps->p += two ? 2 : 1;
	TRY(sum(ps, &x));
	*v = *p == '='   ? *v == x
	     : *p == '!' ? *v != x
	     : *p == '<' ? (two ? *v <= x : *v < x)
			 : (two ? *v >= x : *v > x);
	return 0;
fail:
	return -1;
}

/* c ? a : b */
static int expr(parser *ps, double *v)
{
	double a = 0, b = 0;
	TRY(compare(ps, v));
	skip_space(ps);
	if (*ps->p != '?')
		return 0;
	ps->p++;
	TRY(expr(ps, &a));
	TRY(expect_char(ps, ':'));
	TRY(expr(ps, &b));
	*v = *v != 0 ? a : b;
	return 0;
fail:
	return -1;
}

static int eval(const sora_json *cfg, const char *scope, const vars *vs, const char *s, double *out,
		sora_err *e)
{
	parser ps = {.s = s, .p = s, .cfg = cfg, .scope = scope, .v = vs, .e = e};
	TRY(expr(&ps, out));
	skip_space(&ps);
	CHECK(e, !*ps.p, "expression \"%s\": unexpected \"%s\"", s, ps.p);
	CHECK(e, isfinite(*out), "expression \"%s\" is not finite for %s", s, cfg->path);
	return 0;
fail:
	return -1;
}

int sora_init_eval(const sora_json *cfg, const char *scope, const char *s, double *out, sora_err *e)
{
	const vars none = {0};
	return eval(cfg, scope, &none, s, out, e);
}

const sora_init_kind *sora_init_kind_find(const char *name)
{
	for (const sora_init_kind *k = sora_init_kinds; k->name; k++)
		if (!strcmp(k->name, name))
			return k;
	return NULL;
}

/* The condition of a tensor: "KEY~PREFIX" or "!KEY~PREFIX" (a string key starts with PREFIX, or not),
 * otherwise an expression (true when not 0). */
static int applies(const sora_json *cfg, const char *scope, const vars *vs, const char *when, int *yes,
		   sora_err *e)
{
	char key[256];
	const char *s = NULL, *t = strchr(when, '~');
	double v;
	if (!t) {
		TRY(eval(cfg, scope, vs, when, &v, e));
		*yes = v != 0;
		return 0;
	}
	int neg = *when == '!';
	snprintf(key, sizeof key, "%s%.*s", scope, (int)(t - when - neg), when + neg);
	TRY(sora_json_string(cfg, key, &s, e));
	*yes = (strncmp(s, t + 1, strlen(t + 1)) == 0) != neg;
	return 0;
fail:
	return -1;
}

/* One tensor's values: normal(0, value) or uniform(−value, value) from the generator, or the constant. */
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
		double u1 = (double)((sora_rng_next(&s) >> 11) + 1) * 0x1p-53;
		if (init == 'u') {
			x[i] = (float)(value * (2 * u1 - 1));
			continue;
		}
		/* Box-Muller on two uniforms in (0, 1] */
		double u2 = (double)((sora_rng_next(&s) >> 11) + 1) * 0x1p-53;
		x[i] = (float)(value * sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
	}
}

typedef struct out_list {
	char **names;
	sora_tensor *t;
	int n, cap;
	int dry;        /* only count (sora_init_count) */
	int64_t params; /* elements of the tensors so far */
} out_list;

static int add_tensor(out_list *o, const char *name, int ndim, const int64_t *shape, char init, double value,
		      uint64_t seed, sora_dtype dtype, sora_err *e)
{
	sora_tensor f = {0};
	int64_t numel = 1;
	for (int i = 0; i < ndim; i++)
		numel *= shape[i];
	o->params += numel;
	if (o->dry) {
		o->n++;
		return 0;
	}
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

/* "A" or "A; B": how many of a tensor for the outer index i and, given i, the inner index j. */
static int loop_count(const sora_json *cfg, const char *scope, const vars *vs, const char *count, int level,
		      int *n, sora_err *e)
{
	char buf[256];
	const char *semi = count ? strchr(count, ';') : NULL;
	double c = 1;
	if (count && level == 0)
		snprintf(buf, sizeof buf, "%.*s", (int)(semi ? semi - count : (long)strlen(count)), count);
	else if (semi && level == 1)
		snprintf(buf, sizeof buf, "%s", semi + 1);
	else
		buf[0] = '\0';
	if (buf[0])
		TRY(eval(cfg, scope, vs, buf, &c, e));
	CHECK(e, c >= 0 && c <= 1 << 16 && c == floor(c), "%s: %s = %g layers", cfg->path, buf, c);
	*n = (int)c;
	return 0;
fail:
	return -1;
}

/* One tensor of the table at loop indices vs. */
static int add_one(out_list *o, const sora_init_tensor *t, const char *scope, const sora_json *cfg, vars *vs,
		   uint64_t seed, sora_dtype dtype, sora_err *e)
{
	char name[512];
	int64_t shape[SORA_MAX_DIMS];
	int ndim = 0, yes = 1;
	double value, d;
	vs->fan_in = 0;
	if (t->when)
		TRY(applies(cfg, scope, vs, t->when, &yes, e));
	if (!yes)
		return 0;
	snprintf(name, sizeof name, t->name, vs->i, vs->j);
	for (; ndim < SORA_MAX_DIMS && t->shape[ndim]; ndim++) {
		TRY(eval(cfg, scope, vs, t->shape[ndim], &d, e));
		CHECK(e, d >= 1 && d <= (double)(1ll << 40) && d == floor(d), "%s: dimension %s of %s is %g",
		      cfg->path, t->shape[ndim], name, d);
		shape[ndim] = (int64_t)d;
	}
	if (ndim > 1) /* as PyTorch: every dimension but the first (out) */
		for (int k = 1; k < ndim; k++)
			vs->fan_in = (vs->fan_in ? vs->fan_in : 1) * (double)shape[k];
	TRY(eval(cfg, scope, vs, t->value, &value, e));
	return add_tensor(o, name, ndim, shape, t->init, value, seed, dtype, e);
fail:
	return -1;
}

/* Every tensor of one part. */
static int add_part(out_list *o, const sora_init_part *part, const sora_json *cfg, uint64_t seed,
		    sora_dtype dtype, sora_err *e)
{
	for (const sora_init_tensor *t = part->tensors; t->name; t++) {
		vars vs = {0};
		int ni, nj;
		TRY(loop_count(cfg, part->scope, &vs, t->count, 0, &ni, e));
		for (vs.i = 0; vs.i < ni; vs.i++) {
			TRY(loop_count(cfg, part->scope, &vs, t->count, 1, &nj, e));
			for (vs.j = 0; vs.j < nj; vs.j++)
				TRY(add_one(o, t, part->scope, cfg, &vs, seed, dtype, e));
		}
	}
	return 0;
fail:
	return -1;
}

int sora_init_count(const sora_init_kind *k, const sora_json *cfg, int *count, int64_t *params, sora_err *e)
{
	out_list o = {.dry = 1};
	for (int i = 0; i < 4 && k->parts[i].tensors; i++)
		TRY(add_part(&o, &k->parts[i], cfg, 0, SORA_F32, e));
	*count = o.n;
	*params = o.params;
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
	*params = o.params;
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
