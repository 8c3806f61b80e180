/* MMDiTModel (opensora/models/mmdit/model.py): the config from the checkpoint, strict binding of its
 * tensors. The forward is in mmdit_forward.c, the backward in mmdit_backward.c. */
#include "mmdit.h"

#include "mmdit_blocks.h"
#include "mmdit_train.h"

#include "../nn/ops.h"
#include "../nn/ops_dit.h"
#include "../util/json.h"
#include "weights.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- layout and config ---- */

static int has(const sora_safetensors *st, const char *name)
{
	return sora_st_find(st, name) != NULL;
}

/* Size `dim` of tensor `name`, or -1 when it is absent or has fewer dims. */
static int64_t dim_of(const sora_safetensors *st, const char *name, int dim)
{
	const sora_st_tensor *t = sora_st_find(st, name);
	return t && t->ndim > dim ? t->shape[dim] : -1;
}

static int count_blocks(const sora_safetensors *st, const char *fmt)
{
	char name[128];
	int n = 0;
	for (;; n++) {
		snprintf(name, sizeof name, fmt, n);
		if (!has(st, name))
			return n;
	}
}

/* What the names and shapes say. */
static int infer_config(sora_mmdit_config *c, const sora_safetensors *st, const char *path, sora_err *e)
{
	const int fused =
	    has(st, "double_blocks.0.img_attn.qkv.weight") || has(st, "single_blocks.0.linear1.weight");
	const int split =
	    has(st, "double_blocks.0.img_attn.q_proj.weight") || has(st, "single_blocks.0.q_proj.weight");
	CHECK(
	    e, fused != split,
	    "%s: cannot tell the MMDiT layout: %s (Open-Sora 2.0 has double_blocks.0.img_attn.q_proj.weight, "
	    "FLUX.1-dev double_blocks.0.img_attn.qkv.weight)",
	    path, fused ? "both fused and separate q/k/v names" : "neither fused nor separate q/k/v names");
	memset(c, 0, sizeof *c);
	c->fused_qkv = fused;
	c->hidden = (int)dim_of(st, "img_in.weight", 0);
	c->in_channels = (int)dim_of(st, "img_in.weight", 1);
	c->context_in_dim = (int)dim_of(st, "txt_in.weight", 1);
	c->vec_in_dim = (int)dim_of(st, "vector_in.in_layer.weight", 1);
	CHECK(e, c->hidden > 0 && c->in_channels > 0, "%s: missing 'img_in.weight' [hidden, in_channels]",
	      path);
	CHECK(e, c->context_in_dim > 0, "%s: missing 'txt_in.weight' [hidden, context_in_dim]", path);
	CHECK(e, c->vec_in_dim > 0, "%s: missing 'vector_in.in_layer.weight' [hidden, vec_in_dim]", path);
	c->depth = count_blocks(st, "double_blocks.%d.img_mod.lin.weight");
	c->depth_single = count_blocks(st, "single_blocks.%d.modulation.lin.weight");
	const int64_t hd = c->depth ? dim_of(st, "double_blocks.0.img_attn.norm.query_norm.scale", 0)
				    : dim_of(st, "single_blocks.0.norm.query_norm.scale", 0);
	CHECK(e, hd > 0 && c->hidden % hd == 0,
	      "%s: the q/k norm size %lld does not divide the hidden size %d", path, (long long)hd,
	      c->hidden);
	c->head_dim = (int)hd;
	c->heads = c->hidden / c->head_dim;
	int64_t M = c->depth ? dim_of(st, "double_blocks.0.img_mlp.0.weight", 0)
		    : fused  ? dim_of(st, "single_blocks.0.linear1.weight", 0) - 3 * (int64_t)c->hidden
			     : dim_of(st, "single_blocks.0.v_mlp.weight", 0) - c->hidden;
	CHECK(e, M > 0, "%s: cannot find the MLP width (img_mlp.0 / v_mlp / linear1)", path);
	c->mlp_hidden = (int)M;
	c->qkv_bias = !c->depth || has(st, fused ? "double_blocks.0.img_attn.qkv.bias"
						 : "double_blocks.0.img_attn.q_proj.bias");
	c->guidance_embed = has(st, "guidance_in.in_layer.weight");
	c->cond_embed = has(st, "cond_in.weight");
	c->patch_size = 2;
	if (c->cond_embed) { /* cond_in: Linear(in_channels + patch², hidden) */
		int64_t p2 = dim_of(st, "cond_in.weight", 1) - c->in_channels;
		int p = (int)lround(sqrt((double)(p2 > 0 ? p2 : 0)));
		CHECK(e, p > 0 && (int64_t)p * p == p2,
		      "%s: cond_in.weight has %lld inputs, not in_channels %d + patch²", path,
		      (long long)dim_of(st, "cond_in.weight", 1), c->in_channels);
		c->patch_size = p;
	}
	c->axes_dim[0] = 16, c->axes_dim[1] = 56, c->axes_dim[2] = 56;
	c->theta = 10000;
	c->liger_rope = !fused;
	return 0;
fail:
	return -1;
}

