/* Model folders made by sora_init_model (sora-mkmodel) from configs/tiny/: every kind loads through our
 * own loaders and tokenizers and runs a forward pass; the same seed gives the same bytes; bad configs
 * fail with a message naming the problem. */
#include "io/safetensors.h"
#include "models/clip_text.h"
#include "models/clip_vision.h"
#include "models/init_model.h"
#include "models/t5.h"
#include "models/tokenizer_clip.h"
#include "models/tokenizer_t5.h"
#include "util/file.h"
#include "util/json.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const prompt =
    "A golden fox runs across a snowy forest. The camera pans slowly to the left.";

/* A fresh model folder of kind k from configs/tiny/<config>. */
static void make(char *dir, size_t n, const char *kind, const char *config, uint64_t seed, sora_dtype dt)
{
	char cfg[256], tmpl[] = "/tmp/sora-mkmodel.XXXXXX";
	sora_err e = {0};
	sora_init_report r;
	cr_assert(mkdtemp(tmpl));
	snprintf(dir, n, "%s/%s", tmpl, kind);
	snprintf(cfg, sizeof cfg, "configs/tiny/%s.json", config);
	cr_assert_eq(sora_init_model(sora_init_kind_find(kind), cfg, dir, seed, dt, &r, &e), 0, "%s", e.msg);
	cr_log_info("%s: %d tensors, %lld parameters, %d pieces, %d merges", dir, r.tensors,
		    (long long)r.params, r.pieces, r.merges);
}

/* Removes the temporary folder make() or expect_fails() created (the parent of dir). */
static void cleanup(const char *dir)
{
	char cmd[700];
	const char *slash = strrchr(dir, '/');
	cr_assert(slash && !strncmp(dir, "/tmp/sora-mkmodel.", 18));
	snprintf(cmd, sizeof cmd, "rm -rf '%.*s'", (int)(slash - dir), dir);
	cr_expect_eq(system(cmd), 0);
}

static void expect_finite(const char *what, const float *x, size_t n)
{
	double sum = 0;
	size_t bad = 0;
	for (size_t i = 0; i < n; i++) {
		bad += !isfinite(x[i]);
		sum += fabs(x[i]);
	}
	cr_log_info("%s: %zu values, mean |x| %.4g", what, n, sum / (double)n);
	cr_expect_eq(bad, 0, "%s: %zu non-finite values", what, bad);
	cr_expect_gt(sum, 0, "%s: all zero", what);
}

