/* The model kinds sora-mkmodel makes: one table each, names and shapes as the loaders in t5.c,
 * clip_text.c and clip_vision.c bind them, init as transformers' _init_weights (modeling_t5.py,
 * modeling_clip.py v4.40): normal with the stds below, norms 1, biases 0. The VAE's table follows the
 * published state dict of HunyuanVideo's AutoencoderKLCausal3D (Open-Sora's hunyuan_vae.safetensors), with
 * PyTorch's default init of convolutions (uniform, ±fan_in^−0.5). */
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

/* HunyuanVideo's causal 3D VAE (a config.json of AutoencoderKLCausal3D: block_out_channels C,
 * layers_per_block, latent_channels, in/out_channels). Down block i: C[i−1] → C[i] (C[0] for i = 0),
 * layers_per_block resnets, a downsampler but in the last; up block i: C reversed, layers_per_block + 1
 * resnets, an upsampler but in the last; a resnet has a 1×1×1 shortcut where its channels change. */
#define CLAST         "block_out_channels[-1]"
#define DOWN_IN       "(j == 0 ? block_out_channels[max(i-1, 0)] : block_out_channels[i])"
#define DOWN_OUT      "block_out_channels[i]"
#define DOWN_SHORTCUT "j == 0 ? block_out_channels[max(i-1, 0)] != block_out_channels[i] : 0"
#define UP_IN         "(j == 0 ? block_out_channels[min(-i, -1)] : block_out_channels[-1-i])"
#define UP_OUT        "block_out_channels[-1-i]"
#define UP_SHORTCUT   "j == 0 ? block_out_channels[min(-i, -1)] != block_out_channels[-1-i] : 0"
#define ENTRY(NAME, COUNT, WHEN, INIT, VALUE, ...)                                                           \
	{                                                                                                    \
		NAME, COUNT, WHEN, {__VA_ARGS__}, INIT, VALUE                                                \
	}
#define CONV3(P, COUNT, WHEN, COUT, CIN, K)                                                                  \
	ENTRY(P ".weight", COUNT, WHEN, 'u', "fan_in^-0.5", COUT, CIN, K, K, K),                             \
	    ENTRY(P ".bias", COUNT, WHEN, 'c', "0", COUT)
#define NORM(P, COUNT, C)                                                                                    \
	ENTRY(P ".weight", COUNT, NULL, 'c', "1", C), ENTRY(P ".bias", COUNT, NULL, 'c', "0", C)
#define RESNET(P, COUNT, CIN, COUT, SHORTCUT)                                                                \
	NORM(P ".norm1", COUNT, CIN), CONV3(P ".conv1.conv", COUNT, NULL, COUT, CIN, "3"),                   \
	    NORM(P ".norm2", COUNT, COUT), CONV3(P ".conv2.conv", COUNT, NULL, COUT, COUT, "3"),             \
	    CONV3(P ".conv_shortcut.conv", COUNT, SHORTCUT, COUT, CIN, "1")
#define MID_BLOCK(P)                                                                                         \
	RESNET(P ".mid_block.resnets.%d", "2", CLAST, CLAST, "0"),                                           \
	    NORM(P ".mid_block.attentions.0.group_norm", "mid_block_add_attention", CLAST),                  \
	    CONV3(P ".mid_block.attentions.0.to_q", "mid_block_add_attention", NULL, CLAST, CLAST, NULL),    \
	    CONV3(P ".mid_block.attentions.0.to_k", "mid_block_add_attention", NULL, CLAST, CLAST, NULL),    \
	    CONV3(P ".mid_block.attentions.0.to_v", "mid_block_add_attention", NULL, CLAST, CLAST, NULL),    \
	    CONV3(P ".mid_block.attentions.0.to_out.0", "mid_block_add_attention", NULL, CLAST, CLAST, NULL)

