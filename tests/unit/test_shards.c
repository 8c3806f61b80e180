/* Shards: record blobs (round trip, hostile blobs), the writer and reader (several shards, get, at,
 * duplicates, a forked reader, damaged files, what a killed run leaves), and sora-encode on 50 rows with
 * the tiny fixture T5 and CLIP: every stored tensor bit-equal to a direct forward (one prompt at a time:
 * within a bf16 step), and the same values read by Python (tests/tools/read_shard.py: python3-lmdb +
 * numpy). */
#include "encode/prompt.h"
#include "encode/text_encoder.h"
#include "io/safetensors.h"
#include "io/shards.h"

#include "expect.h"

#include <cblas.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *tmpdir(void)
{
	static char dir[64];
	snprintf(dir, sizeof dir, "/tmp/sora-shards.XXXXXX");
	cr_assert(mkdtemp(dir), "mkdtemp");
	return dir;
}

static void rm_rf(const char *dir)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_expect_eq(system(cmd), 0);
}

static cJSON *encoders(const char *name)
{
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(cJSON_AddObjectToObject(d, "t5"), "config_fnv1a64", name);
	return d;
}

/* A record of row k: `t5` [3, 4] bf16 and `clip` [4] bf16 filled from k, and its id as metadata. */
static void *make_blob(int k, size_t *size)
{
	sora_tensor t[2];
	sora_err e = {0};
	void *blob;
	char id[16];
	cr_assert_eq(sora_tensor_alloc(&t[0], SORA_BF16, 2, (int64_t[]){3, 4}, &e), 0);
	cr_assert_eq(sora_tensor_alloc(&t[1], SORA_BF16, 1, (int64_t[]){4}, &e), 0);
	for (int i = 0; i < 12; i++)
		((uint16_t *)t[0].data)[i] = sora_f32_to_bf16((float)(k * 100 + i));
	for (int i = 0; i < 4; i++)
		((uint16_t *)t[1].data)[i] = sora_f32_to_bf16((float)-k - i);
	snprintf(id, sizeof id, "row-%03d", k);
	const char *names[] = {"t5", "clip"}, *meta[] = {"id", id, NULL};
	cr_assert_eq(sora_blob_encode(names, t, 2, meta, &blob, size, &e), 0, "%s", e.msg);
	sora_tensor_free(&t[0]);
	sora_tensor_free(&t[1]);
	return blob;
}

Test(shard_blob, round_trip)
{
	sora_tensor t[3];
	sora_err e = {0};
	void *blob;
	size_t size;
	cr_assert_eq(sora_tensor_alloc(&t[0], SORA_BF16, 2, (int64_t[]){3, 5}, &e), 0);
	cr_assert_eq(sora_tensor_alloc(&t[1], SORA_F32, 1, (int64_t[]){3}, &e), 0);
	cr_assert_eq(sora_tensor_alloc(&t[2], SORA_I64, 0, NULL, &e), 0);
	for (int i = 0; i < 15; i++)
		((uint16_t *)t[0].data)[i] = (uint16_t)(i * 977);
	((float *)t[1].data)[2] = 1.5f;
	*(int64_t *)t[2].data = -7;
	const char *names[] = {"t5", "b", "n"};
	const char *meta[] = {"text", "a \"quoted\", multi\nline caption — ünïcode", "fps", "30", NULL};
	cr_assert_eq(sora_blob_encode(names, t, 3, meta, &blob, &size, &e), 0, "%s", e.msg);
	uint64_t hn;
	memcpy(&hn, blob, 8);
	cr_expect_eq(hn % 8, 0, "header padded to 8");
	cr_expect_eq(size, 8 + hn + 30 + 12 + 8);
	/* Larger elements first: n (I64) at 0, b (F32) at 8, t5 (BF16) at 20. */
	cr_expect(strstr((char *)blob + 8, "\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]}"));
	cr_expect(
	    strstr((char *)blob + 8, "\"t5\":{\"dtype\":\"BF16\",\"shape\":[3,5],\"data_offsets\":[20,50]}"));

	sora_record r;
	cr_assert_eq(sora_record_parse(&r, blob, size, "blob", &e), 0, "%s", e.msg);
	cr_expect_eq(r.n, 3);
	const sora_tensor *x = sora_record_tensor(&r, "t5");
	cr_assert(x && x->dtype == SORA_BF16 && x->ndim == 2 && x->shape[0] == 3 && x->shape[1] == 5);
	cr_expect_eq(memcmp(x->data, t[0].data, 30), 0);
	cr_expect_eq(((float *)sora_record_tensor(&r, "b")->data)[2], 1.5f);
	cr_expect_eq(*(int64_t *)sora_record_tensor(&r, "n")->data, -7);
	cr_expect_eq((uintptr_t)x->data % 2, 0);
	cr_expect_str_eq(sora_record_meta(&r, "text"), meta[1]);
	cr_expect_str_eq(r.keys[1], "fps", "metadata keeps its order");
	cr_expect_null(sora_record_meta(&r, "nope"));
	sora_record_free(&r);
	free(blob);
	for (int i = 0; i < 3; i++)
		sora_tensor_free(&t[i]);
}

