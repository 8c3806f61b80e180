/* Rectified-flow math against flow_io.safetensors and flow_tables.json (made by the official Open-Sora
 * code): schedules, time_shift, the α table, torch's randn (get_noise), training's logit-normal t and x_t,
 * pack / unpack and the position ids. Every comparison is bit-exact: these are float32 values. */
#include "flow/pack.h"
#include "flow/schedule.h"
#include "flow/torch_rng.h"
#include "flow/train.h"
#include "flow_fixture.h"

/* pack.small: [2, 3, 2, 4, 6] → [2, 12, 12]; pack.latent: [1, 16, 3, 8, 12] → [1, 72, 64]. */
enum {
	SMALL_X = 2 * 3 * 2 * 4 * 6,
	SMALL_P = 2 * 12 * 12,
	LAT_X = 16 * 3 * 8 * 12,
	LAT_P = 72 * 64,
	IDS = 72 * 3,
	TXT_IDS = 5 * 3,
	NOISE = LAT_X,
	TINY_X = 2 * 48 * 64,
};

/* The latent T, H, W of a case of flow_tables.json's α table. */
static void case_thw(const sora_json *tab, const char *name, int thw[3])
{
	char key[160];
	snprintf(key, sizeof key, "alpha(get_res_lin_function()(H*W//4)*sqrt(T))");
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(sora_json_find(tab, key), name);
	cr_assert(a, "flow_tables.json: no α case %s", name);
	const cJSON *l = cJSON_GetObjectItemCaseSensitive(a, "latent_THW");
	cr_assert(cJSON_GetArraySize(l) == 3, "%s: latent_THW", name);
	for (int i = 0; i < 3; i++)
		thw[i] = cJSON_GetArrayItem(l, i)->valueint;
}

Test(flow_schedule, alpha_table)
{
	sora_json tab;
	flow_open_json(&tab, "flow_tables.json");
	const cJSON *cases = sora_json_find(&tab, "alpha(get_res_lin_function()(H*W//4)*sqrt(T))");
	cr_assert(cases);
	int n = 0;
	const cJSON *c;
	cJSON_ArrayForEach(c, cases)
	{
		const cJSON *l = cJSON_GetObjectItemCaseSensitive(c, "latent_THW");
		int T = cJSON_GetArrayItem(l, 0)->valueint, H = cJSON_GetArrayItem(l, 1)->valueint,
		    W = cJSON_GetArrayItem(l, 2)->valueint;
		double want = cJSON_GetObjectItemCaseSensitive(c, "alpha")->valuedouble;
		int tokens = H * W / 4;
		cr_expect_eq(cJSON_GetObjectItemCaseSensitive(c, "tokens_per_frame")->valueint, tokens);
		double got = sora_flow_alpha(tokens, T);
		cr_expect(got == want, "α %s: %.17g, want %.17g", c->string, got, want);
		n++;
	}
	cr_log_info("alpha table: %d cases exact", n);
	cr_expect_gt(n, 0, "flow_tables.json: an empty α table");
	sora_json_free(&tab);
}

/* Every get_schedule list of flow_tables.json, also against its flow_io tensor. */
Test(flow_schedule, schedules)
{
	sora_json tab;
	sora_err e = {0};
	flow_open_json(&tab, "flow_tables.json");
	sora_safetensors *st = flow_open_st("flow_io.safetensors");
	const cJSON *c;
	int n = 0;
	cJSON_ArrayForEach(c, sora_json_find(&tab, "get_schedule"))
	{
		/* "<case>.<steps>[.<suffix>]" */
		char base[64], *rest;
		size_t nb = strcspn(c->string, ".");
		cr_assert(nb < sizeof base && c->string[nb] == '.', "%s", c->string);
		memcpy(base, c->string, nb);
		base[nb] = '\0';
		int steps = (int)strtol(c->string + nb + 1, &rest, 10);
		const char *suffix = *rest == '.' ? rest + 1 : "";
		int thw[3];
		case_thw(&tab, base, thw);
		int shift = strcmp(suffix, "shift_false") != 0;
		double alpha = strcmp(suffix, "flow_shift_7") == 0 ? 7.0 : -1.0;
		float ts[64];
		cr_assert(steps + 1 <= 64 && cJSON_GetArraySize(c) == steps + 1, "%s", c->string);
		cr_assert_eq(
		    sora_get_schedule(ts, steps, (int64_t)thw[1] * thw[2] / 4, thw[0], alpha, shift, &e), 0,
		    "%s", e.msg);
		float want[64];
		for (int i = 0; i <= steps; i++)
			want[i] = (float)cJSON_GetArrayItem(c, i)->valuedouble;
		flow_expect_exact(c->string, ts, want, steps + 1);
		char name[128];
		snprintf(name, sizeof name, "schedule.%s", c->string);
		flow_expect_exact(name, ts, flow_f32(st, name, steps + 1), steps + 1);
		n++;
	}
	cr_expect_geq(n, 10);
	sora_st_close(st);
	sora_json_free(&tab);
}

