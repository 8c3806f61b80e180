/* AutoencoderKLCausal3D forward (Open-Sora 2.0, opensora/models/hunyuan_vae) on the CPU video ops. */
#include "vae_hunyuan.h"

#include "../nn/ops.h"
#include "../nn/ops_video.h"
#include "../util/big_alloc.h"
#include "../util/json.h"
#include "weights.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GN_EPS 1e-6f

/* ---- configuration ---- */

void sora_vae_config_default(sora_vae_config *c)
{
	*c = (sora_vae_config){.in_channels = 3,
			       .out_channels = 3,
			       .latent_channels = 16,
			       .layers_per_block = 2,
			       .norm_num_groups = 32,
			       .time_compression_ratio = 4,
			       .spatial_compression_ratio = 8,
			       .mid_block_add_attention = 1,
			       .nblocks = 4,
			       .block_out_channels = {128, 256, 512, 512},
			       .scale_factor = 0.476986f,
			       .shift_factor = 0.0f,
			       .sample_size = 256,
			       .sample_tsize = 64,
			       .tile_overlap_factor = 0.25};
}

int sora_vae_config_read(sora_vae_config *c, const char *path, sora_err *e)
{
	sora_json j = {0};
	char key[128];
	int64_t v;
	double d;
	const char *act;
	TRY(sora_json_load(&j, path, e));
	const char *pre = sora_json_find(&j, "AutoEncoder3DConfig") ? "AutoEncoder3DConfig." : "";
	static const struct {
		const char *key;
		size_t off;
		int64_t lo, hi;
	} ints[] = {
	    {"norm_num_groups", offsetof(sora_vae_config, norm_num_groups), 1, 4096},
	    {"time_compression_ratio", offsetof(sora_vae_config, time_compression_ratio), 4, 8},
	    {"spatial_compression_ratio", offsetof(sora_vae_config, spatial_compression_ratio), 1, 64},
	    {"sample_size", offsetof(sora_vae_config, sample_size), 8, 1 << 16},
	    {"sample_tsize", offsetof(sora_vae_config, sample_tsize), 4, 1 << 16},
	};
	for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
		int *dst = (int *)((char *)c + ints[i].off);
		snprintf(key, sizeof key, "%s%s", pre, ints[i].key);
		TRY(sora_json_int_or(&j, key, ints[i].lo, ints[i].hi, *dst, &v, e));
		*dst = (int)v;
	}
	snprintf(key, sizeof key, "%sscale_factor", pre);
	TRY(sora_json_double_or(&j, key, c->scale_factor, &d, e));
	c->scale_factor = (float)d;
	snprintf(key, sizeof key, "%sshift_factor", pre);
	TRY(sora_json_double_or(&j, key, c->shift_factor, &d, e));
	c->shift_factor = (float)d;
	snprintf(key, sizeof key, "%stile_overlap_factor", pre);
	TRY(sora_json_double_or(&j, key, c->tile_overlap_factor, &c->tile_overlap_factor, e));
	CHECK(e, c->tile_overlap_factor >= 0 && c->tile_overlap_factor < 1, "%s: %s must be in [0, 1)", path,
	      key);
	CHECK(e, c->scale_factor != 0, "%s: scale_factor is 0", path);
	snprintf(key, sizeof key, "%suse_spatial_tiling", pre);
	TRY(sora_json_bool_or(&j, key, c->use_spatial_tiling, &c->use_spatial_tiling, e));
	snprintf(key, sizeof key, "%suse_temporal_tiling", pre);
	TRY(sora_json_bool_or(&j, key, c->use_temporal_tiling, &c->use_temporal_tiling, e));
	snprintf(key, sizeof key, "%sact_fn", pre);
	if (sora_json_find(&j, key)) {
		TRY(sora_json_string(&j, key, &act, e));
		CHECK(e, !strcmp(act, "silu") || !strcmp(act, "swish"),
		      "%s: act_fn \"%s\" is not supported (silu)", path, act);
	}
	CHECK(e, c->time_compression_ratio == 4 || c->time_compression_ratio == 8,
	      "%s: time_compression_ratio %d is not 4 or 8 (as the reference)", path,
	      c->time_compression_ratio);
	sora_json_free(&j);
	return 0;
fail:
	sora_json_free(&j);
	return -1;
}

static int log2i(int v)
{
	int n = 0;
	while (v > 1)
		v >>= 1, n++;
	return n;
}

/* Block i of nb: does it halve H and W, does it halve T (vae.py's rule for ratios 4 and 8)? */
static void block_scaling(const sora_vae_config *c, int i, int *spatial, int *temporal)
{
	const int ns = log2i(c->spatial_compression_ratio), nt = log2i(c->time_compression_ratio);
	*spatial = i < ns;
	*temporal = c->time_compression_ratio == 4 ? i >= c->nblocks - 1 - nt && i != c->nblocks - 1 : i < ns;
}

/* The channel counts the checkpoint's shapes tell. */
static int shape_config(sora_vae_config *c, const sora_safetensors *st, sora_err *e)
{
	char name[128];
	const sora_st_tensor *t;
	static const char *const need[] = {"encoder.conv_in.conv.weight", "post_quant_conv.weight",
					   "decoder.conv_out.conv.weight"};
	for (int i = 0; i < 3; i++) {
		t = sora_st_find(st, need[i]);
		CHECK(e, t && t->ndim == 5, "not a HunyuanVideo VAE checkpoint: no 5-D '%s'", need[i]);
	}
	c->in_channels = (int)sora_st_find(st, need[0])->shape[1];
	c->latent_channels = (int)sora_st_find(st, need[1])->shape[0];
	c->out_channels = (int)sora_st_find(st, need[2])->shape[0];
	for (c->nblocks = 0;; c->nblocks++) {
		snprintf(name, sizeof name, "encoder.down_blocks.%d.resnets.0.conv1.conv.weight", c->nblocks);
		if (!(t = sora_st_find(st, name)) || t->ndim != 5)
			break;
		CHECK(e, c->nblocks < SORA_VAE_MAX_BLOCKS, "more than %d down blocks", SORA_VAE_MAX_BLOCKS);
		c->block_out_channels[c->nblocks] = (int)t->shape[0];
	}
	CHECK(e, c->nblocks > 0, "not a HunyuanVideo VAE checkpoint: no 'encoder.down_blocks.0.resnets.0'");
	for (c->layers_per_block = 0; c->layers_per_block < 64; c->layers_per_block++) {
		snprintf(name, sizeof name, "encoder.down_blocks.0.resnets.%d.conv1.conv.weight",
			 c->layers_per_block);
		if (!sora_st_find(st, name))
			break;
	}
	c->mid_block_add_attention = sora_st_find(st, "encoder.mid_block.attentions.0.to_q.weight") != NULL;
	for (int i = 0; i < c->nblocks; i++)
		CHECK(
		    e, c->block_out_channels[i] % c->norm_num_groups == 0,
		    "block %d has %d channels, not a multiple of norm_num_groups %d (set it with the config)",
		    i, c->block_out_channels[i], c->norm_num_groups);
	return 0;
fail:
	return -1;
}

