/* The model kinds sora-mkmodel makes: one table each, names and shapes as the loaders in t5.c,
 * clip_text.c and clip_vision.c bind them, init as transformers' _init_weights (modeling_t5.py,
 * modeling_clip.py v4.40): normal with the stds below, norms 1, biases 0. */
#include "init_weights.h"

#include <stddef.h>

#define F "initializer_factor"

static const sora_init_tensor t5_encoder[] = {
    {"shared.weight", NULL, NULL, {"vocab_size", "d_model"}, 'n', F},
    {"encoder.block.%d.layer.0.SelfAttention.relative_attention_bias.weight",
     "1",
     NULL,
     {"relative_attention_num_buckets", "num_heads"},
     'n',
     F "*d_model^-0.5"},
    {"encoder.block.%d.layer.0.SelfAttention.q.weight",
     "num_layers",
     NULL,
     {"num_heads*d_kv", "d_model"},
     'n',
     F "*(d_model*d_kv)^-0.5"},
    {"encoder.block.%d.layer.0.SelfAttention.k.weight",
     "num_layers",
     NULL,
     {"num_heads*d_kv", "d_model"},
     'n',
     F "*d_model^-0.5"},
    {"encoder.block.%d.layer.0.SelfAttention.v.weight",
     "num_layers",
     NULL,
     {"num_heads*d_kv", "d_model"},
     'n',
     F "*d_model^-0.5"},
    {"encoder.block.%d.layer.0.SelfAttention.o.weight",
     "num_layers",
     NULL,
     {"d_model", "num_heads*d_kv"},
     'n',
     F "*(num_heads*d_kv)^-0.5"},
    {"encoder.block.%d.layer.0.layer_norm.weight", "num_layers", NULL, {"d_model"}, 'c', F},
    {"encoder.block.%d.layer.1.DenseReluDense.wi_0.weight",
     "num_layers",
     "feed_forward_proj~gated-",
     {"d_ff", "d_model"},
     'n',
     F "*d_model^-0.5"},
    {"encoder.block.%d.layer.1.DenseReluDense.wi_1.weight",
     "num_layers",
     "feed_forward_proj~gated-",
     {"d_ff", "d_model"},
     'n',
     F "*d_model^-0.5"},
    {"encoder.block.%d.layer.1.DenseReluDense.wi.weight",
     "num_layers",
     "!feed_forward_proj~gated-",
     {"d_ff", "d_model"},
     'n',
     F "*d_model^-0.5"},
    {"encoder.block.%d.layer.1.DenseReluDense.wo.weight",
     "num_layers",
     NULL,
     {"d_model", "d_ff"},
     'n',
     F "*d_ff^-0.5"},
    {"encoder.block.%d.layer.1.layer_norm.weight", "num_layers", NULL, {"d_model"}, 'c', F},
    {"encoder.final_layer_norm.weight", NULL, NULL, {"d_model"}, 'c', F},
    {0},
};

/* One CLIPEncoderLayer, for both towers (prefix: text_model / vision_model). */
#define IN_STD  "hidden_size^-0.5*(2*num_hidden_layers)^-0.5*" F
#define OUT_STD "hidden_size^-0.5*" F
#define FC_STD  "(2*hidden_size)^-0.5*" F
#define CLIP_LAYER(P)                                                                                          \
	{P ".encoder.layers.%d.layer_norm1.weight", "num_hidden_layers", NULL, {"hidden_size"}, 'c', "1"},     \
	    {P ".encoder.layers.%d.layer_norm1.bias", "num_hidden_layers", NULL, {"hidden_size"}, 'c', "0"},   \
	    {P ".encoder.layers.%d.self_attn.q_proj.weight",                                                   \
	     "num_hidden_layers",                                                                              \
	     NULL,                                                                                             \
	     {"hidden_size", "hidden_size"},                                                                   \
	     'n',                                                                                              \
	     IN_STD},                                                                                          \
	    {P ".encoder.layers.%d.self_attn.q_proj.bias",                                                     \
	     "num_hidden_layers",                                                                              \
	     NULL,                                                                                             \
	     {"hidden_size"},                                                                                  \
	     'c',                                                                                              \
	     "0"},                                                                                             \
	    {P ".encoder.layers.%d.self_attn.k_proj.weight",                                                   \
	     "num_hidden_layers",                                                                              \
	     NULL,                                                                                             \
	     {"hidden_size", "hidden_size"},                                                                   \
	     'n',                                                                                              \
	     IN_STD},                                                                                          \
	    {P ".encoder.layers.%d.self_attn.k_proj.bias",                                                     \
	     "num_hidden_layers",                                                                              \
	     NULL,                                                                                             \
	     {"hidden_size"},                                                                                  \
	     'c',                                                                                              \
	     "0"},                                                                                             \
	    {P ".encoder.layers.%d.self_attn.v_proj.weight",                                                   \
	     "num_hidden_layers",                                                                              \
	     NULL,                                                                                             \
	     {"hidden_size", "hidden_size"},                                                                   \
	     'n',                                                                                              \
	     IN_STD},                                                                                          \
	    {P ".encoder.layers.%d.self_attn.v_proj.bias",                                                     \
	     "num_hidden_layers",                                                                              \
	     NULL,                                                                                             \
	     {"hidden_size"},                                                                                  \
	     'c',                                                                                              \
	     "0"},                                                                                             \
	    {P ".encoder.layers.%d.self_attn.out_proj.weight",                                                 \
	     "num_hidden_layers",                                                                              \
	     NULL,                                                                                             \
	     {"hidden_size", "hidden_size"},                                                                   \
	     'n',                                                                                              \
	     OUT_STD},                                                                                         \
	    {P ".encoder.layers.%d.self_attn.out_proj.bias",                                                   \
	     "num_hidden_layers",                                                                              \
	     NULL,                                                                                             \
	     {"hidden_size"},                                                                                  \
	     'c',                                                                                              \
	     "0"},                                                                                             \
	    {P ".encoder.layers.%d.layer_norm2.weight", "num_hidden_layers", NULL, {"hidden_size"}, 'c', "1"}, \
	    {P ".encoder.layers.%d.layer_norm2.bias", "num_hidden_layers", NULL, {"hidden_size"}, 'c', "0"},   \
	    {P ".encoder.layers.%d.mlp.fc1.weight",                                                            \
	     "num_hidden_layers",                                                                              \
	     NULL,                                                                                             \
	     {"intermediate_size", "hidden_size"},                                                             \
	     'n',                                                                                              \
	     FC_STD},                                                                                          \
	    {P ".encoder.layers.%d.mlp.fc1.bias", "num_hidden_layers", NULL, {"intermediate_size"}, 'c', "0"}, \
	    {P ".encoder.layers.%d.mlp.fc2.weight",                                                            \
	     "num_hidden_layers",                                                                              \
	     NULL,                                                                                             \
	     {"hidden_size", "intermediate_size"},                                                             \
	     'n',                                                                                              \
	     IN_STD},                                                                                          \
	{                                                                                                      \
		P ".encoder.layers.%d.mlp.fc2.bias", "num_hidden_layers", NULL, {"hidden_size"}, 'c', "0"      \
	}

