#include "sampler.h"

#include "aspect.h"
#include "pack.h"
#include "schedule.h"
#include "torch_rng.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Python's str.isspace for one code point. */
static int py_space(uint32_t c)
{
	return (c >= 0x9 && c <= 0xd) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
	       c == 0x3000;
}

/* The code point of the UTF-8 sequence at s (of len bytes, 1 to 3 here: every space is below U+10000);
 * 0 for anything else. */
static uint32_t utf8_at(const unsigned char *s, size_t len)
{
	if (len == 1 && s[0] < 0x80)
		return s[0];
	if (len == 2 && (s[0] & 0xe0) == 0xc0 && (s[1] & 0xc0) == 0x80)
		return (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
	if (len == 3 && (s[0] & 0xf0) == 0xe0 && (s[1] & 0xc0) == 0x80 && (s[2] & 0xc0) == 0x80)
		return (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
	return 0;
}

/* Bytes of Python whitespace at the start of s[0..n) (front) or at its end (back). */
static size_t space_run(const char *s, size_t n, int back)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t done = 0;
	for (;;) {
		size_t k = 0;
		for (size_t len = 1; len <= 3 && len <= n - done && !k; len++) {
			const unsigned char *at = back ? u + n - done - len : u + done;
			if (py_space(utf8_at(at, len)))
				k = len;
		}
		if (!k)
			return done;
		done += k;
	}
}

/* check_fps_added: the text ends in "<digits> FPS." */
static int ends_with_fps(const char *s, size_t n)
{
	static const char tail[] = " FPS.";
	const size_t k = sizeof tail - 1;
	if (n < k + 1 || memcmp(s + n - k, tail, k) != 0)
		return 0;
	return isdigit((unsigned char)s[n - k - 1]);
}

char *sora_sample_prompt(const char *prompt, int fps, const char *motion_score, sora_err *e)
{
	char *out = NULL;
	CHECK(e, !motion_score || strcmp(motion_score, "dynamic") != 0,
	      "motion score \"dynamic\" asks a chat model for the score: give a number");
	/* str.strip(): Python's whitespace, Unicode spaces included */
	size_t n = strlen(prompt), front = space_run(prompt, n, 0);
	prompt += front;
	n -= front;
	n -= space_run(prompt, n, 1);
	size_t cap = n + 64 + (motion_score ? strlen(motion_score) : 0);
	CHECK_ALLOC(e, out = malloc(cap));
	memcpy(out, prompt, n);
	out[n] = '\0';
	if (n == 0 || out[n - 1] != '.') {
		out[n++] = '.';
		out[n] = '\0';
	}
	if (!ends_with_fps(out, n))
		n += (size_t)snprintf(out + n, cap - n, " %d FPS.", fps);
	if (motion_score)
		snprintf(out + n, cap - n, " %s motion score.", motion_score);
	return out;
fail:
	free(out);
	return NULL;
}

void sora_sample_opts_default(sora_sample_opts *o)
{
	*o = (sora_sample_opts){.resolution = "256px",
				.aspect_ratio = "16:9",
				.num_frames = 129,
				.num_steps = 50,
				.shift = 1,
				.flow_shift = -1,
				.guidance = 7.5f,
				.guidance_img = 3.0f,
				.text_osci = 1,
				.image_osci = 1,
				.scale_temporal_osci = 1,
				.cond = SORA_COND_T2V};
}

int sora_sample_plan_init(sora_sample_plan *p, const sora_sample_opts *o, sora_err *e)
{
	memset(p, 0, sizeof *p);
	CHECK(e,
	      o->num_frames >= 1 && o->num_frames <= SORA_SAMPLE_MAX_FRAMES && (o->num_frames - 1) % 4 == 0,
	      "--num-frames %d: must be 4k+1 between 1 and %d (1 = an image)", o->num_frames,
	      SORA_SAMPLE_MAX_FRAMES);
	CHECK(e, o->num_steps >= 1 && o->num_steps <= 1024, "--num-steps %d: must be 1 to 1024",
	      o->num_steps);
	p->height = o->height;
	p->width = o->width;
	if (sora_sampling_size(o->resolution, o->aspect_ratio, &p->height, &p->width, e) < 0) {
		sora_err_prefix(e, "size: ");
		goto fail;
	}
	CHECK(e, p->height <= 16384 && p->width <= 16384, "size %dx%d: at most 16384 pixels a side",
	      p->height, p->width);
	p->num_frames = o->num_frames;
	p->patch = 2;
	p->latent_c = 16;
	p->latent_t = o->num_frames == 1 ? 1 : (o->num_frames - 1) / 4 + 1;
	p->latent_h = p->patch * ((p->height + 15) / 16);
	p->latent_w = p->patch * ((p->width + 15) / 16);
	p->tokens = (int64_t)p->latent_t * (p->latent_h / p->patch) * (p->latent_w / p->patch);
	p->features = p->latent_c * p->patch * p->patch;
	p->cond_features = (p->latent_c + 1) * p->patch * p->patch;
	p->num_steps = o->num_steps;
	TRY(sora_get_schedule(p->timesteps, o->num_steps, (int64_t)p->latent_h * p->latent_w / 4, p->latent_t,
			      o->flow_shift, o->shift, e));
	p->cond = o->cond;
	p->guidance = (sora_guidance){o->guidance, o->guidance_img, o->text_osci, o->image_osci,
				      o->scale_temporal_osci && sora_cond_is_i2v(o->cond)};
	return 0;
fail:
	return -1;
}

uint64_t sora_sample_seed(uint64_t seed, int k)
{
	return seed ? seed + (uint64_t)k : 0;
}

int sora_sample_save_name(char *buf, size_t n, const char *save_dir, int num_frames, const char *resolution,
			  const char *prefix, const char *name, const char *fallback, int index, int k,
			  sora_err *e)
{
	int len;
	const char *type = num_frames == 1 ? "image" : "video", *res = resolution ? resolution : "None";
	if (name)
		len = snprintf(buf, n, "%s/%s_%s/%s%s", save_dir, type, res, prefix ? prefix : "", name);
	else
		len = snprintf(buf, n, "%s/%s_%s/%s%s_%04d", save_dir, type, res, prefix ? prefix : "",
			       fallback ? fallback : "", index);
	if (len >= 0 && (size_t)len < n && k > 0)
		len += snprintf(buf + len, n - (size_t)len, "_%d", k);
	CHECK(e, len >= 0 && (size_t)len < n, "output path under %s is longer than %zu bytes", save_dir,
	      n - 1);
	return 0;
fail:
	return -1;
}

int64_t sora_sample_latent_size(const sora_sample_plan *p)
{
	return (int64_t)p->latent_c * p->latent_t * p->latent_h * p->latent_w;
}

int sora_sample_noise(const sora_sample_plan *p, int B, uint64_t seed, float *noise, sora_err *e)
{
	int64_t n;
	return sora_get_noise(noise, &n, B, p->height, p->width, p->latent_t, seed, p->patch, p->latent_c, e);
}

int sora_sample_run(const sora_sample_plan *p, int B, const float *noise, const sora_cond_ref *refs,
		    sora_flow_model model, void *ctx, float *latent, sora_err *e)
{
	const int C = p->latent_c, T = p->latent_t, H = p->latent_h, W = p->latent_w;
	const int64_t per = sora_sample_latent_size(p);
	float *x = NULL, *masks = NULL, *masked = NULL, *cond = NULL;
	CHECK(e, B > 0, "sample: batch must be positive");
	CHECK_ALLOC(e, x = malloc((size_t)(B * per) * sizeof *x));
	CHECK_ALLOC(e, masks = malloc((size_t)(B * per / C) * sizeof *masks));
	CHECK_ALLOC(e, masked = malloc((size_t)(B * per) * sizeof *masked));
	CHECK_ALLOC(e, cond = malloc((size_t)(B * p->tokens * p->cond_features) * sizeof *cond));
	TRY(sora_pack(x, noise, B, C, T, H, W, p->patch, e));
	TRY(sora_prepare_condition(masks, masked, B, C, T, H, W, p->cond, refs, e));
	TRY(sora_pack_condition(cond, masks, masked, B, C, T, H, W, p->patch, e));
	/* without references the reference falls back to t2v, and so does its image-guidance ramp */
	sora_guidance g = p->guidance;
	g.temporal_ramp = g.temporal_ramp && refs;
	TRY(sora_denoise(x, B, T, p->tokens, p->features, cond, p->cond_features, p->timesteps, p->num_steps,
			 0, &g, model, ctx, e));
	TRY(sora_unpack(latent, x, B, C, T, p->height, p->width, p->patch, e));
	sora_restore_ref_frames(latent, B, C, T, H, W, p->cond, refs);
	free(x);
	free(masks);
	free(masked);
	free(cond);
	return 0;
fail:
	free(x);
	free(masks);
	free(masked);
	free(cond);
	return -1;
}
