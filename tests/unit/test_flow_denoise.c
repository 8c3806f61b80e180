/* The I2V sampling loop against the official runs of flow_io.safetensors (denoise3: 3 steps, every step
 * stored; denoise12: steps 10 and 11, full and oscillated guidance) and e2e_i2v_io.safetensors (prepare_api
 * end to end, the parts before the VAE decode). The model callback replays the stored predictions and
 * checks that the model input the loop builds is the stored one; the inputs (noise, schedule, condition,
 * packing, ids) are checked exactly; the results within the README's 1e-5·max|ref|. */
#include "flow/denoise.h"
#include "flow/pack.h"
#include "flow/schedule.h"
#include "flow/torch_rng.h"
#include "flow_fixture.h"

#include <math.h>

/* Sizes of the fixture run: a [16, 3, 8, 8] latent = 48 tokens of 64 features (68 with the condition). */
enum {
	NX = 48 * 64,          /* one packed sample */
	NX3 = 3 * NX,          /* the model batch [x; x; x] */
	NC = 48 * 68,          /* one packed condition */
	NC3 = 3 * NC,          /* the condition batch */
	NLAT = 16 * 3 * 8 * 8, /* one latent */
	NMASK = 3 * 8 * 8,     /* its mask */
	NREF = 16 * 8 * 8,     /* one reference latent frame */
	NIDS = 48 * 3,         /* img_ids of one sample */
	NIDS3 = 3 * NIDS,
};

typedef struct replay {
	const sora_safetensors *st;
	const char *prefix;      /* "denoise3." or "" */
	const float *cond_batch; /* expected cond, or NULL */
	const float *timesteps;
	int64_t n; /* values of x_in / pred */
	int calls;
	double worst_x_in; /* max |x_in − stored| / max|stored| over the steps */
} replay;

static int replay_model(void *ctx, int step, int n, float t, const float *img, const float *cond, float *pred,
			sora_err *e)
{
	replay *r = ctx;
	char name[128];
	cr_assert_eq(n, 3);
	cr_assert(t == r->timesteps[step], "step %d: t %.9g, want %.9g", step, t, r->timesteps[step]);
	snprintf(name, sizeof name, "%sstep%d.x_in", r->prefix, step);
	const float *x_in = flow_f32(r->st, name, r->n);
	double rel = flow_expect_close(name, img, x_in, r->n, 1e-5).rel;
	r->worst_x_in = rel > r->worst_x_in ? rel : r->worst_x_in;
	if (r->cond_batch)
		flow_expect_exact("cond batch", cond, r->cond_batch, NC3);
	snprintf(name, sizeof name, "%sstep%d.pred", r->prefix, step);
	memcpy(pred, flow_f32(r->st, name, r->n), (size_t)r->n * sizeof *pred);
	r->calls++;
	return 0;
}

static const sora_guidance reference_guidance = {7.5f, 3.0f, 1, 1, 1};

/* No condition: the first n masks (or masked values) all exactly 0. */
static cmp_report no_condition(const float *x, size_t n)
{
	static const float zeros[NLAT];
	return cmp_exact(cmp_f32(x, n), cmp_f32(zeros, n));
}

/* NaN in every value, so that one the condition leaves unwritten fails no_condition. */
static void poison(float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		x[i] = NAN;
}

