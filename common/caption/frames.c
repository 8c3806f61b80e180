#include "frames.h"

#include "../io/jpeg.h"
#include "../io/video.h"

#include <math.h>
#include <stdlib.h>

/* FFmpeg's qscale 3: near-transparent for a VLM, a fraction of the size of q 1. */
#define JPEG_QSCALE 3

static void scaled_size(const sora_video_info *vi, int short_side, sora_video_opts *o)
{
	int w = vi->width, h = vi->height;
	if (w <= h)
		o->out_width = short_side < w ? short_side : w;
	else
		o->out_height = short_side < h ? short_side : h;
}

int sora_caption_frames(const char *path, double start, double end, int n, int short_side, sora_jpegs *out,
			sora_err *e)
{
	sora_video *v = NULL;
	*out = (sora_jpegs){0};
	CHECK(e, n > 0 && short_side > 0, "bad frame request: %d frames, short side %d", n, short_side);
	/* Open once to learn the displayed size, then again with the output size that follows from it
	 * (opening costs a header read, nothing next to the request this is for). */
	TRY(sora_video_open(&v, path, NULL, e));
	sora_video_opts opts = {.threads = 1, .pix = SORA_PIX_RGB};
	scaled_size(sora_video_get_info(v), short_side, &opts);
	double duration = sora_video_get_info(v)->duration_sec;
	sora_video_close(v);
	v = NULL;
	TRY(sora_video_open(&v, path, &opts, e));
	if (!isfinite(end) || end <= start)
		end = duration > start ? duration : start;
	CHECK(e, start >= 0, "start_sec %g is negative", start);

	CHECK_ALLOC(e, out->data = calloc((size_t)n, sizeof *out->data));
	CHECK_ALLOC(e, out->size = calloc((size_t)n, sizeof *out->size));
	sora_frame f = {0};
	double last = -1;
	for (int i = 0; i < n; i++) {
		double t = start + (end - start) * (i + 0.5) / n;
		TRY(sora_video_seek(v, t, e));
		int rc = sora_video_read(v, &f, e);
		TRY(rc);
		if (rc == 0) {
			/* Past the last frame (durations round up): show the last one again. */
			CHECK(e, last >= 0, "no frame at or after %.3f s", t);
			TRY(sora_video_seek(v, last, e));
			TRY(rc = sora_video_read(v, &f, e));
			CHECK(e, rc == 1, "the frame at %.3f s is gone", last);
		}
		last = f.pts_sec;
		TRY(sora_jpeg_encode(f.data[0], f.linesize[0], f.width, f.height, JPEG_QSCALE, &out->data[i],
				     &out->size[i], e));
		out->n = i + 1;
		out->width = f.width;
		out->height = f.height;
	}
	sora_video_close(v);
	return 0;
fail:
	sora_video_close(v);
	sora_jpegs_free(out);
	return -1;
}

void sora_jpegs_free(sora_jpegs *j)
{
	for (int i = 0; i < j->n; i++)
		free(j->data[i]);
	free(j->data);
	free(j->size);
	*j = (sora_jpegs){0};
}
