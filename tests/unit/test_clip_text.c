/* CLIPTextModel against transformers 4.40 on every case of clip_text_tiny_io.safetensors
 * (last_hidden_state and pooler_output, both pooling conventions), and configs that disagree with the
 * weights. Fixtures from $SORA_FIXTURES (default ../shared/fixtures); without them each test skips (fails
 * under CI=true). */
#include "expect.h"
#include "io/safetensors.h"
#include "models/clip_text.h"

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
	fixtures(p, sizeof p, "clip_text_tiny_io.safetensors");
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
static void expect_close(const char *what, const float *c, const sora_st_tensor *ref)
{
	size_t n = ref->nbytes / sizeof(float);
	expect_cmp(what, cmp_each(cmp_f32(c, n), cmp_f32(ref->data, n), 1e-4, 1e-4));
}

/* Both outputs against the f64 reference and torch's f32; `pooled_key` names the pooler golden. */
static void run_case(const sora_clip_text *m, const sora_safetensors *io, const char *cs,
		     const char *pooled_key)
{
	char name[128];
	sora_err e = {0};
	sora_arena scratch = {0};
	snprintf(name, sizeof name, "%s.input_ids", cs);
	const sora_st_tensor *tid = get(io, name, "I64");
	int B = (int)tid->shape[0], L = (int)tid->shape[1], C = m->cfg.hidden;
	size_t N = (size_t)B * L;
	int32_t *ids = malloc(N * sizeof *ids);
	uint8_t *mask = NULL;
	float *hidden = malloc(N * C * sizeof *hidden), *pooled = malloc((size_t)B * C * sizeof *pooled);
	cr_assert(ids && hidden && pooled);
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
	cr_assert_eq(sora_clip_text_forward(m, &scratch, ids, mask, B, L, hidden, pooled, &e), 0, "%s",
		     e.msg);
	/* A second pass reuses the scratch and gives the same bits. */
	const char *base = scratch.base;
	float *again = malloc(N * C * sizeof *again);
	cr_assert(again);
	cr_assert_eq(sora_clip_text_forward(m, &scratch, ids, mask, B, L, again, NULL, &e), 0, "%s", e.msg);
	cr_expect(scratch.base == base, "the scratch arena was reallocated for the same batch");
	expect_cmp("second pass", cmp_exact(cmp_f32(again, N * C), cmp_f32(hidden, N * C)));
	cr_expect_eq(scratch.cap, sora_clip_text_scratch_bytes(&m->cfg, B, L));
	free(again);
	sora_arena_free(&scratch);
	static const char *const outs[] = {"last_hidden_state_f64ref", "last_hidden_state", "%s_f64ref",
					   "%s"};
	for (int i = 0; i < 4; i++) {
		char key[64];
		snprintf(key, sizeof key, outs[i], pooled_key);
		snprintf(name, sizeof name, "%s.%s", cs, key);
		expect_close(name, i < 2 ? hidden : pooled, get(io, name, "F32"));
	}
	free(ids);
	free(mask);
	free(hidden);
	free(pooled);
}

static void load(sora_clip_text *m, sora_safetensors **io)
{
	char cfg[1024], w[1024], p[1024];
	sora_err e = {0};
	need_fixtures();
	cr_assert_eq(sora_clip_text_load(m, fixtures(cfg, sizeof cfg, "clip_text_tiny_config.json"),
					 fixtures(w, sizeof w, "clip_text_tiny.safetensors"), &e),
		     0, "%s", e.msg);
	cr_assert_eq(sora_st_open(io, fixtures(p, sizeof p, "clip_text_tiny_io.safetensors"), &e), 0, "%s",
		     e.msg);
}

