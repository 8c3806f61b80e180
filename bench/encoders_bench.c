/* Whole encoder forward passes on random weights (bench/encoders.sh runs this next to the same layer
 * shapes built from torch.nn): T5 at t5-v1_1-xxl width (2 of its 24 blocks, 512 tokens), CLIP-L/14's text
 * tower (77 tokens) and vision tower (224 px). Each model is written into DIR as a published folder would
 * hold it (config.json, model.safetensors with bf16 weights), loaded by its loader, and timed.
 *
 *     encoders_bench DIR RUNS [t5] [clip_text] [clip_vision]
 *         prints "name items/s GFLOP/s" for each model named (all without names): the median of RUNS timed
 *         passes after a warm-up; GFLOP = the matrix products (the torch side counts the same)
 */
#include "io/safetensors.h"
#include "models/clip_text.h"
#include "models/clip_vision.h"
#include "models/t5.h"

#include <cblas.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void die(const char *what, const sora_err *e)
{
	fprintf(stderr, "encoders_bench: %s: %s\n", what, e->msg);
	exit(1);
}

/* ---- a random checkpoint ---- */

typedef struct ckpt {
	char **names;
	sora_tensor *t;
	int n, cap;
	uint64_t rng;
} ckpt;

static float uniform(ckpt *c) /* [-1, 1) */
{
	c->rng ^= c->rng << 13, c->rng ^= c->rng >> 7, c->rng ^= c->rng << 17;
	return (float)(c->rng >> 40) / (float)(1 << 23) - 1.0f;
}

/* A bf16 tensor: `center` ± `spread`. Matrices get spread √(3 / fan_in) (unit variance out). */
static void add(ckpt *c, float center, float spread, int ndim, const int64_t *shape, const char *fmt, ...)
{
	char name[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->names = realloc(c->names, (size_t)c->cap * sizeof *c->names);
		c->t = realloc(c->t, (size_t)c->cap * sizeof *c->t);
		if (!c->names || !c->t)
			exit(1);
	}
	sora_err e = {0};
	sora_tensor *t = &c->t[c->n];
	if (sora_tensor_alloc(t, SORA_BF16, ndim, shape, &e) < 0)
		die(name, &e);
	uint16_t *p = t->data;
	for (int64_t i = 0; i < sora_tensor_numel(t); i++)
		p[i] = sora_f32_to_bf16(center + spread * uniform(c));
	c->names[c->n++] = strdup(name);
}

static void matrix(ckpt *c, int64_t out, int64_t in, const char *fmt, const char *name)
{
	add(c, 0, sqrtf(3.0f / (float)in), 2, (int64_t[]){out, in}, fmt, name);
}

static void write_ckpt(ckpt *c, const char *dir, const char *config)
{
	char p[4096];
	sora_err e = {0};
	snprintf(p, sizeof p, "%s/model.safetensors", dir);
	if (sora_st_write(p, (const char *const *)c->names, c->t, c->n, NULL, &e) < 0)
		die(p, &e);
	for (int i = 0; i < c->n; i++) {
		sora_tensor_free(&c->t[i]);
		free(c->names[i]);
	}
	free(c->names), free(c->t);
	memset(c, 0, sizeof *c);
	snprintf(p, sizeof p, "%s/config.json", dir);
	FILE *fp = fopen(p, "w");
	if (!fp || fputs(config, fp) < 0 || fclose(fp) != 0) {
		fprintf(stderr, "encoders_bench: cannot write %s\n", p);
		exit(1);
	}
}