/* ---- the expected tensors ---- */

static void want_conv(sora_weight_list *l, sora_vae_conv *c, int cin, int cout, int k, int st, int sh,
		      const char *base)
{
	*c = (sora_vae_conv){.cin = cin, .cout = cout, .k = k, .st = st, .sh = sh, .sw = sh};
	sora_weight_want(l, &c->w, 5, (int64_t[]){cout, cin, k, k, k}, "%s.weight", base);
	sora_weight_want(l, &c->b, 1, (int64_t[]){cout}, "%s.bias", base);
}

static void want_norm(sora_weight_list *l, sora_tensor *w, sora_tensor *b, int C, const char *base)
{
	sora_weight_want(l, w, 1, (int64_t[]){C}, "%s.weight", base);
	sora_weight_want(l, b, 1, (int64_t[]){C}, "%s.bias", base);
}

static void want_resnet(sora_weight_list *l, sora_vae_resnet *r, int cin, int cout, const char *base)
{
	char n[160];
	r->cin = cin, r->cout = cout, r->shortcut = cin != cout;
	snprintf(n, sizeof n, "%s.norm1", base);
	want_norm(l, &r->n1w, &r->n1b, cin, n);
	snprintf(n, sizeof n, "%s.conv1.conv", base);
	want_conv(l, &r->c1, cin, cout, 3, 1, 1, n);
	snprintf(n, sizeof n, "%s.norm2", base);
	want_norm(l, &r->n2w, &r->n2b, cout, n);
	snprintf(n, sizeof n, "%s.conv2.conv", base);
	want_conv(l, &r->c2, cout, cout, 3, 1, 1, n);
	if (r->shortcut) {
		snprintf(n, sizeof n, "%s.conv_shortcut.conv", base);
		want_conv(l, &r->sc, cin, cout, 1, 1, 1, n);
	}
}

static void want_mid(sora_weight_list *l, sora_vae_half *h, int C, int attn, const char *base)
{
	char n[160];
	for (int j = 0; j < 2; j++) {
		snprintf(n, sizeof n, "%s.mid_block.resnets.%d", base, j);
		want_resnet(l, &h->mid[j], C, C, n);
	}
	if (!attn)
		return;
	sora_vae_attn *a = &h->attn;
	const int64_t w2[] = {C, C}, w1[] = {C};
	sora_tensor *t[] = {&a->q_w, &a->q_b, &a->k_w, &a->k_b, &a->v_w, &a->v_b, &a->o_w, &a->o_b};
	static const char *const proj[] = {"to_q", "to_k", "to_v", "to_out.0"};
	snprintf(n, sizeof n, "%s.mid_block.attentions.0.group_norm", base);
	want_norm(l, &a->gn_w, &a->gn_b, C, n);
	for (size_t i = 0; i < 4; i++) {
		sora_weight_want(l, t[2 * i], 2, w2, "%s.mid_block.attentions.0.%s.weight", base, proj[i]);
		sora_weight_want(l, t[2 * i + 1], 1, w1, "%s.mid_block.attentions.0.%s.bias", base, proj[i]);
	}
}

/* Lists every tensor of the model in m (which gets its structure) into l. */
static int want_all(sora_vae *m, sora_weight_list *l, sora_err *e)
{
	const sora_vae_config *c = &m->cfg;
	const int nb = c->nblocks, L = c->latent_channels, top = c->block_out_channels[nb - 1];
	char n[160];
	int sp, tm;
	/* encoder */
	want_conv(l, &m->enc.conv_in, c->in_channels, c->block_out_channels[0], 3, 1, 1,
		  "encoder.conv_in.conv");
	for (int i = 0, out = c->block_out_channels[0]; i < nb; i++) {
		sora_vae_block *b = &m->enc.blocks[i];
		const int cin = out;
		out = c->block_out_channels[i];
		b->nres = c->layers_per_block;
		CHECK_ALLOC(e, b->res = calloc((size_t)b->nres, sizeof *b->res));
		for (int j = 0; j < b->nres; j++) {
			snprintf(n, sizeof n, "encoder.down_blocks.%d.resnets.%d", i, j);
			want_resnet(l, &b->res[j], j ? out : cin, out, n);
		}
		block_scaling(c, i, &sp, &tm);
		if ((b->has_sampler = sp || tm)) {
			snprintf(n, sizeof n, "encoder.down_blocks.%d.downsamplers.0.conv.conv", i);
			want_conv(l, &b->sampler, out, out, 3, tm ? 2 : 1, sp ? 2 : 1, n);
		}
	}
	want_mid(l, &m->enc, top, c->mid_block_add_attention, "encoder");
	want_norm(l, &m->enc.norm_w, &m->enc.norm_b, top, "encoder.conv_norm_out");
	want_conv(l, &m->enc.conv_out, top, 2 * L, 3, 1, 1, "encoder.conv_out.conv");
	want_conv(l, &m->quant_conv, 2 * L, 2 * L, 1, 1, 1, "quant_conv");
	/* decoder */
	want_conv(l, &m->post_quant_conv, L, L, 1, 1, 1, "post_quant_conv");
	want_conv(l, &m->dec.conv_in, L, top, 3, 1, 1, "decoder.conv_in.conv");
	want_mid(l, &m->dec, top, c->mid_block_add_attention, "decoder");
	for (int i = 0, out = top; i < nb; i++) {
		sora_vae_block *b = &m->dec.blocks[i];
		const int cin = out;
		out = c->block_out_channels[nb - 1 - i];
		b->nres = c->layers_per_block + 1;
		CHECK_ALLOC(e, b->res = calloc((size_t)b->nres, sizeof *b->res));
		for (int j = 0; j < b->nres; j++) {
			snprintf(n, sizeof n, "decoder.up_blocks.%d.resnets.%d", i, j);
			want_resnet(l, &b->res[j], j ? out : cin, out, n);
		}
		block_scaling(c, i, &sp, &tm);
		b->ft = tm ? 2 : 1, b->fhw = sp ? 2 : 1;
		if ((b->has_sampler = sp || tm)) {
			snprintf(n, sizeof n, "decoder.up_blocks.%d.upsamplers.0.conv.conv", i);
			want_conv(l, &b->sampler, out, out, 3, 1, 1, n);
		}
	}
	want_norm(l, &m->dec.norm_w, &m->dec.norm_b, c->block_out_channels[0], "decoder.conv_norm_out");
	want_conv(l, &m->dec.conv_out, c->block_out_channels[0], c->out_channels, 3, 1, 1,
		  "decoder.conv_out.conv");
	return 0;
fail:
	return -1;
}

/* Opens the checkpoint and lists the model it holds: the config (shapes + JSON) and every tensor. */
static int prepare(sora_vae *m, sora_safetensors **st, sora_weight_list *l, const char *weights_path,
		   const char *config_path, sora_err *e)
{
	memset(m, 0, sizeof *m);
	sora_vae_config_default(&m->cfg);
	if (config_path)
		TRY(sora_vae_config_read(&m->cfg, config_path, e));
	TRY(sora_st_open(st, weights_path, e));
	TRY(shape_config(&m->cfg, *st, e));
	TRY(want_all(m, l, e));
	return 0;
fail:
	return -1;
}

