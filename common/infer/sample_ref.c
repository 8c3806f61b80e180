#include "sample_ref.h"

#include "../io/image_file.h"
#include "../io/image_prep.h"
#include "../io/video.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int sora_resize_crop_fill(float *pixels, int H, int W, const uint8_t *rgb, int w, int h, sora_err *e)
{
	uint8_t *big = NULL;
	CHECK(e, w > 0 && h > 0 && H > 0 && W > 0, "resize: empty image (%dx%d to %dx%d)", w, h, W, H);
	/* the larger factor fills the target; Python's round() halves to even, as nearbyint does */
	const double rh = (double)H / h, rw = (double)W / w;
	int sh, sw, i, j;
	if (rh > rw) {
		sh = H, sw = (int)nearbyint(w * rh);
		i = 0, j = (int)nearbyint((sw - W) / 2.0);
	} else {
		sh = (int)nearbyint(h * rw), sw = W;
		i = (int)nearbyint((sh - H) / 2.0), j = 0;
	}
	CHECK(e, i + H <= sh && j + W <= sw, "resize: crop %dx%d+%d+%d outside %dx%d", W, H, j, i, sw, sh);
	CHECK_ALLOC(e, big = malloc((size_t)sh * sw * 3));
	TRY(sora_resize_bicubic_rgb(big, sw, sh, rgb, w, h, w * 3, e));
	for (int c = 0; c < 3; c++)
		for (int y = 0; y < H; y++)
			for (int x = 0; x < W; x++) {
				const float v = big[((size_t)(y + i) * sw + (x + j)) * 3 + c] / 255.0f;
				pixels[((size_t)c * H + y) * W + x] = (v - 0.5f) / 0.5f;
			}
	free(big);
	return 0;
fail:
	free(big);
	return -1;
}

static int has_ext(const char *path, const char *const *ext)
{
	const char *dot = strrchr(path, '.');
	for (int i = 0; dot && ext[i]; i++)
		if (!strcasecmp(dot, ext[i]))
			return 1;
	return 0;
}

/* The first or last frame of a video as packed RGB24. */
static int video_frame(const char *path, int last, uint8_t **rgb, int *w, int *h, sora_err *e)
{
	sora_video *v = NULL;
	sora_frame f;
	int got = 0, rc;
	*rgb = NULL;
	const sora_video_opts o = {.pix = SORA_PIX_RGB};
	TRY(sora_video_open(&v, path, &o, e));
	*w = sora_video_get_info(v)->width, *h = sora_video_get_info(v)->height;
	CHECK_ALLOC(e, *rgb = malloc((size_t)*w * *h * 3));
	while ((rc = sora_video_read(v, &f, e)) == 1) {
		for (int y = 0; y < *h; y++)
			memcpy(*rgb + (size_t)y * *w * 3, f.data[0] + (size_t)y * f.linesize[0],
			       (size_t)*w * 3);
		got = 1;
		if (!last)
			break;
	}
	TRY(rc);
	CHECK(e, got, "%s: the video has no frames", path);
	sora_video_close(v);
	return 0;
fail:
	free(*rgb);
	*rgb = NULL;
	sora_video_close(v);
	return -1;
}

int sora_sample_ref_pixels(const char *path, int H, int W, int last, float *pixels, sora_err *e)
{
	static const char *const img_ext[] = {".jpg", ".jpeg", ".png",  ".ppm",  ".bmp",
					      ".pgm", ".tif",  ".tiff", ".webp", NULL};
	static const char *const vid_ext[] = {".mp4", ".avi", ".mov", ".mkv", NULL};
	uint8_t *rgb = NULL;
	int w, h;
	if (has_ext(path, img_ext)) {
		if (sora_image_load(path, &rgb, &w, &h, e) < 0) {
			sora_err_prefix(e, "reference %s is not a readable image: ", path);
			goto fail;
		}
	} else if (has_ext(path, vid_ext)) {
		if (video_frame(path, last, &rgb, &w, &h, e) < 0) {
			sora_err_prefix(e, "reference %s is not a readable video: ", path);
			goto fail;
		}
	} else {
		SORA_FAIL(e,
			  "reference %s: not an image (.png .jpg .jpeg .bmp .ppm .pgm .tif .tiff .webp) or a "
			  "video (.mp4 .avi .mov .mkv)",
			  path);
		goto fail;
	}
	TRY(sora_resize_crop_fill(pixels, H, W, rgb, w, h, e));
	free(rgb);
	return 0;
fail:
	free(rgb);
	return -1;
}

