#include "clip_vision.h"

#include "../nn/ops.h"
#include "../util/json.h"
#include "weights.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct layer {
	sora_tensor ln1_w, ln1_b, q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b, ln2_w, ln2_b, fc1_w, fc1_b, fc2_w,
	    fc2_b;
} layer;

struct sora_clip_vision {
	sora_clip_vision_config cfg;
	sora_tensor class_emb, patch_w, pos_emb, pre_w, pre_b, post_w, post_b, proj_w;
	layer *layers;
	sora_clip_vision_ws *ws; /* the workspace of sora_clip_vision_forward, made on first use */
};

struct sora_clip_vision_ws {
	sora_arena arena;
	int batch; /* the batch size the arena was sized for */
};

const sora_clip_vision_config *sora_clip_vision_get_config(const sora_clip_vision *m)
{
	return &m->cfg;
}

static int cfg_int(const sora_json *j, const char *pre, const char *key, int lo, int hi, int dflt, int *out,
		   sora_err *e)
{
	char k[128];
	int64_t v;
	snprintf(k, sizeof k, "%s%s", pre, key);
	if (sora_json_int_or(j, k, lo, hi, dflt, &v, e) < 0)
		return -1;
	*out = (int)v;
	return 0;
}

/* Defaults are CLIPVisionConfig's; a whole CLIPConfig nests them under vision_config. */
int sora_clip_vision_read_config(sora_clip_vision_config *c, const char *path, sora_err *e)
{
	sora_json j = {0};
	const char *act = "quick_gelu", *pre;
	char k[128];
	double eps;
	TRY(sora_json_load(&j, path, e));
	pre = sora_json_find(&j, "vision_config") ? "vision_config." : "";
	TRY(cfg_int(&j, pre, "image_size", 1, 8192, 224, &c->image_size, e));
	TRY(cfg_int(&j, pre, "patch_size", 1, 8192, 32, &c->patch_size, e));
	TRY(cfg_int(&j, pre, "num_channels", 1, 16, 3, &c->num_channels, e));
	TRY(cfg_int(&j, pre, "hidden_size", 1, 65536, 768, &c->hidden, e));
	TRY(cfg_int(&j, pre, "num_attention_heads", 1, 1024, 12, &c->heads, e));
	TRY(cfg_int(&j, pre, "num_hidden_layers", 0, 1024, 12, &c->layers, e));
	TRY(cfg_int(&j, pre, "intermediate_size", 1, 1 << 20, 3072, &c->intermediate, e));
	/* CLIPConfig keeps projection_dim at the top level (its vision_config copy is not the one used). */
	TRY(cfg_int(&j, "", "projection_dim", 1, 65536, 512, &c->projection_dim, e));
	snprintf(k, sizeof k, "%slayer_norm_eps", pre);
	TRY(sora_json_double_or(&j, k, 1e-5, &eps, e));
	c->eps = (float)eps;
	snprintf(k, sizeof k, "%shidden_act", pre);
	if (sora_json_find(&j, k))
		TRY(sora_json_string(&j, k, &act, e));
	CHECK(e, !strcmp(act, "quick_gelu"), "%s: %s is '%s'; only quick_gelu (CLIP's) is implemented", path,
	      k, act);
	CHECK(e, c->image_size % c->patch_size == 0, "%s: image_size %d is not a multiple of patch_size %d",
	      path, c->image_size, c->patch_size);
	CHECK(e, c->hidden % c->heads == 0, "%s: hidden_size %d is not a multiple of num_attention_heads %d",
	      path, c->hidden, c->heads);
	sora_json_free(&j);
	return 0;
fail:
	sora_json_free(&j);
	return -1;
}