int sora_vae_load(sora_vae *m, const char *weights_path, const char *config_path, sora_err *e)
{
	sora_safetensors *st = NULL;
	sora_weight_list wl = {0};
	TRY(prepare(m, &st, &wl, weights_path, config_path, e));
	TRY(sora_weights_load_list(st, &wl, NULL, SORA_F32, NULL, e));
	sora_st_close(st);
	sora_weight_list_free(&wl);
	return 0;
fail:
	sora_err_prefix(e, "HunyuanVideo VAE: ");
	sora_st_close(st);
	sora_weight_list_free(&wl);
	sora_vae_free(m);
	return -1;
}

int sora_vae_check(const char *weights_path, const char *config_path, int64_t *params, sora_err *e)
{
	sora_safetensors *st = NULL;
	sora_weight_list wl = {0};
	sora_vae m;
	TRY(prepare(&m, &st, &wl, weights_path, config_path, e));
	TRY(sora_weights_map_list(st, &wl, NULL, NULL, e));
	*params = 0;
	for (int i = 0; i < wl.n; i++) {
		int64_t n = 1;
		for (int d = 0; d < wl.spec[i].ndim; d++)
			n *= wl.spec[i].shape[d];
		*params += n;
	}
	sora_st_close(st);
	sora_weight_list_free(&wl);
	sora_vae_free(&m);
	return 0;
fail:
	sora_err_prefix(e, "HunyuanVideo VAE: ");
	sora_st_close(st);
	sora_weight_list_free(&wl);
	sora_vae_free(&m);
	return -1;
}

int sora_vae_init_random(sora_vae *m, const sora_vae_config *c, uint64_t seed, sora_err *e)
{
	sora_weight_list wl = {0};
	memset(m, 0, sizeof *m);
	m->cfg = *c;
	CHECK(e, c->nblocks > 0 && c->nblocks <= SORA_VAE_MAX_BLOCKS, "bad block count %d", c->nblocks);
	TRY(want_all(m, &wl, e));
	CHECK_ALLOC(e, !wl.oom);
	for (int i = 0; i < wl.n; i++) {
		const sora_weight_spec *s = &wl.spec[i];
		TRY(sora_tensor_alloc(s->dst, SORA_F32, s->ndim, s->shape, e));
		float *d = s->dst->data;
		const int64_t n = sora_tensor_numel(s->dst);
		const int norm = strstr(s->name, "norm") != NULL, bias = strstr(s->name, ".bias") != NULL;
		int64_t fan_in = 1;
		for (int k = 1; k < s->ndim; k++)
			fan_in *= s->shape[k];
		if (norm) {
			for (int64_t k = 0; k < n; k++)
				d[k] = bias ? 0.0f : 1.0f;
			continue;
		}
		/* uniform with the std of the header's normal: cheap for 246M values */
		const double scale = sqrt(3.0) / sqrt((double)(bias ? s->shape[0] : fan_in)) / 2.0;
		uint64_t st = seed * 0x9e3779b97f4a7c15ull + (uint64_t)i;
		for (int64_t k = 0; k < n; k++) {
			st = st * 6364136223846793005ull + 1442695040888963407ull;
			d[k] = (float)(((double)(st >> 11) / 9007199254740992.0 * 2 - 1) * scale);
		}
	}
	sora_weight_list_free(&wl);
	return 0;
fail:
	sora_weight_list_free(&wl);
	sora_vae_free(m);
	return -1;
}

static void free_conv(sora_vae_conv *c)
{
	sora_tensor_free(&c->w);
	sora_tensor_free(&c->b);
}

static void free_resnet(sora_vae_resnet *r)
{
	sora_tensor *t[] = {&r->n1w, &r->n1b, &r->n2w, &r->n2b};
	for (int i = 0; i < 4; i++)
		sora_tensor_free(t[i]);
	free_conv(&r->c1);
	free_conv(&r->c2);
	free_conv(&r->sc);
}

static void free_half(sora_vae_half *h)
{
	sora_vae_attn *a = &h->attn;
	sora_tensor *t[] = {&a->gn_w, &a->gn_b, &a->q_w, &a->q_b, &a->k_w,    &a->k_b,
			    &a->v_w,  &a->v_b,  &a->o_w, &a->o_b, &h->norm_w, &h->norm_b};
	for (int i = 0; i < 12; i++)
		sora_tensor_free(t[i]);
	free_conv(&h->conv_in);
	free_conv(&h->conv_out);
	for (int j = 0; j < 2; j++)
		free_resnet(&h->mid[j]);
	for (int i = 0; i < SORA_VAE_MAX_BLOCKS; i++) {
		for (int j = 0; h->blocks[i].res && j < h->blocks[i].nres; j++)
			free_resnet(&h->blocks[i].res[j]);
		free(h->blocks[i].res);
		h->blocks[i].res = NULL;
		free_conv(&h->blocks[i].sampler);
	}
}

void sora_vae_free(sora_vae *m)
{
	free_half(&m->enc);
	free_half(&m->dec);
	free_conv(&m->quant_conv);
	free_conv(&m->post_quant_conv);
}

/* ---- activations: one clip [C, T, H, W], from the calling thread's big-buffer pool ---- */

typedef struct act {
	float *d;
	size_t cap; /* bytes in d */
	int C, T, H, W;
} act;

static int64_t act_n(const act *a)
{
	return (int64_t)a->C * a->T * a->H * a->W;
}

static int act_new(act *a, int C, int T, int H, int W, sora_err *e)
{
	*a = (act){.C = C, .T = T, .H = H, .W = W};
	CHECK_ALLOC(e, a->d = sora_big_take((size_t)(act_n(a) ? act_n(a) : 1) * sizeof *a->d, &a->cap));
	return 0;
fail:
	return -1;
}

static void act_free(act *a)
{
	sora_big_give(a->d, a->cap);
	a->d = NULL;
}

/* Replaces *x by y (x's buffer is freed). */
static void act_move(act *x, act *y)
{
	act_free(x);
	*x = *y;
	*y = (act){0};
}

__attribute__((format(printf, 3, 4))) static void probe(const sora_vae *m, const act *a, const char *fmt, ...)
{
	char name[96];
	va_list ap;
	if (!m->probe)
		return;
	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	m->probe(m->probe_ctx, name, a->d, act_n(a));
}

static void add_into(float *y, const float *x, int64_t n)
{
#pragma omp parallel for if (n > 65536)
	for (int64_t i = 0; i < n; i++)
		y[i] += x[i];
}

/* ---- blocks ---- */