/* The inputs of denoise3 as the sampler builds them: noise, schedule, condition, packing, ids. */
Test(flow_denoise, denoise3_inputs)
{
	sora_safetensors *st = flow_open_st("flow_io.safetensors");
	sora_err e = {0};
	static float noise[NLAT], masks[NMASK], masked[NLAT], cond[NC], img[NX], ids[NIDS];
	int64_t n;
	cr_assert_eq(sora_get_noise(noise, &n, 1, 64, 64, 3, 1234, 2, 16, &e), 0, "%s", e.msg);
	flow_expect_exact("denoise3.noise", noise, flow_f32(st, "denoise3.noise", n), n);
	float ts[4];
	cr_assert_eq(sora_get_schedule(ts, 3, 16, 3, -1, 1, &e), 0, "%s", e.msg);
	flow_expect_exact("denoise3.timesteps", ts, flow_f32(st, "denoise3.timesteps", 4), 4);
	sora_cond_ref ref = {flow_f32(st, "denoise3.ref_latent", NREF), NULL, 1, 0};
	cr_assert_eq(sora_prepare_condition(masks, masked, 1, 16, 3, 8, 8, SORA_COND_I2V_HEAD, &ref, &e), 0,
		     "%s", e.msg);
	flow_expect_exact("denoise3.masks", masks, flow_f32(st, "denoise3.masks", NMASK), NMASK);
	flow_expect_exact("denoise3.masked_ref", masked, flow_f32(st, "denoise3.masked_ref", NLAT), NLAT);
	cr_assert_eq(sora_pack_condition(cond, masks, masked, 1, 16, 3, 8, 8, 2, &e), 0, "%s", e.msg);
	const float *cb = flow_f32(st, "denoise3.cond_batch", NC3);
	flow_expect_exact("denoise3.cond_batch[0]", cond, cb, NC);
	flow_expect_exact("denoise3.cond_batch[1]", cond, cb + NC, NC);
	static const float zeros[NC];
	flow_expect_exact("denoise3.cond_batch[2]", zeros, cb + (int64_t)2 * NC, NC);
	cr_assert_eq(sora_pack(img, noise, 1, 16, 3, 8, 8, 2, &e), 0, "%s", e.msg);
	const float *img0 = flow_f32(st, "denoise3.img0", NX3);
	sora_img_ids(ids, 1, 3, 4, 4);
	const float *rid = flow_f32(st, "denoise3.img_ids", NIDS3);
	for (int b = 0; b < 3; b++) {
		flow_expect_exact("denoise3.img0[b]", img, img0 + (int64_t)b * NX, NX);
		flow_expect_exact("denoise3.img_ids[b]", ids, rid + (int64_t)b * NIDS, NIDS);
	}
	/* t2v: no condition at all; i2v on a one-frame latent (8×8, one frame): none either */
	poison(masks, NMASK), poison(masked, NLAT);
	cr_assert_eq(sora_prepare_condition(masks, masked, 1, 16, 3, 8, 8, SORA_COND_T2V, &ref, &e), 0);
	expect_cmp("t2v masks", no_condition(masks, NMASK));
	expect_cmp("t2v masked_ref", no_condition(masked, NLAT));
	poison(masks, NMASK), poison(masked, NLAT);
	cr_assert_eq(sora_prepare_condition(masks, masked, 1, 16, 1, 8, 8, SORA_COND_I2V_HEAD, &ref, &e), 0);
	expect_cmp("one-frame i2v masks", no_condition(masks, 64));
	expect_cmp("one-frame i2v masked_ref", no_condition(masked, (size_t)16 * 64));
	sora_st_close(st);
}

/* The no-condition check fails on what a wrong t2v result would hold: the i2v head condition (what the
 * buffers held before the t2v call), or values never written. */
Test(flow_denoise, no_condition_check_fails_on_a_condition)
{
	sora_err e = {0};
	static float ref_frame[NREF], masks[NMASK], masked[NLAT];
	for (int i = 0; i < NREF; i++)
		ref_frame[i] = 0.5f;
	sora_cond_ref ref = {ref_frame, NULL, 1, 0};
	cr_assert_eq(sora_prepare_condition(masks, masked, 1, 16, 3, 8, 8, SORA_COND_I2V_HEAD, &ref, &e), 0,
		     "%s", e.msg);
	cr_expect(!no_condition(masks, NMASK).ok, "the i2v head masks passed as no condition");
	cr_expect(!no_condition(masked, NLAT).ok, "the i2v head reference passed as no condition");
	poison(masks, NMASK);
	cr_expect(!no_condition(masks, NMASK).ok, "unwritten (NaN) masks passed as no condition");
	cr_assert_eq(sora_prepare_condition(masks, masked, 1, 16, 3, 8, 8, SORA_COND_T2V, &ref, &e), 0);
	cr_expect(no_condition(masks, NMASK).ok && no_condition(masked, NLAT).ok);
}

