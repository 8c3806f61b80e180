/* Training checkpoints (train/checkpoint.h): the folder layout and pruning, the round trip bit for bit, the
 * BF16 model file, sharding through an index the safetensors reader opens, a killed save's leftovers, the
 * strict load, and a run folder that cannot be written. */
#include "expect.h"
#include "io/safetensors.h"
#include "train/checkpoint.h"
#include "util/json.h"

#include <dirent.h>
#include <sys/stat.h>

#define NP 4

/* A small model under published MMDiT names, with its master weights and AdamW moments. */
typedef struct model {
	sora_named_f32 p[NP];
	float *master[NP], *m[NP], *v[NP];
} model;

static char tmp[] = "/tmp/sora-ckpt-XXXXXX";
static char run[600];

static void setup(void)
{
	cr_assert(mkdtemp(tmp));
	snprintf(run, sizeof run, "%s/run", tmp);
}

static void teardown(void)
{
	char cmd[700];
	chmod(run, 0755);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(ckpt, .init = setup, .fini = teardown);

static uint32_t f2u(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

static float u2f(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

/* Values of many magnitudes from seed, with exact bf16 ties among them (both directions of the even
 * rounding), so a truncating or ties-away conversion shows. */
static void fill(float *x, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		x[i] = (float)((double)(seed >> 11) / 9007199254740992.0 - 0.5) * (float)(1 << (i % 7));
	}
	x[0] = u2f(0x3f808000); /* tie between 0x3f80 and 0x3f81: even is 0x3f80 */
	x[1] = u2f(0xbf818000); /* tie between 0xbf81 and 0xbf82: even is 0xbf82 */
}

static void model_init(model *md, uint64_t seed)
{
	static const char *const names[NP] = {"double_blocks.0.img_attn.qkv.weight",
					      "double_blocks.0.img_attn.qkv.bias",
					      "final_layer.linear.weight", "img_in.weight"};
	static const int nd[NP] = {2, 1, 2, 2};
	static const int64_t shapes[NP][2] = {{24, 8}, {24, 0}, {6, 8}, {8, 10}};
	for (int i = 0; i < NP; i++) {
		size_t n = (size_t)shapes[i][0] * (nd[i] == 2 ? (size_t)shapes[i][1] : 1);
		md->p[i] =
		    (sora_named_f32){.name = names[i], .ndim = nd[i], .shape = {shapes[i][0], shapes[i][1]}};
		md->master[i] = malloc(n * 4), md->m[i] = malloc(n * 4), md->v[i] = malloc(n * 4);
		cr_assert(md->master[i] && md->m[i] && md->v[i]);
		fill(md->master[i], n, seed + 3 * (uint64_t)i + 1);
		fill(md->m[i], n, seed + 3 * (uint64_t)i + 2);
		fill(md->v[i], n, seed + 3 * (uint64_t)i + 3);
		md->p[i].data = md->master[i]; /* CPU training: the model computes with its master weights */
	}
}

static size_t numel(const sora_named_f32 *p)
{
	size_t k = 1;
	for (int d = 0; d < p->ndim; d++)
		k *= (size_t)p->shape[d];
	return k;
}

static void model_free(model *md)
{
	for (int i = 0; i < NP; i++)
		free(md->master[i]), free(md->m[i]), free(md->v[i]);
}

static cJSON *state_of(int64_t step)
{
	cJSON *s = cJSON_CreateObject();
	cJSON_AddNumberToObject(s, "step", (double)step);
	cJSON_AddNumberToObject(s, "epoch", 0);
	cJSON_AddStringToObject(s, "torch_rng", "0x9e3779b97f4a7c15");
	cJSON *data = cJSON_AddObjectToObject(s, "data");
	cJSON_AddNumberToObject(data, "index", 17);
	return s;
}

/* Saves md at (0, step) and returns the folder. */
static void save(const model *md, int64_t step, sora_dtype dt, int64_t shard_bytes, int keep, char *dir)
{
	cJSON *state = state_of(step);
	sora_err e = {0};
	int rc =
	    sora_ckpt_save(run, 0, step, md->p, (const float *const *)md->master, (const float *const *)md->m,
			   (const float *const *)md->v, NP, dt, shard_bytes, state, keep, dir, 600, &e);
	cJSON_Delete(state);
	cr_assert_eq(rc, 0, "%s", e.msg);
}

/* The entries of the run folder other than . and .., sorted, joined by spaces. */
static void entries(char *out, size_t n)
{
	struct dirent **list;
	int k = scandir(run, &list, NULL, alphasort);
	cr_assert_geq(k, 0);
	out[0] = '\0';
	for (int i = 0; i < k; i++) {
		if (strcmp(list[i]->d_name, ".") != 0 && strcmp(list[i]->d_name, "..") != 0)
			snprintf(out + strlen(out), n - strlen(out), "%s%s", out[0] ? " " : "",
				 list[i]->d_name);
		free(list[i]);
	}
	free(list);
}

Test(ckpt, keep_one_leaves_the_newest)
{
	model md;
	char dir[600], want[700], ls[600], latest[600];
	sora_err e = {0};
	model_init(&md, 1);
	cr_assert_eq(sora_ckpt_latest(run, latest, sizeof latest, &e), 0, "no run folder yet: %s", e.msg);
	save(&md, 1, SORA_F32, 0, 1, dir);
	save(&md, 2, SORA_F32, 0, 1, dir);
	snprintf(want, sizeof want, "%s/epoch0-global_step2", run);
	cr_expect_str_eq(dir, want);
	entries(ls, sizeof ls);
	cr_expect_str_eq(ls, "epoch0-global_step2");
	cr_assert_eq(sora_ckpt_latest(run, latest, sizeof latest, &e), 1, "%s", e.msg);
	cr_expect_str_eq(latest, want);
	model_free(&md);
}

/* Loads dir into fresh buffers of md's shapes and expects md's values bit for bit, the step and the state. */
static void expect_loads_as(const model *md, const char *dir, int64_t step)
{
	float *master[NP], *m[NP], *v[NP];
	for (int i = 0; i < NP; i++) {
		size_t n = numel(&md->p[i]);
		master[i] = malloc(n * 4), m[i] = malloc(n * 4), v[i] = malloc(n * 4);
	}
	int64_t got_step = -1;
	cJSON *state = NULL, *want = state_of(step);
	sora_err e = {0};
	cr_assert_eq(sora_ckpt_load(dir, md->p, master, m, v, NP, &got_step, &state, &e), 0, "%s", e.msg);
	cr_expect_eq(got_step, step);
	cr_expect(cJSON_Compare(state, want, 1), "state.json differs");
	for (int i = 0; i < NP; i++) {
		size_t n = numel(&md->p[i]);
		cr_expect(!memcmp(master[i], md->master[i], n * 4), "%s: master differs", md->p[i].name);
		cr_expect(!memcmp(m[i], md->m[i], n * 4), "%s: exp_avg differs", md->p[i].name);
		cr_expect(!memcmp(v[i], md->v[i], n * 4), "%s: exp_avg_sq differs", md->p[i].name);
		free(master[i]), free(m[i]), free(v[i]);
	}
	cJSON_Delete(state);
	cJSON_Delete(want);
}

Test(ckpt, round_trip_bit_for_bit)
{
	model md;
	char dir[600];
	model_init(&md, 2);
	save(&md, 7, SORA_BF16, 0, 0, dir);
	expect_loads_as(&md, dir, 7);
	model_free(&md);
}

/* The same step saved again (a run resumed from an older checkpoint reaching it): the new one replaces it. */
Test(ckpt, the_same_step_saved_again_replaces_it)
{
	model a, b;
	char dir[600], ls[600];
	model_init(&a, 3), model_init(&b, 4);
	save(&a, 5, SORA_F32, 0, 0, dir);
	save(&b, 5, SORA_F32, 0, 0, dir);
	expect_loads_as(&b, dir, 5);
	entries(ls, sizeof ls);
	cr_expect_str_eq(ls, "epoch0-global_step5");
	model_free(&a), model_free(&b);
}

/* bf16 round to nearest even, written out here from the bits (finite values). */
static uint16_t rne_bf16(float f)
{
	uint32_t u = f2u(f);
	return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

/* Every parameter of md in st (the model file or its index) stored as dt: F32 bit for bit, BF16 as the
 * round to nearest even of the master weights. */
static void expect_model_file(const model *md, const sora_safetensors *st, sora_dtype dt)
{
	cr_expect_eq(sora_st_count(st), NP);
	for (int i = 0; i < NP; i++) {
		const sora_st_tensor *t = sora_st_find(st, md->p[i].name);
		cr_assert(t, "%s missing from the model file", md->p[i].name);
		cr_expect_str_eq(t->dtype, dt == SORA_BF16 ? "BF16" : "F32");
		cr_assert_eq(t->ndim, md->p[i].ndim);
		for (int d = 0; d < t->ndim; d++)
			cr_expect_eq(t->shape[d], md->p[i].shape[d]);
		size_t n = numel(&md->p[i]), bad = 0;
		for (size_t k = 0; k < n; k++) {
			const float x = md->master[i][k];
			if (dt == SORA_BF16)
				bad += ((const uint16_t *)t->data)[k] != rne_bf16(x);
			else
				bad += ((const uint32_t *)t->data)[k] != f2u(x);
		}
		cr_expect_eq(bad, 0, "%s: %zu of %zu values are not the master's", md->p[i].name, bad, n);
	}
}

Test(ckpt, bf16_model_file_rounds_the_master_to_nearest_even)
{
	model md;
	char dir[600], path[700];
	sora_safetensors *st = NULL;
	sora_err e = {0};
	model_init(&md, 5);
	save(&md, 1, SORA_BF16, 0, 0, dir);
	snprintf(path, sizeof path, "%s/model.safetensors", dir);
	cr_assert_eq(sora_st_open(&st, path, &e), 0, "%s", e.msg);
	const uint16_t *qkv = sora_st_find(st, md.p[0].name)->data; /* the two ties fill() planted */
	cr_expect(qkv[0] == 0x3f80 && qkv[1] == 0xbf82, "ties rounded to %04x %04x", qkv[0], qkv[1]);
	expect_model_file(&md, st, SORA_BF16);
	sora_st_close(st);
	snprintf(path, sizeof path, "%s/master.safetensors", dir);
	cr_assert_eq(sora_st_open(&st, path, &e), 0, "%s", e.msg);
	expect_model_file(&md, st, SORA_F32);
	sora_st_close(st);
	model_free(&md);
}

/* 500-byte shards: the qkv weight (768 bytes) alone, then bias + final layer (96 + 192), then img_in (320):
 * three shards in the parameters' order, and the index the reader opens. */
Test(ckpt, sharded_model_opens_through_its_index)
{
	model md;
	char dir[600], path[700], ls[600];
	sora_safetensors *st = NULL;
	sora_err e = {0};
	model_init(&md, 6);
	save(&md, 3, SORA_F32, 500, 0, dir);
	struct dirent **list;
	int k = scandir(dir, &list, NULL, alphasort);
	cr_assert_geq(k, 0);
	ls[0] = '\0';
	for (int i = 0; i < k; i++) {
		if (list[i]->d_name[0] != '.')
			snprintf(ls + strlen(ls), sizeof ls - strlen(ls), "%s ", list[i]->d_name);
		free(list[i]);
	}
	free(list);
	cr_expect_str_eq(
	    ls, "master.safetensors model-00001-of-00003.safetensors model-00002-of-00003.safetensors "
		"model-00003-of-00003.safetensors model.safetensors.index.json optimizer.safetensors "
		"state.json ");
	snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
	cr_assert_eq(sora_st_open(&st, path, &e), 0, "%s", e.msg);
	expect_model_file(&md, st, SORA_F32);
	cr_expect(strstr(sora_st_find(st, "final_layer.linear.weight")->file, "model-00002-of-00003"));
	sora_st_close(st);
	sora_json j;
	int64_t total = 0;
	cr_assert_eq(sora_json_load(&j, path, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_json_int(&j, "metadata.total_size", 0, INT64_MAX, &total, &e), 0, "%s", e.msg);
	cr_expect_eq(total, (int64_t)4 * (24 * 8 + 24 + 6 * 8 + 8 * 10));
	sora_json_free(&j);
	model_free(&md);
}

/* A save killed at step 9 left its hidden folder: never the latest, and the next save replaces it. */
Test(ckpt, a_killed_save_is_ignored_and_replaced)
{
	model md;
	char dir[600], path[700], latest[600], ls[600];
	sora_err e = {0};
	model_init(&md, 7);
	save(&md, 4, SORA_F32, 0, 0, dir);
	snprintf(path, sizeof path, "%s/.tmp-epoch0-global_step9", run);
	cr_assert_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/.tmp-epoch0-global_step9/model.safetensors.tmp", run);
	FILE *fp = fopen(path, "w");
	cr_assert(fp);
	fputs("half a file", fp);
	fclose(fp);
	cr_assert_eq(sora_ckpt_latest(run, latest, sizeof latest, &e), 1, "%s", e.msg);
	cr_expect_str_eq(latest, dir);
	save(&md, 9, SORA_F32, 0, 0, dir);
	entries(ls, sizeof ls);
	cr_expect_str_eq(ls, "epoch0-global_step4 epoch0-global_step9");
	cr_assert_eq(sora_ckpt_latest(run, latest, sizeof latest, &e), 1, "%s", e.msg);
	cr_expect_str_eq(latest, dir);
	expect_loads_as(&md, dir, 9);
	model_free(&md);
}

/* Loading with params of another model must fail with a message naming the file and the tensor. */
static void expect_load_error(const sora_named_f32 *p, int n, const char *file, const char *frag)
{
	float *buf[NP];
	for (int i = 0; i < NP; i++)
		buf[i] = malloc(4096);
	char dir[700];
	snprintf(dir, sizeof dir, "%s/epoch0-global_step1", run);
	int64_t step;
	sora_err e = {0};
	cr_expect_lt(sora_ckpt_load(dir, p, buf, buf, buf, n, &step, NULL, &e), 0, "loaded another model");
	cr_log_info("%s", e.msg);
	cr_expect(strstr(e.msg, file) && strstr(e.msg, frag), "want '%s' and '%s' in: %s", file, frag, e.msg);
	for (int i = 0; i < NP; i++)
		free(buf[i]);
}

Test(ckpt, another_model_fails_naming_the_tensor)
{
	model md;
	char dir[600];
	model_init(&md, 8);
	save(&md, 1, SORA_F32, 0, 0, dir);
	sora_named_f32 p[NP];
	memcpy(p, md.p, sizeof p);
	p[2].name = "final_layer.adaLN_modulation.1.weight";
	expect_load_error(p, NP, "master.safetensors", "'final_layer.adaLN_modulation.1.weight' is missing");
	memcpy(p, md.p, sizeof p);
	p[3].shape[1] = 11;
	expect_load_error(p, NP, "master.safetensors",
			  "'img_in.weight' has shape [8, 10], the model's is [8, 11]");
	memcpy(p, md.p, sizeof p);
	expect_load_error(p, NP - 1, "master.safetensors", "'img_in.weight' is not one of the model's");
	model_free(&md);
}

/* A run folder that cannot be written: the save fails naming it, and leaves nothing. As root (who writes
 * anywhere) the save runs as nobody, with the effective id only, so that the test can switch back. */
Test(ckpt, a_read_only_run_folder_fails_cleanly)
{
	model md;
	char dir[600] = "", ls[600];
	cJSON *state = state_of(1);
	sora_err e = {0};
	model_init(&md, 9);
	cr_assert_eq(chmod(tmp, 0755), 0);
	cr_assert_eq(mkdir(run, 0555), 0);
	const int root = geteuid() == 0;
	cr_assert(!root || seteuid(65534) == 0);
	int rc = sora_ckpt_save(run, 0, 1, md.p, (const float *const *)md.master, (const float *const *)md.m,
				(const float *const *)md.v, NP, SORA_F32, 0, state, 1, dir, sizeof dir, &e);
	cr_assert(!root || seteuid(0) == 0);
	cr_expect_lt(rc, 0);
	cr_log_info("%s", e.msg);
	cr_expect(strstr(e.msg, run) && strstr(e.msg, "Permission denied"), "%s", e.msg);
	cr_expect_str_eq(dir, "");
	entries(ls, sizeof ls);
	cr_expect_str_eq(ls, "");
	cJSON_Delete(state);
	model_free(&md);
}