static int conv_fwd(const sora_vae_conv *c, const act *x, act *y, sora_err *e)
{
	sora_conv3d_args a = {.cin = c->cin,
			      .cout = c->cout,
			      .T = x->T,
			      .H = x->H,
			      .W = x->W,
			      .k = c->k,
			      .st = c->st,
			      .sh = c->sh,
			      .sw = c->sw};
	int To, Ho, Wo;
	TRY(sora_conv3d_out_size(&a, &To, &Ho, &Wo, e));
	TRY(act_new(y, c->cout, To, Ho, Wo, e));
	TRY(sora_cpu_causal_conv3d(y->d, x->d, c->w.data, c->b.data, &a, e));
	return 0;
fail:
	act_free(y);
	return -1;
}

/* *x ← conv(*x) */
static int conv_step(const sora_vae_conv *c, act *x, sora_err *e)
{
	act y = {0};
	TRY(conv_fwd(c, x, &y, e));
	act_move(x, &y);
	return 0;
fail:
	return -1;
}

/* ResnetBlockCausal3D: *x ← shortcut(x) + conv2(SiLU(GN(conv1(SiLU(GN(x)))))). Three clip-sized buffers at
 * most: with a shortcut conv, x is only needed for it, so it is taken first and x is normalised in place. */
static int resnet_step(const sora_vae *m, const sora_vae_resnet *r, act *x, sora_err *e)
{
	act h = {0}, h2 = {0}, y = {0}, s = {0};
	const int G = m->cfg.norm_num_groups;
	const int64_t S = (int64_t)x->T * x->H * x->W;
	if (r->shortcut) {
		TRY(conv_fwd(&r->sc, x, &s, e)); /* s [cout, T, H, W] */
		TRY(sora_cpu_group_norm(x->d, x->d, r->n1w.data, r->n1b.data, r->cin, G, S, GN_EPS, 1, e));
		TRY(conv_fwd(&r->c1, x, &h2, e)); /* h2 [cout, T, H, W] */
		act_free(x);
	} else {
		TRY(act_new(&h, x->C, x->T, x->H, x->W, e));
		TRY(sora_cpu_group_norm(h.d, x->d, r->n1w.data, r->n1b.data, r->cin, G, S, GN_EPS, 1,
					e));       /* h [cin, T, H, W] */
		TRY(conv_fwd(&r->c1, &h, &h2, e)); /* h2 [cout, T, H, W] */
		act_free(&h);
	}
	TRY(sora_cpu_group_norm(h2.d, h2.d, r->n2w.data, r->n2b.data, r->cout, G, S, GN_EPS, 1, e)); /* h2 */
	TRY(conv_fwd(&r->c2, &h2, &y, e)); /* y [cout, T, H, W] */
	act_free(&h2);
	add_into(y.d, r->shortcut ? s.d : x->d, act_n(&y)); /* y [cout, T, H, W] */
	act_free(&s);
	act_move(x, &y);
	return 0;
fail:
	act_free(&h);
	act_free(&h2);
	act_free(&y);
	act_free(&s);
	return -1;
}

/* diffusers Attention (one head of C, GroupNorm first, residual) over the tokens "c f h w → (f h w) c"
 * with the frame-causal mask. */
static int attn_step(const sora_vae *m, const sora_vae_attn *a, act *x, const char *name, sora_err *e)
{
	const int C = x->C;
	const int64_t L = (int64_t)x->T * x->H * x->W, n = (int64_t)C * L;
	float *buf = sora_big_alloc((size_t)(5 * n) * sizeof *buf);
	CHECK_ALLOC(e, buf);
	float *g = buf, *t = g + n, *q = t + n, *k = q + n, *v = k + n;
	TRY(sora_cpu_group_norm(g, x->d, a->gn_w.data, a->gn_b.data, C, m->cfg.norm_num_groups, L, GN_EPS, 0,
				e));                                           /* g [C, L] */
	TRY(sora_cpu_transpose(t, g, C, L, e));                                /* t [L, C] */
	TRY(sora_cpu_linear(q, t, a->q_w.data, a->q_b.data, (int)L, C, C, e)); /* q [L, C] */
	TRY(sora_cpu_linear(k, t, a->k_w.data, a->k_b.data, (int)L, C, C, e)); /* k [L, C] */
	TRY(sora_cpu_linear(v, t, a->v_w.data, a->v_b.data, (int)L, C, C, e)); /* v [L, C] */
	TRY(sora_cpu_frame_causal_attention(g, q, k, v, x->T, x->H * x->W, C, 1.0f / sqrtf((float)C),
					    e));                               /* g [L, C] */
	TRY(sora_cpu_linear(t, g, a->o_w.data, a->o_b.data, (int)L, C, C, e)); /* t [L, C] */
	TRY(sora_cpu_transpose(q, x->d, C, L, e));                             /* q [L, C]: residual */
	add_into(t, q, n);                                                     /* t [L, C] */
	if (m->probe)
		m->probe(m->probe_ctx, name, t, n);
	TRY(sora_cpu_transpose(x->d, t, L, C, e)); /* x [C, T, H, W] */
	free(buf);
	return 0;
fail:
	free(buf);
	return -1;
}

static int mid_step(const sora_vae *m, const sora_vae_half *h, act *x, const char *side, sora_err *e)
{
	char name[64];
	TRY(resnet_step(m, &h->mid[0], x, e));
	probe(m, x, "%s.mid_block.resnets.0", side);
	if (m->cfg.mid_block_add_attention) {
		snprintf(name, sizeof name, "%s.mid_block.attentions.0", side);
		TRY(attn_step(m, &h->attn, x, name, e));
	}
	TRY(resnet_step(m, &h->mid[1], x, e));
	probe(m, x, "%s.mid_block", side);
	return 0;
fail:
	return -1;
}

/* moments [2L, t, h, w] = quant_conv(encoder(x)) */
static int encode_plain(const sora_vae *m, const act *x, act *out, sora_err *e)
{
	const sora_vae_half *h = &m->enc;
	act y = {0};
	*out = (act){0};
	TRY(conv_fwd(&h->conv_in, x, &y, e)); /* y [C0, T, H, W] */
	probe(m, &y, "enc.conv_in");
	for (int i = 0; i < m->cfg.nblocks; i++) {
		const sora_vae_block *b = &h->blocks[i];
		for (int j = 0; j < b->nres; j++) {
			TRY(resnet_step(m, &b->res[j], &y, e)); /* y [Ci, T, H, W] */
			probe(m, &y, "enc.down_blocks.%d.resnets.%d", i, j);
		}
		if (b->has_sampler)
			TRY(conv_step(&b->sampler, &y, e)); /* y [Ci, T', H/2, W/2] */
		probe(m, &y, "enc.down_blocks.%d", i);
	}
	TRY(mid_step(m, h, &y, "enc", e)); /* y [Ctop, t, h, w] */
	TRY(sora_cpu_group_norm(y.d, y.d, h->norm_w.data, h->norm_b.data, y.C, m->cfg.norm_num_groups,
				(int64_t)y.T * y.H * y.W, GN_EPS, 0, e));
	probe(m, &y, "enc.conv_norm_out");
	TRY(sora_cpu_silu(y.d, y.d, (size_t)act_n(&y), e));
	TRY(conv_step(&h->conv_out, &y, e)); /* y [2L, t, h, w] */
	probe(m, &y, "enc.conv_out");
	TRY(conv_fwd(&m->quant_conv, &y, out, e)); /* out [2L, t, h, w] */
	act_free(&y);
	return 0;
fail:
	act_free(&y);
	return -1;
}