static const sora_init_tensor clip_text_model[] = {
    {"text_model.embeddings.token_embedding.weight",
     NULL,
     NULL,
     {"vocab_size", "hidden_size"},
     'n',
     "0.02*" F},
    {"text_model.embeddings.position_embedding.weight",
     NULL,
     NULL,
     {"max_position_embeddings", "hidden_size"},
     'n',
     "0.02*" F},
    CLIP_LAYER("text_model"),
    {"text_model.final_layer_norm.weight", NULL, NULL, {"hidden_size"}, 'c', "1"},
    {"text_model.final_layer_norm.bias", NULL, NULL, {"hidden_size"}, 'c', "0"},
    {0},
};

static const sora_init_tensor clip_vision_model[] = {
    {"vision_model.embeddings.class_embedding", NULL, NULL, {"hidden_size"}, 'n', "hidden_size^-0.5*" F},
    {"vision_model.embeddings.patch_embedding.weight",
     NULL,
     NULL,
     {"hidden_size", "num_channels", "patch_size", "patch_size"},
     'n',
     "initializer_range*" F},
    {"vision_model.embeddings.position_embedding.weight",
     NULL,
     NULL,
     {"(image_size/patch_size)^2+1", "hidden_size"},
     'n',
     "initializer_range*" F},
    {"vision_model.pre_layrnorm.weight", NULL, NULL, {"hidden_size"}, 'c', "1"}, /* sic, upstream */
    {"vision_model.pre_layrnorm.bias", NULL, NULL, {"hidden_size"}, 'c', "0"},
    CLIP_LAYER("vision_model"),
    {"vision_model.post_layernorm.weight", NULL, NULL, {"hidden_size"}, 'c', "1"},
    {"vision_model.post_layernorm.bias", NULL, NULL, {"hidden_size"}, 'c', "0"},
    {0},
};

/* CLIPVisionModelWithProjection's projection (a CLIPVisionConfig). */
static const sora_init_tensor clip_vision_projection[] = {
    {"visual_projection.weight", NULL, NULL, {"projection_dim", "hidden_size"}, 'n', "hidden_size^-0.5*" F},
    {0},
};

/* CLIPModel's own tensors (a CLIPConfig). */
static const sora_init_tensor clip_heads[] = {
    {"visual_projection.weight",
     NULL,
     NULL,
     {"projection_dim", "vision_config.hidden_size"},
     'n',
     "vision_config.hidden_size^-0.5*" F},
    {"text_projection.weight",
     NULL,
     NULL,
     {"projection_dim", "text_config.hidden_size"},
     'n',
     "text_config.hidden_size^-0.5*" F},
    {"logit_scale", NULL, NULL, {NULL}, 'c', "logit_scale_init_value"},
    {0},
};

const sora_init_kind sora_init_kinds[] = {
    {"t5",
     "T5EncoderModel (a T5Config); tokenizer spiece.model",
     "vocab_size",
     SORA_TOK_SPM,
     {{t5_encoder, ""}}},
    {"clip-text",
     "CLIPTextModel (a CLIPTextConfig); tokenizer vocab.json, merges.txt",
     "vocab_size",
     SORA_TOK_BPE,
     {{clip_text_model, ""}}},
    {"clip-vision",
     "CLIPVisionModelWithProjection (a CLIPVisionConfig)",
     NULL,
     SORA_TOK_NONE,
     {{clip_vision_model, ""}, {clip_vision_projection, ""}}},
    {"clip",
     "CLIPModel (a CLIPConfig: text_config, vision_config); tokenizer vocab.json, merges.txt",
     "text_config.vocab_size",
     SORA_TOK_BPE,
     {{clip_text_model, "text_config."}, {clip_vision_model, "vision_config."}, {clip_heads, ""}}},
    {0},
};
