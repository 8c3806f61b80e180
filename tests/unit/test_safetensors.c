/* safetensors reader on hostile files, the writer's round trip, sharded checkpoints and the strict
 * weights loader's report. */
#include "expect.h"
#include "io/safetensors.h"
#include "models/weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/sora-st-XXXXXX";
static char path[512];

static void setup(void)
{
	cr_assert(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/t.safetensors", dir);
}

static void teardown(void)
{
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(safetensors, .init = setup, .fini = teardown);

/* A file with the given header (length field = hlen, or the header's own length when hlen < 0) and
 * ndata zero bytes of data. */
static void write_raw(const char *header, long long hlen, size_t ndata)
{
	FILE *fp = fopen(path, "wb");
	cr_assert(fp);
	unsigned long long n = hlen < 0 ? strlen(header) : (unsigned long long)hlen;
	for (int i = 0; i < 8; i++)
		fputc((int)(n >> (8 * i)) & 0xff, fp);
	fwrite(header, 1, strlen(header), fp);
	for (size_t i = 0; i < ndata; i++)
		fputc(0, fp);
	fclose(fp);
}

/* Opening must fail with a message holding every one of the given fragments. */
static void expect_error(const char *frag1, const char *frag2)
{
	sora_safetensors *st = NULL;
	sora_err e = {0};
	cr_assert_lt(sora_st_open(&st, path, &e), 0, "opened a hostile file");
	cr_assert_null(st);
	cr_assert(strstr(e.msg, path), "error does not name the file: %s", e.msg);
	cr_assert(strstr(e.msg, frag1), "expected '%s' in: %s", frag1, e.msg);
	if (frag2)
		cr_assert(strstr(e.msg, frag2), "expected '%s' in: %s", frag2, e.msg);
}

Test(safetensors, empty_and_truncated_files)
{
	write_raw("", 0, 0);
	expect_error("header", NULL); /* an 8-byte file with an empty header: not JSON */
	FILE *fp = fopen(path, "wb");
	fputs("abc", fp);
	fclose(fp);
	expect_error("shorter than the header length", NULL);
	write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", -1, 8);
	expect_error("'a'", "outside");
}

Test(safetensors, header_length_past_the_end_or_too_large)
{
	write_raw("{}", 1000, 0);
	expect_error("past the end", NULL);
	write_raw("{}", 200000000, 0);
	expect_error("100 MB", NULL);
	write_raw("{}", (long long)0x7fffffffffffffffLL, 0);
	expect_error("100 MB", NULL);
}

Test(safetensors, malformed_json)
{
	write_raw("{\"a\":", -1, 0);
	expect_error("not well-formed JSON", NULL);
	write_raw("[1,2]", -1, 0);
	expect_error("not a JSON object", NULL);
	write_raw("{} trailing", -1, 0);
	expect_error("not well-formed JSON", NULL);
	write_raw("{\"a\":3}", -1, 0);
	expect_error("'a'", "not an object");
	write_raw("{\"__metadata__\":{\"k\":1}}", -1, 0);
	expect_error("__metadata__", NULL);
}

Test(safetensors, offsets_out_of_range_or_inconsistent)
{
	write_raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", -1, 8);
	expect_error("'w'", "outside");
	write_raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,0]}}", -1, 8);
	expect_error("'w'", "not a range");
	write_raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", -1, 8);
	expect_error("'w'", "not a range");
	write_raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", -1, 8);
	expect_error("'w'", "needing 12");
	write_raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0.5,8]}}", -1, 8);
	expect_error("'w'", "not a range");
	write_raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", -1, 8);
	expect_error("'w'", "data_offsets");
}

Test(safetensors, overlapping_ranges)
{
	write_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
		  "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
		  -1, 16);
	expect_error("overlaps", NULL);
}

