#include "weights.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct problems {
	char *text; /* one line per problem */
	size_t len;
	int count, oom;
} problems;

__attribute__((format(printf, 2, 3))) static void add(problems *p, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0 || p->oom)
		return;
	n = n < (int)sizeof line ? n : (int)sizeof line - 1;
	char *t = realloc(p->text, p->len + (size_t)n + 2);
	if (!t) {
		p->oom = 1;
		return;
	}
	p->text = t;
	memcpy(t + p->len, line, (size_t)n);
	p->len += (size_t)n;
	t[p->len++] = '\n';
	t[p->len] = '\0';
	p->count++;
}

/* An entry ending in '*' matches every name it is a prefix of (the other tower of a whole CLIPModel). */
static int listed(const char *const *names, const char *name)
{
	for (; names && *names; names++) {
		size_t n = strlen(*names);
		if (n && (*names)[n - 1] == '*' ? !strncmp(*names, name, n - 1) : !strcmp(*names, name))
			return 1;
	}
	return 0;
}

static int shape_eq(const sora_st_tensor *t, const sora_weight_spec *s)
{
	if (t->ndim != s->ndim)
		return 0;
	for (int i = 0; i < s->ndim; i++)
		if (t->shape[i] != s->shape[i])
			return 0;
	return 1;
}

static int convert(const sora_st_tensor *t, const sora_weight_spec *s, sora_dtype compute, sora_err *e)
{
	sora_dtype stored;
	float *tmp = NULL;
	TRY(sora_st_dtype(t, &stored, e));
	TRY(sora_tensor_alloc(s->dst, stored == SORA_I32 || stored == SORA_I64 ? stored : compute, s->ndim,
			      s->shape, e));
	size_t n = (size_t)sora_tensor_numel(s->dst);
	if (stored == s->dst->dtype) {
		memcpy(s->dst->data, t->data, t->nbytes);
		return 0;
	}
	CHECK_ALLOC(e, tmp = malloc((n ? n : 1) * sizeof *tmp));
	TRY(sora_to_f32(tmp, t->data, stored, n, e));
	TRY(sora_from_f32(s->dst->data, compute, tmp, n, e));
	free(tmp);
	return 0;
fail:
	sora_err_prefix(e, "%s: tensor '%s': ", t->file, t->name);
	free(tmp);
	sora_tensor_free(s->dst);
	return -1;
}

/* Every missing, unexpected and misshapen tensor into p; fails with the summary in e when there is any. */
static int check(const sora_safetensors *st, const sora_weight_spec *spec, int n, const char *const *ignore,
		 problems *pp, sora_err *e)
{
	problems p = {0};
	const char *file = sora_st_count(st) ? sora_st_get(st, 0)->file : "the checkpoint";
	for (int i = 0; i < n; i++) {
		const sora_st_tensor *t = sora_st_find(st, spec[i].name);
		char want[96], got[96];
		if (!t) {
			add(&p, "missing '%s' %s", spec[i].name,
			    sora_shape_str(want, sizeof want, spec[i].ndim, spec[i].shape));
		} else if (!shape_eq(t, &spec[i])) {
			add(&p, "shape of '%s' is %s, the model expects %s", spec[i].name,
			    sora_shape_str(got, sizeof got, t->ndim, t->shape),
			    sora_shape_str(want, sizeof want, spec[i].ndim, spec[i].shape));
		}
	}
	for (int k = 0; k < sora_st_count(st); k++) {
		const char *name = sora_st_get(st, k)->name;
		int known = listed(ignore, name);
		for (int i = 0; i < n && !known; i++)
			known = !strcmp(spec[i].name, name);
		if (!known)
			add(&p, "unexpected '%s'", name);
	}
	CHECK_ALLOC(e, !p.oom);
	if (p.count) {
		/* The summary: as many whole problems as fit in one line. */
		char sum[sizeof e->msg];
		int k =
		    snprintf(sum, sizeof sum, "%d problem%s in %s:", p.count, p.count > 1 ? "s" : "", file);
		int shown = 0;
		for (char *line = p.text; *line; shown++) {
			char *nl = strchr(line, '\n');
			int len = (int)(nl - line);
			if (k + len + 32 >= (int)sizeof sum)
				break;
			k +=
			    snprintf(sum + k, sizeof sum - (size_t)k, "%s %.*s", shown ? ";" : "", len, line);
			line = nl + 1;
		}
		if (shown < p.count)
			snprintf(sum + k, sizeof sum - (size_t)k, "; and %d more", p.count - shown);
		SORA_FAIL(e, "%s", sum);
		goto fail;
	}
	*pp = p;
	return 0;
fail:
	*pp = p;
	return -1;
}