/* video [out, T, H, W] = decoder(post_quant_conv(z)), z unscaled */
static int decode_plain(const sora_vae *m, const act *z, act *out, sora_err *e)
{
	const sora_vae_half *h = &m->dec;
	act y = {0};
	*out = (act){0};
	TRY(conv_fwd(&m->post_quant_conv, z, &y, e)); /* y [L, t, h, w] */
	probe(m, &y, "post_quant_conv");
	TRY(conv_step(&h->conv_in, &y, e)); /* y [Ctop, t, h, w] */
	probe(m, &y, "dec.conv_in");
	TRY(mid_step(m, h, &y, "dec", e));
	for (int i = 0; i < m->cfg.nblocks; i++) {
		const sora_vae_block *b = &h->blocks[i];
		for (int j = 0; j < b->nres; j++) {
			TRY(resnet_step(m, &b->res[j], &y, e)); /* y [Ci, T, H, W] */
			probe(m, &y, "dec.up_blocks.%d.resnets.%d", i, j);
		}
		if (b->has_sampler) {
			act u = {0};
			TRY(act_new(&u, y.C, 1 + b->ft * (y.T - 1), b->fhw * y.H, b->fhw * y.W, e));
			TRY(sora_cpu_upsample_causal(u.d, y.d, y.C, y.T, y.H, y.W, b->ft, b->fhw, b->fhw,
						     e)); /* u [Ci, 1 + ft(T−1), 2H, 2W] */
			act_move(&y, &u);
			TRY(conv_step(&b->sampler, &y, e));
		}
		probe(m, &y, "dec.up_blocks.%d", i);
	}
	TRY(sora_cpu_group_norm(y.d, y.d, h->norm_w.data, h->norm_b.data, y.C, m->cfg.norm_num_groups,
				(int64_t)y.T * y.H * y.W, GN_EPS, 1, e));
	TRY(conv_fwd(&h->conv_out, &y, out, e)); /* out [3, T, H, W] */
	act_free(&y);
	return 0;
fail:
	act_free(&y);
	return -1;
}

/* ---- tiling (autoencoder_kl_causal_3d.py: spatial_tiled_*, temporal_tiled_*) ---- */

typedef int (*plain_fn)(const sora_vae *m, const act *x, act *y, sora_err *e);

/* y = x[:, t0:t1, h0:h1, w0:w1], ends clipped as Python slices are. */
static int crop(act *y, const act *x, int t0, int t1, int h0, int h1, int w0, int w1, sora_err *e)
{
	t1 = t1 < x->T ? t1 : x->T, h1 = h1 < x->H ? h1 : x->H, w1 = w1 < x->W ? w1 : x->W;
	TRY(act_new(y, x->C, t1 - t0, h1 - h0, w1 - w0, e));
	for (int c = 0; c < y->C; c++)
		for (int t = 0; t < y->T; t++)
			for (int h = 0; h < y->H; h++)
				memcpy(y->d + (((size_t)c * y->T + t) * y->H + h) * y->W,
				       x->d + (((size_t)c * x->T + t0 + t) * x->H + h0 + h) * x->W + w0,
				       (size_t)y->W * sizeof *y->d);
	return 0;
fail:
	return -1;
}

/* dst[:, t0:t0+nt, h0:h0+nh, w0:w0+nw] = src[:, :nt, :nh, :nw] */
static void paste(act *dst, const act *src, int t0, int h0, int w0, int nt, int nh, int nw)
{
	for (int c = 0; c < src->C; c++)
		for (int t = 0; t < nt; t++)
			for (int h = 0; h < nh; h++)
				memcpy(dst->d + (((size_t)c * dst->T + t0 + t) * dst->H + h0 + h) * dst->W +
					   w0,
				       src->d + (((size_t)c * src->T + t) * src->H + h) * src->W,
				       (size_t)nw * sizeof *dst->d);
}

/* blend_t / blend_v / blend_h along axis 1, 2 or 3 of [C, T, H, W]: the first E = min(len a, len b,
 * extent) slices of b become a[−E + y]·(1 − y/E) + b[y]·(y/E), in place. */
static void blend(const act *a, act *b, int axis, int extent)
{
	const int la = axis == 1   ? a->T
		       : axis == 2 ? a->H
				   : a->W,
		  lb = axis == 1   ? b->T
		       : axis == 2 ? b->H
				   : b->W;
	const int E = la < lb ? (la < extent ? la : extent) : (lb < extent ? lb : extent);
	const int64_t outer = axis == 1   ? b->C
			      : axis == 2 ? (int64_t)b->C * b->T
					  : (int64_t)b->C * b->T * b->H;
	const int64_t inner = axis == 1 ? (int64_t)b->H * b->W : axis == 2 ? b->W : 1;
	for (int y = 0; y < E; y++) {
		/* As torch: the weights are Python floats applied to f32 tensors. */
		const float wa = (float)(1.0 - (double)y / E), wb = (float)((double)y / E);
		for (int64_t o = 0; o < outer; o++) {
			const float *pa = a->d + (o * la + la - E + y) * inner;
			float *pb = b->d + (o * lb + y) * inner;
			for (int64_t i = 0; i < inner; i++)
				pb[i] = pa[i] * wa + pb[i] * wb;
		}
	}
}

/* The size a length becomes through the encoder (down) or the decoder (up), spatially or in time. */
static int map_len(const sora_vae *m, int n, int encode, int temporal)
{
	for (int i = 0; i < m->cfg.nblocks; i++) {
		int sp, tm;
		block_scaling(&m->cfg, i, &sp, &tm);
		if (temporal ? tm : sp)
			n = encode ? (n - 1) / 2 + 1 : temporal ? 1 + 2 * (n - 1) : 2 * n;
	}
	return n;
}

static int latent_tile(const sora_vae *m)
{
	return (int)(m->cfg.sample_size / (double)(1 << (m->cfg.nblocks - 1)));
}

/* Tiles of `tile` (input units) every `stride`, each through f, blended over `extent` (output units)
 * with the tile above and the one to the left (in place, in the reference's order), cropped to `limit`,
 * and put side by side. Two rows of tiles are held at a time. */