/* A blob whose header is `json` (padded), followed by `data` bytes of zeros. */
static int parse_header(const char *json, size_t data, sora_err *e)
{
	size_t hn = (strlen(json) + 7) / 8 * 8, size = 8 + hn + data;
	unsigned char *b = calloc(1, size);
	sora_record r;
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)((uint64_t)hn >> (8 * i));
	memset(b + 8, ' ', hn);
	memcpy(b + 8, json, strlen(json));
	int rc = sora_record_parse(&r, b, size, "hostile", e);
	if (rc == 0)
		sora_record_free(&r);
	free(b);
	return rc;
}

Test(shard_blob, hostile)
{
	static const struct {
		const char *json, *msg;
		size_t data;
	} cases[] = {
	    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", NULL, 8},
	    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", "not well-formed JSON", 8},
	    {"{\"a\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", "unknown dtype 'Q7'", 8},
	    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}",
	     "8 bytes for a shape needing 12", 8},
	    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
	     "outside the 4-byte data area", 4},
	    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", "shape dim 0 is not a size",
	     8},
	    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,8]}}",
	     "shape dim 0 is not a size", 8},
	    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}",
	     "data_offsets are not a range", 8},
	    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}", "not aligned", 8},
	    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
	     "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
	     "overlap", 8},
	    {"{\"__metadata__\":{\"k\":3}}", "__metadata__ 'k' is not a string", 0},
	    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1],\"data_offsets\":[0,4]}}",
	     "6 dims (at most 5)", 4},
	    {"[1]", "not a JSON object", 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		sora_err e = {0};
		int rc = parse_header(cases[i].json, cases[i].data, &e);
		if (!cases[i].msg) {
			cr_expect_eq(rc, 0, "case %zu: %s", i, e.msg);
			continue;
		}
		cr_expect_eq(rc, -1, "case %zu accepted", i);
		cr_expect(strstr(e.msg, cases[i].msg), "case %zu: '%s' lacks '%s'", i, e.msg, cases[i].msg);
	}
	sora_err e = {0};
	sora_record r;
	unsigned char huge[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
	cr_expect_eq(sora_record_parse(&r, huge, sizeof huge, "huge", &e), -1);
	cr_expect(strstr(e.msg, "over the 100 MB limit"), "%s", e.msg);
	cr_expect_eq(sora_record_parse(&r, huge, 5, "short", &e), -1);
	cr_expect(strstr(e.msg, "shorter than the header length"), "%s", e.msg);
}

/* n rows into dir through one writer sealing every `shard_bytes`. */
static void write_rows(const char *dir, int from, int n, int64_t shard_bytes)
{
	sora_shard_writer *w;
	sora_err e = {0};
	cJSON *enc = encoders("abc");
	cr_assert_eq(sora_shard_writer_open(&w, dir, enc, shard_bytes, NULL, &e), 0, "%s", e.msg);
	for (int k = from; k < from + n; k++) {
		size_t size;
		void *blob = make_blob(k, &size);
		char id[16];
		snprintf(id, sizeof id, "row-%03d", k);
		cr_assert_eq(sora_shard_writer_put(w, id, blob, size, k % 2 ? "odd" : "even", &e), 0, "%s",
			     e.msg);
		free(blob);
	}
	cr_assert_eq(sora_shard_writer_close(w, &e), 0, "%s", e.msg);
	cJSON_Delete(enc);
}

