/* Resolution / aspect-ratio tables and the stage-1 buckets against aspect_tables.json (made by the official
 * Open-Sora code): every table in order, get_image_size with its missing ratios, the sanitised sampling
 * sizes, get_closest_ratio, and Bucket (order, ids, get_bucket_id with numpy's PCG64 draws, get_thw,
 * get_batch_size). Also numpy's default_rng against values numpy prints. */
#include "flow/aspect.h"
#include "flow/bucket.h"
#include "flow/np_rng.h"
#include "flow_fixture.h"

static const cJSON *item(const cJSON *o, const char *key)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
	cr_assert(x, "aspect_tables.json: key %s missing", key);
	return x;
}

/* A table of aspect_tables.json, present and not empty: a loop over a missing one would compare nothing. */
static const cJSON *table(const sora_json *j, const char *key)
{
	const cJSON *t = sora_json_find(j, key);
	cr_assert(t && t->child, "aspect_tables.json: %s missing or empty", key);
	return t;
}

/* The ordered dict d equals the JSON object (same keys in the same order, same (h, w)). */
static void expect_dict(const char *what, const sora_ar_dict *d, const cJSON *want)
{
	int i = 0;
	const cJSON *x;
	cJSON_ArrayForEach(x, want)
	{
		cr_assert_lt(i, d->n, "%s: fewer entries than the reference", what);
		cr_expect_str_eq(d->e[i].name, x->string, "%s: entry %d", what, i);
		cr_expect_eq(d->e[i].h, cJSON_GetArrayItem(x, 0)->valueint, "%s %s: height", what, x->string);
		cr_expect_eq(d->e[i].w, cJSON_GetArrayItem(x, 1)->valueint, "%s %s: width", what, x->string);
		i++;
	}
	cr_expect_eq(i, d->n, "%s: %d entries, reference %d", what, d->n, i);
}

Test(flow_aspect, ratio_list_and_tables)
{
	sora_json j;
	sora_err e = {0};
	flow_open_json(&j, "aspect_tables.json");
	const cJSON *list = table(&j, "ASPECT_RATIO_LD_LIST");
	for (int i = 0; i < 9; i++)
		cr_expect_str_eq(sora_aspect_ratio_list[i], cJSON_GetArrayItem(list, i)->valuestring);
	const cJSON *res;
	int n = 0;
	cJSON_ArrayForEach(res, table(&j, "get_aspect_ratios_dict"))
	{
		int64_t px;
		cr_assert_eq(sora_resolution_pixels(res->string, &px, &e), 0, "%s", e.msg);
		cr_expect_eq(px, (int64_t)item(res, "num_pixels")->valuedouble, "%s pixels", res->string);
		for (int training = 0; training < 2; training++) {
			sora_ar_dict d;
			char what[64];
			sora_aspect_ratios(&d, px, training);
			snprintf(what, sizeof what, "%s %s", res->string,
				 training ? "training" : "inference");
			expect_dict(what, &d, item(res, training ? "training" : "inference"));
			n++;
		}
	}
	cr_log_info("get_aspect_ratios_dict: %d tables compared", n);
	sora_json_free(&j);
}

Test(flow_aspect, image_size_sanitize_closest)
{
	sora_json j;
	sora_err e = {0};
	flow_open_json(&j, "aspect_tables.json");
	const cJSON *c;
	int n = 0, missing = 0;
	cJSON_ArrayForEach(c, table(&j, "get_image_size"))
	{
		char res[32], ratio[32], tr[16];
		cr_assert(sscanf(c->string, "%31[^|]|%31[^|]|training=%15s", res, ratio, tr) == 3, "%s",
			  c->string);
		int h = 0, w = 0, rc = sora_image_size(res, ratio, !strcmp(tr, "True"), &h, &w, &e);
		if (cJSON_IsNull(c)) {
			cr_expect_eq(rc, -1, "%s: the reference asserts", c->string);
			cr_expect(strstr(e.msg, "not found") && strstr(e.msg, ratio), "%s: %s", c->string,
				  e.msg);
			missing++;
		} else {
			cr_expect_eq(rc, 0, "%s: %s", c->string, e.msg);
			cr_expect(h == cJSON_GetArrayItem(c, 0)->valueint &&
				      w == cJSON_GetArrayItem(c, 1)->valueint,
				  "%s: %dx%d", c->string, h, w);
		}
		n++;
	}
	cr_log_info("get_image_size: %d cases (%d missing ratios)", n, missing);
	cJSON_ArrayForEach(c, table(&j, "sanitize_sampling_option(height,width)"))
	{
		char res[32], ratio[32];
		cr_assert(sscanf(c->string, "%31[^|]|%31s", res, ratio) == 2);
		int h = 0, w = 0;
		cr_expect_eq(sora_sampling_size(res, ratio, &h, &w, &e), 0, "%s", e.msg);
		cr_expect(h == cJSON_GetArrayItem(c, 0)->valueint && w == cJSON_GetArrayItem(c, 1)->valueint,
			  "sanitize %s: %dx%d", c->string, h, w);
	}
	sora_ar_dict d;
	sora_aspect_ratios(&d, 65536, 1); /* 256px */
	cJSON_ArrayForEach(c, table(&j, "get_closest_ratio(256px training dict)"))
	{
		char *x;
		long h = strtol(c->string, &x, 10), w = strtol(x + 1, NULL, 10);
		cr_assert(*x == 'x' && h > 0 && w > 0, "%s", c->string);
		cr_expect_str_eq(sora_closest_ratio(h, w, &d), c->valuestring, "closest ratio of %s",
				 c->string);
	}
	sora_json_free(&j);
}