static void t5_case(sora_dtype dt)
{
	char dir[512];
	sora_err e = {0};
	sora_t5 m;
	sora_t5_tok *tok = NULL;
	int ids[SORA_T5_MAX_LENGTH], n;
	make(dir, sizeof dir, "t5", "t5", 0, dt);
	cr_assert_eq(sora_t5_load_dir(&m, dir, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_t5_tok_load(&tok, dir, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_t5_tok_encode(tok, prompt, SORA_T5_MAX_LENGTH, ids, &n, &e), 0, "%s", e.msg);
	cr_log_info("T5 tokenizer: %d tokens for the prompt", n);
	cr_expect(n > 5 && n < 40, "%d tokens", n);
	cr_expect_eq(ids[n - 1], 1, "ends with </s>");
	for (int i = 0; i < SORA_T5_MAX_LENGTH; i++) {
		cr_expect(ids[i] != 2, "<unk> at %d: the corpus words are all pieces", i);
		cr_expect(ids[i] >= 0 && ids[i] < m.cfg.vocab_size, "id %d out of the vocabulary", ids[i]);
	}
	const int L = SORA_T5_MAX_LENGTH, D = m.cfg.d_model;
	float *out = malloc((size_t)L * D * sizeof *out);
	cr_assert(out);
	cr_assert_eq(sora_t5_forward(&m, ids, NULL, 1, L, out, &e), 0, "%s", e.msg);
	expect_finite("T5 last_hidden_state [1, 512, d_model]", out, (size_t)L * D);
	/* T5's final RMSNorm (weight 1): each position has mean square ~1. */
	double ms = 0;
	for (int j = 0; j < D; j++)
		ms += (double)out[j] * out[j] / D;
	cr_expect(fabs(ms - 1) < 0.01, "mean square of position 0: %g", ms);
	free(out);
	sora_t5_tok_free(tok);
	sora_t5_free(&m);
	cleanup(dir);
}

Test(mkmodel, t5_loads_tokenizes_and_runs)
{
	t5_case(SORA_F32);
}
Test(mkmodel, t5_bf16_loads_and_runs)
{
	t5_case(SORA_BF16);
}

Test(mkmodel, clip_text_loads_tokenizes_and_runs)
{
	char dir[512];
	sora_err e = {0};
	sora_clip_text m;
	sora_clip_tok *tok = NULL;
	int ids[SORA_CLIP_MAX_LENGTH], n;
	int32_t ids32[SORA_CLIP_MAX_LENGTH];
	make(dir, sizeof dir, "clip-text", "clip_text", 0, SORA_F32);
	cr_assert_eq(sora_clip_text_load_dir(&m, dir, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_clip_tok_load(&tok, dir, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_clip_tok_encode(tok, prompt, SORA_CLIP_MAX_LENGTH, ids, &n, &e), 0, "%s", e.msg);
	cr_log_info("CLIP tokenizer: %d tokens for the prompt (with BPE merges; 79 bytes)", n);
	cr_expect(n > 10 && n < 50, "%d tokens: the merges were not applied", n);
	cr_expect_eq(ids[0], SORA_CLIP_BOS);
	cr_expect_eq(ids[n - 1], SORA_CLIP_EOS);
	for (int i = 0; i < SORA_CLIP_MAX_LENGTH; i++)
		ids32[i] = ids[i];
	const int L = SORA_CLIP_MAX_LENGTH, C = m.cfg.hidden;
	float *hidden = malloc((size_t)L * C * sizeof *hidden), pooled[64];
	cr_assert(hidden && C <= 64);
	cr_assert_eq(sora_clip_text_forward(&m, ids32, NULL, 1, L, hidden, pooled, &e), 0, "%s", e.msg);
	expect_finite("CLIP last_hidden_state [1, 77, hidden]", hidden, (size_t)L * C);
	expect_finite("CLIP pooler_output [1, hidden]", pooled, (size_t)C);
	free(hidden);
	sora_clip_tok_free(tok);
	sora_clip_text_free(&m);
	cleanup(dir);
}

static void vision_case(const char *kind, const char *config)
{
	char dir[512], cfg[600], w[600];
	sora_err e = {0};
	sora_clip_vision *m = NULL;
	make(dir, sizeof dir, kind, config, 0, SORA_F32);
	snprintf(cfg, sizeof cfg, "%s/config.json", dir);
	snprintf(w, sizeof w, "%s/model.safetensors", dir);
	cr_assert_eq(sora_clip_vision_load(&m, cfg, w, NULL, &e), 0, "%s", e.msg);
	const sora_clip_vision_config *c = sora_clip_vision_get_config(m);
	size_t np = (size_t)2 * c->num_channels * c->image_size * c->image_size;
	float *px = malloc(np * sizeof *px), emb[2 * 64];
	cr_assert(px && c->projection_dim <= 64);
	for (size_t i = 0; i < np; i++)
		px[i] = (float)sin((double)i * 0.01);
	cr_assert_eq(sora_clip_vision_forward(m, px, 2, emb, NULL, NULL, &e), 0, "%s", e.msg);
	expect_finite("CLIP image_embeds [2, projection_dim]", emb, (size_t)2 * c->projection_dim);
	free(px);
	sora_clip_vision_free(m);
	cleanup(dir);
}

Test(mkmodel, clip_vision_loads_and_runs)
{
	vision_case("clip-vision", "clip_vision");
}
/* A whole CLIPModel: the vision loader takes it, ignoring the text tower. */
Test(mkmodel, clip_model_loads_in_the_vision_loader)
{
	vision_case("clip", "clip");
}

static char *slurp(const char *dir, const char *name, size_t *n)
{
	char p[600];
	sora_err e = {0};
	snprintf(p, sizeof p, "%s/%s", dir, name);
	char *s = sora_read_file(p, 1 << 28, "file", n, &e);
	cr_assert(s, "%s", e.msg);
	return s;
}

static int same_file(const char *a, const char *b, const char *name)
{
	size_t na, nb;
	char *x = slurp(a, name, &na), *y = slurp(b, name, &nb);
	int same = na == nb && !memcmp(x, y, na);
	free(x);
	free(y);
	return same;
}

Test(mkmodel, same_seed_same_bytes)
{
	char a[512], b[512], c[512];
	make(a, sizeof a, "t5", "t5", 7, SORA_F32);
	make(b, sizeof b, "t5", "t5", 7, SORA_F32);
	make(c, sizeof c, "t5", "t5", 8, SORA_F32);
	cr_expect(same_file(a, b, "model.safetensors"));
	cr_expect(same_file(a, b, "spiece.model"));
	cr_expect(!same_file(a, c, "model.safetensors"), "another seed, other weights");
	cleanup(a);
	cleanup(b);
	cleanup(c);
	make(a, sizeof a, "clip-text", "clip_text", 7, SORA_BF16);
	make(b, sizeof b, "clip-text", "clip_text", 7, SORA_BF16);
	cr_expect(same_file(a, b, "model.safetensors"));
	cr_expect(same_file(a, b, "vocab.json"));
	cr_expect(same_file(a, b, "merges.txt"));
	cleanup(a);
	cleanup(b);
}

/* A config written to a temporary file, made into a model of kind k: the error message. */
static void expect_fails(const char *kind, const char *json, const char *needle)
{
	char tmpl[] = "/tmp/sora-mkmodel.XXXXXX", cfg[600], dir[600];
	sora_err e = {0};
	sora_init_report r;
	cr_assert(mkdtemp(tmpl));
	snprintf(cfg, sizeof cfg, "%s/config.json", tmpl);
	snprintf(dir, sizeof dir, "%s/out", tmpl);
	FILE *f = fopen(cfg, "w");
	cr_assert(f);
	fputs(json, f);
	fclose(f);
	cr_assert_lt(sora_init_model(sora_init_kind_find(kind), cfg, dir, 0, SORA_F32, &r, &e), 0);
	cr_log_info("%s: %s", kind, e.msg);
	cr_expect(strstr(e.msg, needle), "message \"%s\" does not say \"%s\"", e.msg, needle);
	cleanup(dir);
}

Test(mkmodel, bad_configs_fail_clearly)
{
	expect_fails("t5",
		     "{\"vocab_size\": 576, \"d_model\": 32, \"d_kv\": 8, \"num_heads\": 4, "
		     "\"num_layers\": 2, \"feed_forward_proj\": \"gated-gelu\", \"initializer_factor\": 1, "
		     "\"relative_attention_num_buckets\": 32}",
		     "d_ff is missing");
	expect_fails("clip-text",
		     "{\"vocab_size\": 1000, \"hidden_size\": 8, \"num_hidden_layers\": 1, "
		     "\"intermediate_size\": 8, \"max_position_embeddings\": 77, \"initializer_factor\": 1}",
		     "49408");
	expect_fails("t5", "{\"vocab_size\": ", "config.json");
	expect_fails("clip-vision",
		     "{\"hidden_size\": 8, \"num_hidden_layers\": 1, \"intermediate_size\": 8, "
		     "\"image_size\": 224, \"patch_size\": 0, \"num_channels\": 3, \"projection_dim\": 8, "
		     "\"initializer_factor\": 1, \"initializer_range\": 0.02}",
		     "patch_size");
}

/* The VAE table against the published checkpoint: Open-Sora's hunyuan_vae.safetensors holds 248 tensors,
 * 246,478,803 parameters (opensora_spec.md §2.8) for this config. */
Test(mkmodel, hunyuan_vae_table_matches_the_published_count)
{
	char tmpl[] = "/tmp/sora-mkmodel.XXXXXX", cfg[600];
	sora_err e = {0};
	sora_json j = {0};
	int n;
	int64_t params;
	cr_assert(mkdtemp(tmpl));
	snprintf(cfg, sizeof cfg, "%s/config.json", tmpl);
	FILE *f = fopen(cfg, "w");
	cr_assert(f);
	fputs("{\"block_out_channels\": [128, 256, 512, 512], \"in_channels\": 3, \"out_channels\": 3, "
	      "\"latent_channels\": 16, \"layers_per_block\": 2, \"norm_num_groups\": 32, "
	      "\"mid_block_add_attention\": true}",
	      f);
	fclose(f);
	cr_assert_eq(sora_json_load(&j, cfg, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_init_count(sora_init_kind_find("hunyuan-vae"), &j, &n, &params, &e), 0, "%s",
		     e.msg);
	cr_log_info("hunyuan-vae on the published config: %d tensors, %lld parameters", n, (long long)params);
	cr_expect_eq(n, 248);
	cr_expect_eq(params, 246478803);
	sora_json_free(&j);
	char dir[700];
	snprintf(dir, sizeof dir, "%s/x", tmpl);
	cleanup(dir);
}

Test(mkmodel, tiny_vae_writes_a_checkpoint)
{
	char dir[512], w[600];
	sora_err e = {0};
	sora_safetensors *st = NULL;
	make(dir, sizeof dir, "hunyuan-vae", "hunyuan_vae", 0, SORA_F32);
	snprintf(w, sizeof w, "%s/model.safetensors", dir);
	cr_assert_eq(sora_st_open(&st, w, &e), 0, "%s", e.msg);
	const sora_st_tensor *t =
	    sora_st_find(st, "encoder.down_blocks.1.resnets.0.conv_shortcut.conv.weight");
	cr_assert(t, "the shortcut of a resnet whose channels change");
	cr_expect_eq(t->ndim, 5);
	cr_expect(t->shape[0] == 16 && t->shape[1] == 8 && t->shape[4] == 1);
	cr_expect(!sora_st_find(st, "encoder.down_blocks.0.resnets.0.conv_shortcut.conv.weight"));
	cr_expect(!sora_st_find(st, "encoder.down_blocks.3.downsamplers.0.conv.conv.weight"));
	cr_expect(sora_st_find(st, "decoder.up_blocks.2.resnets.1.norm1.weight"));
	sora_st_close(st);
	cleanup(dir);
}

/* The table expressions: precedence, lists, conditions; malformed ones fail naming the problem. */
Test(mkmodel, expressions)
{
	char tmpl[] = "/tmp/sora-mkmodel.XXXXXX", cfg[600], dir[700];
	sora_err e = {0};
	sora_json j = {0};
	double v;
	cr_assert(mkdtemp(tmpl));
	snprintf(cfg, sizeof cfg, "%s/config.json", tmpl);
	FILE *f = fopen(cfg, "w");
	cr_assert(f);
	fputs("{\"a\": 3, \"c\": [8, 16, 32], \"on\": true, \"s\": {\"a\": 5}, \"name\": \"x\"}", f);
	fclose(f);
	cr_assert_eq(sora_json_load(&j, cfg, &e), 0, "%s", e.msg);
	static const struct {
		const char *scope, *expr;
		double want;
	} ok[] = {
	    {"", "1 + 2 * a", 7},
	    {"", "(1 + 2) * a", 9},
	    {"", "2 ^ -1 * 4", 2},
	    {"", "a - 1 - 1", 1},
	    {"", "-a + 4", 1},
	    {"", "c[1] + c[-1]", 48},
	    {"", "len(c)", 3},
	    {"", "c[len(c) - 1]", 32},
	    {"", "max(a, 4) + min(a, 4)", 7},
	    {"", "a == 3 ? c[0] : c[2]", 8},
	    {"", "a != 3 ? 1 : 0", 0},
	    {"", "a >= 3", 1},
	    {"", "a < 3", 0},
	    {"", "on * 2", 2},
	    {"s.", "a", 5},
	    {"s.", "c[0]", 8},
	    {"", "s.a / 2", 2.5},
	    {"", "1 ? 2 ? 3 : 4 : 5", 3},
	};
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		cr_expect_eq(sora_init_eval(&j, ok[i].scope, ok[i].expr, &v, &e), 0, "%s: %s", ok[i].expr,
			     e.msg);
		cr_expect(fabs(v - ok[i].want) < 1e-12, "%s = %g, want %g", ok[i].expr, v, ok[i].want);
	}
	static const struct {
		const char *expr, *says;
	} bad[] = {
	    {"b + 1", "b is missing"},     {"name", "not a number"}, {"c[3]", "outside the list"},
	    {"c[-4]", "outside the list"}, {"a[0]", "not a list"},   {"(a + 1", "')' expected"},
	    {"a 2", "unexpected"},         {"1 / 0", "not finite"},  {"a ? 1", "':' expected"},
	    {"len(a)", "not a list"},      {"", "unexpected"},       {"fan_in", "fan_in"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		sora_err_clear(&e);
		cr_expect_lt(sora_init_eval(&j, "", bad[i].expr, &v, &e), 0, "%s succeeded", bad[i].expr);
		cr_expect(strstr(e.msg, bad[i].says), "%s: \"%s\" does not say \"%s\"", bad[i].expr, e.msg,
			  bad[i].says);
	}
	sora_json_free(&j);
	snprintf(dir, sizeof dir, "%s/x", tmpl);
	cleanup(dir);
}

/* The MMDiT table against the published checkpoint: Open_Sora_v2.safetensors holds 1082 tensors,
 * 11,891,390,528 parameters (opensora_spec.md §1.11) for the released 11B config. */
Test(mkmodel, mmdit_table_matches_the_published_count)
{
	char tmpl[] = "/tmp/sora-mkmodel.XXXXXX", cfg[600], dir[700];
	sora_err e = {0};
	sora_json j = {0};
	int n;
	int64_t params;
	cr_assert(mkdtemp(tmpl));
	snprintf(cfg, sizeof cfg, "%s/config.json", tmpl);
	FILE *f = fopen(cfg, "w");
	cr_assert(f);
	fputs("{\"in_channels\": 64, \"vec_in_dim\": 768, \"context_in_dim\": 4096, \"hidden_size\": 3072, "
	      "\"mlp_ratio\": 4.0, \"num_heads\": 24, \"depth\": 19, \"depth_single_blocks\": 38, "
	      "\"patch_size\": 2, \"qkv_bias\": true, \"fused_qkv\": false, \"guidance_embed\": false, "
	      "\"cond_embed\": true}",
	      f);
	fclose(f);
	cr_assert_eq(sora_json_load(&j, cfg, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_init_count(sora_init_kind_find("mmdit"), &j, &n, &params, &e), 0, "%s", e.msg);
	cr_log_info("mmdit on the released 11B config: %d tensors, %lld parameters", n, (long long)params);
	cr_expect_eq(n, 1082);
	cr_expect_eq(params, 11891390528ll);
	sora_json_free(&j);
	snprintf(dir, sizeof dir, "%s/x", tmpl);
	cleanup(dir);
}

Test(mkmodel, tiny_mmdit_writes_a_checkpoint)
{
	char dir[512], w[600];
	sora_err e = {0};
	sora_safetensors *st = NULL;
	make(dir, sizeof dir, "mmdit", "mmdit", 0, SORA_BF16);
	snprintf(w, sizeof w, "%s/model.safetensors", dir);
	cr_assert_eq(sora_st_open(&st, w, &e), 0, "%s", e.msg);
	const sora_st_tensor *t = sora_st_find(st, "single_blocks.1.v_mlp.weight");
	cr_assert(t);
	cr_expect(t->shape[0] == 64 + 256 && t->shape[1] == 64);
	cr_expect(sora_st_find(st, "cond_in.weight") &&
		  sora_st_find(st, "double_blocks.1.txt_attn.q_proj.bias"));
	cr_expect(!sora_st_find(st, "guidance_in.in_layer.weight") &&
		  !sora_st_find(st, "double_blocks.0.img_attn.qkv.weight"));
	sora_st_close(st);
	cleanup(dir);
}
