/* MMDiTModel forward (opensora/models/mmdit/{model,layers,math}.py) on the CPU ops. */
#include "mmdit.h"

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

/* f32 tensors aligned for floats are used in place; the others are widened per unit. */
static int in_place(const sora_tensor *t)
{
	return t->dtype == SORA_F32 && (uintptr_t)t->data % sizeof(float) == 0;
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
		if (!in_place(b.wl.spec[i].dst))
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

/* ---- forward ---- */

typedef struct fwd {
	sora_mmdit *m;
	size_t used; /* scratch elements holding widened weights of the current unit */
	const sora_mmdit_hook *hook;
	sora_err *e;
} fwd;

/* The f32 data of a weight (NULL for an absent bias). */
static const float *wt(fwd *f, const sora_tensor *t)
{
	if (!t->data || in_place(t))
		return t->data;
	size_t n = (size_t)sora_tensor_numel(t);
	if (f->used + n > f->m->scratch_n) {
		SORA_FAIL(f->e, "MMDiT: weight scratch overflow (%zu + %zu > %zu)", f->used, n,
			  f->m->scratch_n);
		return NULL;
	}
	float *p = f->m->scratch + f->used;
	if (sora_to_f32(p, t->data, t->dtype, n, f->e) < 0)
		return NULL;
	f->used += n;
	return p;
}

/* y [N, out] = x [N, in]·wᵀ + b. */
static int lin(fwd *f, const sora_mmdit_linear *l, float *y, const float *x, int N)
{
	const float *w = wt(f, &l->w), *b = l->b.data ? wt(f, &l->b) : NULL;
	if (!w || (l->b.data && !b))
		return -1;
	return sora_cpu_linear(y, x, w, b, N, (int)l->w.shape[1], (int)l->w.shape[0], f->e);
}

__attribute__((format(printf, 5, 6))) static int hook(fwd *f, const float *d, int ndim, const int64_t *shape,
						      const char *fmt, ...)
{
	if (!f->hook)
		return 0;
	char name[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	return f->hook->fn(f->hook->ctx, name, d, ndim, shape, f->e);
}

#define H2(d, a, b, ...)       hook(f, d, 2, (int64_t[]){a, b}, __VA_ARGS__)
#define H3(d, a, b, c, ...)    hook(f, d, 3, (int64_t[]){a, b, c}, __VA_ARGS__)
#define H4(d, a, b, c, g, ...) hook(f, d, 4, (int64_t[]){a, b, c, g}, __VA_ARGS__)

/* Activations of one call; sized once from the shapes. */
typedef struct acts {
	float *temb, *t1, *vec, *svec, *gvec; /* [B, 256], [B, C] ... */
	float *img, *txt, *x;                 /* [B·L, C], [B·Lt, C], [B·(Lt+L), C] */
	float *cos, *sin, *ids;               /* [B, Lj, D/2], [B, Lj, 3] */
	float *mod_img, *mod_txt;             /* [B, 6C] */
	float *h, *sq, *sk, *sv, *sa;         /* stream-major [txt; img] [B·Lj, C] */
	float *q, *k, *v, *a;                 /* joint [B, Lj, C] */
	float *o;                             /* [B·Lj, C] */
	float *p;                             /* [B·Lj, 3C + M] fused projections, MLP hidden */
	float *cat;                           /* [B·Lj, C + M] linear2 input */
	float *base;
} acts;

static int acts_alloc(acts *a, const sora_mmdit_config *c, int B, int L, int Lt, sora_err *e)
{
	const size_t C = (size_t)c->hidden, M = (size_t)c->mlp_hidden, Nj = (size_t)B * (L + Lt);
	const size_t half = (size_t)c->head_dim / 2;
	size_t sizes[] = {(size_t)B * SORA_DIT_TIME_DIM,
			  B * C,
			  B * C,
			  B * C,
			  B * C,
			  (size_t)B * L * C,
			  (size_t)B * Lt * C,
			  Nj * C,
			  Nj * half,
			  Nj * half,
			  Nj * 3,
			  6 * (size_t)B * C,
			  6 * (size_t)B * C,
			  Nj * C,
			  Nj * C,
			  Nj * C,
			  Nj * C,
			  Nj * C,
			  Nj * C,
			  Nj * C,
			  Nj * C,
			  Nj * C,
			  Nj * C,
			  Nj * (3 * C + M),
			  Nj * (C + M)};
	float **dst[] = {&a->temb, &a->t1,  &a->vec, &a->svec, &a->gvec,    &a->img,     &a->txt,
			 &a->x,    &a->cos, &a->sin, &a->ids,  &a->mod_img, &a->mod_txt, &a->h,
			 &a->sq,   &a->sk,  &a->sv,  &a->sa,   &a->q,       &a->k,       &a->v,
			 &a->a,    &a->o,   &a->p,   &a->cat};
	size_t total = 0;
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
		total += (sizes[i] + 15) / 16 * 16;
	CHECK_ALLOC(e, a->base = malloc(total * sizeof(float)));
	for (size_t i = 0, at = 0; i < sizeof sizes / sizeof *sizes; i++) {
		*dst[i] = a->base + at;
		at += (sizes[i] + 15) / 16 * 16;
	}
	return 0;
fail:
	return -1;
}

/* An MLPEmbedder: y [B, C] = out_layer(silu(in_layer(x))). */
static int mlp_embed(fwd *f, const sora_mmdit_linear *l0, const sora_mmdit_linear *l1, float *y, float *tmp,
		     const float *x, int B)
{
	const size_t n = (size_t)B * l0->w.shape[0];
	TRY(lin(f, l0, tmp, x, B));            /* tmp [B, C] */
	TRY(sora_cpu_silu(tmp, tmp, n, f->e)); /* tmp [B, C] */
	TRY(lin(f, l1, y, tmp, B));            /* y [B, C] */
	return 0;
fail:
	return -1;
}

/* prepare_block_inputs: a->img, a->txt, a->vec (and svec = silu(vec)), the RoPE tables. */
static int prepare(fwd *f, const sora_mmdit_input *in, acts *a)
{
	const sora_mmdit *m = f->m;
	const sora_mmdit_config *c = &m->cfg;
	const int B = in->B, L = in->L, Lt = in->Lt, C = c->hidden, Lj = L + Lt, hd = c->head_dim / 2;
	sora_err *e = f->e;
	TRY(lin(f, &m->img_in, a->img, in->img, B * L)); /* [B·L, C] */
	TRY(H3(a->img, B, L, C, "img_in"));
	if (c->cond_embed) {
		if (in->cond) {
			TRY(lin(f, &m->cond_in, a->o, in->cond, B * L)); /* [B·L, C] */
		} else {                                                 /* cond_in(0) = its bias */
			const float *b = wt(f, &m->cond_in.b);
			CHECK(e, b, "%s", e->msg);
			for (int i = 0; i < B * L; i++)
				memcpy(a->o + (size_t)i * C, b, (size_t)C * sizeof(float));
		}
		TRY(H3(a->o, B, L, C, "cond_in"));
		for (size_t i = 0; i < (size_t)B * L * C; i++)
			a->img[i] += a->o[i];
	}
	TRY(sora_cpu_timestep_embedding(a->temb, in->timesteps, B, m->quantize_t, e)); /* [B, 256] */
	TRY(H2(a->temb, B, SORA_DIT_TIME_DIM, "timestep_embedding"));
	TRY(mlp_embed(f, &m->time_in0, &m->time_in1, a->vec, a->t1, a->temb, B)); /* vec [B, C] */
	TRY(H2(a->vec, B, C, "time_in"));
	if (c->guidance_embed) {
		CHECK(e, in->guidance, "MMDiT: this model (guidance_in) needs a guidance strength");
		TRY(sora_cpu_timestep_embedding(a->temb, in->guidance, B, m->quantize_t, e)); /* [B, 256] */
		TRY(H2(a->temb, B, SORA_DIT_TIME_DIM, "guidance_embedding"));
		TRY(mlp_embed(f, &m->guid_in0, &m->guid_in1, a->gvec, a->t1, a->temb, B)); /* [B, C] */
		TRY(H2(a->gvec, B, C, "guidance_in"));
		for (int i = 0; i < B * C; i++)
			a->vec[i] += a->gvec[i];
	}
	TRY(mlp_embed(f, &m->vec_in0, &m->vec_in1, a->gvec, a->t1, in->y_vec, B)); /* [B, C] */
	TRY(H2(a->gvec, B, C, "vector_in"));
	for (int i = 0; i < B * C; i++)
		a->vec[i] += a->gvec[i];
	TRY(lin(f, &m->txt_in, a->txt, in->txt, B * Lt)); /* [B·Lt, C] */
	TRY(H3(a->txt, B, Lt, C, "txt_in"));
	TRY(H3(a->img, B, L, C, "block_in.img"));
	TRY(H3(a->txt, B, Lt, C, "block_in.txt"));
	TRY(H2(a->vec, B, C, "block_in.vec"));
	TRY(sora_cpu_silu(a->svec, a->vec, (size_t)B * C, e));                      /* [B, C] */
	TRY(sora_cpu_cat_tokens(a->ids, in->txt_ids, in->img_ids, B, Lt, L, 3, e)); /* [B, Lj, 3] */
	TRY(sora_cpu_rope_table(a->cos, a->sin, a->ids, B, Lj, c->axes_dim, 3, c->theta, !c->liger_rope,
				e)); /* [B, Lj, D/2] */
	TRY(H3(a->cos, B, Lj, hd, "pe.cos"));
	TRY(H3(a->sin, B, Lj, hd, "pe.sin"));
	return 0;
fail:
	return -1;
}

/* One stream's q, k, v into the stream-major buffers at row `row0`, QK-normed. */
static int stream_qkv(fwd *f, const sora_mmdit_stream *s, const float *h, acts *a, size_t row0, int B, int Ls,
		      int blk, const char *k)
{
	const sora_mmdit_config *c = &f->m->cfg;
	const int C = c->hidden, H = c->heads, D = c->head_dim, N = B * Ls;
	float *q = a->sq + row0 * C, *kk = a->sk + row0 * C, *v = a->sv + row0 * C;
	const float *qn = wt(f, &s->q_norm), *kn = wt(f, &s->k_norm);
	sora_err *e = f->e;
	CHECK(e, qn && kn, "%s", e->msg);
	if (c->fused_qkv) {
		TRY(lin(f, &s->qkv, a->p, h, N)); /* [N, 3C] as (K H D) */
		TRY(H3(a->p, B, Ls, (int64_t)3 * C, "double_blocks.%d.%s_attn.qkv", blk, k));
		TRY(sora_cpu_copy_cols(q, C, a->p, 3 * C, N, C, e));                 /* q [N, C] */
		TRY(sora_cpu_copy_cols(kk, C, a->p + C, 3 * C, N, C, e));            /* k [N, C] */
		TRY(sora_cpu_copy_cols(v, C, a->p + (size_t)2 * C, 3 * C, N, C, e)); /* v [N, C] */
	} else {
		TRY(lin(f, &s->q, q, h, N));  /* q [N, C] */
		TRY(lin(f, &s->k, kk, h, N)); /* k [N, C] */
		TRY(lin(f, &s->v, v, h, N));  /* v [N, C] */
		TRY(H3(q, B, Ls, C, "double_blocks.%d.%s_attn.q_proj", blk, k));
		TRY(H3(kk, B, Ls, C, "double_blocks.%d.%s_attn.k_proj", blk, k));
		TRY(H3(v, B, Ls, C, "double_blocks.%d.%s_attn.v_proj", blk, k));
	}
	TRY(sora_cpu_rmsnorm(q, q, qn, N * H, D, 1e-6f, e));   /* [N·H, D] */
	TRY(sora_cpu_rmsnorm(kk, kk, kn, N * H, D, 1e-6f, e)); /* [N·H, D] */
	TRY(H4(q, B, Ls, H, D, "double_blocks.%d.%s_attn.norm.query_norm", blk, k));
	TRY(H4(kk, B, Ls, H, D, "double_blocks.%d.%s_attn.norm.key_norm", blk, k));
	return 0;
fail:
	return -1;
}

/* Joint attention over the stream-major q, k, v [txt (B·Lt); img (B·L)]: RoPE, SDPA, back to stream-major
 * in a->sa. */
static int joint_attention(fwd *f, acts *a, int B, int Lt, int L)
{
	const sora_mmdit_config *c = &f->m->cfg;
	const int C = c->hidden, H = c->heads, D = c->head_dim, Lj = Lt + L;
	const size_t off = (size_t)B * Lt * C;
	sora_err *e = f->e;
	sora_attn_args aa = {.B = B, .H = H, .Tq = Lj, .Tk = Lj, .D = D, .scale = 1.0f / sqrtf((float)D)};
	TRY(sora_cpu_cat_tokens(a->q, a->sq, a->sq + off, B, Lt, L, C, e));             /* [B, Lj, C] */
	TRY(sora_cpu_cat_tokens(a->k, a->sk, a->sk + off, B, Lt, L, C, e));             /* [B, Lj, C] */
	TRY(sora_cpu_cat_tokens(a->v, a->sv, a->sv + off, B, Lt, L, C, e));             /* [B, Lj, C] */
	TRY(sora_cpu_rope_apply(a->q, a->cos, a->sin, B, Lj, H, D, !c->liger_rope, e)); /* [B, Lj, C] */
	TRY(sora_cpu_rope_apply(a->k, a->cos, a->sin, B, Lj, H, D, !c->liger_rope, e)); /* [B, Lj, C] */
	TRY(sora_cpu_attention(a->a, a->q, a->k, a->v, &aa, e));                        /* [B, Lj, C] */
	TRY(sora_cpu_split_tokens(a->sa, a->sa + off, a->a, B, Lt, L, C, e));           /* stream-major */
	return 0;
fail:
	return -1;
}

/* After attention, one stream: s += g1·proj(att); s += g2·mlp((1 + sc2)·LN(s) + sh2). */
static int stream_out(fwd *f, const sora_mmdit_stream *s, float *x, const float *mod, const float *att,
		      acts *a, int B, int Ls, int blk, const char *k)
{
	const sora_mmdit_config *c = &f->m->cfg;
	const int C = c->hidden, M = c->mlp_hidden, N = B * Ls;
	sora_err *e = f->e;
	TRY(H3(att, B, Ls, C, "double_blocks.%d.%s_attn.proj.input", blk, k));
	TRY(lin(f, &s->proj, a->o, att, N)); /* [N, C] */
	TRY(H3(a->o, B, Ls, C, "double_blocks.%d.%s_attn.proj", blk, k));
	TRY(sora_cpu_gated_add(x, a->o, mod + (size_t)2 * C, B, Ls, C, 6 * C, e)); /* x [N, C] */
	TRY(sora_cpu_adaln(a->h, x, mod + (size_t)3 * C, mod + (size_t)4 * C, B, Ls, C, 6 * C, 1e-6f,
			   e));               /* [N, C] */
	TRY(lin(f, &s->mlp0, a->p, a->h, N)); /* [N, M] */
	TRY(H3(a->p, B, Ls, M, "double_blocks.%d.%s_mlp.0", blk, k));
	TRY(sora_cpu_gelu_tanh(a->p, a->p, (size_t)N * M, e)); /* [N, M] */
	TRY(lin(f, &s->mlp2, a->o, a->p, N));                  /* [N, C] */
	TRY(H3(a->o, B, Ls, C, "double_blocks.%d.%s_mlp.2", blk, k));
	TRY(sora_cpu_gated_add(x, a->o, mod + (size_t)5 * C, B, Ls, C, 6 * C, e)); /* x [N, C] */
	return 0;
fail:
	return -1;
}

static int double_block(fwd *f, const sora_mmdit_double *d, acts *a, int B, int Lt, int L, int blk)
{
	const int C = f->m->cfg.hidden;
	const size_t off = (size_t)B * Lt * C;
	sora_err *e = f->e;
	TRY(lin(f, &d->img.mod, a->mod_img, a->svec, B)); /* [B, 6C] */
	TRY(lin(f, &d->txt.mod, a->mod_txt, a->svec, B)); /* [B, 6C] */
	TRY(H2(a->mod_img, B, (int64_t)6 * C, "double_blocks.%d.img_mod.lin", blk));
	TRY(H2(a->mod_txt, B, (int64_t)6 * C, "double_blocks.%d.txt_mod.lin", blk));
	TRY(sora_cpu_adaln(a->h, a->img, a->mod_img, a->mod_img + C, B, L, C, 6 * C, 1e-6f,
			   e)); /* [B·L, C] */
	TRY(stream_qkv(f, &d->img, a->h, a, (size_t)B * Lt, B, L, blk, "img"));
	TRY(sora_cpu_adaln(a->h, a->txt, a->mod_txt, a->mod_txt + C, B, Lt, C, 6 * C, 1e-6f,
			   e)); /* [B·Lt, C] */
	TRY(stream_qkv(f, &d->txt, a->h, a, 0, B, Lt, blk, "txt"));
	TRY(joint_attention(f, a, B, Lt, L));
	TRY(stream_out(f, &d->img, a->img, a->mod_img, a->sa + off, a, B, L, blk, "img"));
	TRY(stream_out(f, &d->txt, a->txt, a->mod_txt, a->sa, a, B, Lt, blk, "txt"));
	TRY(H3(a->img, B, L, C, "double_blocks.%d.out.img", blk));
	TRY(H3(a->txt, B, Lt, C, "double_blocks.%d.out.txt", blk));
	return 0;
fail:
	return -1;
}

static int single_block(fwd *f, const sora_mmdit_single *s, acts *a, int B, int Lj, int blk)
{
	const sora_mmdit_config *c = &f->m->cfg;
	const int C = c->hidden, M = c->mlp_hidden, H = c->heads, D = c->head_dim, N = B * Lj;
	const int W = c->fused_qkv ? 3 * C + M : C + M; /* width of the big projection, MLP part last */
	const float *qn = wt(f, &s->q_norm), *kn = wt(f, &s->k_norm);
	sora_err *e = f->e;
	sora_attn_args aa = {.B = B, .H = H, .Tq = Lj, .Tk = Lj, .D = D, .scale = 1.0f / sqrtf((float)D)};
	CHECK(e, qn && kn, "%s", e->msg);
	TRY(lin(f, &s->mod, a->mod_img, a->svec, B)); /* [B, 3C] */
	TRY(H2(a->mod_img, B, (int64_t)3 * C, "single_blocks.%d.modulation.lin", blk));
	TRY(sora_cpu_adaln(a->h, a->x, a->mod_img, a->mod_img + C, B, Lj, C, 3 * C, 1e-6f, e)); /* [N, C] */
	if (c->fused_qkv) {
		TRY(lin(f, &s->linear1, a->p, a->h, N)); /* [N, 3C + M] */
		TRY(H3(a->p, B, Lj, W, "single_blocks.%d.linear1", blk));
		TRY(sora_cpu_copy_cols(a->q, C, a->p, W, N, C, e));                 /* q [N, C] */
		TRY(sora_cpu_copy_cols(a->k, C, a->p + C, W, N, C, e));             /* k [N, C] */
		TRY(sora_cpu_copy_cols(a->v, C, a->p + (size_t)2 * C, W, N, C, e)); /* v [N, C] */
	} else {
		TRY(lin(f, &s->q, a->q, a->h, N));     /* q [N, C] */
		TRY(lin(f, &s->k, a->k, a->h, N));     /* k [N, C] */
		TRY(lin(f, &s->v_mlp, a->p, a->h, N)); /* [N, C + M] */
		TRY(H3(a->q, B, Lj, C, "single_blocks.%d.q_proj", blk));
		TRY(H3(a->k, B, Lj, C, "single_blocks.%d.k_proj", blk));
		TRY(H3(a->p, B, Lj, W, "single_blocks.%d.v_mlp", blk));
		TRY(sora_cpu_copy_cols(a->v, C, a->p, W, N, C, e)); /* v [N, C] */
	}
	TRY(sora_cpu_rmsnorm(a->q, a->q, qn, N * H, D, 1e-6f, e)); /* [N·H, D] */
	TRY(sora_cpu_rmsnorm(a->k, a->k, kn, N * H, D, 1e-6f, e)); /* [N·H, D] */
	TRY(H4(a->q, B, Lj, H, D, "single_blocks.%d.norm.query_norm", blk));
	TRY(H4(a->k, B, Lj, H, D, "single_blocks.%d.norm.key_norm", blk));
	TRY(sora_cpu_rope_apply(a->q, a->cos, a->sin, B, Lj, H, D, !c->liger_rope, e)); /* [N, C] */
	TRY(sora_cpu_rope_apply(a->k, a->cos, a->sin, B, Lj, H, D, !c->liger_rope, e)); /* [N, C] */
	TRY(sora_cpu_attention(a->a, a->q, a->k, a->v, &aa, e));                        /* [N, C] */
	TRY(sora_cpu_copy_cols(a->cat, C + M, a->a, C, N, C, e));                       /* cat[:, :C] */
	TRY(sora_cpu_gelu_tanh_cols(a->cat + C, C + M, a->p + W - M, W, N, M, e));      /* cat[:, C:] */
	TRY(H3(a->cat, B, Lj, C + M, "single_blocks.%d.linear2.input", blk));
	TRY(lin(f, &s->linear2, a->o, a->cat, N)); /* [N, C] */
	TRY(H3(a->o, B, Lj, C, "single_blocks.%d.linear2", blk));
	TRY(sora_cpu_gated_add(a->x, a->o, a->mod_img + (size_t)2 * C, B, Lj, C, 3 * C, e)); /* x [N, C] */
	TRY(H3(a->x, B, Lj, C, "single_blocks.%d.out", blk));
	return 0;
fail:
	return -1;
}

int sora_mmdit_forward(sora_mmdit *m, const sora_mmdit_input *in, float *out, const sora_mmdit_hook *hk,
		       sora_err *e)
{
	const sora_mmdit_config *c = &m->cfg;
	acts a = {0};
	fwd ff = {.m = m, .hook = hk, .e = e}, *f = &ff;
	const int B = in->B, L = in->L, Lt = in->Lt, Lj = L + Lt, C = c->hidden;
	/* Row counts are ints in the ops (the QK norm sees B·Lj·H rows); offsets are size_t. */
	CHECK(e, B > 0 && L > 0 && Lt >= 0 && (int64_t)B * Lj * c->heads < INT32_MAX,
	      "MMDiT forward: bad sizes B %d, L %d, Lt %d", B, L, Lt);
	CHECK(e,
	      in->img && in->img_ids && (in->txt || !Lt) && (in->txt_ids || !Lt) && in->timesteps &&
		  in->y_vec,
	      "MMDiT forward: an input is missing");
	TRY(acts_alloc(&a, c, B, L, Lt, e));
	TRY(prepare(f, in, &a));
	for (int i = 0; i < c->depth; i++) {
		f->used = 0;
		TRY(double_block(f, &m->dbl[i], &a, B, Lt, L, i));
	}
	TRY(sora_cpu_cat_tokens(a.x, a.txt, a.img, B, Lt, L, C, e)); /* [B, Lj, C] */
	for (int i = 0; i < c->depth_single; i++) {
		f->used = 0;
		TRY(single_block(f, &m->sgl[i], &a, B, Lj, i));
	}
	f->used = 0;
	TRY(sora_cpu_split_tokens(NULL, a.img, a.x, B, Lt, L, C, e)); /* [B·L, C] */
	TRY(lin(f, &m->final_mod, a.mod_img, a.svec, B));             /* [B, 2C] */
	TRY(H2(a.mod_img, B, (int64_t)2 * C, "final_layer.adaLN_modulation"));
	TRY(sora_cpu_adaln(a.h, a.img, a.mod_img, a.mod_img + C, B, L, C, 2 * C, 1e-6f, e)); /* [B·L, C] */
	TRY(lin(f, &m->final_linear, out, a.h, B * L));                                      /* [B·L, in] */
	TRY(H3(out, B, L, c->in_channels, "final_layer.out"));
	TRY(H3(out, B, L, c->in_channels, "output"));
	free(a.base);
	return 0;
fail:
	free(a.base);
	return -1;
}