Test(flow_aspect, bad_names)
{
	sora_err e = {0};
	int h = 100, w = 50;
	int64_t px;
	cr_expect_eq(sora_resolution_pixels("256", &px, &e), -1);
	cr_expect(strstr(e.msg, "invalid resolution"), "%s", e.msg);
	cr_expect_eq(sora_image_size("256px", "7:5", 0, &h, &w, &e), -1);
	cr_expect(strstr(e.msg, "\"7:5\" not found"), "%s", e.msg);
	cr_expect_eq(sora_sampling_size("256px", NULL, &h, &w, &e), -1);
	cr_expect_eq(sora_sampling_size(NULL, NULL, &h, &w, &e), 0, "%s", e.msg);
	cr_expect(h == 112 && w == 64, "%dx%d", h, w);
	sora_ar_dict d;
	cr_expect_eq(sora_resolution_table("256px_ar16:9", &px, &d, &e), 0, "%s", e.msg);
	cr_expect(d.n == 1 && !strcmp(d.e[0].name, "16:9"));
	cr_expect_eq(sora_resolution_table("256px_max", &px, &d, &e), 0, "%s", e.msg);
	cr_expect(d.n == 1 && !strcmp(d.e[0].name, "3:2"), "%s", d.e[0].name); /* 208×320: most pixels */
	cr_expect_eq(sora_resolution_table("256px_foo", &px, &d, &e), -1);
}

/* numpy: default_rng(0).random(2), default_rng(42).random() */
Test(flow_aspect, numpy_default_rng)
{
	sora_np_rng g;
	sora_np_rng_seed(&g, 0);
	double a = sora_np_rng_random(&g), b = sora_np_rng_random(&g);
	cr_expect(a == 0.6369616873214543 && b == 0.2697867137638703, "%.17g %.17g", a, b);
	sora_np_rng_seed(&g, 42);
	a = sora_np_rng_random(&g);
	cr_expect(a == 0.7739560485559633, "%.17g", a);
}

