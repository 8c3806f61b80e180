/* T5EncoderModel against transformers 4.40 on every case of t5_tiny_io.safetensors (F32 and BF16
 * weights), the relative-position bucket table, and configs that disagree with the weights. Fixtures
 * from $SORA_FIXTURES (default ../shared/fixtures); without them each test skips (fails under CI=true). */
#include "expect.h"
#include "io/safetensors.h"
#include "models/t5.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* $SORA_FIXTURES/text/NAME; the test ends (skipped, or failed under CI=true) when it is absent. */
static const char *fixtures(char *buf, size_t n, const char *name)
{
	char rel[256];
	snprintf(rel, sizeof rel, "text/%s", name);
	return fixture_path(buf, n, rel);
}

static void need_fixtures(void)
{
	char p[1024];
	fixtures(p, sizeof p, "t5_tiny_io.safetensors");
}

static const sora_st_tensor *get(const sora_safetensors *st, const char *name, const char *dtype)
{
	const sora_st_tensor *t = sora_st_find(st, name);
	cr_assert(t, "fixture tensor %s missing", name);
	cr_assert_str_eq(t->dtype, dtype, "%s", name);
	return t;
}

static const int64_t *i64(const sora_st_tensor *t)
{
	return t->data;
}

/* |c − ref| ≤ 1e-4 + 1e-4·|ref| everywhere (the README's check). */
static void expect_close(const char *what, const float *c, size_t n, const sora_st_tensor *ref)
{
	expect_cmp(what,
		   cmp_each(cmp_f32(c, n), cmp_f32(ref->data, ref->nbytes / sizeof(float)), 1e-4, 1e-4));
}

static void run_case(const sora_t5 *m, sora_arena *scratch, const sora_safetensors *io, const char *cs,
		     const char *weights)
{
	char name[128], what[160];
	sora_err e = {0};
	snprintf(name, sizeof name, "%s.input_ids", cs);
	const sora_st_tensor *tid = get(io, name, "I64");
	int B = (int)tid->shape[0], L = (int)tid->shape[1];
	size_t N = (size_t)B * L;
	int32_t *ids = malloc(N * sizeof *ids);
	uint8_t *mask = NULL;
	float *out = malloc(N * (size_t)m->cfg.d_model * sizeof *out);
	cr_assert(ids && out);
	for (size_t i = 0; i < N; i++)
		ids[i] = (int32_t)i64(tid)[i];
	snprintf(name, sizeof name, "%s.attention_mask", cs);
	const sora_st_tensor *tm = sora_st_find(io, name);
	if (tm) {
		mask = malloc(N);
		cr_assert(mask);
		for (size_t i = 0; i < N; i++)
			mask[i] = i64(tm)[i] != 0;
	}
	cr_assert_eq(sora_t5_forward(m, scratch, ids, mask, B, L, out, &e), 0, "%s", e.msg);
	snprintf(name, sizeof name, "%s.last_hidden_state_f64ref", cs);
	snprintf(what, sizeof what, "%s %s vs f64ref", weights, cs);
	expect_close(what, out, N * (size_t)m->cfg.d_model, get(io, name, "F32"));
	snprintf(name, sizeof name, "%s.last_hidden_state", cs);
	snprintf(what, sizeof what, "%s %s vs torch f32", weights, cs);
	expect_close(what, out, N * (size_t)m->cfg.d_model, get(io, name, "F32"));
	free(ids);
	free(mask);
	free(out);
}

static void run_all(const char *weights)
{
	char cfg[1024], w[1024], p[1024];
	sora_t5 m;
	sora_arena scratch = {0};
	sora_safetensors *io = NULL;
	sora_err e = {0};
	need_fixtures();
	cr_assert_eq(sora_t5_load(&m, fixtures(cfg, sizeof cfg, "t5_tiny_config.json"),
				  fixtures(w, sizeof w, weights), &e),
		     0, "%s", e.msg);
	cr_assert_eq(sora_st_open(&io, fixtures(p, sizeof p, "t5_tiny_io.safetensors"), &e), 0, "%s", e.msg);
	run_case(&m, &scratch, io, "nomask", weights);
	/* The largest batch came first: the later ones reuse its scratch, allocating nothing. */
	const char *base = scratch.base;
	cr_expect_eq(scratch.cap, sora_t5_scratch_bytes(&m.cfg, 2, 512));
	run_case(&m, &scratch, io, "mask", weights);
	run_case(&m, &scratch, io, "short", weights);
	cr_expect(scratch.base == base, "the scratch arena was reallocated for a smaller batch");
	sora_arena_free(&scratch);
	sora_st_close(io);
	sora_t5_free(&m);
}

Test(t5, f32_weights)
{
	run_all("t5_tiny.safetensors");
}

Test(t5, bf16_weights)
{
	run_all("t5_tiny_bf16.safetensors");
}