Test(clip_text, cases)
{
	sora_clip_text m;
	sora_safetensors *io = NULL;
	load(&m, &io);
	cr_assert_eq(m.cfg.eos_token_id, 2);
	run_case(&m, io, "nomask", "pooler_output");
	run_case(&m, io, "mask", "pooler_output");
	run_case(&m, io, "short", "pooler_output");
	run_case(&m, io, "noeos", "pooler_output");
	/* The same weights under a newer config (eos_token_id 49407) pool at the first 49407, else at 0. */
	m.cfg.eos_token_id = 49407;
	run_case(&m, io, "noeos", "pooler_output_eos49407");
	sora_st_close(io);
	sora_clip_text_free(&m);
}

Test(clip_text, pool_positions)
{
	sora_clip_text m;
	sora_safetensors *io = NULL;
	load(&m, &io);
	const sora_st_tensor *t = get(io, "nomask.input_ids", "I64");
	static const int want[] = {17, 3, 76};
	int32_t ids[77];
	for (int b = 0; b < 3; b++) {
		for (int j = 0; j < 77; j++)
			ids[j] = (int32_t)i64(t)[b * 77 + j];
		cr_expect_eq(sora_clip_text_pool_pos(ids, 77, 2), want[b], "row %d", b);
		cr_expect_eq(sora_clip_text_pool_pos(ids, 77, 49407), want[b], "row %d", b);
	}
	t = get(io, "noeos.input_ids", "I64");
	for (int j = 0; j < 77; j++)
		ids[j] = (int32_t)i64(t)[j];
	cr_expect_eq(sora_clip_text_pool_pos(ids, 77, 2), 3);
	cr_expect_eq(sora_clip_text_pool_pos(ids, 77, 49407), 0);
	sora_st_close(io);
	sora_clip_text_free(&m);
}

/* A tensor of an open checkpoint as a view, for writing it into another file. */
static sora_tensor view(const sora_st_tensor *t)
{
	sora_tensor v;
	sora_dtype dt;
	sora_err e = {0};
	cr_assert_eq(sora_st_dtype(t, &dt, &e), 0, "%s", e.msg);
	sora_tensor_view(&v, dt, t->ndim, t->shape, (void *)t->data);
	return v;
}

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	cr_assert(fp, "%s", path);
	char *s = calloc(1, 1 << 16);
	cr_assert(s);
	fread(s, 1, (1 << 16) - 1, fp);
	fclose(fp);
	return s;
}

/* A whole CLIPModel folder as published for openai/clip-vit-large-patch14, built from the fixtures: a
 * CLIPConfig (text_config + vision_config) and one checkpoint holding both towers, both projections,
 * logit_scale and the old position_ids buffer. The text tower loads from it and matches the goldens. */