static const sora_init_tensor hunyuan_vae[] = {
    CONV3("encoder.conv_in.conv", NULL, NULL, "block_out_channels[0]", "in_channels", "3"),
    RESNET("encoder.down_blocks.%d.resnets.%d", "len(block_out_channels); layers_per_block", DOWN_IN,
	   DOWN_OUT, DOWN_SHORTCUT),
    CONV3("encoder.down_blocks.%d.downsamplers.0.conv.conv", "len(block_out_channels)",
	  "i < len(block_out_channels)-1", DOWN_OUT, DOWN_OUT, "3"),
    MID_BLOCK("encoder"),
    NORM("encoder.conv_norm_out", NULL, CLAST),
    CONV3("encoder.conv_out.conv", NULL, NULL, "2*latent_channels", CLAST, "3"),
    CONV3("quant_conv", NULL, NULL, "2*latent_channels", "2*latent_channels", "1"),
    CONV3("post_quant_conv", NULL, NULL, "latent_channels", "latent_channels", "1"),
    CONV3("decoder.conv_in.conv", NULL, NULL, CLAST, "latent_channels", "3"),
    MID_BLOCK("decoder"),
    RESNET("decoder.up_blocks.%d.resnets.%d", "len(block_out_channels); layers_per_block+1", UP_IN, UP_OUT,
	   UP_SHORTCUT),
    CONV3("decoder.up_blocks.%d.upsamplers.0.conv.conv", "len(block_out_channels)",
	  "i < len(block_out_channels)-1", UP_OUT, UP_OUT, "3"),
    NORM("decoder.conv_norm_out", NULL, "block_out_channels[0]"),
    CONV3("decoder.conv_out.conv", NULL, NULL, "out_channels", "block_out_channels[0]", "3"),
    {0},
};

/* Open-Sora 2.0's MMDiT (Flux-derived; a config.json with MMDiTConfig's fields: hidden_size, num_heads,
 * mlp_ratio, depth, depth_single_blocks, in_channels, patch_size, vec_in_dim, context_in_dim, qkv_bias,
 * fused_qkv, guidance_embed, cond_embed), the names of Open_Sora_v2.safetensors; PyTorch's default init. */
#define LIN(P, COUNT, WHEN, OUT, IN)                                                                         \
	ENTRY(P ".weight", COUNT, WHEN, 'u', "fan_in^-0.5", OUT, IN),                                        \
	    ENTRY(P ".bias", COUNT, WHEN, 'c', "0", OUT)
#define QKV_W(P, WHEN) ENTRY(P ".weight", "depth", WHEN, 'u', "fan_in^-0.5", "hidden_size", "hidden_size")
#define QKV_B(P, WHEN) ENTRY(P ".bias", "depth", WHEN, 'c', "0", "hidden_size")
#define STREAM(S)                                                                                            \
	LIN("double_blocks.%d." S "_mod.lin", "depth", NULL, "6*hidden_size", "hidden_size"),                \
	    ENTRY("double_blocks.%d." S "_attn.qkv.weight", "depth", "fused_qkv", 'u', "fan_in^-0.5",        \
		  "3*hidden_size", "hidden_size"),                                                           \
	    ENTRY("double_blocks.%d." S "_attn.qkv.bias", "depth", "fused_qkv * qkv_bias", 'c', "0",         \
		  "3*hidden_size"),                                                                          \
	    QKV_W("double_blocks.%d." S "_attn.q_proj", "fused_qkv == 0"),                                   \
	    QKV_B("double_blocks.%d." S "_attn.q_proj", "(fused_qkv == 0) * qkv_bias"),                      \
	    QKV_W("double_blocks.%d." S "_attn.k_proj", "fused_qkv == 0"),                                   \
	    QKV_B("double_blocks.%d." S "_attn.k_proj", "(fused_qkv == 0) * qkv_bias"),                      \
	    QKV_W("double_blocks.%d." S "_attn.v_proj", "fused_qkv == 0"),                                   \
	    QKV_B("double_blocks.%d." S "_attn.v_proj", "(fused_qkv == 0) * qkv_bias"),                      \
	    ENTRY("double_blocks.%d." S "_attn.norm.query_norm.scale", "depth", NULL, 'c', "1",              \
		  "hidden_size/num_heads"),                                                                  \
	    ENTRY("double_blocks.%d." S "_attn.norm.key_norm.scale", "depth", NULL, 'c', "1",                \
		  "hidden_size/num_heads"),                                                                  \
	    LIN("double_blocks.%d." S "_attn.proj", "depth", NULL, "hidden_size", "hidden_size"),            \
	    LIN("double_blocks.%d." S "_mlp.0", "depth", NULL, "hidden_size*mlp_ratio", "hidden_size"),      \
	    LIN("double_blocks.%d." S "_mlp.2", "depth", NULL, "hidden_size", "hidden_size*mlp_ratio")

