/* Open-Sora 2.0's MMDiT (opensora/models/mmdit/model.py, Flux-derived): double-stream blocks over text and
 * image tokens, then single-stream blocks over [txt; img], 3-D RoPE, image conditioning. Two checkpoint
 * layouts, told apart by their names:
 *   Open-Sora 2.0 (Open_Sora_v2.safetensors): q_proj/k_proj/v_proj, single-block v_mlp, half-split (Liger)
 *     RoPE, cond_in, no guidance_in;
 *   FLUX.1-dev (flux1-dev.safetensors): fused img_attn.qkv / single-block linear1, interleaved RoPE,
 *     guidance_in, no cond_in.
 *
 *     sora_mmdit m;
 *     TRY(sora_mmdit_load(&m, "Open_Sora_v2.safetensors", NULL, e));   // released defaults
 *     TRY(sora_mmdit_forward(&m, &in, out, NULL, e));                  // out [B, L, in_channels]
 *     sora_mmdit_free(&m);
 *
 * Memory: the checkpoint stays memory-mapped and nothing is read at load. Weights stored as f32 are used
 * in place; bf16/f16 ones are widened to f32 one block at a time into a scratch buffer the size of the
 * largest block (1.4 GB for the released model), so the resident set is the mapping's touched pages plus
 * that buffer and one block's activations. Attention is ops.h's: one head's [Lj, Lj] scores at a time
 * (Lj = text + image tokens), so very long videos are bounded by that buffer on the CPU. */
#ifndef SORA_MMDIT_H
#define SORA_MMDIT_H

#include "../io/safetensors.h"
#include "../nn/tensor.h"
#include "../util/err.h"

#include <stdint.h>

/* MMDiTConfig. From the weights: in_channels, vec_in_dim, context_in_dim, hidden_size, num_heads (hidden /
 * the q/k-norm size), mlp_hidden (= int(hidden·mlp_ratio)), depth, depth_single_blocks, qkv_bias,
 * fused_qkv, guidance_embed, cond_embed; patch_size from cond_in when present. From the JSON (released
 * values by default): axes_dim [16, 56, 56], theta 10000, patch_size 2, use_liger_rope (default: the
 * layout's, true for Open-Sora 2.0, false for FLUX). A JSON key the weights also tell must agree. */
typedef struct sora_mmdit_config {
	int in_channels, vec_in_dim, context_in_dim, hidden, heads, head_dim, mlp_hidden;
	int depth, depth_single, patch_size, axes_dim[3];
	float theta;
	int qkv_bias, fused_qkv, guidance_embed, cond_embed, liger_rope;
} sora_mmdit_config;

typedef struct sora_mmdit_linear {
	sora_tensor w, b; /* [out, in], [out] (b.data NULL without bias) */
} sora_mmdit_linear;

typedef struct sora_mmdit_stream { /* one stream of a double block: img_* or txt_* */
	sora_mmdit_linear mod, q, k, v, qkv, proj, mlp0, mlp2; /* q, k, v or qkv by layout */
	sora_tensor q_norm, k_norm;                            /* [head_dim] */
} sora_mmdit_stream;

typedef struct sora_mmdit_double {
	sora_mmdit_stream img, txt;
} sora_mmdit_double;

typedef struct sora_mmdit_single {
	sora_mmdit_linear mod, q, k, v_mlp, linear1, linear2; /* q, k, v_mlp or linear1 by layout */
	sora_tensor q_norm, k_norm;
} sora_mmdit_single;

typedef struct sora_mmdit {
	sora_mmdit_config cfg;
	int64_t n_params, n_tensors;
	sora_dtype stored; /* the dtype of img_in.weight (a checkpoint may mix) */
	sora_mmdit_linear img_in, cond_in, txt_in, time_in0, time_in1, vec_in0, vec_in1, guid_in0, guid_in1;
	sora_mmdit_linear final_mod, final_linear;
	sora_mmdit_double *dbl;
	sora_mmdit_single *sgl;
	/* Round t (and guidance) to bf16 before the embedding, as the reference holds it in its bf16 runs;
	 * on by default for 16-bit checkpoints, off for f32 ones (the fixtures' f32 runs). */
	int quantize_t;
	sora_safetensors *st; /* the mapping the weights view */
	float *scratch;       /* widened 16-bit weights of one block */
	size_t scratch_n;
} sora_mmdit;

/* weights: a .safetensors file (or sharded .index.json); config_json: NULL or a JSON object of
 * MMDiTConfig keys. Strict: every missing, unexpected or misshapen tensor is named; a config that says
 * the other layout (fused_qkv, guidance_embed, cond_embed) than the checkpoint has is an error. Reads no
 * tensor data. */
int sora_mmdit_load(sora_mmdit *m, const char *weights, const char *config_json, sora_err *e);
void sora_mmdit_free(sora_mmdit *m);

/* Inputs of MMDiTModel.forward. All CPU f32, batch-major. */
typedef struct sora_mmdit_input {
	int B, L, Lt;           /* batch, image tokens, text tokens */
	const float *img;       /* [B, L, in_channels] packed latent */
	const float *img_ids;   /* [B, L, 3] (t, h, w) */
	const float *txt;       /* [B, Lt, context_in_dim] T5 states */
	const float *txt_ids;   /* [B, Lt, 3] (zeros) */
	const float *timesteps; /* [B] in [0, 1], 1 = noise */
	const float *y_vec;     /* [B, vec_in_dim] CLIP pooled */
	const float *cond;     /* [B, L, in_channels + patch²]; NULL = zeros (t2v); cond_embed models only */
	const float *guidance; /* [B]; required by guidance_embed models, else ignored */
} sora_mmdit_input;

/* Called with each intermediate the fixtures name (without "fwd."): "img_in", "block_in.vec",
 * "double_blocks.0.img_attn.q_proj", "single_blocks.1.out", "pe.cos" ([B, L, D/2]), ... A non-zero return
 * stops the forward with that error. Norm outputs are [B, L, H, D]. */
typedef struct sora_mmdit_hook {
	int (*fn)(void *ctx, const char *name, const float *data, int ndim, const int64_t *shape,
		  sora_err *e);
	void *ctx;
} sora_mmdit_hook;

/* out [B, L, in_channels]: the predicted velocity (packed). hook may be NULL. */
int sora_mmdit_forward(sora_mmdit *m, const sora_mmdit_input *in, float *out, const sora_mmdit_hook *hook,
		       sora_err *e);

#endif
