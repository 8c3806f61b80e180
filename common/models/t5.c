/* T5EncoderModel forward on the CPU ops, following transformers 4.40 modeling_t5 line by line. */
#include "t5.h"

#include "../io/safetensors.h"
#include "../nn/ops.h"
#include "../util/json.h"
#include "weights.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sora_t5_rel_bucket(int rel, int num_buckets, int max_distance)
{
	/* Bidirectional: half the buckets for keys after the query. The float32 log and the truncating
	 * cast are as in PyTorch, so the boundaries (a = 8, 12, 16, 23, ...) land where upstream's do. */
	int nb = num_buckets / 2, bucket = rel > 0 ? nb : 0;
	int a = rel < 0 ? -rel : rel, max_exact = nb / 2;
	if (a < max_exact)
		return bucket + a;
	float l = logf((float)a / (float)max_exact) / (float)log((double)max_distance / max_exact) *
		  (float)(nb - max_exact);
	int large = max_exact + (int)l;
	return bucket + (large < nb - 1 ? large : nb - 1);
}

int sora_t5_read_config(sora_t5_config *c, const char *path, sora_err *e)
{
	sora_json j = {0};
	int64_t v[8];
	double eps;
	const char *ffp;
	static const char *const keys[] = {"vocab_size", "d_model", "d_kv",
					   "num_heads",  "d_ff",    "num_layers"};
	TRY(sora_json_load(&j, path, e));
	for (int i = 0; i < 6; i++)
		TRY(sora_json_int(&j, keys[i], 1, 1 << 20, &v[i], e));
	TRY(sora_json_int_or(&j, "relative_attention_num_buckets", 2, 1 << 16, 32, &v[6], e));
	TRY(sora_json_int_or(&j, "relative_attention_max_distance", 1, 1 << 20, 128, &v[7], e));
	TRY(sora_json_double_or(&j, "layer_norm_epsilon", 1e-6, &eps, e));
	TRY(sora_json_string(&j, "feed_forward_proj", &ffp, e));
	*c = (sora_t5_config){.vocab_size = (int)v[0],
			      .d_model = (int)v[1],
			      .d_kv = (int)v[2],
			      .num_heads = (int)v[3],
			      .d_ff = (int)v[4],
			      .num_layers = (int)v[5],
			      .num_buckets = (int)v[6],
			      .max_distance = (int)v[7],
			      .eps = (float)eps};
	/* T5Config: "[gated-]ACT" with ACT relu, gelu (erf) or gelu_new (tanh); "gated-gelu" is special-cased
	 * to gelu_new, which is what t5-v1_1 uses. */
	const char *act = !strncmp(ffp, "gated-", 6) ? ffp + 6 : ffp;
	c->gated = act != ffp;
	if (!strcmp(act, "relu")) {
		c->act = SORA_T5_RELU;
	} else if (!strcmp(act, "gelu_new") || !strcmp(ffp, "gated-gelu")) {
		c->act = SORA_T5_GELU_TANH;
	} else if (!strcmp(act, "gelu")) {
		c->act = SORA_T5_GELU_ERF;
	} else {
		SORA_FAIL(e, "%s: feed_forward_proj \"%s\" is not supported ([gated-]relu, gelu, gelu_new)",
			  path, ffp);
		goto fail;
	}
	sora_json_free(&j);
	return 0;
fail:
	sora_json_free(&j);
	return -1;
}