Test(shards, write_and_read)
{
	char *dir = tmpdir();
	sora_err e = {0};
	write_rows(dir, 0, 30, 40000); /* 12 KiB pages of values: a few rows per shard */
	write_rows(dir, 30, 5, 1 << 30);
	sora_dataset *d;
	cr_assert_eq(sora_dataset_open(&d, dir, &e), 0, "%s", e.msg);
	cr_expect_eq(sora_dataset_count(d), 35);
	const cJSON *idx = sora_dataset_index(d);
	int shards = cJSON_GetArraySize(cJSON_GetObjectItem(idx, "shards"));
	cr_log_info("35 rows in %d shards", shards);
	cr_expect_gt(shards, 2);
	cr_expect_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(idx, "buckets"), "odd")->valuedouble, 17);
	/* Every row by index, in order, with the values it was written with. */
	for (int64_t i = 0; i < 35; i++) {
		sora_record r;
		char id[16];
		cr_assert_eq(sora_dataset_at(d, i, &r, &e), 0, "%s", e.msg);
		snprintf(id, sizeof id, "row-%03d", (int)i);
		cr_expect_str_eq(r.id, id);
		cr_expect_str_eq(sora_record_meta(&r, "id"), id);
		const sora_tensor *t5 = sora_record_tensor(&r, "t5");
		cr_expect_eq(((uint16_t *)t5->data)[11], sora_f32_to_bf16((float)(i * 100 + 11)));
		sora_record_free(&r);
	}
	/* Many threads at once (a data loader's workers) read the same rows. */
	int wrong = 0;
#pragma omp parallel for num_threads(4) reduction(+ : wrong)
	for (int i = 0; i < 4 * 35; i++) {
		sora_record pr;
		sora_err pe = {0};
		wrong += sora_dataset_at(d, i % 35, &pr, &pe) != 0 ||
			 ((uint16_t *)sora_record_tensor(&pr, "t5")->data)[0] !=
			     sora_f32_to_bf16((float)(i % 35 * 100));
		sora_record_free(&pr);
	}
	cr_expect_eq(wrong, 0, "%d reads from threads went wrong", wrong);
	sora_record r;
	int shard = -1;
	cr_expect_eq(sora_dataset_get(d, "row-033", &r, &shard, &e), 1, "%s", e.msg);
	cr_expect_eq(shard, shards - 1, "the second writer's rows are in the last shard");
	cr_expect_eq(sora_bf16_to_f32(((uint16_t *)sora_record_tensor(&r, "clip")->data)[1]), -34.0f);
	sora_record_free(&r);
	cr_expect_eq(sora_dataset_get(d, "row-999", &r, NULL, &e), 0);
	cr_expect_eq(sora_dataset_at(d, 35, &r, &e), -1);
	sora_dataset_close(d);

	/* A duplicate id, and another writer's settings. */
	sora_shard_writer *w;
	cJSON *enc = encoders("abc"), *other = encoders("xyz");
	cr_assert_eq(sora_shard_writer_open(&w, dir, enc, 1 << 20, NULL, &e), 0, "%s", e.msg);
	cr_expect_eq(sora_shard_writer_has(w, "row-004", &e), 1);
	cr_expect_eq(sora_shard_writer_has(w, "row-100", &e), 0);
	size_t size;
	void *blob = make_blob(4, &size);
	cr_expect_eq(sora_shard_writer_put(w, "row-004", blob, size, "x", &e), -1);
	cr_expect(strstr(e.msg, "already in the dataset"), "%s", e.msg);
	cr_expect_eq(sora_shard_writer_put(w, "new", blob, size, "x", &e), 0, "%s", e.msg);
	cr_expect_eq(sora_shard_writer_put(w, "new", blob, size, "x", &e), -1);
	cr_expect(strstr(e.msg, "appears twice"), "%s", e.msg);
	sora_shard_writer_abort(w);
	cr_expect_eq(sora_shard_writer_open(&w, dir, other, 1 << 20, NULL, &e), -1);
	cr_expect(strstr(e.msg, "t5.config_fnv1a64 differs"), "%s", e.msg);
	free(blob);
	cJSON_Delete(enc);
	cJSON_Delete(other);

	/* Nothing but the shards, index.json and the lock file is left. */
	char cmd[256];
	snprintf(cmd, sizeof cmd,
		 "ls -A '%s' | grep -v -e '^shard-[0-9]*\\.mdb$' -e '^index.json$' -e '^\\.lock$'", dir);
	cr_expect_neq(system(cmd), 0, "stray files in %s", dir);
	rm_rf(dir);
}