/* The other half of a published CLIPModel checkpoint, and buffers older transformers saved. */
static int bind(sora_clip_vision *m, const sora_safetensors *st, char **report, sora_err *e)
{
	const sora_clip_vision_config *c = &m->cfg;
	const int64_t C = c->hidden, I = c->intermediate, ps = c->patch_size, g = c->image_size / ps;
	sora_weight_list wl = {0};
	/* A whole CLIPModel checkpoint also holds the text tower. */
	static const char *const ignore[] = {"text_model.*", "text_projection.weight", "logit_scale",
					     "vision_model.embeddings.position_ids", NULL};
	int rc;
	sora_weight_want(&wl, &m->class_emb, 1, (int64_t[]){C}, "vision_model.embeddings.class_embedding");
	sora_weight_want(&wl, &m->patch_w, 4, (int64_t[]){C, c->num_channels, ps, ps},
			 "vision_model.embeddings.patch_embedding.weight");
	sora_weight_want(&wl, &m->pos_emb, 2, (int64_t[]){1 + g * g, C},
			 "vision_model.embeddings.position_embedding.weight");
	sora_weight_want(&wl, &m->pre_w, 1, (int64_t[]){C},
			 "vision_model.pre_layrnorm.weight"); /* sic: the upstream spelling */
	sora_weight_want(&wl, &m->pre_b, 1, (int64_t[]){C}, "vision_model.pre_layrnorm.bias");
	sora_weight_want(&wl, &m->post_w, 1, (int64_t[]){C}, "vision_model.post_layernorm.weight");
	sora_weight_want(&wl, &m->post_b, 1, (int64_t[]){C}, "vision_model.post_layernorm.bias");
	sora_weight_want(&wl, &m->proj_w, 2, (int64_t[]){c->projection_dim, C}, "visual_projection.weight");
	for (int i = 0; i < c->layers; i++) {
		layer *L = &m->layers[i];
		const char *p = "vision_model.encoder.layers";
		sora_weight_want(&wl, &L->ln1_w, 1, (int64_t[]){C}, "%s.%d.layer_norm1.weight", p, i);
		sora_weight_want(&wl, &L->ln1_b, 1, (int64_t[]){C}, "%s.%d.layer_norm1.bias", p, i);
		sora_weight_want(&wl, &L->q_w, 2, (int64_t[]){C, C}, "%s.%d.self_attn.q_proj.weight", p, i);
		sora_weight_want(&wl, &L->q_b, 1, (int64_t[]){C}, "%s.%d.self_attn.q_proj.bias", p, i);
		sora_weight_want(&wl, &L->k_w, 2, (int64_t[]){C, C}, "%s.%d.self_attn.k_proj.weight", p, i);
		sora_weight_want(&wl, &L->k_b, 1, (int64_t[]){C}, "%s.%d.self_attn.k_proj.bias", p, i);
		sora_weight_want(&wl, &L->v_w, 2, (int64_t[]){C, C}, "%s.%d.self_attn.v_proj.weight", p, i);
		sora_weight_want(&wl, &L->v_b, 1, (int64_t[]){C}, "%s.%d.self_attn.v_proj.bias", p, i);
		sora_weight_want(&wl, &L->o_w, 2, (int64_t[]){C, C}, "%s.%d.self_attn.out_proj.weight", p, i);
		sora_weight_want(&wl, &L->o_b, 1, (int64_t[]){C}, "%s.%d.self_attn.out_proj.bias", p, i);
		sora_weight_want(&wl, &L->ln2_w, 1, (int64_t[]){C}, "%s.%d.layer_norm2.weight", p, i);
		sora_weight_want(&wl, &L->ln2_b, 1, (int64_t[]){C}, "%s.%d.layer_norm2.bias", p, i);
		sora_weight_want(&wl, &L->fc1_w, 2, (int64_t[]){I, C}, "%s.%d.mlp.fc1.weight", p, i);
		sora_weight_want(&wl, &L->fc1_b, 1, (int64_t[]){I}, "%s.%d.mlp.fc1.bias", p, i);
		sora_weight_want(&wl, &L->fc2_w, 2, (int64_t[]){C, I}, "%s.%d.mlp.fc2.weight", p, i);
		sora_weight_want(&wl, &L->fc2_b, 1, (int64_t[]){C}, "%s.%d.mlp.fc2.bias", p, i);
	}
	rc = sora_weights_load_list(st, &wl, ignore, SORA_F32, report, e);
	sora_weight_list_free(&wl);
	return rc;
}