Test(flow_schedule, bad_arguments)
{
	float ts[4];
	sora_err e = {0};
	cr_expect_eq(sora_get_schedule(ts, 0, 16, 3, -1, 1, &e), -1);
	cr_expect(strstr(e.msg, "num_steps"), "%s", e.msg);
	cr_expect_eq(sora_get_schedule(ts, 3, 16, 0, -1, 1, &e), -1);
	cr_expect(strstr(e.msg, "num_frames"), "%s", e.msg);
}

Test(flow_schedule, time_shift_grid)
{
	sora_safetensors *st = flow_open_st("flow_io.safetensors");
	float t[11];
	sora_linspace_f32(t, 0, 1, 11);
	sora_time_shift_f32(t, t, 11, 3.0);
	flow_expect_exact("time_shift.alpha3.grid", t, flow_f32(st, "time_shift.alpha3.grid", 11), 11);
	sora_st_close(st);
}

Test(flow_schedule, get_noise_is_torch_randn)
{
	sora_safetensors *st = flow_open_st("flow_io.safetensors");
	sora_err e = {0};
	int64_t n = 0;
	cr_assert_eq(sora_get_noise(NULL, &n, 1, 64, 96, 3, 42, 2, 16, &e), 0, "%s", e.msg);
	cr_assert_eq(n, NOISE);
	static float x[NOISE];
	cr_assert(x);
	cr_assert_eq(sora_get_noise(x, &n, 1, 64, 96, 3, 42, 2, 16, &e), 0, "%s", e.msg);
	flow_expect_exact("noise.get_noise_seed42_64x96_T3", x,
			  flow_f32(st, "noise.get_noise_seed42_64x96_T3", n), n);
	cr_expect_eq(sora_get_noise(x, &n, 1, 0, 96, 3, 42, 2, 16, &e), -1);
	sora_st_close(st);
}

/* train.py prepare_inputs: torch.manual_seed(s); normal = randn(B) (< 16 values: the double path);
 * t = time_shift(α, sigmoid(normal)); for the tiny case also x_1 = randn_like(x_0) (the float path) from the
 * same generator, and x_t. */
Test(flow_schedule, train_t)
{
	sora_json tab;
	flow_open_json(&tab, "flow_tables.json");
	sora_safetensors *st = flow_open_st("flow_io.safetensors");
	const cJSON *c;
	int cases = 0, tiny = 0;
	cJSON_ArrayForEach(c, sora_json_find(&tab, "train_t_cases"))
	{
		cases++;
		int B = cJSON_GetObjectItemCaseSensitive(c, "batch")->valueint;
		int seed = cJSON_GetObjectItemCaseSensitive(c, "torch_seed")->valueint;
		int thw[3];
		case_thw(&tab, c->string, thw);
		char name[128];
		float normal[16], t[16];
		cr_assert(B <= 16);
		sora_torch_rng g;
		sora_torch_rng_seed(&g, (uint64_t)seed);
		sora_torch_randn(&g, normal, B);
		snprintf(name, sizeof name, "train_t.%s.normal", c->string);
		flow_expect_exact(name, normal, flow_f32(st, name, B), B);
		sora_train_t(t, normal, B, sora_flow_alpha((int64_t)thw[1] * thw[2] / 4, thw[0]));
		snprintf(name, sizeof name, "train_t.%s.t", c->string);
		flow_expect_exact(name, t, flow_f32(st, name, B), B);
		if (strcmp(c->string, "tiny_3x8x8") != 0)
			continue;
		tiny = 1;
		/* two samples of 48 tokens × 64 features */
		cr_assert_eq(B, 2);
		static float x1[TINY_X], xt[TINY_X];
		const int64_t n = TINY_X;
		sora_torch_randn(&g, x1, n);
		flow_expect_exact("train_t.tiny_3x8x8.x_1", x1, flow_f32(st, "train_t.tiny_3x8x8.x_1", n), n);
		sora_flow_interpolate(xt, flow_f32(st, "train_t.tiny_3x8x8.x_0_packed", n), x1, t, B, n / B);
		flow_expect_exact("train_t.tiny_3x8x8.x_t", xt, flow_f32(st, "train_t.tiny_3x8x8.x_t", n), n);
	}
	cr_expect(cases > 0 && tiny, "flow_tables.json: %d train_t cases, tiny_3x8x8 %s", cases,
		  tiny ? "among them" : "missing");
	sora_st_close(st);
	sora_json_free(&tab);
}

