/* CLIPTextModel (transformers 4.40 modeling_clip): Open-Sora 2.0's CLIP-L/14 text tower, whose
 * pooler_output [B, hidden] is the pooled text vector.
 *
 *     sora_clip_text m;
 *     sora_arena scratch = {0};
 *     TRY(sora_clip_text_load_dir(&m, "ckpt/clip-vit-large-patch14", e));
 *     TRY(sora_clip_text_forward(&m, &scratch, ids, NULL, B, L, hidden, pooled, e));
 *     sora_arena_free(&scratch);
 *     sora_clip_text_free(&m);
 *
 * Pooling follows the config's eos_token_id as transformers 4.40 does: with eos_token_id == 2 (the real
 * openai/clip-vit-large-patch14 config) the row at argmax(ids) (first maximum); otherwise the first
 * position holding eos_token_id (position 0 when there is none). The model is read-only during a
 * forward pass: threads may share one, each with its own scratch. */
#ifndef SORA_CLIP_TEXT_H
#define SORA_CLIP_TEXT_H

#include "../nn/tensor.h"
#include "../util/err.h"

#include <stdint.h>

typedef struct sora_clip_text_config {
	int vocab_size, hidden, heads, layers, intermediate, max_positions;
	float eps; /* layer_norm_eps */
	int eos_token_id;
} sora_clip_text_config;

typedef struct sora_clip_text_layer {
	sora_tensor ln1_w, ln1_b, q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b; /* [C] / [C, C] */
	sora_tensor ln2_w, ln2_b, fc1_w, fc1_b, fc2_w, fc2_b;             /* fc1 [I, C], fc2 [C, I] */
} sora_clip_text_layer;

typedef struct sora_clip_text {
	sora_clip_text_config cfg;
	sora_tensor tok_emb, pos_emb; /* [vocab, C], [max_positions, C] */
	sora_tensor final_w, final_b; /* [C] */
	sora_clip_text_layer *layers;
} sora_clip_text;

/* A CLIPTextConfig config.json, or a whole CLIPConfig's (its text_config). */
int sora_clip_text_read_config(sora_clip_text_config *c, const char *config_path, sora_err *e);
/* Bytes of activations a forward pass of B × L tokens takes from its scratch arena. */
size_t sora_clip_text_scratch_bytes(const sora_clip_text_config *c, int B, int L);
/* The weights in f32, the scratch and both outputs for B × L tokens: known before loading. */
size_t sora_clip_text_memory_bytes(const sora_clip_text_config *c, int B, int L);

/* config.json and a checkpoint (.safetensors or .safetensors.index.json): a CLIPTextModel's, or a whole
 * CLIPModel's as published for openai/clip-vit-large-patch14 (config with text_config; the vision tower,
 * both projections and logit_scale in the checkpoint are ignored). Every tensor that disagrees with the
 * config is named. */
int sora_clip_text_load(sora_clip_text *m, const char *config_path, const char *weights_path, sora_err *e);
/* A model folder: config.json and model.safetensors (or model.safetensors.index.json). */
int sora_clip_text_load_dir(sora_clip_text *m, const char *dir, sora_err *e);
void sora_clip_text_free(sora_clip_text *m);

/* ids [B, L] (L ≤ max_positions), mask [B, L] or NULL (1 = keep) → hidden [B, L, C]
 * (last_hidden_state) and, when pooled is not NULL, pooled [B, C] (pooler_output). scratch: an arena
 * reused from call to call ({0} at first), reallocated only when smaller than the batch needs. */
int sora_clip_text_forward(const sora_clip_text *m, sora_arena *scratch, const int32_t *ids,
			   const uint8_t *mask, int B, int L, float *hidden, float *pooled, sora_err *e);

/* The pooled position of one row of ids under the config's eos_token_id (see above). */
int sora_clip_text_pool_pos(const int32_t *ids, int L, int eos_token_id);

#endif