static int tiled_spatial(const sora_vae *m, const act *x, int encode, act *out, sora_err *e)
{
	const double ov = m->cfg.tile_overlap_factor;
	const int ss = m->cfg.sample_size, ls = latent_tile(m);
	const int tile = encode ? ss : ls, stride = (int)(tile * (1 - ov));
	const int extent = encode ? (int)(ls * ov) : (int)(ss * ov),
		  limit = encode ? ls - extent : ss - extent;
	const plain_fn f = encode ? encode_plain : decode_plain;
	const int rows = (x->H + stride - 1) / stride, cols = (x->W + stride - 1) / stride;
	act *prev = NULL, *cur = NULL, tin = {0};
	int H = 0, W = 0, row_off = 0;
	*out = (act){0};
	CHECK(e, stride > 0, "tile size %d too small for overlap %g", tile, ov);
	CHECK_ALLOC(e, prev = calloc((size_t)cols, sizeof *prev));
	CHECK_ALLOC(e, cur = calloc((size_t)cols, sizeof *cur));
	for (int i = 0; i < rows; i++) {
		int n = map_len(m, (x->H - i * stride < tile ? x->H - i * stride : tile), encode, 0);
		H += n < limit ? n : limit;
	}
	for (int j = 0; j < cols; j++) {
		int n = map_len(m, (x->W - j * stride < tile ? x->W - j * stride : tile), encode, 0);
		W += n < limit ? n : limit;
	}
	for (int i = 0; i < rows; i++) {
		int col_off = 0;
		for (int j = 0; j < cols; j++) {
			TRY(crop(&tin, x, 0, x->T, i * stride, i * stride + tile, j * stride,
				 j * stride + tile, e));
			TRY(f(m, &tin, &cur[j], e));
			act_free(&tin);
		}
		for (int j = 0; j < cols; j++) {
			if (i > 0)
				blend(&prev[j], &cur[j], 2, extent);
			if (j > 0)
				blend(&cur[j - 1], &cur[j], 3, extent);
			if (!out->d)
				TRY(act_new(out, cur[j].C, cur[j].T, H, W, e));
			const int nh = cur[j].H < limit ? cur[j].H : limit,
				  nw = cur[j].W < limit ? cur[j].W : limit;
			paste(out, &cur[j], 0, row_off, col_off, cur[j].T, nh, nw);
			col_off += nw;
		}
		row_off += cur[0].H < limit ? cur[0].H : limit;
		for (int j = 0; j < cols; j++) {
			act_free(&prev[j]);
			prev[j] = cur[j];
			cur[j] = (act){0};
		}
	}
	for (int j = 0; j < cols; j++)
		act_free(&prev[j]);
	free(prev);
	free(cur);
	return 0;
fail:
	for (int j = 0; prev && cur && j < cols; j++)
		act_free(&prev[j]), act_free(&cur[j]);
	free(prev);
	free(cur);
	act_free(&tin);
	act_free(out);
	return -1;
}

/* A tile (or a whole clip) without temporal tiling: spatially tiled when the config says so and it is
 * larger than a tile. */
static int spatial_or_plain(const sora_vae *m, const act *x, int encode, act *y, sora_err *e)
{
	const int lim = encode ? m->cfg.sample_size : latent_tile(m);
	if (m->cfg.use_spatial_tiling && (x->W > lim || x->H > lim))
		return tiled_spatial(m, x, encode, y, e);
	return encode ? encode_plain(m, x, y, e) : decode_plain(m, x, y, e);
}

/* Tiles of tile+1 frames every stride frames; the first output frame of every tile but the first is
 * dropped, each is blended with the previous one over `extent` frames and cropped to `limit` (+1 for the
 * first). */
static int tiled_temporal(const sora_vae *m, const act *x, int encode, act *out, sora_err *e)
{
	const double ov = m->cfg.tile_overlap_factor;
	const int ts = m->cfg.sample_tsize, lts = ts / m->cfg.time_compression_ratio;
	const int tile = encode ? ts : lts, stride = (int)(tile * (1 - ov));
	const int extent = encode ? (int)(lts * ov) : (int)(ts * ov),
		  limit = encode ? lts - extent : ts - extent;
	act prev = {0}, cur = {0}, tin = {0};
	int T = 0, t_off = 0;
	*out = (act){0};
	CHECK(e, stride > 0, "temporal tile %d too small for overlap %g", tile, ov);
	for (int i = 0; i < x->T; i += stride) {
		int n = map_len(m, (x->T - i < tile + 1 ? x->T - i : tile + 1), encode, 1) - (i > 0);
		T += n < limit + !i ? n : limit + !i;
	}
	for (int i = 0; i < x->T; i += stride) {
		TRY(crop(&tin, x, i, i + tile + 1, 0, x->H, 0, x->W, e));
		TRY(spatial_or_plain(m, &tin, encode, &cur, e));
		act_free(&tin);
		if (i > 0) { /* drop the first frame */
			act rest = {0};
			TRY(crop(&rest, &cur, 1, cur.T, 0, cur.H, 0, cur.W, e));
			act_move(&cur, &rest);
			blend(&prev, &cur, 1, extent);
		}
		if (!out->d)
			TRY(act_new(out, cur.C, T, cur.H, cur.W, e));
		const int keep = cur.T < limit + !i ? cur.T : limit + !i;
		paste(out, &cur, t_off, 0, 0, keep, cur.H, cur.W);
		t_off += keep;
		act_move(&prev, &cur);
	}
	act_free(&prev);
	return 0;
fail:
	act_free(&prev);
	act_free(&cur);
	act_free(&tin);
	act_free(out);
	return -1;
}

/* AutoencoderKLCausal3D.encode / _decode dispatch. */
static int run(const sora_vae *m, const act *x, int encode, act *y, sora_err *e)
{
	const int tlim = encode ? m->cfg.sample_tsize : m->cfg.sample_tsize / m->cfg.time_compression_ratio;
	if (m->cfg.use_temporal_tiling && x->T > tlim)
		return tiled_temporal(m, x, encode, y, e);
	return spatial_or_plain(m, x, encode, y, e);
}

int sora_vae_encode(const sora_vae *m, const float *x, int T, int H, int W, float **moments, int ldims[4],
		    sora_err *e)
{
	const int tr = m->cfg.time_compression_ratio, sr = m->cfg.spatial_compression_ratio;
	act in = {.d = (float *)x, .C = m->cfg.in_channels, .T = T, .H = H, .W = W}, y = {0};
	*moments = NULL;
	CHECK(e, T > 0 && (T - 1) % tr == 0,
	      "VAE encode: %d frames: the frame count must be %dk+1 (1, %d, %d, ...)", T, tr, 1 + tr,
	      1 + 2 * tr);
	CHECK(e, H > 0 && W > 0 && H % sr == 0 && W % sr == 0,
	      "VAE encode: frame size %dx%d (WxH): width and height must be multiples of %d", W, H, sr);
	TRY(run(m, &in, 1, &y, e));
	sora_big_drain();
	*moments = y.d;
	ldims[0] = y.C, ldims[1] = y.T, ldims[2] = y.H, ldims[3] = y.W;
	return 0;
fail:
	sora_big_drain();
	return -1;
}

