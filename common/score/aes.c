#include "aes.h"

#include "io/image_file.h"
#include "io/image_prep.h"
#include "io/video.h"
#include "models/aesthetic.h"
#include "models/clip_vision.h"
#include "models/weights.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Frame times are compared with the slack sora_video_seek uses (as in scores.c). */
#define SLACK 1e-6

/* Open-Sora's NUM_FRAMES_POINTS[3]. */
static const double points[SORA_AES_FRAMES] = {0.1, 0.5, 0.9};

struct sora_aes {
	sora_clip_vision *clip;
	sora_aesthetic *mlp;
	int size, dim; /* CLIP's image_size and projection_dim */
};

struct sora_aes_ws {
	sora_clip_vision_ws *clip;
	float *pixels; /* [SORA_AES_FRAMES, 3, size, size] */
	float *embeds; /* [SORA_AES_FRAMES, dim] */
};

int sora_aes_open(sora_aes **out, const char *clip_dir, const char *aes, sora_err *e)
{
	char config[4096], weights[4096];
	sora_clip_vision_config c;
	sora_aes *a = NULL;
	*out = NULL;
	sora_model_files(clip_dir, config, sizeof config, weights, sizeof weights);
	CHECK_ALLOC(e, a = calloc(1, sizeof *a));
	/* The small files first, so that a mismatch is found before the large checkpoint is read. */
	TRY(sora_aesthetic_load(&a->mlp, aes, NULL, e));
	TRY(sora_clip_vision_read_config(&c, config, e));
	CHECK(e, c.projection_dim == sora_aesthetic_dim(a->mlp),
	      "%s: CLIP's projection_dim is %d but the aesthetic predictor %s takes %d (it is made for "
	      "ViT-L/14, 768)",
	      config, c.projection_dim, aes, sora_aesthetic_dim(a->mlp));
	CHECK(e, c.num_channels == 3, "%s: num_channels is %d; images are RGB", config, c.num_channels);
	TRY(sora_clip_vision_load(&a->clip, config, weights, NULL, e));
	a->size = c.image_size;
	a->dim = c.projection_dim;
	*out = a;
	return 0;
fail:
	sora_aes_close(a);
	return -1;
}

void sora_aes_close(sora_aes *a)
{
	if (!a)
		return;
	sora_clip_vision_free(a->clip);
	sora_aesthetic_free(a->mlp);
	free(a);
}

/* The buffers of a worker besides CLIP's activations. */
static size_t ws_own_bytes(int size, int dim)
{
	return (size_t)SORA_AES_FRAMES * (3 * (size_t)size * size + (size_t)dim) * sizeof(float);
}

int sora_aes_estimate(const char *clip_dir, sora_aes_memory *m, sora_err *e)
{
	char config[4096], weights[4096];
	sora_clip_vision_config c;
	sora_model_files(clip_dir, config, sizeof config, weights, sizeof weights);
	TRY(sora_clip_vision_read_config(&c, config, e));
	/* The predictor: dim → 1024 → 128 → 64 → 16 → 1, weights and biases. */
	const int64_t width[] = {c.projection_dim, 1024, 128, 64, 16, 1};
	int64_t mlp = 0;
	for (int i = 0; i < 5; i++)
		mlp += (width[i] + 1) * width[i + 1];
	m->weights = (size_t)(sora_clip_vision_params(&c) + mlp) * sizeof(float);
	m->per_worker =
	    sora_clip_vision_ws_bytes(&c, SORA_AES_FRAMES) + ws_own_bytes(c.image_size, c.projection_dim);
	return 0;
fail:
	return -1;
}

int sora_aes_ws_new(sora_aes_ws **out, const sora_aes *a, sora_err *e)
{
	sora_aes_ws *ws = NULL;
	*out = NULL;
	CHECK_ALLOC(e, ws = calloc(1, sizeof *ws));
	TRY(sora_clip_vision_ws_new(&ws->clip, a->clip, SORA_AES_FRAMES, e));
	CHECK_ALLOC(e, ws->pixels = malloc((size_t)SORA_AES_FRAMES * 3 * a->size * a->size * sizeof(float)));
	CHECK_ALLOC(e, ws->embeds = malloc((size_t)SORA_AES_FRAMES * a->dim * sizeof(float)));
	*out = ws;
	return 0;
fail:
	sora_aes_ws_free(ws);
	return -1;
}

void sora_aes_ws_free(sora_aes_ws *ws)
{
	if (!ws)
		return;
	sora_clip_vision_ws_free(ws->clip);
	free(ws->pixels);
	free(ws->embeds);
	free(ws);
}

int64_t sora_aes_frame_index(double p, int64_t n)
{
	const int64_t i = (int64_t)(p * (double)n); /* Python's int(): toward zero */
	return i < n ? i : n - 1;
}

int sora_aes_is_image(const char *path)
{
	static const char *const exts[] = {"jpg", "jpeg", "png", "ppm", "bmp", "pgm", "tif", "tiff", "webp"};
	const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
	if (!dot || (slash && dot < slash))
		return 0;
	for (size_t i = 0; i < sizeof exts / sizeof *exts; i++)
		if (!strcasecmp(dot + 1, exts[i]))
			return 1;
	return 0;
}

/* Python's int(round(d / 2.0)) for d >= 0: halves go to the even neighbour. */
static int round_half_even(int d)
{
	const int k = d / 2;
	return d % 2 && k % 2 ? k + 1 : k;
}