/* The pre-LN transformer layers CLIP's two towers share, under prefix ("text_model", "vision_model"). */
static void clip_layers(ckpt *c, const char *pre, int layers, int64_t C, int64_t ff)
{
	static const char *const proj[] = {"q_proj", "k_proj", "v_proj", "out_proj"};
	char f[256];
	for (int i = 0; i < layers; i++) {
		for (int k = 0; k < 4; k++) {
			snprintf(f, sizeof f, "%s.encoder.layers.%d.self_attn.%s.%%s", pre, i, proj[k]);
			matrix(c, C, C, f, "weight");
			add(c, 0, 0.05f, 1, (int64_t[]){C}, f, "bias");
		}
		for (int k = 1; k <= 2; k++) {
			snprintf(f, sizeof f, "%s.encoder.layers.%d.layer_norm%d.%%s", pre, i, k);
			add(c, 1, 0.5f, 1, (int64_t[]){C}, f, "weight");
			add(c, 0, 0.05f, 1, (int64_t[]){C}, f, "bias");
		}
		snprintf(f, sizeof f, "%s.encoder.layers.%d.mlp.fc1.%%s", pre, i);
		matrix(c, ff, C, f, "weight");
		add(c, 0, 0.05f, 1, (int64_t[]){ff}, f, "bias");
		snprintf(f, sizeof f, "%s.encoder.layers.%d.mlp.fc2.%%s", pre, i);
		matrix(c, C, ff, f, "weight");
		add(c, 0, 0.05f, 1, (int64_t[]){C}, f, "bias");
	}
}

/* ---- the models at their published widths ---- */

enum { T5_D = 4096, T5_KV = 64, T5_H = 64, T5_FF = 10240, T5_LAYERS = 2, T5_L = 512, T5_VOCAB = 32128 };
enum { CT_C = 768, CT_H = 12, CT_I = 3072, CT_LAYERS = 12, CT_L = 77, CT_VOCAB = 49408, CT_B = 8 };
enum { CV_C = 1024, CV_H = 16, CV_I = 4096, CV_LAYERS = 24, CV_S = 224, CV_PS = 14, CV_P = 768, CV_B = 2 };

/* Matrix-product FLOPs of one transformer layer over B × T tokens (projections, MLP, attention). */
static double layer_flops(double B, double T, double C, double inner, double ff, int gated)
{
	return 2 * B * T * C * inner * 4 + 2 * B * T * C * ff * (gated ? 3 : 2) + 4 * B * T * T * inner;
}

static void report(const char *name, double *t, int runs, double items, double flops)
{
	qsort(t, (size_t)runs, sizeof *t, cmp);
	double m = t[runs / 2];
	printf("%s %.2f %.2f\n", name, items / m, flops / m / 1e9);
	fflush(stdout);
}

static void bench_t5(const char *dir, int runs)
{
	ckpt c = {.rng = 0x9e3779b97f4a7c15ull};
	char cfg[512];
	sora_err e = {0};
	add(&c, 0, 1, 2, (int64_t[]){T5_VOCAB, T5_D}, "shared.weight");
	add(&c, 0, 1, 2, (int64_t[]){32, T5_H},
	    "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight");
	add(&c, 1, 0.5f, 1, (int64_t[]){T5_D}, "encoder.final_layer_norm.weight");
	for (int i = 0; i < T5_LAYERS; i++) {
		char f[128];
		static const char *const qkv[] = {"q", "k", "v"};
		for (int k = 0; k < 3; k++) {
			snprintf(f, sizeof f, "encoder.block.%d.layer.0.SelfAttention.%%s.weight", i);
			matrix(&c, (int64_t)T5_H * T5_KV, T5_D, f, qkv[k]);
		}
		snprintf(f, sizeof f, "encoder.block.%d.layer.0.SelfAttention.%%s.weight", i);
		matrix(&c, T5_D, (int64_t)T5_H * T5_KV, f, "o");
		snprintf(f, sizeof f, "encoder.block.%d.layer.1.DenseReluDense.%%s.weight", i);
		matrix(&c, T5_FF, T5_D, f, "wi_0");
		matrix(&c, T5_FF, T5_D, f, "wi_1");
		matrix(&c, T5_D, T5_FF, f, "wo");
		for (int k = 0; k < 2; k++)
			add(&c, 1, 0.5f, 1, (int64_t[]){T5_D}, "encoder.block.%d.layer.%d.layer_norm.weight",
			    i, k);
	}
	snprintf(cfg, sizeof cfg,
		 "{\"vocab_size\": %d, \"d_model\": %d, \"d_kv\": %d, \"num_heads\": %d, \"d_ff\": %d, "
		 "\"num_layers\": %d, \"feed_forward_proj\": \"gated-gelu\"}\n",
		 T5_VOCAB, T5_D, T5_KV, T5_H, T5_FF, T5_LAYERS);
	write_ckpt(&c, dir, cfg);

	sora_t5 m;
	sora_arena scratch = {0};
	char cp[4096], wp[4096];
	snprintf(cp, sizeof cp, "%s/config.json", dir);
	snprintf(wp, sizeof wp, "%s/model.safetensors", dir);
	if (sora_t5_load(&m, cp, wp, &e) < 0)
		die("t5", &e);
	int32_t *ids = malloc(T5_L * sizeof *ids);
	float *out = malloc((size_t)T5_L * T5_D * sizeof *out);
	double *t = malloc((size_t)(runs + 1) * sizeof *t);
	for (int j = 0; j < T5_L; j++)
		ids[j] = j < 40 ? (j * 7919) % T5_VOCAB : 0; /* a prompt, then padding (attended to) */
	for (int r = -1; r < runs; r++) {
		double t0 = now();
		if (sora_t5_forward(&m, &scratch, ids, NULL, 1, T5_L, out, &e) < 0)
			die("t5 forward", &e);
		if (r >= 0)
			t[r] = now() - t0;
	}
	report("t5_xxl_width_2_blocks_512_tokens", t, runs, T5_L,
	       T5_LAYERS * layer_flops(1, T5_L, T5_D, T5_H * T5_KV, T5_FF, 1));
	free(ids), free(out), free(t);
	sora_arena_free(&scratch);
	sora_t5_free(&m);
}