int sora_t5_load(sora_t5 *m, const char *config_path, const char *weights_path, sora_err *e)
{
	sora_safetensors *st = NULL;
	sora_weight_list wl = {0};
	memset(m, 0, sizeof *m);
	TRY(sora_t5_read_config(&m->cfg, config_path, e));
	const sora_t5_config *c = &m->cfg;
	const int64_t d = c->d_model, inner = (int64_t)c->num_heads * c->d_kv, ff = c->d_ff;
	CHECK_ALLOC(e, m->blocks = calloc((size_t)c->num_layers, sizeof *m->blocks));
	sora_weight_want(&wl, &m->shared, 2, (int64_t[]){c->vocab_size, d}, "shared.weight");
	sora_weight_want(&wl, &m->final_ln, 1, (int64_t[]){d}, "encoder.final_layer_norm.weight");
	/* Only block 0 has relative_attention_bias; T5Stack hands its position bias to the others. */
	sora_weight_want(&wl, &m->rel_bias, 2, (int64_t[]){c->num_buckets, c->num_heads},
			 "encoder.block.%d.layer.0.SelfAttention.relative_attention_bias.weight", 0);
	for (int i = 0; i < c->num_layers; i++) {
		sora_t5_block *b = &m->blocks[i];
		sora_weight_want(&wl, &b->q, 2, (int64_t[]){inner, d},
				 "encoder.block.%d.layer.0.SelfAttention.q.weight", i);
		sora_weight_want(&wl, &b->k, 2, (int64_t[]){inner, d},
				 "encoder.block.%d.layer.0.SelfAttention.k.weight", i);
		sora_weight_want(&wl, &b->v, 2, (int64_t[]){inner, d},
				 "encoder.block.%d.layer.0.SelfAttention.v.weight", i);
		sora_weight_want(&wl, &b->o, 2, (int64_t[]){d, inner},
				 "encoder.block.%d.layer.0.SelfAttention.o.weight", i);
		sora_weight_want(&wl, &b->ln0, 1, (int64_t[]){d},
				 "encoder.block.%d.layer.0.layer_norm.weight", i);
		if (c->gated) {
			sora_weight_want(&wl, &b->wi0, 2, (int64_t[]){ff, d},
					 "encoder.block.%d.layer.1.DenseReluDense.wi_0.weight", i);
			sora_weight_want(&wl, &b->wi1, 2, (int64_t[]){ff, d},
					 "encoder.block.%d.layer.1.DenseReluDense.wi_1.weight", i);
		} else {
			sora_weight_want(&wl, &b->wi0, 2, (int64_t[]){ff, d},
					 "encoder.block.%d.layer.1.DenseReluDense.wi.weight", i);
		}
		sora_weight_want(&wl, &b->wo, 2, (int64_t[]){d, ff},
				 "encoder.block.%d.layer.1.DenseReluDense.wo.weight", i);
		sora_weight_want(&wl, &b->ln1, 1, (int64_t[]){d},
				 "encoder.block.%d.layer.1.layer_norm.weight", i);
	}
	/* The tied alias of shared.weight: absent from save_pretrained output, present in old .bin exports.
	 */
	static const char *const ignore[] = {"encoder.embed_tokens.weight", NULL};
	TRY(sora_st_open(&st, weights_path, e));
	TRY(sora_weights_load_list(st, &wl, ignore, SORA_F32, NULL, e));
	sora_st_close(st);
	sora_weight_list_free(&wl);
	return 0;
fail:
	sora_err_prefix(e, "T5 encoder: ");
	sora_st_close(st);
	sora_weight_list_free(&wl);
	sora_t5_free(m);
	return -1;
}

int sora_t5_load_dir(sora_t5 *m, const char *dir, sora_err *e)
{
	char cfg[4096], w[4096];
	sora_model_files(dir, cfg, sizeof cfg, w, sizeof w);
	return sora_t5_load(m, cfg, w, e);
}

void sora_t5_free(sora_t5 *m)
{
	sora_tensor_free(&m->shared);
	sora_tensor_free(&m->rel_bias);
	sora_tensor_free(&m->final_ln);
	for (int i = 0; m->blocks && i < m->cfg.num_layers; i++) {
		sora_t5_block *b = &m->blocks[i];
		sora_tensor *t[] = {&b->ln0, &b->q, &b->k, &b->v, &b->o, &b->ln1, &b->wi0, &b->wi1, &b->wo};
		for (size_t j = 0; j < sizeof t / sizeof(sora_tensor *); j++)
			sora_tensor_free(t[j]);
	}
	free(m->blocks);
	m->blocks = NULL;
}

/* y += x, n elements (the residual adds). */
static void add_into(float *y, const float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] += x[i];
}

/* The scratch buffers of one forward pass, in the order they are taken from the arena. */
enum { S_X, S_Q, S_K, S_V, S_ATT, S_F0, S_F1, S_BIAS, S_COUNT };

static void scratch_sizes(const sora_t5_config *c, int B, int L, size_t n[S_COUNT])
{
	const size_t N = (size_t)B * L, inner = (size_t)c->num_heads * c->d_kv;
	const size_t nx = N * (inner > (size_t)c->d_model ? inner : (size_t)c->d_model);
	n[S_X] = n[S_Q] = n[S_K] = n[S_V] = n[S_ATT] = nx;
	n[S_F0] = n[S_F1] = N * (size_t)c->d_ff;
	n[S_BIAS] = (size_t)c->num_heads * L * L;
}

size_t sora_t5_scratch_bytes(const sora_t5_config *c, int B, int L)
{
	size_t n[S_COUNT];
	scratch_sizes(c, B, L, n);
	return sora_arena_floats_bytes(S_COUNT, n);
}

size_t sora_t5_memory_bytes(const sora_t5_config *c, int B, int L)
{
	const size_t d = (size_t)c->d_model, inner = (size_t)c->num_heads * c->d_kv, ff = (size_t)c->d_ff;
	const size_t per_block = 4 * inner * d + (c->gated ? 3 : 2) * ff * d + 2 * d;
	const size_t weights = (size_t)c->vocab_size * d + (size_t)c->num_buckets * c->num_heads + d +
			       (size_t)c->num_layers * per_block;
	return weights * sizeof(float) + sora_t5_scratch_bytes(c, B, L) + (size_t)B * L * d * sizeof(float);
}