static void check_stage1(const sora_bucket *b, const cJSON *ref)
{
	sora_err e = {0};
	cr_expect_eq(b->num_bucket, item(ref, "num_bucket")->valueint);
	const cJSON *hw = item(ref, "hw_criteria"), *x;
	int i = 0;
	cJSON_ArrayForEach(x, hw)
	{
		cr_assert_lt(i, b->n_res);
		cr_expect_str_eq(b->res[i].name, x->string, "resolution order %d", i);
		cr_expect_eq(b->res[i].pixels, (int64_t)x->valuedouble, "%s pixels", x->string);
		i++;
	}
	cr_expect_eq(i, b->n_res);
	const cJSON *res, *t;
	int ids = 0;
	cJSON_ArrayForEach(res, item(ref, "bucket_id"))
	{
		int k = 0;
		const sora_bucket_res *r = NULL;
		for (int m = 0; m < b->n_res; m++)
			r = strcmp(b->res[m].name, res->string) ? r : &b->res[m];
		cr_assert(r, "no resolution %s", res->string);
		cJSON_ArrayForEach(t, res)
		{
			int frames = (int)strtol(t->string, NULL, 10);
			cr_expect_eq(r->f[k].t, frames, "%s frame order %d", res->string, k);
			cr_expect_eq(sora_bucket_index(b, res->string, frames), t->valueint, "id %s/%s",
				     res->string, t->string);
			k++;
			ids++;
		}
	}
	int n = 0;
	cJSON_ArrayForEach(x, item(ref, "get_bucket_id"))
	{
		int T = item(x, "T")->valueint, H = item(x, "H")->valueint, W = item(x, "W")->valueint;
		double fps = item(x, "fps")->valuedouble, fps_max = item(x, "fps_max")->valuedouble;
		uint64_t seed = (uint64_t)item(x, "seed")->valuedouble;
		const cJSON *want = item(x, "bucket_id");
		sora_bucket_id id;
		int found = sora_bucket_get_id(b, T, H, W, fps, seed, fps_max, &id);
		if (cJSON_IsNull(want)) {
			cr_expect_eq(found, 0, "case %d: expected no bucket", n);
			n++;
			continue;
		}
		cr_assert_eq(found, 1, "case %d (T %d, %dx%d, seed %llu): no bucket", n, T, H, W,
			     (unsigned long long)seed);
		cr_expect_str_eq(id.resolution, cJSON_GetArrayItem(want, 0)->valuestring, "case %d", n);
		cr_expect_eq(id.t, cJSON_GetArrayItem(want, 1)->valueint, "case %d", n);
		cr_expect_str_eq(id.ratio, cJSON_GetArrayItem(want, 2)->valuestring, "case %d", n);
		int tt, h, w, bs;
		cr_assert_eq(sora_bucket_thw(b, &id, &tt, &h, &w, &e), 0, "%s", e.msg);
		const cJSON *thw = item(x, "thw");
		cr_expect(tt == cJSON_GetArrayItem(thw, 0)->valueint &&
			      h == cJSON_GetArrayItem(thw, 1)->valueint &&
			      w == cJSON_GetArrayItem(thw, 2)->valueint,
			  "case %d thw %d %d %d", n, tt, h, w);
		cr_assert_eq(sora_bucket_batch_size(b, &id, &bs, &e), 0, "%s", e.msg);
		cr_expect_eq(bs, item(x, "batch_size")->valueint, "case %d batch size", n);
		n++;
	}
	cr_log_info("stage1 buckets: %d buckets, %d ids, %d get_bucket_id cases", b->num_bucket, ids, n);
	cr_expect(ids > 0 && n > 0, "aspect_tables.json: %d bucket ids, %d get_bucket_id cases", ids, n);
}

Test(flow_aspect, stage1_bucket_from_fixture_config)
{
	sora_json j;
	sora_err e = {0};
	flow_open_json(&j, "aspect_tables.json");
	const cJSON *ref = sora_json_find(&j, "bucket(stage1)");
	cr_assert(ref);
	static sora_bucket b;
	cr_assert_eq(sora_bucket_init(&b, item(ref, "bucket_config"), "fixture", &e), 0, "%s", e.msg);
	check_stage1(&b, ref);
	/* the shipped configs/buckets/stage1.json is the same bucket set */
	static sora_bucket shipped;
	cr_assert_eq(sora_bucket_load(&shipped, "configs/buckets/stage1.json", &e), 0, "%s", e.msg);
	check_stage1(&shipped, ref);
	sora_json_free(&j);
}

Test(flow_aspect, shipped_bucket_configs_load)
{
	static const char *const names[] = {"image",      "stage1",           "stage2",
					    "stage2_i2v", "high_compression", "demo"};
	static sora_bucket b;
	sora_err e = {0};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		char p[256];
		snprintf(p, sizeof p, "configs/buckets/%s.json", names[i]);
		cr_expect_eq(sora_bucket_load(&b, p, &e), 0, "%s", e.msg);
		cr_log_info("%s: %d resolutions, %d buckets", names[i], b.n_res, b.num_bucket);
	}
}

Test(flow_aspect, bad_bucket_configs)
{
	static sora_bucket b;
	sora_err e = {0};
	static const char *const bad[] = {
	    "[]",
	    "{}",
	    "{\"256px\": {\"x\": [1.0, 4]}}",
	    "{\"256px\": {\"5\": [1.5, 4]}}",
	    "{\"256px\": {\"5\": [1.0, 0]}}",
	    "{\"99\": {\"5\": [1.0, 4]}}",
	    "{\"256px\": {\"5\": 3}}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		cJSON *c = cJSON_Parse(bad[i]);
		cr_assert(c);
		cr_expect_eq(sora_bucket_init(&b, c, "test", &e), -1, "%s accepted", bad[i]);
		cr_expect(strstr(e.msg, "test"), "%s: %s", bad[i], e.msg);
		cJSON_Delete(c);
	}
	cr_expect_eq(sora_bucket_load(&b, "/nonexistent/buckets.json", &e), -1);
}