Test(flow_denoise, denoise3_loop)
{
	sora_safetensors *st = flow_open_st("flow_io.safetensors");
	sora_err e = {0};
	static float x[NX], lat[NLAT];
	memcpy(x, flow_f32(st, "denoise3.img0", NX3), sizeof x);
	replay r = {st,
		    "denoise3.",
		    flow_f32(st, "denoise3.cond_batch", NC3),
		    flow_f32(st, "denoise3.timesteps", 4),
		    NX3,
		    0,
		    0};
	const float *cond = flow_f32(st, "denoise3.cond_batch", NC3);
	cr_assert_eq(sora_denoise(x, 1, 3, 48, 64, cond, 68, r.timesteps, 3, 0, &reference_guidance,
				  replay_model, &r, &e),
		     0, "%s", e.msg);
	cr_expect_eq(r.calls, 3);
	flow_expect_close("denoise3.x_final_packed", x, flow_f32(st, "denoise3.x_final_packed", NX), NX,
			  1e-5);
	cr_assert_eq(sora_unpack(lat, x, 1, 16, 3, 64, 64, 2, &e), 0, "%s", e.msg);
	flow_expect_close("denoise3.x_final", lat, flow_f32(st, "denoise3.x_final", NLAT), NLAT, 1e-5);
	cr_log_info("denoise3: worst step input %.3g of max", r.worst_x_in);
	sora_st_close(st);
}

/* Steps 10 (even: full guidance) and 11 (odd: both guidances 1.0) of the 12-step run, resumed from the
 * stored input of step 10. */
Test(flow_denoise, denoise12_oscillation)
{
	sora_safetensors *st = flow_open_st("flow_io.safetensors");
	sora_err e = {0};
	static float x[NX];
	memcpy(x, flow_f32(st, "denoise12.step10.x_in", NX3), sizeof x);
	float ts[13];
	cr_assert_eq(sora_get_schedule(ts, 12, 16, 3, -1, 1, &e), 0, "%s", e.msg);
	flow_expect_exact("denoise12.timesteps", ts, flow_f32(st, "denoise12.timesteps", 13), 13);
	replay r = {st, "denoise12.", NULL, ts, NX3, 0, 0};
	const float *cond = flow_f32(st, "denoise3.cond_batch", NC3);
	cr_assert_eq(
	    sora_denoise(x, 1, 3, 48, 64, cond, 68, ts, 12, 10, &reference_guidance, replay_model, &r, &e), 0,
	    "%s", e.msg);
	cr_expect_eq(r.calls, 2);
	flow_expect_close("denoise12.x_final_packed", x, flow_f32(st, "denoise12.x_final_packed", NX), NX,
			  1e-5);
	cr_expect_eq(sora_oscillation(7.5f, 9), 7.5f);
	cr_expect_eq(sora_oscillation(7.5f, 10), 7.5f);
	cr_expect_eq(sora_oscillation(7.5f, 11), 1.0f);
	sora_st_close(st);
}

/* prepare_api end to end up to the VAE: get_noise(seed 42), the i2v_head condition from the sampled
 * reference latent, three replayed steps, unpack and the reference frame put back (decode_in_unscaled
 * is that latent / 0.476986). */