/* Rows larger than the first map (64 MiB): the map doubles until a row fits, and rows stay readable. */
Test(shards, map_grows, .timeout = 120)
{
	char *dir = tmpdir();
	sora_err e = {0};
	sora_shard_writer *w;
	sora_tensor t;
	cJSON *enc = encoders("abc");
	cr_assert_eq(sora_tensor_alloc(&t, SORA_BF16, 1, (int64_t[]){20 << 20}, &e), 0); /* 40 MiB */
	const char *names[] = {"latent"};
	cr_assert_eq(sora_shard_writer_open(&w, dir, enc, (int64_t)1 << 30, NULL, &e), 0, "%s", e.msg);
	for (int k = 0; k < 4; k++) {
		void *blob;
		size_t size;
		char id[16];
		((uint16_t *)t.data)[(20 << 20) - 1] = (uint16_t)k;
		snprintf(id, sizeof id, "big-%d", k);
		cr_assert_eq(sora_blob_encode(names, &t, 1, NULL, &blob, &size, &e), 0, "%s", e.msg);
		cr_assert_eq(sora_shard_writer_put(w, id, blob, size, "x", &e), 0, "%s", e.msg);
		free(blob);
	}
	cr_assert_eq(sora_shard_writer_close(w, &e), 0, "%s", e.msg);
	sora_dataset *d;
	sora_record r;
	cr_assert_eq(sora_dataset_open(&d, dir, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_dataset_get(d, "big-3", &r, NULL, &e), 1, "%s", e.msg);
	cr_expect_eq(((uint16_t *)sora_record_tensor(&r, "latent")->data)[(20 << 20) - 1], 3);
	sora_record_free(&r);
	sora_dataset_close(d);
	sora_tensor_free(&t);
	cJSON_Delete(enc);
	rm_rf(dir);
}

Test(shards, forked_reader)
{
	char *dir = tmpdir();
	sora_err e = {0};
	write_rows(dir, 0, 12, 30000);
	sora_dataset *d;
	cr_assert_eq(sora_dataset_open(&d, dir, &e), 0, "%s", e.msg);
	sora_record r;
	cr_assert_eq(sora_dataset_at(d, 3, &r, &e), 0, "%s", e.msg);
	sora_record_free(&r);
	pid_t pid = fork();
	if (pid == 0) {
		int ok = 1;
		for (int64_t i = 0; i < 12 && ok; i++) {
			ok = sora_dataset_at(d, i, &r, &e) == 0 &&
			     ((uint16_t *)sora_record_tensor(&r, "t5")->data)[0] ==
				 sora_f32_to_bf16((float)(i * 100));
			sora_record_free(&r);
		}
		_exit(ok ? 0 : 1);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the forked child could not read the rows");
	cr_expect_eq(sora_dataset_get(d, "row-011", NULL, NULL, &e), 1, "the parent still reads");
	sora_dataset_close(d);
	rm_rf(dir);
}

Test(shards, damaged_and_missing)
{
	char *dir = tmpdir(), path[256];
	sora_err e = {0};
	sora_dataset *d;
	cr_expect_eq(sora_dataset_open(&d, dir, &e), -1);
	cr_expect(strstr(e.msg, "index.json"), "%s", e.msg);
	write_rows(dir, 0, 4, 1 << 20);
	snprintf(path, sizeof path, "%s/shard-00000.mdb", dir);
	cr_assert_eq(truncate(path, 8192), 0);
	cr_expect_eq(sora_dataset_open(&d, dir, &e), -1);
	cr_expect(strstr(e.msg, "8192 bytes, index.json says"), "%s", e.msg);
	unlink(path);
	cr_expect_eq(sora_dataset_open(&d, dir, &e), -1);
	cr_expect(strstr(e.msg, "shard-00000.mdb: cannot open"), "%s", e.msg);
	snprintf(path, sizeof path, "%s/index.json", dir);
	FILE *fp = fopen(path, "w");
	fputs("{\"format\": \"sora-shards\", \"version\": 9}", fp);
	fclose(fp);
	cr_expect_eq(sora_dataset_open(&d, dir, &e), -1);
	cr_expect(strstr(e.msg, "format version 9"), "%s", e.msg);
	rm_rf(dir);
}

Test(shards, leftovers_of_a_killed_run)
{
	char *dir = tmpdir(), path[256];
	sora_err e = {0};
	write_rows(dir, 0, 3, 1 << 20);
	/* An open shard nobody holds, a sealed copy that never reached the index, and an index temp file. */
	const char *left[] = {".shard-00004.open", ".shard-00005.seal", "shard-00006.mdb", ".index.json.tmp"};
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, left[i]);
		close(open(path, O_CREAT | O_WRONLY, 0644));
	}
	sora_shard_writer *w;
	cJSON *enc = encoders("abc");
	int removed = 0;
	cr_assert_eq(sora_shard_writer_open(&w, dir, enc, 1 << 20, &removed, &e), 0, "%s", e.msg);
	cr_expect_eq(removed, 3);
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, left[i]);
		cr_expect_neq(access(path, F_OK), 0, "%s is still there", left[i]);
	}
	size_t size;
	void *blob = make_blob(9, &size);
	cr_assert_eq(sora_shard_writer_put(w, "row-009", blob, size, "x", &e), 0, "%s", e.msg);
	cr_expect_str_eq(sora_shard_writer_shard(w), "shard-00001.mdb");
	cr_assert_eq(sora_shard_writer_close(w, &e), 0, "%s", e.msg);
	free(blob);
	/* Shards whose index is gone are left alone. */
	snprintf(path, sizeof path, "%s/index.json", dir);
	unlink(path);
	cr_expect_eq(sora_shard_writer_open(&w, dir, enc, 1 << 20, &removed, &e), -1);
	cr_expect(strstr(e.msg, "holds shard files but no index.json"), "%s", e.msg);
	snprintf(path, sizeof path, "%s/shard-00001.mdb", dir);
	cr_expect_eq(access(path, F_OK), 0);
	cJSON_Delete(enc);
	rm_rf(dir);
}