int sora_sample_ref_clip(const char *path, int H, int W, int easy, int tail, float **pixels, int *T,
			 sora_err *e)
{
	static const char *const vid_ext[] = {".mp4", ".avi", ".mov", ".mkv", NULL};
	enum { MAX = 65 };
	sora_video *v = NULL;
	sora_frame f;
	uint8_t *ring = NULL;
	float *frame = NULL;
	int64_t total = 0;
	int rc = 1;
	*pixels = NULL;
	CHECK(e, has_ext(path, vid_ext),
	      "reference %s: a v2v reference must be a video (.mp4 .avi .mov .mkv)", path);
	const sora_video_opts o = {.pix = SORA_PIX_RGB};
	TRY(sora_video_open(&v, path, &o, e));
	const int w = sora_video_get_info(v)->width, h = sora_video_get_info(v)->height;
	const size_t fb = (size_t)w * h * 3;
	CHECK_ALLOC(e, ring = malloc(MAX * fb));
	/* head: the first 65 frames; tail: the last 65, in a ring */
	while ((tail || total < MAX) && (rc = sora_video_read(v, &f, e)) == 1) {
		uint8_t *dst = ring + (size_t)(total % MAX) * fb;
		for (int y = 0; y < h; y++)
			memcpy(dst + (size_t)y * w * 3, f.data[0] + (size_t)y * f.linesize[0], (size_t)w * 3);
		total++;
	}
	TRY(rc);
	/* collect_references_batch: 64 (+1, causal VAE) for *_easy when the video has 64 frames, else 32 + 1
	 */
	const int want = (easy && total >= 64 ? 64 : 32) + 1;
	CHECK(e, total >= want, "reference %s: %lld frames, v2v needs at least %d", path, (long long)total,
	      want);
	CHECK_ALLOC(e, *pixels = malloc((size_t)3 * want * H * W * sizeof **pixels));
	CHECK_ALLOC(e, frame = malloc((size_t)3 * H * W * sizeof *frame));
	for (int t = 0; t < want; t++) {
		const int64_t idx = tail ? total - want + t : t;
		TRY(sora_resize_crop_fill(frame, H, W, ring + (size_t)(idx % MAX) * fb, w, h, e));
		for (int c = 0; c < 3; c++)
			memcpy(*pixels + ((size_t)c * want + t) * H * W, frame + (size_t)c * H * W,
			       (size_t)H * W * sizeof *frame);
	}
	*T = want;
	free(frame);
	free(ring);
	sora_video_close(v);
	return 0;
fail:
	free(*pixels);
	*pixels = NULL;
	free(frame);
	free(ring);
	sora_video_close(v);
	return -1;
}

int sora_sample_ref_latent(const sora_vae *vae, const float *pixels, int T, int H, int W, sora_torch_rng *g,
			   float *z, sora_err *e)
{
	float *moments = NULL, *eps = NULL;
	int md[4];
	TRY(sora_vae_encode(vae, pixels, T, H, W, &moments, md, e));
	const size_t n = (size_t)md[0] / 2 * md[1] * md[2] * md[3];
	CHECK_ALLOC(e, eps = malloc(n * sizeof *eps));
	sora_torch_randn(g, eps, (int64_t)n);
	sora_vae_latent(vae, moments, md, eps, z, NULL, NULL);
	free(moments);
	free(eps);
	return 0;
fail:
	free(moments);
	free(eps);
	return -1;
}