/* A key the weights also tell: when the JSON has it, it must agree. */
static int agree_int(const sora_json *j, const char *key, int64_t have, const char *why, sora_err *e)
{
	int64_t v;
	if (!sora_json_find(j, key))
		return 0;
	TRY(sora_json_int(j, key, 0, INT32_MAX, &v, e));
	CHECK(e, v == have, "%s: %s is %lld but the checkpoint has %lld (%s)", j->path, key, (long long)v,
	      (long long)have, why);
	return 0;
fail:
	return -1;
}

static int agree_bool(const sora_json *j, const char *key, int have, const char *why, sora_err *e)
{
	int v;
	if (!sora_json_find(j, key))
		return 0;
	TRY(sora_json_bool_or(j, key, have, &v, e));
	CHECK(e, !v == !have, "%s: %s is %s but the checkpoint %s", j->path, key, v ? "true" : "false", why);
	return 0;
fail:
	return -1;
}

static int read_config(sora_mmdit_config *c, const char *path, sora_err *e)
{
	sora_json j = {0};
	int64_t v;
	double d;
	TRY(sora_json_load(&j, path, e));
	TRY(agree_int(&j, "in_channels", c->in_channels, "img_in.weight", e));
	TRY(agree_int(&j, "vec_in_dim", c->vec_in_dim, "vector_in.in_layer.weight", e));
	TRY(agree_int(&j, "context_in_dim", c->context_in_dim, "txt_in.weight", e));
	TRY(agree_int(&j, "hidden_size", c->hidden, "img_in.weight", e));
	TRY(agree_int(&j, "num_heads", c->heads, "hidden size / q/k norm size", e));
	TRY(agree_int(&j, "depth", c->depth, "double_blocks.N", e));
	TRY(agree_int(&j, "depth_single_blocks", c->depth_single, "single_blocks.N", e));
	TRY(agree_bool(&j, "fused_qkv", c->fused_qkv,
		       c->fused_qkv ? "has the FLUX.1-dev layout (fused img_attn.qkv, linear1)"
				    : "has the Open-Sora 2.0 layout (separate q_proj/k_proj/v_proj, v_mlp)",
		       e));
	TRY(agree_bool(&j, "guidance_embed", c->guidance_embed,
		       c->guidance_embed ? "has guidance_in" : "has no guidance_in", e));
	TRY(agree_bool(&j, "cond_embed", c->cond_embed, c->cond_embed ? "has cond_in" : "has no cond_in", e));
	TRY(agree_bool(&j, "qkv_bias", c->qkv_bias, c->qkv_bias ? "has q/k/v biases" : "has no q/k/v biases",
		       e));
	if (sora_json_find(&j, "mlp_ratio")) {
		TRY(sora_json_double(&j, "mlp_ratio", &d, e));
		CHECK(e, (int64_t)(c->hidden * d) == c->mlp_hidden,
		      "%s: mlp_ratio %g gives an MLP of %lld but the checkpoint has %d", path, d,
		      (long long)(c->hidden * d), c->mlp_hidden);
	}
	if (c->cond_embed)
		TRY(agree_int(&j, "patch_size", c->patch_size, "cond_in.weight", e));
	else {
		TRY(sora_json_int_or(&j, "patch_size", 1, 64, c->patch_size, &v, e));
		c->patch_size = (int)v;
	}
	TRY(sora_json_double_or(&j, "theta", c->theta, &d, e));
	CHECK(e, d > 1, "%s: theta %g must be above 1", path, d);
	c->theta = (float)d;
	TRY(sora_json_bool_or(&j, "use_liger_rope", c->liger_rope, &c->liger_rope, e));
	const cJSON *ax = sora_json_find(&j, "axes_dim");
	if (ax) {
		CHECK(e, cJSON_IsArray(ax) && cJSON_GetArraySize(ax) == 3, "%s: axes_dim must be 3 integers",
		      path);
		for (int i = 0; i < 3; i++) {
			const cJSON *it = cJSON_GetArrayItem(ax, i);
			CHECK(e,
			      cJSON_IsNumber(it) && it->valuedouble > 0 && it->valuedouble < 65536 &&
				  it->valuedouble == (int)it->valuedouble,
			      "%s: axes_dim[%d] is not a positive integer", path, i);
			c->axes_dim[i] = (int)it->valuedouble;
		}
	}
	sora_json_free(&j);
	return 0;
fail:
	sora_json_free(&j);
	return -1;
}