Test(safetensors, unknown_dtype_and_duplicate_names)
{
	write_raw("{\"w\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,16]}}", -1, 16);
	expect_error("'w'", "unknown dtype 'F128'");
	write_raw("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", -1, 4);
	expect_error("'w'", "no dtype");
	write_raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
		  "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
		  -1, 8);
	expect_error("'w'", "twice");
}

Test(safetensors, absurd_shapes)
{
	write_raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", -1,
		  4);
	expect_error("'w'", "too large");
	write_raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,4]}}", -1, 4);
	expect_error("'w'", "not a size");
	write_raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", -1, 4);
	expect_error("'w'", "not a size");
	write_raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", -1, 4);
	expect_error("'w'", "dims");
	write_raw("{\"w\":{\"dtype\":\"F32\",\"shape\":\"big\",\"data_offsets\":[0,4]}}", -1, 4);
	expect_error("'w'", "no shape");
}

Test(safetensors, scalars_and_empty_tensors_are_valid)
{
	write_raw("{\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
		  "\"z\":{\"dtype\":\"F32\",\"shape\":[0,7],\"data_offsets\":[4,4]},"
		  "\"__metadata__\":{\"format\":\"pt\"}}",
		  -1, 4);
	sora_safetensors *st;
	sora_err e = {0};
	cr_assert_eq(sora_st_open(&st, path, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_st_count(st), 2);
	const sora_st_tensor *s = sora_st_find(st, "s"), *z = sora_st_find(st, "z");
	cr_assert(s && z);
	cr_assert_eq(s->ndim, 0);
	cr_assert_eq(s->nbytes, 4);
	cr_assert_eq(z->nbytes, 0);
	cr_assert_str_eq(sora_st_metadata(st, "format"), "pt");
	cr_assert_null(sora_st_find(st, "__metadata__"));
	sora_st_close(st);
}

Test(safetensors, write_then_read_round_trip)
{
	sora_tensor t[3];
	sora_err e = {0};
	cr_assert_eq(sora_tensor_alloc(&t[0], SORA_F32, 2, (int64_t[]){2, 3}, &e), 0);
	cr_assert_eq(sora_tensor_alloc(&t[1], SORA_BF16, 1, (int64_t[]){5}, &e), 0);
	cr_assert_eq(sora_tensor_alloc(&t[2], SORA_I64, 0, NULL, &e), 0);
	for (int i = 0; i < 6; i++)
		((float *)t[0].data)[i] = (float)i * 0.5f - 1.0f;
	for (int i = 0; i < 5; i++)
		((uint16_t *)t[1].data)[i] = sora_f32_to_bf16((float)i + 0.25f);
	*(int64_t *)t[2].data = -42;
	const char *names[] = {"layer.weight", "a \"quoted\" name", "step"};
	const char *meta[] = {"format", "pt", "config", "{\"depth\": 3}", NULL};
	cr_assert_eq(sora_st_write(path, names, t, 3, meta, &e), 0, "%s", e.msg);

	FILE *fp = fopen(path, "rb");
	unsigned char len[8];
	cr_assert_eq(fread(len, 1, 8, fp), 8);
	fclose(fp);
	cr_assert_eq(len[0] % 8, 0, "header is padded to 8 bytes");

	sora_safetensors *st;
	cr_assert_eq(sora_st_open(&st, path, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_st_count(st), 3);
	cr_assert_str_eq(sora_st_metadata(st, "config"), "{\"depth\": 3}");
	for (int i = 0; i < 3; i++) {
		const sora_st_tensor *r = sora_st_find(st, names[i]);
		cr_assert(r, "%s missing", names[i]);
		cr_assert_eq(r->ndim, t[i].ndim);
		cr_assert_eq(r->nbytes, sora_tensor_nbytes(&t[i]));
		cr_assert_eq(memcmp(r->data, t[i].data, r->nbytes), 0);
		cr_assert_eq((uintptr_t)r->data % (uintptr_t)r->elem_size, 0, "tensor data aligned");
		sora_tensor_free(&t[i]);
	}
	sora_dtype d;
	cr_assert_eq(sora_st_dtype(sora_st_find(st, "step"), &d, &e), 0);
	cr_assert_eq(d, SORA_I64);
	sora_st_close(st);
}

static void write_shard(const char *name, const char *tname, float v)
{
	char p[300];
	sora_tensor t;
	sora_err e = {0};
	snprintf(p, sizeof p, "%s/%s", dir, name);
	cr_assert_eq(sora_tensor_alloc(&t, SORA_F32, 1, (int64_t[]){2}, &e), 0);
	((float *)t.data)[0] = ((float *)t.data)[1] = v;
	cr_assert_eq(sora_st_write(p, &tname, &t, 1, NULL, &e), 0, "%s", e.msg);
	sora_tensor_free(&t);
}

static void write_index(const char *json)
{
	char p[300];
	snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
	FILE *fp = fopen(p, "w");
	fputs(json, fp);
	fclose(fp);
	snprintf(path, sizeof path, "%s", p);
}

Test(safetensors, sharded_checkpoint_through_its_index)
{
	write_shard("m-1.safetensors", "a", 1.0f);
	write_shard("m-2.safetensors", "b", 2.0f);
	write_index("{\"metadata\":{},\"weight_map\":{\"a\":\"m-1.safetensors\",\"b\":\"m-2.safetensors\"}}");
	sora_safetensors *st;
	sora_err e = {0};
	cr_assert_eq(sora_st_open(&st, path, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_st_count(st), 2);
	cr_assert_float_eq(((const float *)sora_st_find(st, "b")->data)[0], 2.0f, 0);
	cr_assert(strstr(sora_st_find(st, "a")->file, "m-1.safetensors"));
	sora_st_close(st);

	write_index("{\"weight_map\":{\"a\":\"m-2.safetensors\",\"b\":\"m-2.safetensors\"}}");
	expect_error("'a'", "not in its shard");
	write_shard("m-3.safetensors", "c", 3.0f);
	write_index("{\"weight_map\":{\"a\":\"m-1.safetensors\",\"b\":\"m-2.safetensors\","
		    "\"c\":\"m-1.safetensors\"}}");
	expect_error("'c'", "not in its shard");
	write_index("{\"weight_map\":{\"a\":\"m-1.safetensors\",\"b\":\"m-2.safetensors\","
		    "\"c\":\"m-3.safetensors\",\"d\":\"m-3.safetensors\"}}");
	expect_error("'d'", "not in its shard");
	/* A shard holding a tensor the index does not map. */
	sora_tensor two[2];
	const char *two_names[] = {"e", "f"};
	char p2[600];
	snprintf(p2, sizeof p2, "%s/m-4.safetensors", dir);
	cr_assert_eq(sora_tensor_alloc(&two[0], SORA_F32, 1, (int64_t[]){1}, &e), 0);
	cr_assert_eq(sora_tensor_alloc(&two[1], SORA_F32, 1, (int64_t[]){1}, &e), 0);
	cr_assert_eq(sora_st_write(p2, two_names, two, 2, NULL, &e), 0, "%s", e.msg);
	sora_tensor_free(&two[0]);
	sora_tensor_free(&two[1]);
	write_index("{\"weight_map\":{\"e\":\"m-4.safetensors\"}}");
	expect_error("the shards hold 2 tensors, the index maps 1", NULL);
	write_index("{\"weight_map\":{\"a\":\"../etc/passwd\"}}");
	expect_error("bad shard name", NULL);
	write_index("{\"weight_map\":{\"a\":\"missing.safetensors\"}}");
	cr_assert_lt(sora_st_open(&st, path, &e), 0);
	cr_assert(strstr(e.msg, "missing.safetensors") && strstr(e.msg, "cannot open"), "%s", e.msg);
}

/* The loader names every problem at once: one missing, one unexpected, one mis-shaped tensor. */
Test(safetensors, strict_loader_report)
{
	sora_tensor t[3];
	sora_err e = {0};
	cr_assert_eq(sora_tensor_alloc(&t[0], SORA_BF16, 2, (int64_t[]){4, 2}, &e), 0);
	cr_assert_eq(sora_tensor_alloc(&t[1], SORA_F32, 1, (int64_t[]){3}, &e), 0);
	cr_assert_eq(sora_tensor_alloc(&t[2], SORA_F32, 1, (int64_t[]){4}, &e), 0);
	for (int i = 0; i < 8; i++)
		((uint16_t *)t[0].data)[i] = sora_f32_to_bf16((float)i * 0.5f);
	const char *names[] = {"fc.weight", "fc.bias", "extra.weight"};
	cr_assert_eq(sora_st_write(path, names, t, 3, NULL, &e), 0, "%s", e.msg);
	for (int i = 0; i < 3; i++)
		sora_tensor_free(&t[i]);

	sora_safetensors *st;
	cr_assert_eq(sora_st_open(&st, path, &e), 0, "%s", e.msg);
	sora_tensor w, b, n;
	sora_weight_spec bad[] = {
	    {"fc.weight", 2, {4, 2}, &w},
	    {"fc.bias", 1, {4}, &b},
	    {"norm.weight", 1, {2}, &n},
	};
	char *report = NULL;
	cr_assert_lt(sora_weights_load(st, bad, 3, NULL, SORA_F32, &report, &e), 0);
	cr_assert(report);
	cr_log_info("strict report: %s\n%s", e.msg, report);
	cr_assert(strstr(e.msg, "3 problems"), "%s", e.msg);
	cr_assert(strstr(report, "missing 'norm.weight' [2]"), "%s", report);
	cr_assert(strstr(report, "unexpected 'extra.weight'"), "%s", report);
	cr_assert(strstr(report, "shape of 'fc.bias' is [3], the model expects [4]"), "%s", report);
	free(report);

	/* The same checkpoint loads once the model agrees with it; bf16 is widened to f32. */
	sora_tensor x;
	sora_weight_spec good[] = {{"fc.weight", 2, {4, 2}, &w}, {"fc.bias", 1, {3}, &b}};
	const char *ignore[] = {"extra.weight", NULL};
	cr_assert_eq(sora_weights_load(st, good, 2, ignore, SORA_F32, &report, &e), 0, "%s", e.msg);
	cr_assert_null(report);
	cr_assert_eq(w.dtype, SORA_F32);
	cr_assert_float_eq(((float *)w.data)[7], 3.5f, 0);
	sora_tensor_free(&w);
	sora_tensor_free(&b);
	sora_weight_spec half[] = {{"fc.weight", 2, {4, 2}, &x}, {"fc.bias", 1, {3}, &b}};
	cr_assert_eq(sora_weights_load(st, half, 2, ignore, SORA_BF16, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(((uint16_t *)x.data)[3], sora_f32_to_bf16(1.5f));
	sora_tensor_free(&x);
	sora_tensor_free(&b);
	sora_st_close(st);
}

/* Outside the safetensors suite, whose temporary folder a skip would leave behind. */
Test(safetensors_fixture, official_t5_bf16_loads)
{
	char p[1024];
	sora_safetensors *st;
	sora_err e = {0};
	cr_assert_eq(sora_st_open(&st, fixture_path(p, sizeof p, "text/t5_tiny_bf16.safetensors"), &e), 0,
		     "%s", e.msg);
	const sora_st_tensor *t = sora_st_find(st, "shared.weight");
	cr_assert(t);
	cr_assert_str_eq(t->dtype, "BF16");
	cr_assert_eq(t->ndim, 2);
	cr_assert_eq(t->shape[0], 32128);
	cr_assert_eq(t->shape[1], 32);
	sora_st_close(st);
}