/* ---- sora-encode on 50 rows with the tiny fixture models ---- */

/* $SORA_FIXTURES/text/NAME; the test ends (skipped, or failed under CI=true) when it is absent. */
static const char *fixtures(char *buf, size_t n, const char *name)
{
	char rel[256];
	snprintf(rel, sizeof rel, "text/%s", name);
	return fixture_path(buf, n, rel);
}

/* A fresh folder with DIR/t5 and DIR/clip as published model folders, made of links to the fixture files;
 * every fixture is looked up before the folder is made, so that a skip leaves nothing behind. */
static char *model_dirs(void)
{
	static const char *const links[][2] = {
	    {"t5/config.json", "t5_tiny_config.json"},
	    {"t5/model.safetensors", "t5_tiny.safetensors"},
	    {"t5/spiece.model", "tokenizers/t5/spiece.model"},
	    {"clip/config.json", "clip_text_tiny_config.json"},
	    {"clip/model.safetensors", "clip_text_tiny.safetensors"},
	    {"clip/vocab.json", "tokenizers/clip/vocab.json"},
	    {"clip/merges.txt", "tokenizers/clip/merges.txt"},
	};
	enum { NLINKS = sizeof links / sizeof *links };
	char a[1024], fx[1024], target[NLINKS][PATH_MAX];
	for (size_t i = 0; i < NLINKS; i++)
		cr_assert(realpath(fixtures(fx, sizeof fx, links[i][1]), target[i]), "%s", fx);
	char *dir = tmpdir();
	snprintf(a, sizeof a, "%s/t5", dir);
	mkdir(a, 0755);
	snprintf(a, sizeof a, "%s/clip", dir);
	mkdir(a, 0755);
	for (size_t i = 0; i < NLINKS; i++) {
		snprintf(a, sizeof a, "%s/%s", dir, links[i][0]);
		cr_assert_eq(symlink(target[i], a), 0, "%s", a);
	}
	return dir;
}

