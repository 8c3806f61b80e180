/* CLIPTextModel forward on the CPU ops, following transformers 4.40 modeling_clip. */
#include "clip_text.h"

#include "../io/safetensors.h"
#include "../nn/ops.h"
#include "../util/json.h"
#include "weights.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A CLIPTextConfig, or a whole CLIPConfig (openai/clip-vit-large-patch14's config.json) nesting it under
 * text_config. */
int sora_clip_text_read_config(sora_clip_text_config *c, const char *path, sora_err *e)
{
	sora_json j = {0};
	int64_t v[7];
	double eps;
	const char *act, *pre;
	char k[128];
	static const char *const keys[] = {"vocab_size",          "hidden_size",
					   "num_attention_heads", "num_hidden_layers",
					   "intermediate_size",   "max_position_embeddings"};
	TRY(sora_json_load(&j, path, e));
	pre = sora_json_find(&j, "text_config") ? "text_config." : "";
	for (int i = 0; i < 6; i++) {
		snprintf(k, sizeof k, "%s%s", pre, keys[i]);
		TRY(sora_json_int(&j, k, 1, 1 << 20, &v[i], e));
	}
	snprintf(k, sizeof k, "%seos_token_id", pre);
	TRY(sora_json_int_or(&j, k, 0, INT32_MAX, 2, &v[6], e));
	snprintf(k, sizeof k, "%slayer_norm_eps", pre);
	TRY(sora_json_double_or(&j, k, 1e-5, &eps, e));
	snprintf(k, sizeof k, "%shidden_act", pre);
	TRY(sora_json_string(&j, k, &act, e));
	CHECK(e, !strcmp(act, "quick_gelu"), "%s: %s \"%s\" is not supported (quick_gelu)", path, k, act);
	CHECK(e, v[1] % v[2] == 0, "%s: hidden_size %lld is not a multiple of num_attention_heads %lld", path,
	      (long long)v[1], (long long)v[2]);
	*c = (sora_clip_text_config){.vocab_size = (int)v[0],
				     .hidden = (int)v[1],
				     .heads = (int)v[2],
				     .layers = (int)v[3],
				     .intermediate = (int)v[4],
				     .max_positions = (int)v[5],
				     .eps = (float)eps,
				     .eos_token_id = (int)v[6]};
	sora_json_free(&j);
	return 0;
fail:
	sora_json_free(&j);
	return -1;
}

