/* The sampler API sora-sample calls: the inference prompt rule, the plan (sizes, latent frames, schedule,
 * guidance switches) with its errors, and prepare_api end to end up to the VAE on e2e_i2v_io.safetensors
 * (the model callback replays the official predictions). */
#include "flow/sampler.h"
#include "flow_fixture.h"

static void expect_prompt(const char *in, int fps, const char *motion, const char *want)
{
	sora_err e = {0};
	char *got = sora_sample_prompt(in, fps, motion, &e);
	cr_assert(got, "%s", e.msg);
	cr_expect_str_eq(got, want, "prompt \"%s\"", in);
	free(got);
}

Test(flow_sampler, prompt_rule)
{
	expect_prompt("a prompt", 24, "4", "a prompt. 24 FPS. 4 motion score.");
	expect_prompt("  raining, sea.  ", 24, "4", "raining, sea. 24 FPS. 4 motion score.");
	expect_prompt("a dog 30 FPS.", 24, "4", "a dog 30 FPS. 4 motion score.");
	expect_prompt("a dog", 16, NULL, "a dog. 16 FPS.");
	expect_prompt("", 24, "7", ". 24 FPS. 7 motion score.");
	/* str.strip() also takes Unicode spaces (NBSP, ideographic space, U+2028) and \x1c..\x1f */
	expect_prompt("\xc2\xa0\xe3\x80\x80"
		      "a cat\xe2\x80\xa8\x1f ",
		      24, "4", "a cat. 24 FPS. 4 motion score.");
	expect_prompt("caf\xc3\xa9", 24, "4", "caf\xc3\xa9. 24 FPS. 4 motion score.");
	sora_err e = {0};
	cr_expect_null(sora_sample_prompt("a dog", 24, "dynamic", &e));
	cr_expect(strstr(e.msg, "dynamic"), "%s", e.msg);
}

