/* The HunyuanVideo causal 3-D VAE as Open-Sora 2.0 ships it (opensora/models/hunyuan_vae:
 * AutoencoderKLCausal3D, EncoderCausal3D, DecoderCausal3D), f32 on the CPU ops.
 *
 *     sora_vae m;
 *     TRY(sora_vae_load(&m, "hunyuan_vae.safetensors", NULL, e));       // released defaults
 *     TRY(sora_vae_encode(&m, x, T, H, W, &moments, ldims, e));           // x [3, T, H, W] in [−1, 1]
 *     sora_vae_latent(&m, moments, ldims, NULL, z, NULL, NULL);           // z = 0.476986 · mean
 *     TRY(sora_vae_decode(&m, z, ldims, &video, vdims, e));               // video [3, 4(t−1)+1, 8h, 8w]
 *     sora_vae_free(&m);
 *
 * Shapes are one clip, channels first: pixels [3, T, H, W], latents [16, t, h, w] with t = (T−1)/4 + 1,
 * h = H/8, w = W/8. Tiling follows the config (use_spatial_tiling, use_temporal_tiling, sample_size,
 * sample_tsize, tile_overlap_factor) exactly as the reference's encode/decode dispatch does. */
#ifndef SORA_VAE_HUNYUAN_H
#define SORA_VAE_HUNYUAN_H

#include "../io/safetensors.h"
#include "../nn/tensor.h"
#include "../util/err.h"

#include <stdint.h>

#define SORA_VAE_MAX_BLOCKS 8

/* AutoEncoder3DConfig. Channel counts come from the checkpoint's shapes; the rest from the JSON (the
 * released values are the defaults). */
typedef struct sora_vae_config {
	int in_channels, out_channels, latent_channels, layers_per_block, norm_num_groups;
	int time_compression_ratio, spatial_compression_ratio, mid_block_add_attention;
	int nblocks, block_out_channels[SORA_VAE_MAX_BLOCKS];
	float scale_factor, shift_factor;
	int sample_size, sample_tsize; /* spatial tile (px), temporal tile (frames) */
	int use_spatial_tiling, use_temporal_tiling;
	double tile_overlap_factor;
} sora_vae_config;

typedef struct sora_vae_conv {
	sora_tensor w, b; /* [cout, cin, k, k, k], [cout] */
	int cin, cout, k, st, sh, sw;
} sora_vae_conv;

typedef struct sora_vae_resnet {
	int cin, cout, shortcut; /* a 1×1×1 conv_shortcut iff cin != cout */
	sora_tensor n1w, n1b, n2w, n2b;
	sora_vae_conv c1, c2, sc;
} sora_vae_resnet;

typedef struct sora_vae_attn {
	sora_tensor gn_w, gn_b, q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b; /* [C] / [C, C] */
} sora_vae_attn;

typedef struct sora_vae_block {
	int nres;
	sora_vae_resnet *res;
	int has_sampler;       /* downsamplers.0 / upsamplers.0 */
	sora_vae_conv sampler; /* its conv (strided for the encoder) */
	int ft, fhw;           /* upsampling factors (decoder) */
} sora_vae_block;

typedef struct sora_vae_half {
	sora_vae_conv conv_in, conv_out;
	sora_vae_block blocks[SORA_VAE_MAX_BLOCKS];
	sora_vae_resnet mid[2];
	sora_vae_attn attn;
	sora_tensor norm_w, norm_b; /* conv_norm_out */
} sora_vae_half;

/* Called with each checkpoint activation of a forward (names as in the fixtures: "enc.conv_in",
 * "dec.up_blocks.2.resnets.0", "post_quant_conv", ...): n f32 values in the reference's layout. */
typedef void (*sora_vae_probe)(void *ctx, const char *name, const float *x, int64_t n);

typedef struct sora_vae {
	sora_vae_config cfg;
	sora_vae_half enc, dec;
	sora_vae_conv quant_conv, post_quant_conv;
	sora_vae_probe probe;
	void *probe_ctx;
} sora_vae;

void sora_vae_config_default(sora_vae_config *c);
/* Reads the keys of AutoEncoder3DConfig from a JSON object at the top level or under
 * "AutoEncoder3DConfig"; missing keys keep their current values. */
int sora_vae_config_read(sora_vae_config *c, const char *path, sora_err *e);

/* Loads weights with the official names, strictly (every missing, unexpected or misshapen tensor is
 * named). config_path may be NULL (the released defaults). */
int sora_vae_load(sora_vae *m, const char *weights_path, const char *config_path, sora_err *e);
/* The same names and shapes check from the header alone (no tensor data is read); *params gets the
 * parameter count. */
int sora_vae_check(const char *weights_path, const char *config_path, int64_t *params, sora_err *e);
/* A model of the given config with seeded random weights (uniform, std 1/(2·√fan_in) for conv and
 * linear weights, 1/(2·√C) for their biases; norms γ = 1, β = 0): for benchmarks and memory checks. */
int sora_vae_init_random(sora_vae *m, const sora_vae_config *c, uint64_t seed, sora_err *e);
void sora_vae_free(sora_vae *m);

/* x [in_channels, T, H, W] → *moments [2·latent, t, h, w] (malloc'd; ldims = {2·latent, t, h, w}):
 * quant_conv(encoder(x)), tiled as the config says. T must be 4k+1, H and W multiples of 8. */
int sora_vae_encode(const sora_vae *m, const float *x, int T, int H, int W, float **moments, int ldims[4],
		    sora_err *e);
/* From moments [2·latent, ...] (mdims): mean, logvar clamped to [−30, 20], and
 * z = scale · (mean + exp(logvar/2)·eps − shift) (eps NULL: z = scale · (mean − shift)). Any of z, mean,
 * logvar may be NULL; each is [latent, t, h, w]. */
void sora_vae_latent(const sora_vae *m, const float *moments, const int mdims[4], const float *eps, float *z,
		     float *mean, float *logvar);
/* z [latent, t, h, w] (scaled, as encode returns it) → *video [out_channels, 4(t−1)+1, 8h, 8w]
 * (malloc'd; vdims filled), tiled as the config says. */
int sora_vae_decode(const sora_vae *m, const float *z, const int zdims[4], float **video, int vdims[4],
		    sora_err *e);

/* Receives decoded frames in order: frames [out_channels, n, H, W] are frames first .. first + n − 1 of
 * the video. Returns 0 to go on, -1 (e filled) to stop the decode. */
typedef int (*sora_vae_emit)(void *ctx, const float *frames, int n, int first, int C, int H, int W,
			     sora_err *e);

/* The untiled decoder, streamed: the same frames as sora_vae_decode without tiling, handed to emit in order,
 * while only `chunk` latent frames (4·chunk video frames) of the up blocks are in memory at a time beside
 * the latent-resolution mid block. GroupNorm normalises over the whole clip, so the statistics of each of
 * the up blocks' norms are gathered first, one streamed pass per norm (the layers before it recomputed),
 * then a last pass emits the frames: bounded memory for a longer run. */
int sora_vae_decode_stream(const sora_vae *m, const float *z, const int zdims[4], int chunk,
			   sora_vae_emit emit, void *ctx, sora_err *e);

/* n N(0, 1) values from seed (splitmix64 + Box–Muller; not torch's generator). */
void sora_vae_gaussian(float *out, size_t n, uint64_t seed);

#endif