Test(flow_denoise, e2e_i2v_until_decode)
{
	sora_safetensors *st = flow_open_st("e2e_i2v_io.safetensors");
	sora_err e = {0};
	static float noise[NLAT], x[NX], masks[NMASK], masked[NLAT], cond[NC], lat[NLAT];
	int64_t n;
	cr_assert_eq(sora_get_noise(noise, &n, 1, 64, 64, 3, 42, 2, 16, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_pack(x, noise, 1, 16, 3, 8, 8, 2, &e), 0, "%s", e.msg);
	const float *x_in0 = flow_f32(st, "step0.x_in", NX3);
	for (int b = 0; b < 3; b++)
		flow_expect_exact("e2e step0.x_in = packed get_noise(seed 42)", x, x_in0 + (int64_t)b * NX,
				  NX);
	sora_cond_ref ref = {flow_f32(st, "ref_latent", NREF), NULL, 1, 0};
	cr_assert_eq(sora_prepare_condition(masks, masked, 1, 16, 3, 8, 8, SORA_COND_I2V_HEAD, &ref, &e), 0);
	cr_assert_eq(sora_pack_condition(cond, masks, masked, 1, 16, 3, 8, 8, 2, &e), 0, "%s", e.msg);
	float ts[4];
	cr_assert_eq(sora_get_schedule(ts, 3, 16, 3, -1, 1, &e), 0, "%s", e.msg);
	replay r = {st, "", NULL, ts, NX3, 0, 0};
	cr_assert_eq(
	    sora_denoise(x, 1, 3, 48, 64, cond, 68, ts, 3, 0, &reference_guidance, replay_model, &r, &e), 0,
	    "%s", e.msg);
	cr_assert_eq(sora_unpack(lat, x, 1, 16, 3, 64, 64, 2, &e), 0, "%s", e.msg);
	sora_restore_ref_frames(lat, 1, 16, 3, 8, 8, SORA_COND_I2V_HEAD, &ref);
	const float *ref_lat = flow_f32(st, "ref_latent", NREF);
	for (int c = 0; c < 16; c++)
		flow_expect_exact("latent frame 0 = reference", lat + (int64_t)c * NMASK,
				  ref_lat + (int64_t)c * 64, 64);
	for (int i = 0; i < NLAT; i++)
		lat[i] = lat[i] / 0.476986f;
	flow_expect_close("e2e decode_in_unscaled", lat, flow_f32(st, "decode_in_unscaled", NLAT), NLAT,
			  1e-5);
	sora_st_close(st);
}

/* Synthetic conditions on a [2, 5, 1, 1] latent (C = 2, T = 5, one pixel): which frames each condition
 * marks and copies, and which it puts back after sampling. */
Test(flow_denoise, condition_frames)
{
	sora_err e = {0};
	enum { C = 2, T = 5 };
	float head[C * 3], tail[C * 2], masks[T], masked[C * T], lat[C * T];
	for (int i = 0; i < C * 3; i++)
		head[i] = (float)(10 + i); /* [C, 3 frames]: channel c frame f = 10 + 3c + f */
	for (int i = 0; i < C * 2; i++)
		tail[i] = (float)(20 + i); /* [C, 2 frames]: 20 + 2c + f */
	sora_cond_ref ref = {head, tail, 3, 2};
	static const struct {
		sora_cond_type type;
		float mask[T], ch1[T]; /* expected mask and channel 1 of masked */
	} cases[] = {
	    {SORA_COND_I2V_HEAD, {1, 0, 0, 0, 0}, {13, 0, 0, 0, 0}},
	    {SORA_COND_I2V_TAIL, {0, 0, 0, 0, 1}, {0, 0, 0, 0, 23}},
	    {SORA_COND_I2V_LOOP, {1, 0, 0, 0, 1}, {13, 0, 0, 0, 23}},
	    {SORA_COND_T2V, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}},
	};
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		cr_assert_eq(sora_prepare_condition(masks, masked, 1, C, T, 1, 1, cases[k].type, &ref, &e), 0,
			     "%s", e.msg);
		for (int f = 0; f < T; f++) {
			cr_expect_eq(masks[f], cases[k].mask[f], "%s frame %d mask",
				     sora_cond_type_name(cases[k].type), f);
			cr_expect_eq(masked[T + f], cases[k].ch1[f], "%s frame %d",
				     sora_cond_type_name(cases[k].type), f);
		}
		for (int i = 0; i < C * T; i++)
			lat[i] = -1;
		sora_restore_ref_frames(lat, 1, C, T, 1, 1, cases[k].type, &ref);
		for (int f = 0; f < T; f++)
			cr_expect_eq(lat[T + f], cases[k].mask[f] ? cases[k].ch1[f] : -1,
				     "%s restore frame %d", sora_cond_type_name(cases[k].type), f);
	}
	/* an image (one latent frame): no condition, but api_fn still puts the reference back */
	cr_assert_eq(sora_prepare_condition(masks, masked, 1, C, 1, 1, 1, SORA_COND_I2V_HEAD, &ref, &e), 0);
	cr_expect_eq(masks[0], 0.0f);
	lat[0] = lat[1] = -1;
	sora_restore_ref_frames(lat, 1, C, 1, 1, 1, SORA_COND_I2V_HEAD, &ref);
	cr_expect(lat[0] == 10 && lat[1] == 13, "%g %g", lat[0], lat[1]);
	/* v2v needs 9 latent frames of reference: too short is an error naming the need */
	cr_expect_eq(sora_prepare_condition(masks, masked, 1, C, T, 1, 1, SORA_COND_V2V_HEAD, &ref, &e), -1);
	cr_expect(strstr(e.msg, "needs 9"), "%s", e.msg);
	sora_cond_type c;
	cr_expect_eq(sora_cond_type_parse("i2v_loop", &c, &e), 0);
	cr_expect_eq(c, SORA_COND_I2V_LOOP);
	cr_expect_eq(sora_cond_type_parse("i2v", &c, &e), -1);
	cr_expect(strstr(e.msg, "unknown condition type \"i2v\""), "%s", e.msg);
}