/* The estimate printed before loading counts exactly what loading and one forward pass allocate. */
Test(t5, memory_estimate)
{
	char cfg[1024], w[1024];
	sora_t5 m;
	sora_t5_config c;
	sora_err e = {0};
	need_fixtures();
	fixtures(cfg, sizeof cfg, "t5_tiny_config.json");
	cr_assert_eq(sora_t5_read_config(&c, cfg, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_t5_load(&m, cfg, fixtures(w, sizeof w, "t5_tiny.safetensors"), &e), 0, "%s", e.msg);
	size_t weights =
	    sora_tensor_nbytes(&m.shared) + sora_tensor_nbytes(&m.rel_bias) + sora_tensor_nbytes(&m.final_ln);
	for (int i = 0; i < m.cfg.num_layers; i++) {
		const sora_t5_block *b = &m.blocks[i];
		const sora_tensor *t[] = {&b->ln0, &b->q,   &b->k,   &b->v, &b->o,
					  &b->ln1, &b->wi0, &b->wi1, &b->wo};
		for (size_t j = 0; j < sizeof t / sizeof(sora_tensor *); j++)
			weights += sora_tensor_nbytes(t[j]);
	}
	size_t want = weights + sora_t5_scratch_bytes(&c, 4, 77) + (size_t)4 * 77 * 32 * sizeof(float);
	cr_expect_eq(sora_t5_memory_bytes(&c, 4, 77), want, "estimate %zu, loaded + scratch + output %zu",
		     sora_t5_memory_bytes(&c, 4, 77), want);
	/* t5-v1_1-xxl: 4.76e9 parameters in f32, about 19 GB. */
	sora_t5_config xxl = {.vocab_size = 32128,
			      .d_model = 4096,
			      .d_kv = 64,
			      .num_heads = 64,
			      .d_ff = 10240,
			      .num_layers = 24,
			      .num_buckets = 32,
			      .max_distance = 128,
			      .gated = 1};
	double gb = (double)sora_t5_memory_bytes(&xxl, 1, 512) / 1e9;
	cr_log_info("t5-v1_1-xxl, 1 x 512 tokens: %.2f GB", gb);
	cr_expect(gb > 19.0 && gb < 20.5, "t5-v1_1-xxl estimate %.2f GB", gb);
	sora_t5_free(&m);
}

Test(t5, bucket_table)
{
	char p[1024];
	sora_safetensors *io = NULL;
	sora_err e = {0};
	need_fixtures();
	cr_assert_eq(sora_st_open(&io, fixtures(p, sizeof p, "t5_tiny_io.safetensors"), &e), 0, "%s", e.msg);
	const sora_st_tensor *rel = get(io, "relative_position", "I64"),
			     *bk = get(io, "relative_position_bucket", "I64");
	int64_t n = rel->shape[0];
	for (int64_t i = 0; i < n; i++)
		cr_expect_eq(sora_t5_rel_bucket((int)i64(rel)[i], 32, 128), (int)i64(bk)[i],
			     "relative position %lld", (long long)i64(rel)[i]);
	sora_st_close(io);
}

/* A folder whose config.json is the fixture's with `from` replaced by `to`, beside the real weights:
 * the load must fail and its message must contain `expect`. */
static void bad_config(const char *from, const char *to, const char *expect)
{
	char dir[] = "/tmp/sora-t5-XXXXXX", p[1024], q[1100], txt[8192], out[9000];
	sora_t5 m;
	sora_err e = {0};
	need_fixtures();
	cr_assert(mkdtemp(dir));
	FILE *fp = fopen(fixtures(p, sizeof p, "t5_tiny_config.json"), "r");
	cr_assert(fp);
	size_t n = fread(txt, 1, sizeof txt - 1, fp);
	fclose(fp);
	txt[n] = '\0';
	char *at = strstr(txt, from);
	cr_assert(at, "%s not in the config", from);
	*at = '\0';
	snprintf(out, sizeof out, "%s%s%s", txt, to, at + strlen(from));
	snprintf(q, sizeof q, "%s/config.json", dir);
	fp = fopen(q, "w");
	cr_assert(fp);
	fputs(out, fp);
	fclose(fp);
	snprintf(q, sizeof q, "%s/model.safetensors", dir);
	char *target = realpath(fixtures(p, sizeof p, "t5_tiny.safetensors"), NULL);
	cr_assert(target);
	cr_assert_eq(symlink(target, q), 0);
	free(target);
	int rc = sora_t5_load_dir(&m, dir, &e);
	snprintf(q, sizeof q, "rm -rf '%s'", dir);
	cr_assert_eq(system(q), 0);
	cr_assert_eq(rc, -1, "a config with %s loaded", to);
	cr_log_info("%s: %s", to, e.msg);
	cr_expect(strstr(e.msg, expect), "message \"%s\" does not name %s", e.msg, expect);
}

Test(t5, config_disagrees_d_ff)
{
	bad_config("\"d_ff\": 128", "\"d_ff\": 96", "encoder.block.0.layer.1.DenseReluDense.wi_0.weight");
}

Test(t5, config_disagrees_layers)
{
	bad_config("\"num_layers\": 3", "\"num_layers\": 4",
		   "encoder.block.3.layer.0.SelfAttention.k.weight");
}

Test(t5, config_disagrees_ffn_kind)
{
	bad_config("\"feed_forward_proj\": \"gated-gelu\"", "\"feed_forward_proj\": \"relu\"",
		   "encoder.block.0.layer.1.DenseReluDense.wi.weight");
}

Test(t5, config_bad_activation)
{
	bad_config("\"feed_forward_proj\": \"gated-gelu\"", "\"feed_forward_proj\": \"gated-silu\"",
		   "feed_forward_proj");
}

Test(t5, config_disagrees_fewer_layers)
{
	bad_config("\"num_layers\": 3", "\"num_layers\": 2", "unexpected 'encoder.block.2.");
}
