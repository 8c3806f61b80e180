/* CLIP's vision tower with its projection (transformers 4.40 CLIPVisionModelWithProjection): the image
 * encoder of ViT-L/14 whose image_embeds feed the LAION aesthetic predictor.
 *
 *     sora_clip_vision *m;
 *     TRY(sora_clip_vision_load(&m, "config.json", "model.safetensors", &report, e));
 *     TRY(sora_clip_vision_forward(m, pixels, B, embeds, NULL, NULL, e));   // pixels [B, 3, 224, 224]
 *     sora_clip_vision_free(m);
 *
 * f32 on the CPU ops. Weights are bound strictly by their published names. The weights are read-only
 * after loading: threads share one model, each with its own workspace (sora_clip_vision_forward_ws). */
#ifndef SORA_CLIP_VISION_H
#define SORA_CLIP_VISION_H

#include "../nn/tensor.h"
#include "../util/err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sora_clip_vision_config {
	int image_size, patch_size, num_channels;
	int hidden, heads, layers, intermediate, projection_dim;
	float eps;
} sora_clip_vision_config;

typedef struct sora_clip_vision sora_clip_vision;
/* The activations of one forward pass: one per thread. */
typedef struct sora_clip_vision_ws sora_clip_vision_ws;

/* The config alone (as sora_clip_vision_load reads it), e.g. to estimate memory before loading. */
int sora_clip_vision_read_config(sora_clip_vision_config *c, const char *path, sora_err *e);
/* Parameters of the vision tower and projection: the model holds them as f32. */
int64_t sora_clip_vision_params(const sora_clip_vision_config *c);
/* Bytes of a workspace for batches of up to B images. */
size_t sora_clip_vision_ws_bytes(const sora_clip_vision_config *c, int B);

/* config: a CLIPVisionConfig config.json, or a whole CLIPConfig (its `vision_config` and top-level
 * `projection_dim` are used). weights: a .safetensors file or sharded index holding the vision tower
 * and visual_projection; a whole CLIPModel checkpoint is accepted too, its text tower, text_projection,
 * logit_scale and position_ids buffers being ignored. report as in sora_weights_load. */
int sora_clip_vision_load(sora_clip_vision **out, const char *config, const char *weights, char **report,
			  sora_err *e);
void sora_clip_vision_free(sora_clip_vision *m);
const sora_clip_vision_config *sora_clip_vision_get_config(const sora_clip_vision *m);

/* pixels [B, channels, image_size, image_size] (preprocessed, see io/image_prep.h) → image_embeds
 * [B, projection_dim] (not L2-normalised). last_hidden [B, 1 + patches, hidden] (encoder output,
 * before post_layernorm) and pooled [B, hidden] (post_layernorm of the class token) are written when
 * not NULL. Uses the model's own workspace, so one thread at a time per model. */
int sora_clip_vision_forward(sora_clip_vision *m, const float *pixels, int B, float *image_embeds,
			     float *last_hidden, float *pooled, sora_err *e);

/* A workspace sized for batches of up to B images of m (it grows when a forward needs more). */
int sora_clip_vision_ws_new(sora_clip_vision_ws **out, const sora_clip_vision *m, int B, sora_err *e);
void sora_clip_vision_ws_free(sora_clip_vision_ws *ws);
/* sora_clip_vision_forward on the caller's workspace: threads may run it at once on one model, each
 * with its own ws, and get the results one thread alone would. */
int sora_clip_vision_forward_ws(const sora_clip_vision *m, sora_clip_vision_ws *ws, const float *pixels,
				int B, float *image_embeds, float *last_hidden, float *pooled, sora_err *e);

#endif