int sora_clip_text_load(sora_clip_text *m, const char *config_path, const char *weights_path, sora_err *e)
{
	sora_safetensors *st = NULL;
	sora_weight_list wl = {0};
	memset(m, 0, sizeof *m);
	TRY(sora_clip_text_read_config(&m->cfg, config_path, e));
	const sora_clip_text_config *c = &m->cfg;
	const int64_t C = c->hidden, I = c->intermediate;
	CHECK_ALLOC(e, m->layers = calloc((size_t)c->layers, sizeof *m->layers));
	sora_weight_want(&wl, &m->tok_emb, 2, (int64_t[]){c->vocab_size, C},
			 "text_model.embeddings.token_embedding.weight");
	sora_weight_want(&wl, &m->pos_emb, 2, (int64_t[]){c->max_positions, C},
			 "text_model.embeddings.position_embedding.weight");
	sora_weight_want(&wl, &m->final_w, 1, (int64_t[]){C}, "text_model.final_layer_norm.weight");
	sora_weight_want(&wl, &m->final_b, 1, (int64_t[]){C}, "text_model.final_layer_norm.bias");
	for (int i = 0; i < c->layers; i++) {
		sora_clip_text_layer *l = &m->layers[i];
		sora_weight_want(&wl, &l->ln1_w, 1, (int64_t[]){C},
				 "text_model.encoder.layers.%d.layer_norm1.weight", i);
		sora_weight_want(&wl, &l->ln1_b, 1, (int64_t[]){C},
				 "text_model.encoder.layers.%d.layer_norm1.bias", i);
		sora_weight_want(&wl, &l->q_w, 2, (int64_t[]){C, C},
				 "text_model.encoder.layers.%d.self_attn.q_proj.weight", i);
		sora_weight_want(&wl, &l->q_b, 1, (int64_t[]){C},
				 "text_model.encoder.layers.%d.self_attn.q_proj.bias", i);
		sora_weight_want(&wl, &l->k_w, 2, (int64_t[]){C, C},
				 "text_model.encoder.layers.%d.self_attn.k_proj.weight", i);
		sora_weight_want(&wl, &l->k_b, 1, (int64_t[]){C},
				 "text_model.encoder.layers.%d.self_attn.k_proj.bias", i);
		sora_weight_want(&wl, &l->v_w, 2, (int64_t[]){C, C},
				 "text_model.encoder.layers.%d.self_attn.v_proj.weight", i);
		sora_weight_want(&wl, &l->v_b, 1, (int64_t[]){C},
				 "text_model.encoder.layers.%d.self_attn.v_proj.bias", i);
		sora_weight_want(&wl, &l->o_w, 2, (int64_t[]){C, C},
				 "text_model.encoder.layers.%d.self_attn.out_proj.weight", i);
		sora_weight_want(&wl, &l->o_b, 1, (int64_t[]){C},
				 "text_model.encoder.layers.%d.self_attn.out_proj.bias", i);
		sora_weight_want(&wl, &l->ln2_w, 1, (int64_t[]){C},
				 "text_model.encoder.layers.%d.layer_norm2.weight", i);
		sora_weight_want(&wl, &l->ln2_b, 1, (int64_t[]){C},
				 "text_model.encoder.layers.%d.layer_norm2.bias", i);
		sora_weight_want(&wl, &l->fc1_w, 2, (int64_t[]){I, C},
				 "text_model.encoder.layers.%d.mlp.fc1.weight", i);
		sora_weight_want(&wl, &l->fc1_b, 1, (int64_t[]){I},
				 "text_model.encoder.layers.%d.mlp.fc1.bias", i);
		sora_weight_want(&wl, &l->fc2_w, 2, (int64_t[]){C, I},
				 "text_model.encoder.layers.%d.mlp.fc2.weight", i);
		sora_weight_want(&wl, &l->fc2_b, 1, (int64_t[]){C},
				 "text_model.encoder.layers.%d.mlp.fc2.bias", i);
	}
	/* A buffer (0..max−1) that checkpoints saved before transformers 4.31 still carry, and the other
	 * half of a whole CLIPModel checkpoint (openai/clip-vit-large-patch14's model.safetensors). */
	static const char *const ignore[] = {"text_model.embeddings.position_ids",
					     "vision_model.*",
					     "visual_projection.weight",
					     "text_projection.weight",
					     "logit_scale",
					     NULL};
	TRY(sora_st_open(&st, weights_path, e));
	TRY(sora_weights_load_list(st, &wl, ignore, SORA_F32, NULL, e));
	sora_st_close(st);
	sora_weight_list_free(&wl);
	return 0;
fail:
	sora_err_prefix(e, "CLIP text model: ");
	sora_st_close(st);
	sora_weight_list_free(&wl);
	sora_clip_text_free(m);
	return -1;
}

int sora_clip_text_load_dir(sora_clip_text *m, const char *dir, sora_err *e)
{
	char cfg[4096], w[4096];
	sora_model_files(dir, cfg, sizeof cfg, w, sizeof w);
	return sora_clip_text_load(m, cfg, w, e);
}

void sora_clip_text_free(sora_clip_text *m)
{
	sora_tensor_free(&m->tok_emb);
	sora_tensor_free(&m->pos_emb);
	sora_tensor_free(&m->final_w);
	sora_tensor_free(&m->final_b);
	for (int i = 0; m->layers && i < m->cfg.layers; i++) {
		sora_clip_text_layer *l = &m->layers[i];
		sora_tensor *t[] = {&l->ln1_w, &l->ln1_b, &l->q_w,   &l->q_b,  &l->k_w,   &l->k_b,
				    &l->v_w,   &l->v_b,   &l->o_w,   &l->o_b,  &l->ln2_w, &l->ln2_b,
				    &l->fc1_w, &l->fc1_b, &l->fc2_w, &l->fc2_b};
		for (size_t j = 0; j < sizeof t / sizeof(sora_tensor *); j++)
			sora_tensor_free(t[j]);
	}
	free(m->layers);
	m->layers = NULL;
}

int sora_clip_text_pool_pos(const int32_t *ids, int L, int eos_token_id)
{
	int pos = 0;
	if (eos_token_id == 2) { /* legacy configs: argmax, the first maximum (torch.argmax) */
		for (int j = 1; j < L; j++)
			if (ids[j] > ids[pos])
				pos = j;
		return pos;
	}
	for (int j = 0; j < L; j++)
		if (ids[j] == eos_token_id)
			return j;
	return 0;
}

/* y += x, n elements (the residual adds). */
static void add_into(float *y, const float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] += x[i];
}

/* The scratch buffers of one forward pass, in the order they are taken from the arena. */
enum { S_H, S_X, S_Q, S_K, S_V, S_ATT, S_F, S_COUNT };

static void scratch_sizes(const sora_clip_text_config *c, int B, int L, size_t n[S_COUNT])
{
	const size_t N = (size_t)B * L;
	for (int i = S_H; i <= S_ATT; i++)
		n[i] = N * (size_t)c->hidden;
	n[S_F] = N * (size_t)c->intermediate;
}