static void free_weights(sora_clip_vision *m)
{
	sora_tensor *t[8] = {&m->class_emb, &m->patch_w, &m->pos_emb, &m->pre_w,
			     &m->pre_b,     &m->post_w,  &m->post_b,  &m->proj_w};
	for (int i = 0; i < 8; i++)
		sora_tensor_free(t[i]);
	for (int i = 0; m->layers && i < m->cfg.layers; i++) {
		layer *L = &m->layers[i];
		sora_tensor *lt[16] = {&L->ln1_w, &L->ln1_b, &L->q_w,   &L->q_b,  &L->k_w,   &L->k_b,
				       &L->v_w,   &L->v_b,   &L->o_w,   &L->o_b,  &L->ln2_w, &L->ln2_b,
				       &L->fc1_w, &L->fc1_b, &L->fc2_w, &L->fc2_b};
		for (int j = 0; j < 16; j++)
			sora_tensor_free(lt[j]);
	}
}

int sora_clip_vision_load(sora_clip_vision **out, const char *config, const char *weights, char **report,
			  sora_err *e)
{
	sora_clip_vision *m = NULL;
	sora_safetensors *st = NULL;
	*out = NULL;
	if (report)
		*report = NULL;
	CHECK_ALLOC(e, m = calloc(1, sizeof *m));
	TRY(sora_clip_vision_read_config(&m->cfg, config, e));
	CHECK_ALLOC(e, m->layers = calloc((size_t)m->cfg.layers + 1, sizeof *m->layers));
	TRY(sora_st_open(&st, weights, e));
	TRY(bind(m, st, report, e));
	sora_st_close(st);
	*out = m;
	return 0;
fail:
	sora_st_close(st);
	free(m ? m->layers : NULL);
	free(m);
	return -1;
}

void sora_clip_vision_free(sora_clip_vision *m)
{
	if (!m)
		return;
	free_weights(m);
	free(m->layers);
	sora_clip_vision_ws_free(m->ws);
	free(m);
}

int64_t sora_clip_vision_params(const sora_clip_vision_config *c)
{
	const int64_t C = c->hidden, I = c->intermediate, ps = c->patch_size, g = c->image_size / ps;
	const int64_t per_layer = 4 * (C * C + C) + 2 * C * I + I + C + 4 * C;
	return C + C * c->num_channels * ps * ps + (1 + g * g) * C + 4 * C + (int64_t)c->projection_dim * C +
	       c->layers * per_layer;
}

/* The floats one forward pass of batch B takes from the arena, each buffer rounded up to 64 bytes. */
size_t sora_clip_vision_ws_bytes(const sora_clip_vision_config *c, int B)
{
	const size_t g = (size_t)(c->image_size / c->patch_size), P = g * g, T = P + 1, C = (size_t)c->hidden;
	const size_t K = (size_t)c->num_channels * c->patch_size * c->patch_size;
	const size_t n[] = {B * P * K, B * P * C, B * T * C,
			    B * T * C, B * T * C, B * T * C,
			    B * T * C, B * T * C, B * T * (size_t)c->intermediate,
			    B * C};
	size_t bytes = 0;
	for (size_t i = 0; i < sizeof n / sizeof *n; i++)
		bytes += (n[i] * sizeof(float) + 63) / 64 * 64;
	return bytes;
}

static int take(sora_arena *a, float **p, int64_t rows, int64_t cols, sora_err *e)
{
	sora_tensor t;
	TRY(sora_arena_tensor(a, &t, SORA_F32, 2, (int64_t[]){rows, cols}, e));
	*p = t.data;
	return 0;
fail:
	return -1;
}