#define ROWS 50

static void row_text(int k, char *buf, size_t n)
{
	static const char *const words[] = {"a red fox",      "crossing a snowy field", "at dawn,",
					    "Ünïcödé façade", "rain on the sea",        "二人の子供",
					    "with a slow pan"};
	snprintf(buf, n, "%s %s", words[k % 7], words[(k * 3 + 1) % 7]);
	if (k % 10 == 9) /* long enough to be cut by CLIP's 77 tokens */
		for (int i = 0; i < 20; i++)
			strncat(buf, " and a dog runs", n - strlen(buf) - 1);
}

static const char *const fps_of[] = {"30", "24", "15", "59.94", "", "25"};
static const char *const motion_of[] = {"3.5", "0.2", "12.5", "", "7.49"};

/* A fresh folder holding the fixture models and DIR/ds, the dataset sora-encode made of ROWS rows; the
 * test skips without the fixtures (fails under CI=true) or without a built sora-encode. */
static char *encode_rows(void)
{
	char bin[1024], cmd[4096], path[1024], text[1024];
	const char *sb = getenv("SORA_BIN");
	snprintf(bin, sizeof bin, "%s/sora-encode", sb && *sb ? sb : "bin");
	if (access(bin, X_OK) != 0)
		cr_skip_test("%s not built (make all)", bin);
	char *dir = model_dirs();
	snprintf(path, sizeof path, "%s/in.csv", dir);
	FILE *fp = fopen(path, "w");
	cr_assert(fp, "%s", path);
	fprintf(fp, "id,text,fps,score_vmafmotion,height,width,num_frames\n");
	for (int k = 0; k < ROWS; k++) {
		row_text(k, text, sizeof text);
		fprintf(fp, "clip-%04d,\"%s\",%s,%s,240,320,%d\n", k, text, fps_of[k % 6], motion_of[k % 5],
			48 + k % 2);
	}
	fclose(fp);
	snprintf(cmd, sizeof cmd,
		 "'%s' --out %s/ds --t5 %s/t5 --clip %s/clip --batch 8 -j 1 -q < %s > %s/out.csv", bin, dir,
		 dir, dir, path, dir);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	return dir;
}

/* A stored bf16 tensor widened to float32: exact and one to one, so equal floats are equal bits. */
static void widen(float *dst, const sora_tensor *t, size_t n)
{
	cr_assert_eq((size_t)sora_tensor_numel(t), n);
	for (size_t i = 0; i < n; i++)
		dst[i] = sora_bf16_to_f32(((const uint16_t *)t->data)[i]);
}

/* What sora-encode stores of a float32 result: its bf16 rounding, widened. */
static void as_stored(float *dst, const float *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = sora_bf16_to_f32(sora_f32_to_bf16(src[i]));
}

/* One prompt alone may sum in another order than in its batch of 8 (BLAS splits sums by the batch): the
 * float32 results then differ by a few ulps of the sums' terms (under 4e-6 here; 1e-4 is the T5 fixture
 * README's absolute bound for float32), which bf16 rounding can turn into one bf16 step, 2^-7 of the
 * value. Nothing more, and never NaN or 0 for a value that is not. */
static cmp_report within_a_bf16_step(const float *single, const float *stored, size_t n)
{
	return cmp_each(cmp_f32(single, n), cmp_f32(stored, n), 1e-4, 1.0 / 128);
}