Test(flow_schedule, pack_unpack_ids)
{
	sora_safetensors *st = flow_open_st("flow_io.safetensors");
	sora_err e = {0};
	float small[SMALL_P], back[SMALL_X];
	const float *sx = flow_f32(st, "pack.small.x", SMALL_X);
	cr_assert_eq(sora_pack(small, sx, 2, 3, 2, 4, 6, 2, &e), 0, "%s", e.msg);
	flow_expect_exact("pack.small.packed", small, flow_f32(st, "pack.small.packed", SMALL_P), SMALL_P);
	/* 4×6 latent = 32×48 pixels: unpack takes pixel sizes */
	cr_assert_eq(sora_unpack(back, small, 2, 3, 2, 32, 48, 2, &e), 0, "%s", e.msg);
	flow_expect_exact("pack.small round trip", back, sx, SMALL_X);

	static float lat[LAT_P], lback[LAT_X];
	const float *lx = flow_f32(st, "pack.latent.x", LAT_X);
	cr_assert_eq(sora_pack(lat, lx, 1, 16, 3, 8, 12, 2, &e), 0, "%s", e.msg);
	flow_expect_exact("pack.latent.packed", lat, flow_f32(st, "pack.latent.packed", LAT_P), LAT_P);
	cr_assert_eq(sora_unpack(lback, lat, 1, 16, 3, 64, 96, 2, &e), 0, "%s", e.msg);
	flow_expect_exact("pack.latent round trip", lback, lx, LAT_X);

	float ids[IDS], txt[TXT_IDS];
	sora_img_ids(ids, 1, 3, 4, 6);
	flow_expect_exact("ids.img_ids", ids, flow_f32(st, "ids.img_ids", IDS), IDS);
	memset(txt, 0xff, sizeof txt);
	sora_txt_ids(txt, 1, 5);
	flow_expect_exact("ids.txt_ids", txt, flow_f32(st, "ids.txt_ids", TXT_IDS), TXT_IDS);

	cr_expect_eq(sora_pack(small, sx, 2, 3, 2, 5, 6, 2, &e), -1);
	cr_expect(strstr(e.msg, "multiple"), "%s", e.msg);
	sora_st_close(st);
}

/* Values PyTorch prints: torch.manual_seed(0); torch.rand(2, 3) and torch.manual_seed(0); torch.randn(2, 3)
 * (4 decimals as printed). */
Test(flow_schedule, torch_printed_values)
{
	static const float rand6[6] = {0.4963f, 0.7682f, 0.0885f, 0.1320f, 0.3074f, 0.6341f};
	static const float randn6[6] = {1.5410f, -0.2934f, -2.1788f, 0.5684f, -1.0845f, -1.3986f};
	float v[6];
	sora_torch_rng g;
	sora_torch_rng_seed(&g, 0);
	sora_torch_rand(&g, v, 6);
	expect_cmp("torch.rand(2, 3) as printed", cmp_each(cmp_f32(v, 6), cmp_f32(rand6, 6), 6e-5, 0));
	sora_torch_rng_seed(&g, 0);
	sora_torch_randn(&g, v, 6);
	expect_cmp("torch.randn(2, 3) as printed", cmp_each(cmp_f32(v, 6), cmp_f32(randn6, 6), 6e-5, 0));
}