Test(clip_text, whole_clipmodel_folder)
{
	char dir[] = "/tmp/sora-clipm-XXXXXX", p[1024], q[1100];
	sora_safetensors *text = NULL, *vision = NULL, *io = NULL;
	sora_clip_text m;
	sora_err e = {0};
	need_fixtures();
	cr_assert(mkdtemp(dir));
	cr_assert_eq(sora_st_open(&text, fixtures(p, sizeof p, "clip_text_tiny.safetensors"), &e), 0, "%s",
		     e.msg);
	cr_assert_eq(sora_st_open(&vision, fixtures(p, sizeof p, "clip_vision_tiny.safetensors"), &e), 0,
		     "%s", e.msg);
	int nt = sora_st_count(text), nv = sora_st_count(vision), n = 0;
	const char **names = calloc((size_t)nt + nv + 3, sizeof *names);
	sora_tensor *ts = calloc((size_t)nt + nv + 3, sizeof *ts);
	cr_assert(names && ts);
	for (int i = 0; i < nt + nv; i++) {
		const sora_st_tensor *t = i < nt ? sora_st_get(text, i) : sora_st_get(vision, i - nt);
		names[n] = t->name;
		ts[n++] = view(t);
	}
	float proj[32 * 32] = {0}, scale = 2.6592f;
	int64_t pos[77];
	for (int i = 0; i < 77; i++)
		pos[i] = i;
	names[n] = "text_projection.weight";
	sora_tensor_view(&ts[n++], SORA_F32, 2, (int64_t[]){32, 32}, proj);
	names[n] = "logit_scale";
	sora_tensor_view(&ts[n++], SORA_F32, 0, NULL, &scale);
	names[n] = "text_model.embeddings.position_ids";
	sora_tensor_view(&ts[n++], SORA_I64, 2, (int64_t[]){1, 77}, pos);
	snprintf(q, sizeof q, "%s/model.safetensors", dir);
	cr_assert_eq(sora_st_write(q, names, ts, n, NULL, &e), 0, "%s", e.msg);
	char *tc = slurp(fixtures(p, sizeof p, "clip_text_tiny_config.json"));
	char *vc = slurp(fixtures(p, sizeof p, "clip_vision_tiny_config.json"));
	snprintf(q, sizeof q, "%s/config.json", dir);
	FILE *fp = fopen(q, "w");
	cr_assert(fp);
	fprintf(fp,
		"{\"model_type\": \"clip\", \"projection_dim\": 32,\n\"text_config\": "
		"%s,\n\"vision_config\": %s}\n",
		tc, vc);
	fclose(fp);
	int rc = sora_clip_text_load_dir(&m, dir, &e);
	snprintf(q, sizeof q, "rm -rf '%s'", dir);
	cr_assert_eq(system(q), 0);
	cr_assert_eq(rc, 0, "%s", e.msg);
	cr_expect_eq(m.cfg.hidden, 32);
	cr_expect_eq(m.cfg.eos_token_id, 2);
	cr_assert_eq(sora_st_open(&io, fixtures(p, sizeof p, "clip_text_tiny_io.safetensors"), &e), 0, "%s",
		     e.msg);
	run_case(&m, io, "nomask", "pooler_output");
	sora_st_close(io);
	sora_clip_text_free(&m);
	free(tc);
	free(vc);
	free(names);
	free(ts);
	sora_st_close(text);
	sora_st_close(vision);
}

/* A folder whose config.json is the fixture's with `from` replaced by `to`, beside the real weights:
 * the load must fail and its message must contain `expect`. */
static void bad_config(const char *from, const char *to, const char *expect)
{
	char dir[] = "/tmp/sora-clipt-XXXXXX", p[1024], q[1100], txt[8192], out[9000];
	sora_clip_text m;
	sora_err e = {0};
	need_fixtures();
	cr_assert(mkdtemp(dir));
	FILE *fp = fopen(fixtures(p, sizeof p, "clip_text_tiny_config.json"), "r");
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
	char *target = realpath(fixtures(p, sizeof p, "clip_text_tiny.safetensors"), NULL);
	cr_assert(target);
	cr_assert_eq(symlink(target, q), 0);
	free(target);
	int rc = sora_clip_text_load_dir(&m, dir, &e);
	snprintf(q, sizeof q, "rm -rf '%s'", dir);
	cr_assert_eq(system(q), 0);
	cr_assert_eq(rc, -1, "a config with %s loaded", to);
	cr_log_info("%s: %s", to, e.msg);
	cr_expect(strstr(e.msg, expect), "message \"%s\" does not name %s", e.msg, expect);
}

Test(clip_text, config_disagrees_intermediate)
{
	bad_config("\"intermediate_size\": 128", "\"intermediate_size\": 64",
		   "text_model.encoder.layers.0.mlp.fc1.weight");
}

Test(clip_text, config_disagrees_positions)
{
	bad_config("\"max_position_embeddings\": 77", "\"max_position_embeddings\": 64",
		   "text_model.embeddings.position_embedding.weight");
}

Test(clip_text, config_bad_activation)
{
	bad_config("\"hidden_act\": \"quick_gelu\"", "\"hidden_act\": \"gelu\"", "hidden_act");
}

Test(clip_text, config_disagrees_fewer_layers)
{
	bad_config("\"num_hidden_layers\": 3", "\"num_hidden_layers\": 2",
		   "unexpected 'text_model.encoder.layers.2.");
}
