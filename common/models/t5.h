/* T5EncoderModel (transformers 4.40 modeling_t5): the text encoder of Open-Sora 2.0 (t5-v1_1-xxl).
 *
 *     sora_t5 m;
 *     sora_arena scratch = {0};
 *     TRY(sora_t5_load_dir(&m, "ckpt/t5-v1_1-xxl", e));           // config.json + model.safetensors
 *     TRY(sora_t5_forward(&m, &scratch, ids, NULL, B, L, out, e)); // ids [B, L] → out [B, L, d_model]
 *     sora_arena_free(&scratch);
 *     sora_t5_free(&m);
 *
 * Weights are bound strictly by their published names (see t5.c) and widened once to f32. Open-Sora
 * passes no attention mask (padding ids 0 are attended to); a mask [B, L] (1 = keep) is optional.
 * The model is read-only during a forward pass: threads may share one, each with its own scratch. */
#ifndef SORA_T5_H
#define SORA_T5_H

#include "../nn/tensor.h"
#include "../util/err.h"

#include <stdint.h>

typedef enum { SORA_T5_RELU, SORA_T5_GELU_TANH, SORA_T5_GELU_ERF } sora_t5_act;

typedef struct sora_t5_config {
	int vocab_size, d_model, d_kv, num_heads, d_ff, num_layers;
	int num_buckets, max_distance; /* relative_attention_{num_buckets,max_distance} */
	float eps;                     /* layer_norm_epsilon */
	int gated;                     /* feed_forward_proj "gated-…": wi_0, wi_1; otherwise wi */
	sora_t5_act act;               /* the feed-forward activation */
} sora_t5_config;

typedef struct sora_t5_block {
	sora_tensor ln0, q, k, v, o; /* layer.0: layer_norm [d], q/k/v [inner, d], o [d, inner] */
	sora_tensor ln1, wi0, wi1,
	    wo; /* layer.1: layer_norm [d], wi_0/wi_1 (or wi) [d_ff, d], wo [d, d_ff] */
} sora_t5_block;

typedef struct sora_t5 {
	sora_t5_config cfg;
	sora_tensor shared;   /* [vocab, d] */
	sora_tensor rel_bias; /* block 0's relative_attention_bias [num_buckets, heads] */
	sora_tensor final_ln; /* [d] */
	sora_t5_block *blocks;
} sora_t5;

/* config.json (a T5Config): its sizes, and the feed-forward kind ([gated-]relu, gelu, gelu_new). */
int sora_t5_read_config(sora_t5_config *c, const char *config_path, sora_err *e);
/* Bytes of activations a forward pass of B × L tokens takes from its scratch arena. */
size_t sora_t5_scratch_bytes(const sora_t5_config *c, int B, int L);
/* Memory a model of this config takes to run B × L tokens: the weights in f32, the scratch and the
 * output [B, L, d_model]. Known from the config alone, so a program can say it before loading. */
size_t sora_t5_memory_bytes(const sora_t5_config *c, int B, int L);

/* config.json (a T5Config) and a checkpoint (.safetensors or .safetensors.index.json). A config that
 * disagrees with the checkpoint fails with every mismatching tensor named. */
int sora_t5_load(sora_t5 *m, const char *config_path, const char *weights_path, sora_err *e);
/* A model folder: config.json and model.safetensors (or model.safetensors.index.json). */
int sora_t5_load_dir(sora_t5 *m, const char *dir, sora_err *e);
void sora_t5_free(sora_t5 *m);

/* ids [B, L] (0 ≤ id < vocab), mask [B, L] or NULL → out [B, L, d_model] = last_hidden_state.
 * scratch: an arena reused from call to call ({0} at first); it is reallocated, once, only when smaller
 * than sora_t5_scratch_bytes(B, L), so a run of equal batches allocates nothing after the first. */
int sora_t5_forward(const sora_t5 *m, sora_arena *scratch, const int32_t *ids, const uint8_t *mask, int B,
		    int L, float *out, sora_err *e);

/* The bidirectional relative position bucket of rel = key − query (_relative_position_bucket). */
int sora_t5_rel_bucket(int rel, int num_buckets, int max_distance);

#endif