/* patches [B·P, K] from pixels [B, Ch, S, S]: patch p = (gy, gx) in row-major grid order, its K values in
 * the (channel, ky, kx) order of the conv weight [C, Ch, ps, ps], so the stride-ps conv is one matmul. */
static void im2col(float *patches, const float *pixels, int B, const sora_clip_vision_config *c)
{
	const int S = c->image_size, ps = c->patch_size, g = S / ps, Ch = c->num_channels;
	const size_t K = (size_t)Ch * ps * ps;
	for (int b = 0; b < B; b++)
		for (int gy = 0; gy < g; gy++)
			for (int gx = 0; gx < g; gx++) {
				float *dst = patches + ((size_t)b * g * g + (size_t)gy * g + gx) * K;
				for (int ch = 0; ch < Ch; ch++)
					for (int ky = 0; ky < ps; ky++) {
						const float *src =
						    pixels +
						    (((size_t)b * Ch + ch) * S + (size_t)gy * ps + ky) * S +
						    (size_t)gx * ps;
						memcpy(dst, src, (size_t)ps * sizeof *dst);
						dst += ps;
					}
			}
}

static int add_inplace(float *h, const float *x, int64_t N, int64_t C, sora_err *e)
{
	const int64_t s[2] = {N, C};
	return sora_cpu_binary(h, SORA_BIN_ADD, h, 2, s, x, 2, s, e);
}

int sora_clip_vision_ws_new(sora_clip_vision_ws **out, const sora_clip_vision *m, int B, sora_err *e)
{
	sora_clip_vision_ws *ws = NULL;
	*out = NULL;
	CHECK(e, B > 0, "clip vision: workspace batch size %d", B);
	CHECK_ALLOC(e, ws = calloc(1, sizeof *ws));
	TRY(sora_arena_init(&ws->arena, sora_clip_vision_ws_bytes(&m->cfg, B), e));
	ws->batch = B;
	*out = ws;
	return 0;
fail:
	free(ws);
	return -1;
}

void sora_clip_vision_ws_free(sora_clip_vision_ws *ws)
{
	if (!ws)
		return;
	sora_arena_free(&ws->arena);
	free(ws);
}

int sora_clip_vision_forward(sora_clip_vision *m, const float *pixels, int B, float *image_embeds,
			     float *last_hidden, float *pooled, sora_err *e)
{
	if (!m->ws && sora_clip_vision_ws_new(&m->ws, m, B > 0 ? B : 1, e) < 0)
		return -1;
	return sora_clip_vision_forward_ws(m, m->ws, pixels, B, image_embeds, last_hidden, pooled, e);
}

