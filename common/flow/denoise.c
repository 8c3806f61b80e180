#include "denoise.h"

#include "pack.h"
#include "schedule.h"

#include <stdlib.h>
#include <string.h>

/* float32 as torch rounds it: one rounding per operation, never a fused multiply-add. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

static const char *const cond_names[] = {"t2v",      "i2v_head", "i2v_tail",      "i2v_loop",
					 "v2v_head", "v2v_tail", "v2v_head_easy", "v2v_tail_easy"};

int sora_cond_type_parse(const char *name, sora_cond_type *out, sora_err *e)
{
	for (int i = 0; i < (int)(sizeof cond_names / sizeof *cond_names); i++)
		if (!strcmp(name, cond_names[i])) {
			*out = (sora_cond_type)i;
			return 0;
		}
	return SORA_FAIL(e,
			 "unknown condition type \"%s\" (t2v, i2v_head, i2v_tail, i2v_loop, v2v_head, "
			 "v2v_tail, v2v_head_easy, v2v_tail_easy)",
			 name);
}

const char *sora_cond_type_name(sora_cond_type c)
{
	return cond_names[c];
}

int sora_cond_is_i2v(sora_cond_type c)
{
	return c == SORA_COND_I2V_HEAD || c == SORA_COND_I2V_TAIL || c == SORA_COND_I2V_LOOP;
}

/* Latent frame `dst` of sample b takes frame `src` of a [C, n, H, W] reference. */
static void put_frame(float *masks, float *masked, int b, int C, int T, int64_t HW, int dst, const float *ref,
		      int n, int src)
{
	for (int64_t i = 0; i < HW; i++)
		masks[((int64_t)b * T + dst) * HW + i] = 1.0f;
	for (int c = 0; c < C; c++)
		memcpy(masked + (((int64_t)b * C + c) * T + dst) * HW, ref + ((int64_t)c * n + src) * HW,
		       (size_t)HW * sizeof *masked);
}

int sora_prepare_condition(float *masks, float *masked, int B, int C, int T, int H, int W,
			   sora_cond_type type, const sora_cond_ref *refs, sora_err *e)
{
	const int64_t HW = (int64_t)H * W;
	memset(masks, 0, (size_t)B * T * HW * sizeof *masks);
	memset(masked, 0, (size_t)B * C * T * HW * sizeof *masked);
	if (type == SORA_COND_T2V || T <= 1)
		return 0;
	for (int b = 0; b < B; b++) {
		const sora_cond_ref *r = refs ? &refs[b] : NULL;
		int head = r && r->head && r->head_frames > 0, tail = r && r->tail && r->tail_frames > 0;
		int k = type == SORA_COND_V2V_HEAD_EASY || type == SORA_COND_V2V_TAIL_EASY ? 17 : 9;
		switch (type) {
		case SORA_COND_I2V_HEAD:
			if (head)
				put_frame(masks, masked, b, C, T, HW, 0, r->head, r->head_frames, 0);
			break;
		case SORA_COND_I2V_TAIL:
			if (tail)
				put_frame(masks, masked, b, C, T, HW, T - 1, r->tail, r->tail_frames,
					  r->tail_frames - 1);
			break;
		case SORA_COND_I2V_LOOP:
			CHECK(e, head == tail, "i2v_loop: sample %d needs both a head and a tail reference",
			      b);
			if (head) {
				put_frame(masks, masked, b, C, T, HW, 0, r->head, r->head_frames, 0);
				put_frame(masks, masked, b, C, T, HW, T - 1, r->tail, r->tail_frames,
					  r->tail_frames - 1);
			}
			break;
		case SORA_COND_V2V_HEAD:
		case SORA_COND_V2V_HEAD_EASY:
			if (!head)
				break;
			CHECK(e, r->head_frames >= k && T >= k,
			      "%s: needs %d reference and latent frames, got %d and %d", cond_names[type], k,
			      r->head_frames, T);
			for (int f = 0; f < k; f++)
				put_frame(masks, masked, b, C, T, HW, f, r->head, r->head_frames, f);
			break;
		case SORA_COND_V2V_TAIL:
		case SORA_COND_V2V_TAIL_EASY:
			if (!head)
				break;
			CHECK(e, r->head_frames >= k && T >= k,
			      "%s: needs %d reference and latent frames, got %d and %d", cond_names[type], k,
			      r->head_frames, T);
			for (int f = 0; f < k; f++)
				put_frame(masks, masked, b, C, T, HW, T - k + f, r->head, r->head_frames,
					  r->head_frames - k + f);
			break;
		case SORA_COND_T2V:
			break;
		}
	}
	return 0;
fail:
	return -1;
}

int sora_pack_condition(float *cond, const float *masks, const float *masked, int B, int C, int T, int H,
			int W, int p, sora_err *e)
{
	const int64_t per = (int64_t)T * H * W;
	float *cat = malloc((size_t)B * (C + 1) * per * sizeof *cat);
	CHECK_ALLOC(e, cat);
	for (int b = 0; b < B; b++) {
		float *dst = cat + (int64_t)b * (C + 1) * per;
		memcpy(dst, masks + (int64_t)b * per, (size_t)per * sizeof *dst);
		memcpy(dst + per, masked + (int64_t)b * C * per, (size_t)C * per * sizeof *dst);
	}
	int rc = sora_pack(cond, cat, B, C + 1, T, H, W, p, e);
	free(cat);
	return rc;
fail:
	return -1;
}

float sora_oscillation(float g, int step)
{
	return step < 10 || step % 2 == 0 ? g : 1.0f;
}