/* v2v_tail on 12 latent frames: the last 9 frames from the last 9 of a 10-frame reference video. */
Test(flow_denoise, v2v_tail_frames)
{
	sora_err e = {0};
	enum { T = 12, R = 10 };
	float vid[R], masks[T], masked[T];
	for (int f = 0; f < R; f++)
		vid[f] = (float)(100 + f);
	sora_cond_ref ref = {vid, NULL, R, 0};
	cr_assert_eq(sora_prepare_condition(masks, masked, 1, 1, T, 1, 1, SORA_COND_V2V_TAIL, &ref, &e), 0,
		     "%s", e.msg);
	for (int f = 0; f < T; f++) {
		cr_expect_eq(masks[f], f >= 3 ? 1.0f : 0.0f, "frame %d", f);
		cr_expect_eq(masked[f], f >= 3 ? (float)(100 + f - 2) : 0.0f, "frame %d", f);
	}
}

static int constant_velocity(void *ctx, int step, int n, float t, const float *img, const float *cond,
			     float *pred, sora_err *e)
{
	cr_expect_null(cond);
	cr_expect_eq(n, 1);
	for (int i = 0; i < 4; i++)
		pred[i] = 2.0f;
	return 0;
}

/* The distilled loop integrates a constant velocity from t = 1 to 0: x − v. */
Test(flow_denoise, distilled_constant_velocity)
{
	sora_err e = {0};
	float x[4] = {1, 2, 3, 4}, ts[5];
	cr_assert_eq(sora_get_schedule(ts, 4, 256, 1, -1, 0, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_denoise_distilled(x, 1, 1, 4, ts, 4, constant_velocity, NULL, &e), 0, "%s", e.msg);
	for (int i = 0; i < 4; i++)
		cr_expect_float_eq(x[i], (float)(i + 1) - 2.0f, 1e-6, "x[%d] = %g", i, x[i]);
}