static const sora_init_tensor mmdit[] = {
    LIN("img_in", NULL, NULL, "hidden_size", "in_channels"),
    LIN("time_in.in_layer", NULL, NULL, "hidden_size", "256"),
    LIN("time_in.out_layer", NULL, NULL, "hidden_size", "hidden_size"),
    LIN("vector_in.in_layer", NULL, NULL, "hidden_size", "vec_in_dim"),
    LIN("vector_in.out_layer", NULL, NULL, "hidden_size", "hidden_size"),
    LIN("guidance_in.in_layer", NULL, "guidance_embed", "hidden_size", "256"),
    LIN("guidance_in.out_layer", NULL, "guidance_embed", "hidden_size", "hidden_size"),
    LIN("cond_in", NULL, "cond_embed", "hidden_size", "in_channels + patch_size^2"),
    LIN("txt_in", NULL, NULL, "hidden_size", "context_in_dim"),
    STREAM("img"),
    STREAM("txt"),
    LIN("single_blocks.%d.linear1", "depth_single_blocks", "fused_qkv",
	"3*hidden_size + hidden_size*mlp_ratio", "hidden_size"),
    LIN("single_blocks.%d.q_proj", "depth_single_blocks", "fused_qkv == 0", "hidden_size", "hidden_size"),
    LIN("single_blocks.%d.k_proj", "depth_single_blocks", "fused_qkv == 0", "hidden_size", "hidden_size"),
    LIN("single_blocks.%d.v_mlp", "depth_single_blocks", "fused_qkv == 0",
	"hidden_size + hidden_size*mlp_ratio", "hidden_size"),
    LIN("single_blocks.%d.linear2", "depth_single_blocks", NULL, "hidden_size",
	"hidden_size + hidden_size*mlp_ratio"),
    ENTRY("single_blocks.%d.norm.query_norm.scale", "depth_single_blocks", NULL, 'c', "1",
	  "hidden_size/num_heads"),
    ENTRY("single_blocks.%d.norm.key_norm.scale", "depth_single_blocks", NULL, 'c', "1",
	  "hidden_size/num_heads"),
    LIN("single_blocks.%d.modulation.lin", "depth_single_blocks", NULL, "3*hidden_size", "hidden_size"),
    LIN("final_layer.linear", NULL, NULL, "in_channels", "hidden_size"),
    LIN("final_layer.adaLN_modulation.1", NULL, NULL, "2*hidden_size", "hidden_size"),
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
    {"hunyuan-vae",
     "AutoencoderKLCausal3D (HunyuanVideo's VAE, Open-Sora 2.0's)",
     NULL,
     SORA_TOK_NONE,
     {{hunyuan_vae, ""}}},
    {"mmdit",
     "Open-Sora 2.0's MMDiT (Flux-derived; MMDiTConfig's fields)",
     NULL,
     SORA_TOK_NONE,
     {{mmdit, ""}}},
    {0},
};
