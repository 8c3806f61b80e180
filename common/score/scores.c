#include "scores.h"

#include "freeze.h"
#include "io/cv_shim.h"
#include "io/video.h"
#include "luma.h"
#include "vmaf_input.h"
#include "vmafmotion.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Frame times are compared with the same slack sora_video_seek uses, so a clip's first frame, found by
 * seeking, and its end agree: a frame at exactly end belongs to the next clip. */
#define SLACK 1e-6

static const char *const names[] = {"vmafmotion", "flow", "blur", "brightness", "black", "freeze", "aes"};

int sora_scores_parse(const char *list, unsigned *mask, sora_err *e)
{
	*mask = 0;
	const char *p = list;
	for (;;) {
		size_t n = strcspn(p, ",");
		unsigned bit = 0;
		for (unsigned i = 0; i < sizeof names / sizeof *names; i++)
			if (strlen(names[i]) == n && !strncmp(p, names[i], n))
				bit = 1u << i;
		if (!bit)
			return SORA_FAIL(e,
					 "unknown score '%.*s' (known: vmafmotion, flow, blur, brightness, "
					 "black, freeze, aes)",
					 (int)n, p);
		*mask |= bit;
		if (!p[n])
			return 0;
		p += n + 1;
	}
}

typedef struct clip {
	const sora_score_opts *o;
	sora_video *v;
	sora_luma_fmt lf;
	int w, h, fmt;
	sora_vmafmotion *vm;
	sora_vmaf_input *vin; /* NULL when vmafmotion reads the luma as decoded */
	sora_freeze *fz;
	sora_cv_flow *flow;
	uint8_t *gray, *last; /* 8-bit copies of the luma: converted from > 8 bits; the last frame */
	double t0, next_flow, flow_sum;
	int64_t flow_pairs;
	double blur_at[3], blur_sum;
	int blur_next;
	double bright_sum;
	int64_t black;
} clip;

static void clip_free(clip *c)
{
	sora_video_close(c->v);
	sora_vmafmotion_close(c->vm);
	sora_vmaf_input_close(c->vin);
	sora_freeze_close(c->fz);
	sora_cv_flow_close(c->flow);
	free(c->gray);
	free(c->last);
}

static int first_frame(clip *c, const sora_frame *f, double start, double end, sora_err *e)
{
	const sora_score_opts *o = c->o;
	c->w = f->width;
	c->h = f->height;
	c->fmt = f->pix_fmt;
	c->t0 = f->pts_sec;
	c->next_flow = f->pts_sec;
	TRY(sora_luma_fmt_get(&c->lf, f->pix_fmt, o->black_pix_th, e));
	if (o->mask & SORA_SCORE_VMAFMOTION) {
		int depth;
		TRY(sora_vmaf_input_open(&c->vin, c->fmt, c->w, c->h, &depth, e));
		TRY(sora_vmafmotion_open(&c->vm, c->w, c->h, depth, e));
	}
	if (o->mask & SORA_SCORE_FREEZE)
		TRY(sora_freeze_open(&c->fz, c->fmt, c->w, c->h, o->freeze_noise, o->freeze_seconds, e));
	if (o->mask & SORA_SCORE_FLOW)
		TRY(sora_cv_flow_open(&c->flow, o->flow_side, e));
	if (o->mask & (SORA_SCORE_FLOW | SORA_SCORE_BLUR)) {
		size_t n = (size_t)c->w * (size_t)c->h;
		if (c->lf.depth > 8)
			CHECK_ALLOC(e, c->gray = malloc(n));
		if (o->mask & SORA_SCORE_BLUR)
			CHECK_ALLOC(e, c->last = malloc(n));
	}
	/* Blur frames by time: the range's length is known before its frames are (it ends at end_sec or
	 * the stream's end, whichever comes first); targets past the last frame fall back to the last frame.
	 */
	const sora_video_info *vi = sora_video_get_info(c->v);
	double stop = vi->duration_sec > 0 && vi->duration_sec < end ? vi->duration_sec : end;
	double len = isfinite(stop) && stop > start ? stop - start : 0;
	for (int i = 0; i < 3; i++)
		c->blur_at[i] = start + len * (0.1 + 0.4 * i);
	return 0;
fail:
	return -1;
}

static int blur_frame(clip *c, const uint8_t *g, int stride, double pts, sora_err *e)
{
	double var = 0;
	int computed = 0;
	while (c->blur_next < 3 && pts >= c->blur_at[c->blur_next] - SLACK) {
		if (!computed)
			TRY(sora_cv_laplacian_var(g, c->w, c->h, stride, &var, e));
		computed = 1;
		c->blur_sum += var;
		c->blur_next++;
	}
	if (c->blur_next < 3)
		for (int i = 0; i < c->h; i++)
			memcpy(c->last + (size_t)i * c->w, g + (ptrdiff_t)i * stride, (size_t)c->w);
	return 0;
fail:
	return -1;
}

