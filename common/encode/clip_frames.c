#include "clip_frames.h"

#include "../io/image_prep.h"
#include "../io/video.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int sora_clip_frame_indices(int total, int num_frames, int interval, int begin, int *idx, sora_err *e)
{
	CHECK(e, num_frames >= 1 && interval >= 1 && begin >= 0, "bad frame sampling (%d frames, stride %d)",
	      num_frames, interval);
	int64_t size = (int64_t)num_frames * interval;
	int end = begin + size < total ? (int)(begin + size) : total;
	CHECK(e, end - begin >= num_frames, "%d frames from frame %d of %d: the clip is too short",
	      num_frames, begin, total);
	/* np.linspace: start + i·step in float64, the last one exactly the stop, truncated to int. */
	double step = num_frames > 1 ? (double)(end - 1 - begin) / (num_frames - 1) : 0;
	for (int i = 0; i < num_frames; i++)
		idx[i] = (int)(i * step + begin);
	idx[num_frames - 1] = num_frames > 1 ? end - 1 : begin;
	return 0;
fail:
	return -1;
}

void sora_resize_crop_plan(int h, int w, int th, int tw, int *sh, int *sw, int *i, int *j)
{
	double rh = (double)th / h, rw = (double)tw / w;
	/* Python's round() (half to even) and int(round(d) / 2.0). */
	if (rh > rw) {
		*sh = th;
		*sw = (int)nearbyint(w * rh);
		*i = 0;
		*j = (*sw - tw) / 2;
	} else {
		*sh = (int)nearbyint(h * rw);
		*sw = tw;
		*i = (*sh - th) / 2;
		*j = 0;
	}
}

/* F.interpolate(mode="bilinear", align_corners=False) along one axis: source index and weight of output
 * position d (scale = in / out, as float), clamped at 0 below and at the last sample above. */
static void linear_taps(int in, int out, int d, int *i0, int *i1, float *l1)
{
	const float scale = (float)in / (float)out;
	float s = scale * ((float)d + 0.5f) - 0.5f;
	if (s < 0)
		s = 0;
	*i0 = (int)s;
	*i1 = *i0 + (*i0 < in - 1);
	*l1 = s - (float)*i0;
	if (*l1 > 1)
		*l1 = 1;
}

void sora_resize_crop_rgb(const uint8_t *rgb, int linesize, int h, int w, int th, int tw, float *out,
			  size_t plane)
{
	int sh, sw, ci, cj;
	sora_resize_crop_plan(h, w, th, tw, &sh, &sw, &ci, &cj);
	for (int y = 0; y < th; y++) {
		int y0, y1;
		float ly1;
		linear_taps(h, sh, y + ci, &y0, &y1, &ly1);
		const float ly0 = 1 - ly1;
		const uint8_t *r0 = rgb + (size_t)y0 * linesize, *r1 = rgb + (size_t)y1 * linesize;
		for (int x = 0; x < tw; x++) {
			int x0, x1;
			float lx1;
			linear_taps(w, sw, x + cj, &x0, &x1, &lx1);
			const float lx0 = 1 - lx1;
			for (int c = 0; c < 3; c++) {
				/* ToTensorVideo's /255 before the resize, Normalize(0.5, 0.5) after. */
				float a = (float)r0[3 * x0 + c] / 255.0f, b = (float)r0[3 * x1 + c] / 255.0f;
				float p = (float)r1[3 * x0 + c] / 255.0f, q = (float)r1[3 * x1 + c] / 255.0f;
				float top = a * lx0 + b * lx1, bot = p * lx0 + q * lx1;
				float v = top * ly0 + bot * ly1;
				out[c * plane + (size_t)y * tw + x] = (v - 0.5f) / 0.5f;
			}
		}
	}
}

int sora_resize_crop_image(const uint8_t *rgb, int linesize, int h, int w, int th, int tw, float *out,
			   size_t plane, sora_err *e)
{
	int sh, sw, ci, cj;
	uint8_t *tmp = NULL;
	sora_resize_crop_plan(h, w, th, tw, &sh, &sw, &ci, &cj);
	ci = (int)nearbyint((sh - th) / 2.0);
	cj = (int)nearbyint((sw - tw) / 2.0);
	CHECK_ALLOC(e, tmp = malloc((size_t)sh * sw * 3));
	TRY(sora_resize_bicubic_rgb(tmp, sw, sh, rgb, w, h, linesize, e));
	for (int y = 0; y < th; y++)
		for (int x = 0; x < tw; x++)
			for (int c = 0; c < 3; c++) {
				float v = (float)tmp[((size_t)(y + ci) * sw + x + cj) * 3 + c] / 255.0f;
				out[c * plane + (size_t)y * tw + x] = (v - 0.5f) / 0.5f;
			}
	free(tmp);
	return 0;
fail:
	free(tmp);
	return -1;
}

/* Opens path for RGB frames and positions it at the first frame at or after start (a stream without
 * timestamps can only start at 0, so 0 is never a seek). */
static int open_at(sora_video **v, const char *path, double start, sora_err *e)
{
	sora_video_opts o = {.pix = SORA_PIX_RGB};
	TRY(sora_video_open(v, path, &o, e));
	if (start > 0)
		TRY(sora_video_seek(*v, start, e));
	return 0;
fail:
	return -1;
}

int sora_clip_probe(const char *path, double start, double end, sora_clip_info *info, sora_err *e)
{
	sora_video *v = NULL;
	sora_frame f;
	int rc;
	memset(info, 0, sizeof *info);
	TRY(open_at(&v, path, start, e));
	const sora_video_info *vi = sora_video_get_info(v);
	info->width = vi->width;
	info->height = vi->height;
	info->fps = vi->fps;
	/* Counting needs no pixels: tiny frames keep the conversion cheap. */
	TRY(sora_video_set_size(v, 16, 16, e));
	while ((rc = sora_video_read(v, &f, e)) > 0 && f.pts_sec < end)
		info->total++;
	TRY(rc);
	sora_video_close(v);
	return 0;
fail:
	sora_video_close(v);
	return -1;
}

int sora_clip_prepare(const char *path, double start, const int *idx, int n, int th, int tw, float **x,
		      sora_err *e)
{
	sora_video *v = NULL;
	sora_frame f;
	const size_t plane = (size_t)n * th * tw;
	*x = NULL;
	CHECK(e, n >= 1 && th >= 1 && tw >= 1, "nothing to prepare");
	CHECK_ALLOC(e, *x = malloc(3 * plane * sizeof **x));
	TRY(open_at(&v, path, start, e));
	for (int k = 0, at = 0; k < n; at++) {
		int rc = sora_video_read(v, &f, e);
		TRY(rc);
		CHECK(e, rc > 0, "%s: ends after %d frames; frame %d was wanted", path, at, idx[k]);
		for (; k < n && idx[k] == at; k++) /* a frame taken twice (short clips) is prepared twice */
			sora_resize_crop_rgb(f.data[0], f.linesize[0], f.height, f.width, th, tw,
					     *x + (size_t)k * th * tw, plane);
	}
	sora_video_close(v);
	return 0;
fail:
	sora_video_close(v);
	free(*x);
	*x = NULL;
	return -1;
}