int sora_clip_vision_forward_ws(const sora_clip_vision *m, sora_clip_vision_ws *ws, const float *pixels,
				int B, float *image_embeds, float *last_hidden, float *pooled, sora_err *e)
{
	const sora_clip_vision_config *c = &m->cfg;
	const int C = c->hidden, I = c->intermediate, g = c->image_size / c->patch_size, P = g * g, T = P + 1;
	const int K = c->num_channels * c->patch_size * c->patch_size, N = B * T;
	float *patches, *pe, *h, *x, *q, *k, *v, *att, *f, *pool;
	CHECK(e, B > 0, "batch size %d", B);
	if (B > ws->batch) {
		sora_arena_free(&ws->arena);
		ws->batch = 0;
		TRY(sora_arena_init(&ws->arena, sora_clip_vision_ws_bytes(c, B), e));
		ws->batch = B;
	}
	sora_arena_reset(&ws->arena);
	TRY(take(&ws->arena, &patches, (int64_t)B * P, K, e));
	TRY(take(&ws->arena, &pe, (int64_t)B * P, C, e));
	TRY(take(&ws->arena, &h, N, C, e));
	TRY(take(&ws->arena, &x, N, C, e));
	TRY(take(&ws->arena, &q, N, C, e));
	TRY(take(&ws->arena, &k, N, C, e));
	TRY(take(&ws->arena, &v, N, C, e));
	TRY(take(&ws->arena, &att, N, C, e));
	TRY(take(&ws->arena, &f, N, I, e));
	TRY(take(&ws->arena, &pool, B, C, e));

	im2col(patches, pixels, B, c);                                            /* [B·P, K] */
	TRY(sora_cpu_linear(pe, patches, m->patch_w.data, NULL, B * P, K, C, e)); /* [B·P, C] */
	for (int b = 0; b < B; b++) { /* h [B, T, C]: CLS, patches */
		memcpy(h + (size_t)b * T * C, m->class_emb.data, (size_t)C * sizeof *h);
		memcpy(h + ((size_t)b * T + 1) * C, pe + (size_t)b * P * C, (size_t)P * C * sizeof *h);
	}
	TRY(sora_cpu_binary(h, SORA_BIN_ADD, h, 3, (int64_t[]){B, T, C}, m->pos_emb.data, 2,
			    (int64_t[]){T, C}, e));                                   /* [B, T, C] */
	TRY(sora_cpu_layernorm(h, h, m->pre_w.data, m->pre_b.data, N, C, c->eps, e)); /* [B·T, C] */
	const int D = C / c->heads;
	const sora_attn_args aa = {
	    .B = B, .H = c->heads, .Tq = T, .Tk = T, .D = D, .scale = 1.0f / sqrtf((float)D)};
	for (int i = 0; i < c->layers; i++) {
		const layer *L = &m->layers[i];
		TRY(sora_cpu_layernorm(x, h, L->ln1_w.data, L->ln1_b.data, N, C, c->eps, e)); /* [B·T, C] */
		TRY(sora_cpu_linear(q, x, L->q_w.data, L->q_b.data, N, C, C, e));   /* [B·T, H·D] */
		TRY(sora_cpu_linear(k, x, L->k_w.data, L->k_b.data, N, C, C, e));   /* [B·T, H·D] */
		TRY(sora_cpu_linear(v, x, L->v_w.data, L->v_b.data, N, C, C, e));   /* [B·T, H·D] */
		TRY(sora_cpu_attention(att, q, k, v, &aa, e));                      /* [B, T, H·D] */
		TRY(sora_cpu_linear(x, att, L->o_w.data, L->o_b.data, N, C, C, e)); /* [B·T, C] */
		TRY(add_inplace(h, x, N, C, e));                                    /* [B·T, C] */
		TRY(sora_cpu_layernorm(x, h, L->ln2_w.data, L->ln2_b.data, N, C, c->eps, e)); /* [B·T, C] */
		TRY(sora_cpu_linear(f, x, L->fc1_w.data, L->fc1_b.data, N, C, I, e));         /* [B·T, I] */
		TRY(sora_cpu_quick_gelu(f, f, (size_t)N * I, e));                             /* [B·T, I] */
		TRY(sora_cpu_linear(x, f, L->fc2_w.data, L->fc2_b.data, N, I, C, e));         /* [B·T, C] */
		TRY(add_inplace(h, x, N, C, e));                                              /* [B·T, C] */
	}
	if (last_hidden)
		memcpy(last_hidden, h, (size_t)N * C * sizeof *h); /* [B, T, C] */
	for (int b = 0; b < B; b++)                                /* the class tokens: [B, C] */
		memcpy(pool + (size_t)b * C, h + (size_t)b * T * C, (size_t)C * sizeof *h);
	TRY(sora_cpu_layernorm(pool, pool, m->post_w.data, m->post_b.data, B, C, c->eps, e)); /* [B, C] */
	if (pooled)
		memcpy(pooled, pool, (size_t)B * C * sizeof *pool);
	TRY(sora_cpu_linear(image_embeds, pool, m->proj_w.data, NULL, B, C, c->projection_dim,
			    e)); /* [B, proj] */
	return 0;
fail:
	sora_err_prefix(e, "clip vision: ");
	return -1;
}