/* The check of one prompt at a time fails on what a broken forward gives: two bf16 steps off, zeros, NaN. */
Test(encode, bf16_step_check_fails_on_wrong_values)
{
	const float stored[4] = {1.5f, -0.0234375f, 3.0f, 100.0f};
	float single[4];
	memcpy(single, stored, sizeof single);
	cr_expect(within_a_bf16_step(single, stored, 4).ok);
	single[2] = 3.0f + 2 * 0.015625f; /* the bf16 step at 3 is 2^-6 */
	cr_expect(!within_a_bf16_step(single, stored, 4).ok, "two steps off passed");
	single[2] = 3.0f + 0.015625f;
	cr_expect(within_a_bf16_step(single, stored, 4).ok, "one step off failed");
	memset(single, 0, sizeof single);
	cr_expect(!within_a_bf16_step(single, stored, 4).ok, "zeros passed");
	single[1] = NAN;
	cr_expect(!within_a_bf16_step(single, stored, 4).ok, "NaN passed");
}

Test(encode, fifty_rows_bit_equal, .timeout = 600)
{
	char cmd[1024], path[1024], text[1024];
	char *dir = encode_rows();
	sora_err e = {0};
	sora_dataset *d;
	sora_text_encoder te;
	snprintf(path, sizeof path, "%s/ds", dir);
	cr_assert_eq(sora_dataset_open(&d, path, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_dataset_count(d), ROWS);
	snprintf(cmd, sizeof cmd, "%s/t5", dir);
	snprintf(path, sizeof path, "%s/clip", dir);
	cr_assert_eq(sora_text_encoder_load(&te, cmd, path, 8, &e), 0, "%s", e.msg);
	omp_set_num_threads(1); /* as sora-encode -j 1: sums split over threads round differently */
	openblas_set_num_threads(1);
	const size_t LD = (size_t)te.t5_len * te.t5.cfg.d_model, C = (size_t)te.clip.cfg.hidden;
	const size_t N = ROWS * (LD + C);

	/* Every row's t5 then every row's clip, as stored and as the same batches of 8 (in input order) give
	 * them straight through the models; and the t5 of each prompt run alone. */
	float *stored = malloc(N * sizeof *stored), *direct = malloc(N * sizeof *direct),
	      *single = malloc(ROWS * LD * sizeof *single);
	cr_assert(stored && direct && single);
	sora_record rec[ROWS];
	for (int k0 = 0; k0 < ROWS; k0 += 8) {
		int B = ROWS - k0 < 8 ? ROWS - k0 : 8;
		for (int b = 0; b < B; b++) {
			char *prompt;
			sora_prompt_tokens tok;
			row_text(k0 + b, text, sizeof text);
			cr_assert_eq(sora_prompt_build(text, fps_of[(k0 + b) % 6], motion_of[(k0 + b) % 5],
						       SORA_FPS_MAX, &prompt, &e),
				     0);
			cr_assert_eq(sora_text_encoder_tokenize(&te, b, prompt, &tok, &e), 0, "%s", e.msg);
			cr_assert_eq(sora_dataset_at(d, k0 + b, &rec[k0 + b], &e), 0, "%s", e.msg);
			cr_expect_str_eq(sora_record_meta(&rec[k0 + b], "prompt"), prompt);
			free(prompt);
		}
		cr_assert_eq(sora_text_encoder_run(&te, B, &e), 0, "%s", e.msg);
		for (int b = 0; b < B; b++) {
			const sora_record *r = &rec[k0 + b];
			const size_t k = (size_t)k0 + b;
			widen(stored + k * LD, sora_record_tensor(r, "t5"), LD);
			widen(stored + ROWS * LD + k * C, sora_record_tensor(r, "clip"), C);
			as_stored(direct + k * LD, sora_text_encoder_t5(&te, b), LD);
			as_stored(direct + ROWS * LD + k * C, sora_text_encoder_clip(&te, b), C);
		}
		for (int b = 0; b < B; b++) {
			sora_prompt_tokens tok;
			cr_assert_eq(sora_text_encoder_tokenize(
					 &te, 0, sora_record_meta(&rec[k0 + b], "prompt"), &tok, &e),
				     0);
			cr_assert_eq(sora_text_encoder_run(&te, 1, &e), 0, "%s", e.msg);
			as_stored(single + ((size_t)k0 + b) * LD, sora_text_encoder_t5(&te, 0), LD);
		}
	}
	char what[96];
	snprintf(what, sizeof what, "%d rows stored vs the direct forward", ROWS);
	expect_cmp(what, cmp_exact(cmp_f32(stored, N), cmp_f32(direct, N)));
	cr_log_info("one prompt at a time: %zu of %zu t5 values differ from the stored ones",
		    cmp_exact(cmp_f32(single, ROWS * LD), cmp_f32(stored, ROWS * LD)).off, ROWS * LD);
	expect_cmp("t5 of one prompt at a time vs stored", within_a_bf16_step(single, stored, ROWS * LD));
	cr_expect_eq(sora_record_meta(&rec[9], "t5_tokens")[0] != '\0', 1);
	free(stored), free(direct), free(single);
	for (int k = 0; k < ROWS; k++)
		sora_record_free(&rec[k]);
	sora_text_encoder_free(&te);
	sora_dataset_close(d);
	rm_rf(dir);
}

static const char *python_with_lmdb(void)
{
	static const char *const cands[] = {"/usr/bin/python3", "python3"};
	char cmd[128];
	for (int i = 0; i < 2; i++) {
		snprintf(cmd, sizeof cmd, "%s -c 'import lmdb, numpy' 2>/dev/null", cands[i]);
		if (system(cmd) == 0)
			return cands[i];
	}
	return NULL;
}

/* Python reads the same shard: every value bit for bit, every metadata string. */
Test(encode, python_reads_the_same_shard, .timeout = 600)
{
	const char *py = python_with_lmdb();
	if (!py)
		cr_skip_test("no python3 with lmdb and numpy (apt-get install python3-lmdb)");
	char *dir = encode_rows(), path[1024], cmd[4096];
	sora_err e = {0};
	sora_dataset *d;
	snprintf(path, sizeof path, "%s/ds", dir);
	cr_assert_eq(sora_dataset_open(&d, path, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_dataset_count(d), ROWS);
	sora_record rec[ROWS];
	const char **names = calloc((size_t)2 * ROWS, sizeof *names),
		   **meta = calloc((size_t)40 * ROWS, sizeof *meta);
	sora_tensor *ts = calloc((size_t)2 * ROWS, sizeof *ts);
	char(*nb)[64] = calloc((size_t)22 * ROWS, sizeof *nb);
	cr_assert(names && meta && ts && nb);
	int nt = 0, nm = 0, nn = 0;
	for (int k = 0; k < ROWS; k++) {
		cr_assert_eq(sora_dataset_at(d, k, &rec[k], &e), 0, "%s", e.msg);
		for (int i = 0; i < rec[k].n; i++) {
			snprintf(nb[nn], 64, "%s/%s", rec[k].id, rec[k].names[i]);
			names[nt] = nb[nn++];
			ts[nt++] = rec[k].t[i];
		}
		for (int i = 0; i < rec[k].nmeta; i++) {
			snprintf(nb[nn], 64, "%s/%s", rec[k].id, rec[k].keys[i]);
			meta[nm++] = nb[nn++];
			meta[nm++] = rec[k].vals[i];
		}
	}
	snprintf(path, sizeof path, "%s/ref.safetensors", dir);
	cr_assert_eq(sora_st_write(path, names, ts, nt, meta, &e), 0, "%s", e.msg);
	snprintf(cmd, sizeof cmd, "%s tests/tools/read_shard.py %s/ds --compare %s", py, dir, path);
	cr_expect_eq(system(cmd), 0, "%s", cmd);
	snprintf(cmd, sizeof cmd, "%s tests/tools/read_shard.py %s/ds --check", py, dir);
	cr_expect_eq(system(cmd), 0, "%s", cmd);
	free(names), free(meta), free(ts), free(nb);
	for (int k = 0; k < ROWS; k++)
		sora_record_free(&rec[k]);
	sora_dataset_close(d);
	rm_rf(dir);
}