static void bench_clip_text(const char *dir, int runs)
{
	ckpt c = {.rng = 0x1234567887654321ull};
	char cfg[512];
	sora_err e = {0};
	add(&c, 0, 1, 2, (int64_t[]){CT_VOCAB, CT_C}, "text_model.embeddings.token_embedding.weight");
	add(&c, 0, 1, 2, (int64_t[]){CT_L, CT_C}, "text_model.embeddings.position_embedding.weight");
	add(&c, 1, 0.5f, 1, (int64_t[]){CT_C}, "text_model.final_layer_norm.weight");
	add(&c, 0, 0.05f, 1, (int64_t[]){CT_C}, "text_model.final_layer_norm.bias");
	clip_layers(&c, "text_model", CT_LAYERS, CT_C, CT_I);
	snprintf(
	    cfg, sizeof cfg,
	    "{\"vocab_size\": %d, \"hidden_size\": %d, \"num_attention_heads\": %d, \"num_hidden_layers\": "
	    "%d, "
	    "\"intermediate_size\": %d, \"max_position_embeddings\": %d, \"hidden_act\": \"quick_gelu\", "
	    "\"eos_token_id\": 2}\n",
	    CT_VOCAB, CT_C, CT_H, CT_LAYERS, CT_I, CT_L);
	write_ckpt(&c, dir, cfg);

	sora_clip_text m;
	sora_arena scratch = {0};
	char cp[4096], wp[4096];
	snprintf(cp, sizeof cp, "%s/config.json", dir);
	snprintf(wp, sizeof wp, "%s/model.safetensors", dir);
	if (sora_clip_text_load(&m, cp, wp, &e) < 0)
		die("clip text", &e);
	int32_t *ids = malloc((size_t)CT_B * CT_L * sizeof *ids);
	float *hidden = malloc((size_t)CT_B * CT_L * CT_C * sizeof *hidden),
	      *pooled = malloc((size_t)CT_B * CT_C * sizeof *pooled);
	double *t = malloc((size_t)(runs + 1) * sizeof *t);
	for (int j = 0; j < CT_B * CT_L; j++)
		ids[j] = j % CT_L == 0 ? 49406 : j % CT_L < 20 ? (j * 7919) % 49000 : 49407;
	for (int r = -1; r < runs; r++) {
		double t0 = now();
		if (sora_clip_text_forward(&m, &scratch, ids, NULL, CT_B, CT_L, hidden, pooled, &e) < 0)
			die("clip text forward", &e);
		if (r >= 0)
			t[r] = now() - t0;
	}
	report("clip_l_text_8x77_tokens", t, runs, CT_B * CT_L,
	       CT_LAYERS * layer_flops(CT_B, CT_L, CT_C, CT_C, CT_I, 0));
	free(ids), free(hidden), free(pooled), free(t);
	sora_arena_free(&scratch);
	sora_clip_text_free(&m);
}