int sora_aes_preprocess(const sora_aes *a, float *pixels, const uint8_t *rgb, int w, int h, int stride,
			sora_err *e)
{
	const int S = a->size;
	uint8_t *r = NULL;
	CHECK(e, w > 0 && h > 0, "bad image size %dx%d", w, h);
	/* torchvision's Resize(S): the short side to S, the long one to int(S · long / short). */
	const int rw = w <= h ? S : (int)((int64_t)S * w / h);
	const int rh = w <= h ? (int)((int64_t)S * h / w) : S;
	CHECK_ALLOC(e, r = malloc((size_t)rw * rh * 3));
	TRY(sora_resize_bicubic_rgb(r, rw, rh, rgb, w, h, stride, e));
	/* The S × S window: Pillow resizes an image to its own size as a copy, so sora_clip_preprocess
	 * of the window is only the scaling and normalisation (the same float steps as torchvision's). */
	const int top = round_half_even(rh - S), left = round_half_even(rw - S);
	TRY(sora_clip_preprocess(pixels, NULL, S, r + ((size_t)top * rw + left) * 3, S, S, rw * 3, e));
	free(r);
	return 0;
fail:
	free(r);
	return -1;
}

int sora_aes_pixels(const sora_aes *a, sora_aes_ws *ws, const float *pixels, int n, sora_aes_result *r,
		    sora_err *e)
{
	CHECK(e, n >= 1 && n <= SORA_AES_FRAMES, "aes: %d frames", n);
	TRY(sora_clip_vision_forward_ws(a->clip, ws->clip, pixels, n, ws->embeds, NULL, NULL,
					e));                           /* [n, dim] */
	TRY(sora_aesthetic_score(a->mlp, ws->embeds, n, r->score, e)); /* [n] */
	double sum = 0;
	for (int i = 0; i < n; i++)
		sum += r->score[i];
	r->n = n;
	r->aes = sum / n;
	return 0;
fail:
	return -1;
}

/* Frames of [start, end) in presentation order: how many there are. Decoded in the stream's own format,
 * not converted. */
static int count_frames(const char *path, double start, double end, int64_t *n, sora_err *e)
{
	const sora_video_opts vo = {.threads = 1, .pix = SORA_PIX_NATIVE};
	sora_video *v = NULL;
	sora_frame f;
	*n = 0;
	TRY(sora_video_open(&v, path, &vo, e));
	if (start > 0)
		TRY(sora_video_seek(v, start, e));
	for (;;) {
		const int rc = sora_video_read(v, &f, e);
		TRY(rc);
		if (rc == 0 || f.pts_sec >= end - SLACK)
			break;
		++*n;
	}
	sora_video_close(v);
	return 0;
fail:
	sora_video_close(v);
	return -1;
}

/* The chosen frames, decoded again in RGB and prepared into ws->pixels. */
static int prepare_frames(const sora_aes *a, sora_aes_ws *ws, const char *path, double start, double end,
			  const int64_t *index, sora_err *e)
{
	const sora_video_opts vo = {.threads = 1, .pix = SORA_PIX_RGB};
	const size_t PX = (size_t)3 * a->size * a->size;
	sora_video *v = NULL;
	sora_frame f;
	int next = 0;
	TRY(sora_video_open(&v, path, &vo, e));
	if (start > 0)
		TRY(sora_video_seek(v, start, e));
	for (int64_t i = 0; next < SORA_AES_FRAMES; i++) {
		const int rc = sora_video_read(v, &f, e);
		TRY(rc);
		CHECK(e, rc > 0 && f.pts_sec < end - SLACK, "frame %lld of [%g, %g) is gone on a second read",
		      (long long)index[next], start, end);
		if (i != index[next])
			continue;
		TRY(sora_aes_preprocess(a, ws->pixels + next * PX, f.data[0], f.width, f.height,
					f.linesize[0], e));
		/* A short clip picks one frame more than once. */
		for (next++; next < SORA_AES_FRAMES && index[next] == i; next++)
			memcpy(ws->pixels + next * PX, ws->pixels + (next - 1) * PX, PX * sizeof(float));
	}
	sora_video_close(v);
	return 0;
fail:
	sora_video_close(v);
	return -1;
}

int sora_aes_score(const sora_aes *a, sora_aes_ws *ws, const char *path, double start, double end,
		   sora_aes_result *r, sora_err *e)
{
	uint8_t *rgb = NULL;
	int w, h;
	memset(r, 0, sizeof *r);
	if (sora_aes_is_image(path)) {
		TRY(sora_image_load(path, &rgb, &w, &h, e));
		TRY(sora_aes_preprocess(a, ws->pixels, rgb, w, h, w * 3, e));
		free(rgb);
		rgb = NULL;
		r->frames = 1;
		return sora_aes_pixels(a, ws, ws->pixels, 1, r, e);
	}
	CHECK(e, isfinite(start) && start >= 0 && !isnan(end) && end > start, "invalid range [%g, %g)", start,
	      end);
	TRY(count_frames(path, start, end, &r->frames, e));
	CHECK(e, r->frames > 0, "no frames in [%g, %g)", start, end);
	for (int i = 0; i < SORA_AES_FRAMES; i++)
		r->index[i] = sora_aes_frame_index(points[i], r->frames);
	TRY(prepare_frames(a, ws, path, start, end, r->index, e));
	return sora_aes_pixels(a, ws, ws->pixels, SORA_AES_FRAMES, r, e);
fail:
	free(rgb);
	return -1;
}