int sora_t5_forward(const sora_t5 *m, sora_arena *scratch, const int32_t *ids, const uint8_t *mask, int B,
		    int L, float *out, sora_err *e)
{
	const sora_t5_config *c = &m->cfg;
	const int D = c->d_model, H = c->num_heads, inner = c->num_heads * c->d_kv, F = c->d_ff;
	CHECK(e, B > 0 && L > 0, "T5 forward: bad shape [%d, %d]", B, L);
	const size_t N = (size_t)B * L;
	size_t n[S_COUNT];
	float *s[S_COUNT];
	scratch_sizes(c, B, L, n);
	TRY(sora_arena_take_floats(scratch, S_COUNT, n, s, e));
	float *x = s[S_X], *q = s[S_Q], *k = s[S_K], *v = s[S_V], *att = s[S_ATT];
	float *f0 = s[S_F0], *f1 = s[S_F1], *bias = s[S_BIAS], *h = out; /* h: the residual stream */

	/* position_bias [H, L, L] = relative_attention_bias[bucket(k − q), h], once (block 0) for all. */
	const float *rab = m->rel_bias.data;
	for (int i = 0; i < L; i++)
		for (int j = 0; j < L; j++) {
			int bk = sora_t5_rel_bucket(j - i, c->num_buckets, c->max_distance);
			for (int hh = 0; hh < H; hh++)
				bias[((size_t)hh * L + i) * L + j] = rab[(size_t)bk * H + hh];
		}
	/* T5 does not scale the scores by 1/sqrt(d_kv) (the init folds it into q). */
	sora_attn_args aa = {
	    .B = B, .H = H, .Tq = L, .Tk = L, .D = c->d_kv, .scale = 1, .bias = bias, .key_mask = mask};

	TRY(sora_cpu_embedding(h, m->shared.data, ids, (int)N, D, c->vocab_size, e)); /* h [N, D] */
	for (int i = 0; i < c->num_layers; i++) {
		const sora_t5_block *b = &m->blocks[i];
		/* layer.0: T5LayerSelfAttention */
		TRY(sora_cpu_rmsnorm(x, h, b->ln0.data, (int)N, D, c->eps, e));     /* x [N, D] */
		TRY(sora_cpu_linear(q, x, b->q.data, NULL, (int)N, D, inner, e));   /* q [N, inner] */
		TRY(sora_cpu_linear(k, x, b->k.data, NULL, (int)N, D, inner, e));   /* k [N, inner] */
		TRY(sora_cpu_linear(v, x, b->v.data, NULL, (int)N, D, inner, e));   /* v [N, inner] */
		TRY(sora_cpu_attention(att, q, k, v, &aa, e));                      /* att [B, L, H·d_kv] */
		TRY(sora_cpu_linear(x, att, b->o.data, NULL, (int)N, inner, D, e)); /* x [N, D] */
		add_into(h, x, N * D);                                              /* h [N, D] */
		/* layer.1: T5LayerFF (DenseGatedActDense or DenseActDense) */
		TRY(sora_cpu_rmsnorm(x, h, b->ln1.data, (int)N, D, c->eps, e));  /* x [N, D] */
		TRY(sora_cpu_linear(f0, x, b->wi0.data, NULL, (int)N, D, F, e)); /* f0 [N, F] = wi_0·x */
		if (c->act == SORA_T5_GELU_TANH)
			TRY(sora_cpu_gelu_tanh(f0, f0, N * F, e)); /* f0 [N, F] */
		else if (c->act == SORA_T5_GELU_ERF)
			TRY(sora_cpu_gelu(f0, f0, N * F, e)); /* f0 [N, F] */
		else
			for (size_t j = 0; j < N * F; j++) /* relu, f0 [N, F] */
				f0[j] = f0[j] > 0 ? f0[j] : 0;
		if (c->gated) {
			TRY(sora_cpu_linear(f1, x, b->wi1.data, NULL, (int)N, D, F, e)); /* f1 [N, F] */
			for (size_t j = 0; j < N * F; j++) /* f0 [N, F] ⊙= f1 */
				f0[j] *= f1[j];
		}
		TRY(sora_cpu_linear(x, f0, b->wo.data, NULL, (int)N, F, D, e)); /* x [N, D] */
		add_into(h, x, N * D);                                          /* h [N, D] */
	}
	TRY(sora_cpu_rmsnorm(out, h, m->final_ln.data, (int)N, D, c->eps, e)); /* out [B, L, D] */
	return 0;
fail:
	return -1;
}
