#include "clip_latent.h"

#include "clip_frames.h"

#include "../io/image_file.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FPS_MAX 24.0 /* Open-Sora 2.0's training fps_max */

/* Why no bucket takes the clip: the smallest resolution's 0.8 pixel floor, else its length. */
static int no_bucket(const sora_bucket *b, const sora_clip_info *ci, int stride, sora_err *e)
{
	int64_t floor_px = -1;
	for (int i = 0; i < b->n_res; i++)
		if (floor_px < 0 || b->res[i].pixels < floor_px)
			floor_px = b->res[i].pixels;
	CHECK(e, (double)ci->width * ci->height >= 0.8 * (double)floor_px,
	      "too small for any bucket: %dx%d is under 0.8 x %lld pixels", ci->width, ci->height,
	      (long long)floor_px);
	CHECK(e, 0, "too short for any bucket: %d frames (%d at stride %d)", ci->total, ci->total / stride,
	      stride);
fail:
	return -1;
}

/* The loader's is_img: decided by the file's extension. */
static int is_image(const char *path)
{
	static const char *const ext[] = {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".webp", NULL};
	size_t n = strlen(path);
	for (int i = 0; ext[i]; i++) {
		size_t k = strlen(ext[i]);
		if (n > k && !strcasecmp(path + n - k, ext[i]))
			return 1;
	}
	return 0;
}

/* An image row: one frame, bicubic (a range does not apply). */
static int image_pixels(const char *path, const sora_clip_latent_opts *o, sora_clip_latent *out, float **x,
			sora_err *e)
{
	uint8_t *rgb = NULL;
	int w, h;
	TRY(sora_image_load(path, &rgb, &w, &h, e));
	out->total = 1;
	out->stride = 1;
	if (!sora_bucket_get_id(o->buckets, 1, h, w, NAN, o->bucket_seed, FPS_MAX, &out->bucket)) {
		no_bucket(o->buckets, &(sora_clip_info){.total = 1, .width = w, .height = h}, 1, e);
		goto fail;
	}
	TRY(sora_bucket_thw(o->buckets, &out->bucket, &out->t, &out->h, &out->w, e));
	CHECK(e, out->t == 1, "an image in a %d-frame bucket", out->t);
	CHECK_ALLOC(e, *x = malloc((size_t)3 * out->h * out->w * sizeof **x));
	TRY(sora_resize_crop_image(rgb, 3 * w, h, w, out->h, out->w, *x, (size_t)out->h * out->w, e));
	free(rgb);
	return 0;
fail:
	free(rgb);
	return -1;
}

int sora_clip_latent_make(const sora_clip_latent_opts *o, const char *path, double start, double end,
			  sora_clip_latent *out, sora_err *e)
{
	sora_clip_info ci;
	int *idx = NULL, ld[4];
	float *x = NULL, *mo = NULL, *z = NULL, *eps = NULL;
	double new_fps;
	memset(out, 0, sizeof *out);
	if (is_image(path)) {
		TRY(image_pixels(path, o, out, &x, e));
		goto encode;
	}
	TRY(sora_clip_probe(path, start, end, &ci, e));
	CHECK(e, ci.total > 0, "%s: no frames in [%g, %g) s", path, start, end);
	/* read_video's fallback when the stream has no frame rate */
	const double fps = ci.fps > 0 ? ci.fps : 24.0;
	out->stride = sora_target_fps_interval(fps, FPS_MAX, &new_fps);
	out->total = ci.total;
	if (!sora_bucket_get_id(o->buckets, ci.total, ci.height, ci.width, fps, o->bucket_seed, FPS_MAX,
				&out->bucket)) {
		no_bucket(o->buckets, &ci, out->stride, e);
		goto fail;
	}
	TRY(sora_bucket_thw(o->buckets, &out->bucket, &out->t, &out->h, &out->w, e));
	CHECK_ALLOC(e, idx = malloc((size_t)out->t * sizeof *idx));
	TRY(sora_clip_frame_indices(ci.total, out->t, out->stride, 0, idx, e));
	TRY(sora_clip_prepare(path, start, idx, out->t, out->h, out->w, &x, e));
encode:
	TRY(sora_vae_encode(o->vae, x, out->t, out->h, out->w, &mo, ld, e));
	const int C = ld[0] / 2;
	const size_t n = (size_t)C * ld[1] * ld[2] * ld[3];
	CHECK_ALLOC(e, z = malloc(n * sizeof *z));
	if (o->sample) {
		CHECK_ALLOC(e, eps = malloc(n * sizeof *eps));
		sora_vae_gaussian(eps, n, o->eps_seed);
	}
	sora_vae_latent(o->vae, mo, ld, eps, z, NULL, NULL);
	TRY(sora_tensor_alloc(&out->z, SORA_BF16, 4, (int64_t[]){C, ld[1], ld[2], ld[3]}, e));
	TRY(sora_from_f32(out->z.data, SORA_BF16, z, n, e));
	free(idx);
	free(x);
	free(mo);
	free(z);
	free(eps);
	return 0;
fail:
	if (strncmp(e->msg, path, strlen(path)) != 0) /* the image reader names the file itself */
		sora_err_prefix(e, "%s: ", path);
	free(idx);
	free(x);
	free(mo);
	free(z);
	free(eps);
	sora_clip_latent_free(out);
	return -1;
}

void sora_clip_latent_free(sora_clip_latent *c)
{
	sora_tensor_free(&c->z);
	memset(c, 0, sizeof *c);
}