/* ---- the expected tensors ---- */

typedef struct builder {
	sora_weight_list wl;
	int64_t unit, max_unit, params; /* elements of the current unit, of the largest, of all */
} builder;

__attribute__((format(printf, 5, 6))) static void want(builder *b, sora_tensor *t, int ndim,
						       const int64_t *shape, const char *fmt, ...)
{
	char name[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	sora_weight_want(&b->wl, t, ndim, shape, "%s", name);
	int64_t n = 1;
	for (int i = 0; i < ndim; i++)
		n *= shape[i];
	b->unit += n;
	b->params += n;
}

/* A unit is what is widened at once: the input layers, one block, the final layer. */
static void end_unit(builder *b)
{
	b->max_unit = b->unit > b->max_unit ? b->unit : b->max_unit;
	b->unit = 0;
}

static void want_linear(builder *b, sora_mmdit_linear *l, int64_t out, int64_t in, int bias,
			const char *prefix)
{
	want(b, &l->w, 2, (int64_t[]){out, in}, "%s.weight", prefix);
	if (bias)
		want(b, &l->b, 1, (int64_t[]){out}, "%s.bias", prefix);
}

static void want_stream(builder *b, const sora_mmdit_config *c, sora_mmdit_stream *s, int i, const char *k)
{
	const int64_t C = c->hidden, M = c->mlp_hidden, D = c->head_dim;
	char p[128];
#define P(fmt) (snprintf(p, sizeof p, "double_blocks.%d.%s_" fmt, i, k), p)
	want_linear(b, &s->mod, 6 * C, C, 1, P("mod.lin"));
	if (c->fused_qkv) {
		want_linear(b, &s->qkv, 3 * C, C, c->qkv_bias, P("attn.qkv"));
	} else {
		want_linear(b, &s->q, C, C, c->qkv_bias, P("attn.q_proj"));
		want_linear(b, &s->k, C, C, c->qkv_bias, P("attn.k_proj"));
		want_linear(b, &s->v, C, C, c->qkv_bias, P("attn.v_proj"));
	}
	want(b, &s->q_norm, 1, (int64_t[]){D}, "%s", P("attn.norm.query_norm.scale"));
	want(b, &s->k_norm, 1, (int64_t[]){D}, "%s", P("attn.norm.key_norm.scale"));
	want_linear(b, &s->proj, C, C, 1, P("attn.proj"));
	want_linear(b, &s->mlp0, M, C, 1, P("mlp.0"));
	want_linear(b, &s->mlp2, C, M, 1, P("mlp.2"));
#undef P
}

static void want_single(builder *b, const sora_mmdit_config *c, sora_mmdit_single *s, int i)
{
	const int64_t C = c->hidden, M = c->mlp_hidden, D = c->head_dim;
	char p[128];
#define P(fmt) (snprintf(p, sizeof p, "single_blocks.%d." fmt, i), p)
	if (c->fused_qkv) {
		want_linear(b, &s->linear1, 3 * C + M, C, 1, P("linear1"));
	} else {
		want_linear(b, &s->q, C, C, 1, P("q_proj"));
		want_linear(b, &s->k, C, C, 1, P("k_proj"));
		want_linear(b, &s->v_mlp, C + M, C, 1, P("v_mlp"));
	}
	want_linear(b, &s->linear2, C, C + M, 1, P("linear2"));
	want(b, &s->q_norm, 1, (int64_t[]){D}, "%s", P("norm.query_norm.scale"));
	want(b, &s->k_norm, 1, (int64_t[]){D}, "%s", P("norm.key_norm.scale"));
	want_linear(b, &s->mod, 3 * C, C, 1, P("modulation.lin"));
#undef P
}

static void want_all(builder *b, sora_mmdit *m)
{
	const sora_mmdit_config *c = &m->cfg;
	const int64_t C = c->hidden, T = SORA_DIT_TIME_DIM;
	want_linear(b, &m->img_in, C, c->in_channels, 1, "img_in");
	if (c->cond_embed)
		want_linear(b, &m->cond_in, C, c->in_channels + c->patch_size * c->patch_size, 1, "cond_in");
	want_linear(b, &m->time_in0, C, T, 1, "time_in.in_layer");
	want_linear(b, &m->time_in1, C, C, 1, "time_in.out_layer");
	if (c->guidance_embed) {
		want_linear(b, &m->guid_in0, C, T, 1, "guidance_in.in_layer");
		want_linear(b, &m->guid_in1, C, C, 1, "guidance_in.out_layer");
	}
	want_linear(b, &m->vec_in0, C, c->vec_in_dim, 1, "vector_in.in_layer");
	want_linear(b, &m->vec_in1, C, C, 1, "vector_in.out_layer");
	want_linear(b, &m->txt_in, C, c->context_in_dim, 1, "txt_in");
	end_unit(b);
	for (int i = 0; i < c->depth; i++) {
		want_stream(b, c, &m->dbl[i].img, i, "img");
		want_stream(b, c, &m->dbl[i].txt, i, "txt");
		end_unit(b);
	}
	for (int i = 0; i < c->depth_single; i++) {
		want_single(b, c, &m->sgl[i], i);
		end_unit(b);
	}
	want_linear(b, &m->final_mod, 2 * C, C, 1, "final_layer.adaLN_modulation.1");
	want_linear(b, &m->final_linear, c->in_channels, C, 1, "final_layer.linear");
	end_unit(b);
}

int sora_mmdit_load(sora_mmdit *m, const char *weights, const char *config_json, sora_err *e)
{
	builder b = {0};
	memset(m, 0, sizeof *m);
	TRY(sora_st_open(&m->st, weights, e));
	TRY(infer_config(&m->cfg, m->st, weights, e));
	if (config_json)
		TRY(read_config(&m->cfg, config_json, e));
	const sora_mmdit_config *c = &m->cfg;
	CHECK(
	    e, c->axes_dim[0] + c->axes_dim[1] + c->axes_dim[2] == c->head_dim,
	    "axes_dim [%d, %d, %d] does not sum to the head size %d of %s (set axes_dim in the model config)",
	    c->axes_dim[0], c->axes_dim[1], c->axes_dim[2], c->head_dim, weights);
	for (int i = 0; i < 3; i++)
		CHECK(e, c->axes_dim[i] % 2 == 0, "axes_dim[%d] = %d is odd", i, c->axes_dim[i]);
	CHECK_ALLOC(e, m->dbl = calloc((size_t)c->depth + 1, sizeof *m->dbl));
	CHECK_ALLOC(e, m->sgl = calloc((size_t)c->depth_single + 1, sizeof *m->sgl));
	want_all(&b, m);
	TRY(sora_weights_map_list(m->st, &b.wl, NULL, NULL, e));
	m->n_params = b.params;
	m->n_tensors = b.wl.n;
	m->stored = m->img_in.w.dtype;
	m->quantize_t = m->stored != SORA_F32;
	for (int i = 0; i < b.wl.n; i++)
		if (!mmdit_in_place(b.wl.spec[i].dst))
			m->scratch_n = (size_t)b.max_unit;
	if (m->scratch_n) /* untouched until a forward: only address space at load */
		CHECK_ALLOC(e, m->scratch = malloc(m->scratch_n * sizeof *m->scratch));
	sora_weight_list_free(&b.wl);
	return 0;
fail:
	sora_err_prefix(e, "MMDiT: ");
	sora_weight_list_free(&b.wl);
	sora_mmdit_free(m);
	return -1;
}

void sora_mmdit_free(sora_mmdit *m)
{
	/* Every tensor is a view of the mapping. */
	free(m->dbl);
	free(m->sgl);
	free(m->scratch);
	sora_st_close(m->st);
	memset(m, 0, sizeof *m);
}

/* ---- views for training ---- */

int sora_mmdit_each(sora_mmdit *m, int (*fn)(void *ctx, const char *name, sora_tensor *t, sora_err *e),
		    void *ctx, sora_err *e)
{
	builder b = {0};
	int rc = 0;
	want_all(&b, m);
	CHECK(e, !b.wl.oom, "MMDiT: out of memory listing the tensors");
	for (int i = 0; i < b.wl.n && !rc; i++)
		rc = fn(ctx, b.wl.spec[i].name, b.wl.spec[i].dst, e);
	sora_weight_list_free(&b.wl);
	return rc;
fail:
	sora_weight_list_free(&b.wl);
	return -1;
}

int sora_mmdit_view_config(sora_mmdit *v, const sora_mmdit_config *c, float *buf, sora_err *e)
{
	builder b = {0};
	memset(v, 0, sizeof *v);
	v->cfg = *c;
	CHECK_ALLOC(e, v->dbl = calloc((size_t)c->depth + 1, sizeof *v->dbl));
	CHECK_ALLOC(e, v->sgl = calloc((size_t)c->depth_single + 1, sizeof *v->sgl));
	want_all(&b, v);
	CHECK(e, !b.wl.oom, "MMDiT: out of memory listing the tensors");
	float *at = buf;
	for (int i = 0; i < b.wl.n; i++) {
		const sora_weight_spec *s = &b.wl.spec[i];
		sora_tensor_view(s->dst, SORA_F32, s->ndim, s->shape, at);
		if (at)
			at += sora_tensor_numel(s->dst);
	}
	v->n_params = b.params;
	v->n_tensors = b.wl.n;
	v->stored = SORA_F32;
	v->quantize_t = 0; /* f32 weights: t stays f32, as in the reference's f32 runs */
	sora_weight_list_free(&b.wl);
	return 0;
fail:
	sora_weight_list_free(&b.wl);
	sora_mmdit_free(v);
	return -1;
}

/* Each tensor of v (f32) = m's of the same place, widened from its stored dtype. */
static int copy_tensor(void *ctx, const char *name, sora_tensor *t, sora_err *e)
{
	const sora_tensor **src = ctx;
	const sora_tensor *f = *src;
	(void)name;
	*src = f + 1;
	return sora_to_f32(t->data, f->data, f->dtype, (size_t)sora_tensor_numel(t), e);
}

static int list_tensor(void *ctx, const char *name, sora_tensor *t, sora_err *e)
{
	sora_tensor **at = ctx;
	(void)name, (void)e;
	*(*at)++ = *t;
	return 0;
}

int sora_mmdit_view(sora_mmdit *v, const sora_mmdit *m, float *buf, int copy, sora_err *e)
{
	sora_tensor *from = NULL;
	TRY(sora_mmdit_view_config(v, &m->cfg, buf, e));
	CHECK(e, v->n_params == m->n_params, "MMDiT: %lld parameters listed, the model has %lld",
	      (long long)v->n_params, (long long)m->n_params);
	if (copy) { /* m's tensors in order, then each into its place in buf */
		sora_tensor *at;
		CHECK_ALLOC(e, from = calloc((size_t)v->n_tensors, sizeof *from));
		at = from;
		TRY(sora_mmdit_each((sora_mmdit *)m, list_tensor, &at,
				    e)); /* lists m's tensors; changes nothing */
		const sora_tensor *src = from;
		TRY(sora_mmdit_each(v, copy_tensor, &src, e));
	}
	free(from);
	return 0;
fail:
	free(from);
	sora_mmdit_free(v);
	return -1;
}