size_t sora_clip_text_scratch_bytes(const sora_clip_text_config *c, int B, int L)
{
	size_t n[S_COUNT];
	scratch_sizes(c, B, L, n);
	return sora_arena_floats_bytes(S_COUNT, n);
}

size_t sora_clip_text_memory_bytes(const sora_clip_text_config *c, int B, int L)
{
	const size_t C = (size_t)c->hidden, I = (size_t)c->intermediate;
	const size_t per_layer =
	    4 * C * C + 2 * C * I + 9 * C + I; /* q, k, v, out, fc1, fc2, biases, 2 LNs */
	const size_t weights = ((size_t)c->vocab_size + c->max_positions) * C + 2 * C + c->layers * per_layer;
	const size_t outputs = (size_t)B * L * C + (size_t)B * C; /* last_hidden_state, pooler_output */
	return (weights + outputs) * sizeof(float) + sora_clip_text_scratch_bytes(c, B, L);
}

int sora_clip_text_forward(const sora_clip_text *m, sora_arena *scratch, const int32_t *ids,
			   const uint8_t *mask, int B, int L, float *hidden, float *pooled, sora_err *e)
{
	const sora_clip_text_config *c = &m->cfg;
	const int C = c->hidden, I = c->intermediate, H = c->heads;
	CHECK(e, B > 0 && L > 0 && L <= c->max_positions,
	      "CLIP text forward: bad shape [%d, %d] (at most %d tokens)", B, L, c->max_positions);
	const size_t N = (size_t)B * L;
	size_t n[S_COUNT];
	float *s[S_COUNT];
	scratch_sizes(c, B, L, n);
	TRY(sora_arena_take_floats(scratch, S_COUNT, n, s, e));
	float *h = s[S_H], *x = s[S_X], *q = s[S_Q], *k = s[S_K], *v = s[S_V], *att = s[S_ATT], *f = s[S_F];
	sora_attn_args aa = {.B = B,
			     .H = H,
			     .Tq = L,
			     .Tk = L,
			     .D = C / H,
			     .scale = 1.0f / sqrtf((float)C / (float)H),
			     .causal = 1,
			     .key_mask = mask};

	TRY(sora_cpu_embedding(h, m->tok_emb.data, ids, (int)N, C, c->vocab_size, e)); /* h [N, C] */
	for (int b = 0; b < B; b++) /* h += pos_emb[0..L−1] */
		add_into(h + (size_t)b * L * C, m->pos_emb.data, (size_t)L * C);
	for (int i = 0; i < c->layers; i++) {
		const sora_clip_text_layer *l = &m->layers[i];
		TRY(sora_cpu_layernorm(x, h, l->ln1_w.data, l->ln1_b.data, (int)N, C, c->eps,
				       e));                                              /* x [N, C] */
		TRY(sora_cpu_linear(q, x, l->q_w.data, l->q_b.data, (int)N, C, C, e));   /* q [N, C] */
		TRY(sora_cpu_linear(k, x, l->k_w.data, l->k_b.data, (int)N, C, C, e));   /* k [N, C] */
		TRY(sora_cpu_linear(v, x, l->v_w.data, l->v_b.data, (int)N, C, C, e));   /* v [N, C] */
		TRY(sora_cpu_attention(att, q, k, v, &aa, e));                           /* att [B, L, C] */
		TRY(sora_cpu_linear(x, att, l->o_w.data, l->o_b.data, (int)N, C, C, e)); /* x [N, C] */
		add_into(h, x, N * C);                                                   /* h [N, C] */
		TRY(sora_cpu_layernorm(x, h, l->ln2_w.data, l->ln2_b.data, (int)N, C, c->eps,
				       e));                                                /* x [N, C] */
		TRY(sora_cpu_linear(f, x, l->fc1_w.data, l->fc1_b.data, (int)N, C, I, e)); /* f [N, I] */
		TRY(sora_cpu_quick_gelu(f, f, N * I, e));                                  /* f [N, I] */
		TRY(sora_cpu_linear(x, f, l->fc2_w.data, l->fc2_b.data, (int)N, I, C, e)); /* x [N, C] */
		add_into(h, x, N * C);                                                     /* h [N, C] */
	}
	TRY(sora_cpu_layernorm(hidden, h, m->final_w.data, m->final_b.data, (int)N, C, c->eps,
			       e));             /* [B, L, C] */
	for (int b = 0; pooled && b < B; b++) { /* pooled [B, C] = hidden[b, pool position] */
		int p = sora_clip_text_pool_pos(ids + (size_t)b * L, L, c->eos_token_id);
		memcpy(pooled + (size_t)b * C, hidden + ((size_t)b * L + p) * C, (size_t)C * sizeof *pooled);
	}
	return 0;
fail:
	return -1;
}