void sora_vae_latent(const sora_vae *m, const float *moments, const int mdims[4], const float *eps, float *z,
		     float *mean, float *logvar)
{
	const int64_t n = (int64_t)(mdims[0] / 2) * mdims[1] * mdims[2] * mdims[3];
	const float s = m->cfg.scale_factor, sh = m->cfg.shift_factor;
	for (int64_t i = 0; i < n; i++) {
		const float mu = moments[i], lv0 = moments[n + i];
		const float lv = lv0 < -30.0f ? -30.0f : lv0 > 20.0f ? 20.0f : lv0;
		if (mean)
			mean[i] = mu;
		if (logvar)
			logvar[i] = lv;
		if (z)
			z[i] = s * ((eps ? mu + expf(0.5f * lv) * eps[i] : mu) - sh);
	}
}

int sora_vae_decode(const sora_vae *m, const float *z, const int zdims[4], float **video, int vdims[4],
		    sora_err *e)
{
	act in = {0}, y = {0};
	*video = NULL;
	CHECK(e, zdims[0] == m->cfg.latent_channels && zdims[1] > 0 && zdims[2] > 0 && zdims[3] > 0,
	      "VAE decode: latent [%d, %d, %d, %d] must have %d channels", zdims[0], zdims[1], zdims[2],
	      zdims[3], m->cfg.latent_channels);
	TRY(act_new(&in, zdims[0], zdims[1], zdims[2], zdims[3], e));
	for (int64_t i = 0; i < act_n(&in); i++)
		in.d[i] = z[i] / m->cfg.scale_factor + m->cfg.shift_factor;
	TRY(run(m, &in, 0, &y, e));
	act_free(&in);
	sora_big_drain();
	*video = y.d;
	vdims[0] = y.C, vdims[1] = y.T, vdims[2] = y.H, vdims[3] = y.W;
	return 0;
fail:
	act_free(&in);
	sora_big_drain();
	return -1;
}

/* ---- the streamed decoder ---- */

typedef struct stream {
	const sora_vae *m;
	int ngn, known;   /* norms of the streamed part; those with final statistics */
	double *sum, *sq; /* [ngn, G] */
	float *mean, *rstd;
	int64_t *count; /* values per group seen, per norm */
	act *hist;      /* per k = 3 conv of the streamed part: its last k − 1 input frames */
	act *up_hist;   /* per up block: the last frame before its upsampler */
	int nconv, gi, ci, first;
} stream;

/* A norm of the streamed part on the chunk x → y (y may be x): the layer being measured adds x to its
 * statistics and returns 1 (the pass ends there for this chunk); a measured one applies them. */
static int s_norm(stream *s, const act *x, act *y, const sora_tensor *w, const sora_tensor *b, int silu,
		  sora_err *e)
{
	const int G = s->m->cfg.norm_num_groups, g = s->gi++;
	const int64_t S = (int64_t)x->T * x->H * x->W;
	if (g == s->known) {
		TRY(sora_cpu_group_norm_stats(s->sum + (size_t)g * G, s->sq + (size_t)g * G, x->d, x->C, G, S,
					      e));
		s->count[g] += (int64_t)(x->C / G) * S;
		return 1;
	}
	if (y != x)
		TRY(act_new(y, x->C, x->T, x->H, x->W, e));
	TRY(sora_cpu_group_norm_apply(y->d, x->d, s->mean + (size_t)g * G, s->rstd + (size_t)g * G, w->data,
				      b->data, x->C, G, S, silu, e));
	return 0;
fail:
	return -1;
}

/* A causal conv on a chunk: the k − 1 frames before it come from the conv's history (frame 0 replicated
 * for the first chunk, as the padding is). */
static int s_conv(stream *s, const sora_vae_conv *c, const act *x, act *y, sora_err *e)
{
	act cat = {0};
	if (c->k == 1)
		return conv_fwd(c, x, y, e);
	act *h = &s->hist[s->ci++];
	const int p = c->k - 1;
	TRY(act_new(&cat, x->C, p + x->T, x->H, x->W, e));
	const size_t plane = (size_t)x->H * x->W;
	for (int ch = 0; ch < x->C; ch++) {
		float *dst = cat.d + (size_t)ch * cat.T * plane;
		for (int t = 0; t < p; t++)
			memcpy(dst + t * plane,
			       s->first ? x->d + (size_t)ch * x->T * plane
					: h->d + ((size_t)ch * p + t) * plane,
			       plane * sizeof *dst);
		memcpy(dst + p * plane, x->d + (size_t)ch * x->T * plane, x->T * plane * sizeof *dst);
	}
	sora_conv3d_args a = {.cin = c->cin,
			      .cout = c->cout,
			      .T = cat.T,
			      .H = cat.H,
			      .W = cat.W,
			      .k = c->k,
			      .st = c->st,
			      .sh = c->sh,
			      .sw = c->sw,
			      .no_front_pad = 1};
	int To, Ho, Wo;
	TRY(sora_conv3d_out_size(&a, &To, &Ho, &Wo, e));
	TRY(act_new(y, c->cout, To, Ho, Wo, e));
	TRY(sora_cpu_causal_conv3d(y->d, cat.d, c->w.data, c->b.data, &a, e));
	act_free(h);
	TRY(crop(h, &cat, cat.T - p, cat.T, 0, cat.H, 0, cat.W, e)); /* the last k − 1 input frames */
	act_free(&cat);
	return 0;
fail:
	act_free(&cat);
	return -1;
}

/* resnet_step on a chunk; 1 when the pass ends inside it. */
static int s_resnet(stream *s, const sora_vae_resnet *r, act *x, sora_err *e)
{
	act h = {0}, h2 = {0}, y = {0}, sc = {0};
	int rc;
	TRY(rc = s_norm(s, x, &h, &r->n1w, &r->n1b, 1, e));
	if (rc)
		return 1;
	TRY(s_conv(s, &r->c1, &h, &h2, e));
	act_free(&h);
	TRY(rc = s_norm(s, &h2, &h2, &r->n2w, &r->n2b, 1, e));
	if (rc) {
		act_free(&h2);
		return 1;
	}
	TRY(s_conv(s, &r->c2, &h2, &y, e));
	act_free(&h2);
	if (r->shortcut) {
		TRY(conv_fwd(&r->sc, x, &sc, e));
		add_into(y.d, sc.d, act_n(&y));
		act_free(&sc);
	} else {
		add_into(y.d, x->d, act_n(&y));
	}
	act_move(x, &y);
	return 0;
fail:
	act_free(&h), act_free(&h2), act_free(&y), act_free(&sc);
	return -1;
}

/* Upsampling on a chunk: after the first, the previous frame goes in front so that every frame of the
 * chunk is upsampled in time, and its own output is dropped. */