static int frame(clip *c, const sora_frame *f, sora_err *e)
{
	const sora_score_opts *o = c->o;
	const uint8_t *luma = f->data[0];
	const int ls = f->linesize[0];
	if (c->vin) {
		const uint8_t *y;
		int yls;
		TRY(sora_vmaf_input_convert(c->vin, f->data, f->linesize, &y, &yls, e));
		sora_vmafmotion_push(c->vm, y, yls);
	} else if (c->vm) {
		sora_vmafmotion_push(c->vm, luma, ls);
	}
	if (c->fz)
		sora_freeze_push(c->fz, f->data, f->linesize, f->pts_sec);
	if (o->mask & (SORA_SCORE_BRIGHTNESS | SORA_SCORE_BLACK)) {
		uint64_t sum, black;
		sora_luma_stats(&c->lf, luma, ls, c->w, c->h, &sum, &black);
		double px = (double)c->w * c->h;
		c->bright_sum += (double)sum / px / (double)(1 << (c->lf.depth - 8));
		c->black += (double)black / px >= o->black_pic_th;
	}
	int want_flow = c->flow && f->pts_sec >= c->next_flow - SLACK;
	int want_blur = (o->mask & SORA_SCORE_BLUR) && c->blur_next < 3;
	if (!want_flow && !want_blur)
		return 0;
	const uint8_t *g = luma;
	int stride = ls;
	if (c->gray) {
		sora_luma_gray8(&c->lf, luma, ls, c->w, c->h, c->gray);
		g = c->gray;
		stride = c->w;
	}
	if (want_flow) {
		double mag;
		int has;
		TRY(sora_cv_flow_push(c->flow, g, c->w, c->h, stride, &mag, &has, e));
		if (has) {
			c->flow_sum += mag;
			c->flow_pairs++;
		}
		/* The next sample time after this frame: one frame may stand for several when frames are
		 * sparser than the sampling rate. */
		double step = 1 / o->flow_fps;
		double k = floor((f->pts_sec - c->t0 + SLACK) / step) + 1;
		c->next_flow = c->t0 + k * step;
	}
	if (want_blur)
		TRY(blur_frame(c, g, stride, f->pts_sec, e));
	return 0;
fail:
	return -1;
}

int sora_score_clip(const char *path, double start, double end, const sora_score_opts *o,
		    sora_score_result *r, sora_err *e)
{
	clip c = {.o = o};
	sora_frame f;
	memset(r, 0, sizeof *r);
	CHECK(e, isfinite(start) && start >= 0 && !isnan(end) && end > start, "invalid range [%g, %g)", start,
	      end);
	/* Rows are scored in parallel, so each decoder gets one thread. Native frames: vmafmotion is
	 * defined on the stream's own luma samples, at its resolution and bit depth. */
	const sora_video_opts vo = {.threads = 1, .pix = SORA_PIX_NATIVE};
	TRY(sora_video_open(&c.v, path, &vo, e));
	if (start > 0)
		TRY(sora_video_seek(c.v, start, e));
	for (;;) {
		int rc = sora_video_read(c.v, &f, e);
		if (rc < 0)
			goto fail;
		if (rc == 0 || f.pts_sec >= end - SLACK)
			break;
		if (!r->frames) {
			TRY(first_frame(&c, &f, start, end, e));
		} else {
			CHECK(e, f.width == c.w && f.height == c.h && f.pix_fmt == c.fmt,
			      "frame %lld: size or pixel format changed mid-clip (%dx%d to %dx%d)",
			      (long long)r->frames, c.w, c.h, f.width, f.height);
		}
		TRY(frame(&c, &f, e));
		r->frames++;
	}
	CHECK(e, r->frames > 0, "no frames in [%g, %g)", start, end);
	if (c.vm) {
		sora_vmafmotion_result m = sora_vmafmotion_result_get(c.vm);
		r->vmafmotion = m.score;
		r->vmafmotion_avg = m.avg;
	}
	if (c.flow_pairs)
		r->flow = c.flow_sum / (double)c.flow_pairs;
	if (o->mask & SORA_SCORE_BLUR) {
		if (c.blur_next < 3) {
			double var;
			TRY(sora_cv_laplacian_var(c.last, c.w, c.h, c.w, &var, e));
			c.blur_sum += var * (3 - c.blur_next);
		}
		r->blur = c.blur_sum / 3;
	}
	r->brightness = c.bright_sum / (double)r->frames;
	r->black_ratio = (double)c.black / (double)r->frames;
	r->freeze_ratio = sora_freeze_ratio(c.fz);
	clip_free(&c);
	return 0;
fail:
	clip_free(&c);
	return -1;
}