static void bench_clip_vision(const char *dir, int runs)
{
	enum { G = CV_S / CV_PS, T = G * G + 1 };
	ckpt c = {.rng = 0x0f0f0f0ff0f0f0f0ull};
	char cfg[512], *report_text = NULL;
	sora_err e = {0};
	add(&c, 0, 1, 1, (int64_t[]){CV_C}, "vision_model.embeddings.class_embedding");
	add(&c, 0, sqrtf(3.0f / (3 * CV_PS * CV_PS)), 4, (int64_t[]){CV_C, 3, CV_PS, CV_PS},
	    "vision_model.embeddings.patch_embedding.weight");
	add(&c, 0, 1, 2, (int64_t[]){T, CV_C}, "vision_model.embeddings.position_embedding.weight");
	add(&c, 1, 0.5f, 1, (int64_t[]){CV_C}, "vision_model.pre_layrnorm.weight");
	add(&c, 0, 0.05f, 1, (int64_t[]){CV_C}, "vision_model.pre_layrnorm.bias");
	add(&c, 1, 0.5f, 1, (int64_t[]){CV_C}, "vision_model.post_layernorm.weight");
	add(&c, 0, 0.05f, 1, (int64_t[]){CV_C}, "vision_model.post_layernorm.bias");
	matrix(&c, CV_P, CV_C, "%s", "visual_projection.weight");
	clip_layers(&c, "vision_model", CV_LAYERS, CV_C, CV_I);
	snprintf(cfg, sizeof cfg,
		 "{\"image_size\": %d, \"patch_size\": %d, \"hidden_size\": %d, \"num_attention_heads\": %d, "
		 "\"num_hidden_layers\": %d, \"intermediate_size\": %d, \"projection_dim\": %d, "
		 "\"hidden_act\": \"quick_gelu\"}\n",
		 CV_S, CV_PS, CV_C, CV_H, CV_LAYERS, CV_I, CV_P);
	write_ckpt(&c, dir, cfg);

	sora_clip_vision *m = NULL;
	char cp[4096], wp[4096];
	snprintf(cp, sizeof cp, "%s/config.json", dir);
	snprintf(wp, sizeof wp, "%s/model.safetensors", dir);
	if (sora_clip_vision_load(&m, cp, wp, &report_text, &e) < 0)
		die("clip vision", &e);
	const size_t npx = (size_t)CV_B * 3 * CV_S * CV_S;
	float *px = malloc(npx * sizeof *px), *emb = malloc((size_t)CV_B * CV_P * sizeof *emb);
	double *t = malloc((size_t)(runs + 1) * sizeof *t);
	for (size_t i = 0; i < npx; i++)
		px[i] = uniform(&c);
	for (int r = -1; r < runs; r++) {
		double t0 = now();
		if (sora_clip_vision_forward(m, px, CV_B, emb, NULL, NULL, &e) < 0)
			die("clip vision forward", &e);
		if (r >= 0)
			t[r] = now() - t0;
	}
	report("clip_l14_vision_2_images", t, runs, CV_B,
	       2.0 * CV_B * G * G * 3 * CV_PS * CV_PS * CV_C +
		   CV_LAYERS * layer_flops(CV_B, T, CV_C, CV_C, CV_I, 0) + 2.0 * CV_B * CV_C * CV_P);
	free(px), free(emb), free(t);
	sora_clip_vision_free(m);
}

int main(int argc, char **argv)
{
	static const char *const names[] = {"t5", "clip_text", "clip_vision"};
	static void (*const run[])(const char *, int) = {bench_t5, bench_clip_text, bench_clip_vision};
	int runs = argc >= 3 ? (int)strtol(argv[2], NULL, 10) : 0;
	if (runs < 1) {
		fprintf(stderr, "usage: encoders_bench DIR RUNS [t5] [clip_text] [clip_vision]\n");
		return 2;
	}
	fprintf(stderr, "sora.c: OpenBLAS %s, %d threads\n", openblas_get_config(),
		openblas_get_num_threads());
	for (int i = 0; i < 3; i++) {
		int on = argc == 3;
		for (int a = 3; a < argc; a++)
			on |= !strcmp(argv[a], names[i]);
		if (on)
			run[i](argv[1], runs);
	}
	return 0;
}