static int s_upsample(stream *s, const sora_vae_block *b, act *uh, act *x, sora_err *e)
{
	act in = {0}, u = {0};
	const act *src = x;
	if (!s->first) {
		TRY(act_new(&in, x->C, 1 + x->T, x->H, x->W, e));
		const size_t plane = (size_t)x->H * x->W;
		for (int c = 0; c < x->C; c++) {
			memcpy(in.d + (size_t)c * in.T * plane, uh->d + c * plane, plane * sizeof *in.d);
			memcpy(in.d + ((size_t)c * in.T + 1) * plane, x->d + (size_t)c * x->T * plane,
			       x->T * plane * sizeof *in.d);
		}
		src = &in;
	}
	TRY(act_new(&u, src->C, 1 + b->ft * (src->T - 1), b->fhw * src->H, b->fhw * src->W, e));
	TRY(sora_cpu_upsample_causal(u.d, src->d, src->C, src->T, src->H, src->W, b->ft, b->fhw, b->fhw, e));
	act_free(uh);
	TRY(crop(uh, x, x->T - 1, x->T, 0, x->H, 0, x->W, e));
	act_free(&in);
	if (!s->first) {
		TRY(crop(&in, &u, 1, u.T, 0, u.H, 0, u.W, e));
		act_move(&u, &in);
	}
	act_move(x, &u);
	return 0;
fail:
	act_free(&in), act_free(&u);
	return -1;
}

/* The up blocks, the last norm and conv_out on one chunk of the mid block's output (x is consumed);
 * 1 when the pass ends early, 0 with the video frames in *out. */
static int s_chunk(stream *s, act *x, act *out, sora_err *e)
{
	const sora_vae_half *h = &s->m->dec;
	int rc;
	s->gi = s->ci = 0;
	for (int i = 0; i < s->m->cfg.nblocks; i++) {
		const sora_vae_block *b = &h->blocks[i];
		for (int j = 0; j < b->nres; j++) {
			TRY(rc = s_resnet(s, &b->res[j], x, e));
			if (rc)
				return 1;
		}
		if (b->has_sampler) {
			TRY(s_upsample(s, b, &s->up_hist[i], x, e));
			act y = {0};
			TRY(s_conv(s, &b->sampler, x, &y, e));
			act_move(x, &y);
		}
	}
	TRY(rc = s_norm(s, x, x, &h->norm_w, &h->norm_b, 1, e));
	if (rc)
		return 1;
	TRY(s_conv(s, &h->conv_out, x, out, e));
	return 0;
fail:
	return -1;
}

int sora_vae_decode_stream(const sora_vae *m, const float *z, const int zdims[4], int chunk,
			   sora_vae_emit emit, void *ctx, sora_err *e)
{
	const int G = m->cfg.norm_num_groups, nb = m->cfg.nblocks;
	act in = {0}, mid = {0}, x = {0}, y = {0};
	stream s = {.m = m};
	CHECK(e,
	      zdims[0] == m->cfg.latent_channels && zdims[1] > 0 && zdims[2] > 0 && zdims[3] > 0 && chunk > 0,
	      "VAE stream decode: latent [%d, %d, %d, %d] must have %d channels", zdims[0], zdims[1],
	      zdims[2], zdims[3], m->cfg.latent_channels);
	for (int i = 0; i < nb; i++)
		s.ngn += 2 * m->dec.blocks[i].nres,
		    s.nconv += 2 * m->dec.blocks[i].nres + m->dec.blocks[i].has_sampler;
	s.ngn++, s.nconv++;
	CHECK_ALLOC(e, s.sum = calloc((size_t)s.ngn * G * 2, sizeof *s.sum));
	CHECK_ALLOC(e, s.mean = calloc((size_t)s.ngn * G * 2, sizeof *s.mean));
	CHECK_ALLOC(e, s.count = calloc((size_t)s.ngn, sizeof *s.count));
	CHECK_ALLOC(e, s.hist = calloc((size_t)s.nconv, sizeof *s.hist));
	CHECK_ALLOC(e, s.up_hist = calloc((size_t)nb, sizeof *s.up_hist));
	s.sq = s.sum + (size_t)s.ngn * G, s.rstd = s.mean + (size_t)s.ngn * G;
	/* Everything before the up blocks runs at latent resolution, in one piece. */
	TRY(act_new(&in, zdims[0], zdims[1], zdims[2], zdims[3], e));
	for (int64_t i = 0; i < act_n(&in); i++)
		in.d[i] = z[i] / m->cfg.scale_factor + m->cfg.shift_factor;
	TRY(conv_fwd(&m->post_quant_conv, &in, &mid, e)); /* mid [L, t, h, w] */
	act_free(&in);
	TRY(conv_step(&m->dec.conv_in, &mid, e)); /* mid [Ctop, t, h, w] */
	TRY(mid_step(m, &m->dec, &mid, "dec", e));
	for (s.known = 0; s.known <= s.ngn; s.known++) {
		int frame = 0;
		for (int a = 0; a < mid.T; a += chunk) {
			int rc;
			s.first = a == 0;
			TRY(crop(&x, &mid, a, a + chunk, 0, mid.H, 0, mid.W, e));
			TRY(rc = s_chunk(&s, &x, &y, e));
			act_free(&x);
			if (rc)
				continue;
			TRY(emit(ctx, y.d, y.T, frame, y.C, y.H, y.W, e));
			frame += y.T;
			act_free(&y);
		}
		if (s.known < s.ngn) { /* the measured norm's statistics are final */
			const size_t o = (size_t)s.known * G;
			for (int g = 0; g < G; g++) {
				const double n = (double)s.count[s.known], mu = s.sum[o + g] / n;
				const double var = s.sq[o + g] / n - mu * mu;
				s.mean[o + g] = (float)mu;
				s.rstd[o + g] = (float)(1.0 / sqrt((var > 0 ? var : 0) + GN_EPS));
			}
		}
		for (int i = 0; i < s.nconv; i++)
			act_free(&s.hist[i]);
		for (int i = 0; i < nb; i++)
			act_free(&s.up_hist[i]);
	}
	act_free(&mid);
	sora_big_drain();
	free(s.sum), free(s.mean), free(s.count), free(s.hist), free(s.up_hist);
	return 0;
fail:
	act_free(&in), act_free(&mid), act_free(&x), act_free(&y);
	for (int i = 0; s.hist && i < s.nconv; i++)
		act_free(&s.hist[i]);
	for (int i = 0; s.up_hist && i < nb; i++)
		act_free(&s.up_hist[i]);
	sora_big_drain();
	free(s.sum), free(s.mean), free(s.count), free(s.hist), free(s.up_hist);
	return -1;
}

void sora_vae_gaussian(float *out, size_t n, uint64_t seed)
{
	uint64_t s = seed;
	for (size_t i = 0; i < n; i += 2) {
		double u[2];
		for (int k = 0; k < 2; k++) { /* splitmix64 → (0, 1] */
			uint64_t v = (s += 0x9e3779b97f4a7c15ull);
			v = (v ^ (v >> 30)) * 0xbf58476d1ce4e5b9ull;
			v = (v ^ (v >> 27)) * 0x94d049bb133111ebull;
			v ^= v >> 31;
			u[k] = ((double)(v >> 11) + 1.0) / 9007199254740992.0;
		}
		const double r = sqrt(-2.0 * log(u[0])), th = 6.283185307179586 * u[1];
		out[i] = (float)(r * cos(th));
		if (i + 1 < n)
			out[i + 1] = (float)(r * sin(th));
	}
}