int sora_weights_load(const sora_safetensors *st, const sora_weight_spec *spec, int n,
		      const char *const *ignore, sora_dtype compute, char **report, sora_err *e)
{
	problems p = {0};
	int done = 0;
	if (report)
		*report = NULL;
	CHECK(e, compute == SORA_F32 || compute == SORA_BF16 || compute == SORA_F16,
	      "compute dtype %s is not a float type", sora_dtype_name(compute));
	TRY(check(st, spec, n, ignore, &p, e));
	for (; done < n; done++)
		TRY(convert(sora_st_find(st, spec[done].name), &spec[done], compute, e));
	free(p.text);
	return 0;
fail:
	for (int i = 0; i < done; i++)
		sora_tensor_free(spec[i].dst);
	if (report)
		*report = p.text;
	else
		free(p.text);
	return -1;
}

void sora_weight_want(sora_weight_list *l, sora_tensor *dst, int ndim, const int64_t *shape, const char *fmt,
		      ...)
{
	if (l->oom)
		return;
	if (l->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 64;
		sora_weight_spec *spec = realloc(l->spec, (size_t)cap * sizeof *spec);
		if (!spec) {
			l->oom = 1;
			return;
		}
		l->spec = spec;
		l->cap = cap;
	}
	char name[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	sora_weight_spec *w = &l->spec[l->n];
	*w = (sora_weight_spec){.name = strdup(name), .ndim = ndim, .dst = dst};
	if (!w->name) {
		l->oom = 1;
		return;
	}
	memcpy(w->shape, shape, (size_t)ndim * sizeof *shape);
	l->n++;
}

int sora_weights_load_list(const sora_safetensors *st, const sora_weight_list *l, const char *const *ignore,
			   sora_dtype compute, char **report, sora_err *e)
{
	if (report)
		*report = NULL;
	if (l->oom)
		return SORA_FAIL(e, "out of memory listing the model's tensors");
	return sora_weights_load(st, l->spec, l->n, ignore, compute, report, e);
}

int sora_weights_map_list(const sora_safetensors *st, const sora_weight_list *l, const char *const *ignore,
			  char **report, sora_err *e)
{
	problems p = {0};
	if (report)
		*report = NULL;
	CHECK(e, !l->oom, "out of memory listing the model's tensors");
	TRY(check(st, l->spec, l->n, ignore, &p, e));
	for (int i = 0; i < l->n; i++) {
		const sora_st_tensor *t = sora_st_find(st, l->spec[i].name);
		sora_dtype d;
		if (sora_st_dtype(t, &d, e) < 0) {
			sora_err_prefix(e, "%s: tensor '%s': ", t->file, t->name);
			goto fail;
		}
		sora_tensor_view(l->spec[i].dst, d, t->ndim, t->shape, (void *)t->data);
	}
	free(p.text);
	return 0;
fail:
	if (report)
		*report = p.text;
	else
		free(p.text);
	return -1;
}

void sora_weight_list_free(sora_weight_list *l)
{
	for (int i = 0; i < l->n; i++)
		free((char *)l->spec[i].name);
	free(l->spec);
	*l = (sora_weight_list){0};
}

void sora_model_files(const char *dir, char *config, size_t nc, char *weights, size_t nw)
{
	struct stat sb;
	snprintf(config, nc, "%s/config.json", dir);
	snprintf(weights, nw, "%s/model.safetensors.index.json", dir);
	if (stat(weights, &sb) != 0)
		snprintf(weights, nw, "%s/model.safetensors", dir);
}