int sora_denoise(float *x, int B, int T, int64_t L, int F, const float *cond, int Fc, const float *timesteps,
		 int num_steps, int first_step, const sora_guidance *g, sora_flow_model model, void *ctx,
		 sora_err *e)
{
	const int64_t n = L * F, per = (int64_t)B * n; /* values per sample, per batch third */
	float *img = NULL, *pred = NULL, *cond3 = NULL, *ramp = NULL, *steps_upper = NULL;
	CHECK(e, B > 0 && T > 0 && L > 0 && L % T == 0 && F > 0 && Fc > 0 && num_steps > 0,
	      "denoise: bad sizes (B %d, T %d, L %lld, F %d, Fc %d, %d steps)", B, T, (long long)L, F, Fc,
	      num_steps);
	CHECK(e, first_step >= 0 && first_step < num_steps, "denoise: first step %d outside 0..%d",
	      first_step, num_steps - 1);
	CHECK_ALLOC(e, img = malloc((size_t)per * 3 * sizeof *img));
	CHECK_ALLOC(e, pred = malloc((size_t)per * 3 * sizeof *pred));
	CHECK_ALLOC(e, cond3 = calloc((size_t)3 * B * L * Fc, sizeof *cond3));
	CHECK_ALLOC(e, ramp = malloc((size_t)T * sizeof *ramp));
	CHECK_ALLOC(e, steps_upper = malloc((size_t)(num_steps + 1) * sizeof *steps_upper));
	if (cond) {
		memcpy(cond3, cond, (size_t)B * L * Fc * sizeof *cond3);
		memcpy(cond3 + (int64_t)B * L * Fc, cond, (size_t)B * L * Fc * sizeof *cond3);
	}
	const int64_t tokens_per_frame = L / T;
	for (int i = first_step; i < num_steps; i++) {
		const float t = timesteps[i];
		for (int k = 0; k < 3; k++)
			memcpy(img + k * per, x, (size_t)per * sizeof *img);
		if (model(ctx, i, 3 * B, t, img, cond3, pred, e) < 0) {
			sora_err_prefix(e, "step %d of %d: ", i + 1, num_steps);
			goto fail;
		}
		const float tg = g->text_osci ? sora_oscillation(g->text, i) : g->text;
		const float ig = g->image_osci ? sora_oscillation(g->image, i) : g->image;
		const int use_ramp = ig > 1.0f && g->temporal_ramp;
		if (use_ramp) {
			sora_linspace_f32(steps_upper, ig, 1.0, num_steps + 1);
			sora_linspace_f32(ramp, 1.0, steps_upper[i], T);
		}
		/* the timesteps are Python floats: their difference is taken in double, then rounded */
		const float dt = (float)((double)timesteps[i + 1] - (double)timesteps[i]);
		const float *c = pred, *u = pred + per, *u2 = pred + 2 * per;
		for (int64_t j = 0; j < per; j++) {
			const float w = use_ramp ? ramp[j % n / F / tokens_per_frame] : ig;
			const float v = (u2[j] + w * (u[j] - u2[j])) + tg * (c[j] - u[j]);
			x[j] = x[j] + dt * v;
		}
	}
	free(img);
	free(pred);
	free(cond3);
	free(ramp);
	free(steps_upper);
	return 0;
fail:
	free(img);
	free(pred);
	free(cond3);
	free(ramp);
	free(steps_upper);
	return -1;
}

int sora_denoise_distilled(float *x, int B, int64_t L, int F, const float *timesteps, int num_steps,
			   sora_flow_model model, void *ctx, sora_err *e)
{
	const int64_t per = (int64_t)B * L * F;
	float *img = NULL, *pred = NULL;
	CHECK(e, B > 0 && L > 0 && F > 0 && num_steps > 0,
	      "denoise: bad sizes (B %d, L %lld, F %d, %d steps)", B, (long long)L, F, num_steps);
	CHECK_ALLOC(e, img = malloc((size_t)per * sizeof *img));
	CHECK_ALLOC(e, pred = malloc((size_t)per * sizeof *pred));
	for (int i = 0; i < num_steps; i++) {
		memcpy(img, x, (size_t)per * sizeof *img);
		if (model(ctx, i, B, timesteps[i], img, NULL, pred, e) < 0) {
			sora_err_prefix(e, "step %d of %d: ", i + 1, num_steps);
			goto fail;
		}
		const float dt = (float)((double)timesteps[i + 1] - (double)timesteps[i]);
		for (int64_t j = 0; j < per; j++)
			x[j] = x[j] + dt * pred[j];
	}
	free(img);
	free(pred);
	return 0;
fail:
	free(img);
	free(pred);
	return -1;
}

void sora_restore_ref_frames(float *x, int B, int C, int T, int H, int W, sora_cond_type type,
			     const sora_cond_ref *refs)
{
	const int64_t HW = (int64_t)H * W;
	if (!refs)
		return;
	for (int b = 0; b < B; b++) {
		const sora_cond_ref *r = &refs[b];
		int head = (type == SORA_COND_I2V_HEAD || type == SORA_COND_I2V_LOOP) && r->head;
		int tail = (type == SORA_COND_I2V_TAIL || type == SORA_COND_I2V_LOOP) && r->tail;
		for (int c = 0; c < C; c++) {
			float *xc = x + ((int64_t)b * C + c) * T * HW;
			if (head)
				memcpy(xc, r->head + (int64_t)c * r->head_frames * HW,
				       (size_t)HW * sizeof *x);
			if (tail)
				memcpy(xc + (int64_t)(T - 1) * HW,
				       r->tail + ((int64_t)c * r->tail_frames + r->tail_frames - 1) * HW,
				       (size_t)HW * sizeof *x);
		}
	}
}