Test(flow_sampler, plan_defaults_and_errors)
{
	sora_sample_opts o;
	sora_sample_plan p;
	sora_err e = {0};
	sora_sample_opts_default(&o);
	cr_assert_eq(sora_sample_plan_init(&p, &o, &e), 0, "%s", e.msg);
	cr_expect(p.height == 192 && p.width == 336, "%dx%d", p.height, p.width);
	cr_expect(p.latent_t == 33 && p.latent_h == 24 && p.latent_w == 42);
	cr_expect_eq(p.tokens, (int64_t)33 * 12 * 21);
	cr_expect(p.features == 64 && p.cond_features == 68);
	cr_expect_eq(p.guidance.temporal_ramp, 0, "t2v has no temporal image-guidance ramp");
	o.cond = SORA_COND_I2V_HEAD;
	o.num_frames = 1;
	cr_assert_eq(sora_sample_plan_init(&p, &o, &e), 0, "%s", e.msg);
	cr_expect(p.latent_t == 1 && p.guidance.temporal_ramp == 1);

	static const struct {
		int frames, steps;
		const char *res, *ar;
		const char *msg;
	} bad[] = {
	    {8, 50, "256px", "16:9", "4k+1"},     {133, 50, "256px", "16:9", "4k+1"},
	    {9, 0, "256px", "16:9", "num-steps"}, {9, 50, "256px", "7:5", "\"7:5\" not found"},
	    {9, 50, "256", "16:9", "resolution"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		sora_sample_opts_default(&o);
		o.num_frames = bad[i].frames;
		o.num_steps = bad[i].steps;
		o.resolution = bad[i].res;
		o.aspect_ratio = bad[i].ar;
		cr_expect_eq(sora_sample_plan_init(&p, &o, &e), -1, "case %zu accepted", i);
		cr_expect(strstr(e.msg, bad[i].msg), "case %zu: %s", i, e.msg);
	}
	sora_sample_opts_default(&o);
	o.resolution = o.aspect_ratio = NULL;
	o.height = 100;
	o.width = 90;
	cr_assert_eq(sora_sample_plan_init(&p, &o, &e), 0, "%s", e.msg);
	cr_expect(p.height == 112 && p.width == 96, "%dx%d", p.height, p.width);
	o.height = 20000;
	cr_expect_eq(sora_sample_plan_init(&p, &o, &e), -1);
	cr_expect(strstr(e.msg, "at most 16384"), "%s", e.msg);
	cr_expect_eq(sora_sample_seed(42, 2), 44);
	cr_expect_eq(sora_sample_seed(0, 2), 0);
}

/* The default plan's 50 steps are the official get_schedule's for 256px 16:9, 129 frames. */
Test(flow_sampler, plan_schedule)
{
	sora_safetensors *io = flow_open_st("flow_io.safetensors");
	sora_sample_opts o;
	sora_sample_plan p;
	sora_err e = {0};
	sora_sample_opts_default(&o);
	cr_assert_eq(sora_sample_plan_init(&p, &o, &e), 0, "%s", e.msg);
	flow_expect_exact("plan timesteps = schedule.256px_16x9_129f.50", p.timesteps,
			  flow_f32(io, "schedule.256px_16x9_129f.50", 51), 51);
	sora_st_close(io);
}

/* The e2e run: a [16, 3, 8, 8] latent, 48 tokens of 64 features, model batch of 3. */
enum { NX3 = 3 * 48 * 64, NLAT = 16 * 3 * 8 * 8, NREF = 16 * 8 * 8 };

Test(flow_sampler, save_names)
{
	char p[128];
	sora_err e = {0};
	cr_assert_eq(
	    sora_sample_save_name(p, sizeof p, "samples", 129, "256px", "", NULL, "prompt", 0, 0, &e), 0);
	cr_expect_str_eq(p, "samples/video_256px/prompt_0000");
	cr_assert_eq(sora_sample_save_name(p, sizeof p, "out", 1, "768px", "x_", "cat", "prompt", 3, 2, &e),
		     0);
	cr_expect_str_eq(p, "out/image_768px/x_cat_2");
	cr_assert_eq(sora_sample_save_name(p, sizeof p, "s", 9, NULL, NULL, NULL, "data", 12, 1, &e), 0);
	cr_expect_str_eq(p, "s/video_None/data_0012_1");
	cr_expect_eq(sora_sample_save_name(p, 12, "samples", 9, "256px", "", "name", NULL, 0, 0, &e), -1);
	cr_expect(strstr(e.msg, "longer than 11 bytes"), "%s", e.msg);
}

typedef struct replay {
	const sora_safetensors *st;
	int calls;
} replay;

static int replay_model(void *ctx, int step, int n, float t, const float *img, const float *cond, float *pred,
			sora_err *e)
{
	replay *r = ctx;
	char name[64];
	snprintf(name, sizeof name, "step%d.x_in", step);
	flow_expect_close(name, img, flow_f32(r->st, name, NX3), NX3, 1e-5);
	snprintf(name, sizeof name, "step%d.pred", step);
	memcpy(pred, flow_f32(r->st, name, NX3), (size_t)NX3 * sizeof *pred);
	r->calls++;
	return 0;
}

static int failing_model(void *ctx, int step, int n, float t, const float *img, const float *cond,
			 float *pred, sora_err *e)
{
	return SORA_FAIL(e, "model says no");
}

/* api_fn(opt 64×64, 9 frames, 3 steps, seed 42, i2v_head): noise → loop → latent with frame 0 = ref. */
Test(flow_sampler, e2e_i2v_api)
{
	sora_safetensors *st = flow_open_st("e2e_i2v_io.safetensors");
	sora_sample_opts o;
	sora_sample_plan p;
	sora_err e = {0};
	sora_sample_opts_default(&o);
	o.resolution = o.aspect_ratio = NULL;
	o.height = o.width = 64;
	o.num_frames = 9;
	o.num_steps = 3;
	o.cond = SORA_COND_I2V_HEAD;
	cr_assert_eq(sora_sample_plan_init(&p, &o, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_sample_latent_size(&p), NLAT);
	static float noise[NLAT], lat[NLAT];
	cr_assert_eq(sora_sample_noise(&p, 1, sora_sample_seed(42, 0), noise, &e), 0, "%s", e.msg);
	sora_cond_ref ref = {flow_f32(st, "ref_latent", NREF), NULL, 1, 0};
	replay r = {st, 0};
	cr_assert_eq(sora_sample_run(&p, 1, noise, &ref, replay_model, &r, lat, &e), 0, "%s", e.msg);
	cr_expect_eq(r.calls, 3);
	for (int i = 0; i < NLAT; i++)
		lat[i] = lat[i] / 0.476986f;
	flow_expect_close("sampler e2e decode_in_unscaled", lat, flow_f32(st, "decode_in_unscaled", NLAT),
			  NLAT, 1e-5);
	cr_expect_eq(sora_sample_run(&p, 1, noise, &ref, failing_model, NULL, lat, &e), -1);
	cr_expect(strstr(e.msg, "step 1 of 3") && strstr(e.msg, "model says no"), "%s", e.msg);
	sora_st_close(st);
}
