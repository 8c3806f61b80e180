#include "cut.h"

#include "../io/remux.h"
#include "../io/video.h"

#include <libavutil/rational.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int even_at_least_2(double x)
{
	long v = 2 * lround(x / 2);
	return v < 2 ? 2 : (int)v;
}

void sora_cut_size(int w, int h, int resize_short, int *ow, int *oh)
{
	int s = w < h ? w : h;
	double f = resize_short > 0 && s > resize_short ? (double)resize_short / s : 1.0;
	*ow = even_at_least_2(w * f);
	*oh = even_at_least_2(h * f);
}

/* A complete file from an earlier run: renamed into place only once whole, so it is kept; its numbers
 * come from its own headers. */
static int existing(const char *dst, sora_cut_result *r)
{
	struct stat st;
	sora_video *v = NULL;
	sora_err e;
	if (stat(dst, &st) < 0 || !S_ISREG(st.st_mode) || sora_video_open(&v, dst, NULL, &e) < 0)
		return 0;
	const sora_video_info *in = sora_video_get_info(v);
	*r = (sora_cut_result){.num_frames = in->num_frames,
			       .width = in->width,
			       .height = in->height,
			       .fps = in->fps,
			       .existed = 1};
	sora_video_close(v);
	return r->num_frames > 0;
}

/* "dir/name.mp4" -> "dir/.name.mp4.<suffix>": hidden, and in the same directory so rename() is
 * atomic. */
static char *temp_name(const char *dst, const char *suffix)
{
	const char *slash = strrchr(dst, '/');
	size_t dir = slash ? (size_t)(slash - dst + 1) : 0, n = strlen(dst) + strlen(suffix) + 3;
	char *t = malloc(n);
	if (t)
		snprintf(t, n, "%.*s.%s.%s", (int)dir, dst, dst + dir, suffix);
	return t;
}

static int copy_clip(const char *src, const char *tmp, double start_sec, double end_sec,
		     const sora_cut_opts *o, sora_cut_result *r, sora_err *e)
{
	sora_video *v = NULL;
	sora_remux_result rr;
	const sora_remux_src range = {src, start_sec, end_sec};
	TRY(sora_video_open(&v, src, &(sora_video_opts){.pix = SORA_PIX_NATIVE}, e));
	const sora_video_info *in = sora_video_get_info(v);
	*r = (sora_cut_result){.width = in->width, .height = in->height, .fps = in->fps};
	TRY(sora_remux(tmp, &range, o->audio ? &range : NULL, &rr, e));
	r->num_frames = rr.video_packets;
	sora_video_close(v);
	return 0;
fail:
	sora_video_close(v);
	return -1;
}

/* Resampling to another rate: output frame k shows the latest source frame whose time is at or
 * before start + k / fps (as FFmpeg's fps filter picks them). held is that frame, copied, since the
 * decoder reuses its buffer. */
typedef struct resampler {
	double start, step;
	int64_t k;
	uint8_t *held;
	int ls, h, have;
} resampler;

static int emit_until(resampler *rs, sora_video_writer *w, double t, sora_err *e)
{
	while (rs->have && rs->start + (double)rs->k * rs->step < t - 1e-9) {
		TRY(sora_video_writer_put_rgb(w, rs->held, rs->ls, e));
		rs->k++;
	}
	return 0;
fail:
	return -1;
}

int sora_cut_clip(const char *src, const char *dst, int64_t start, int64_t end, double start_sec,
		  double end_sec, const sora_cut_opts *o, sora_cut_result *r, sora_err *e)
{
	sora_video *v = NULL;
	sora_video_writer *w = NULL;
	char *tmp = NULL, *vtmp = NULL;
	resampler rs = {0};
	if (existing(dst, r))
		return 0;
	*r = (sora_cut_result){0};
	CHECK_ALLOC(e, tmp = temp_name(dst, "part"));
	if (o->copy) {
		TRY(copy_clip(src, tmp, start_sec, end_sec, o, r, e));
		CHECK_SYS(e, rename(tmp, dst), "cannot rename the finished clip");
		free(tmp);
		return 0;
	}

	sora_video_opts vo = {.threads = o->threads, .pix = SORA_PIX_RGB};
	TRY(sora_video_open(&v, src, &vo, e));
	const sora_video_info *in = sora_video_get_info(v);
	sora_cut_size(in->width, in->height, o->resize_short, &vo.out_width, &vo.out_height);
	TRY(sora_video_set_size(v, vo.out_width, vo.out_height, e));

	sora_writer_opts wo = {
	    .width = vo.out_width, .height = vo.out_height, .crf = o->crf, .preset = o->preset};
	AVRational rate = o->fps > 0 ? av_d2q(o->fps, 1001000) : (AVRational){in->fps_num, in->fps_den};
	if (rate.num <= 0 || rate.den <= 0)
		rate = (AVRational){25, 1};
	wo.fps_num = rate.num;
	wo.fps_den = rate.den;
	/* With audio, the video goes to a file of its own first, then both are muxed into tmp. */
	int with_audio = o->audio && in->has_audio;
	if (with_audio)
		CHECK_ALLOC(e, vtmp = temp_name(dst, "video"));
	TRY(sora_video_writer_open(&w, with_audio ? vtmp : tmp, &wo, e));

	if (o->fps > 0) {
		rs = (resampler){.start = start_sec, .step = 1.0 / av_q2d(rate), .h = vo.out_height};
		rs.ls = 3 * vo.out_width;
		CHECK_ALLOC(e, rs.held = malloc((size_t)rs.ls * (size_t)rs.h));
	}
	TRY(sora_video_seek(v, start_sec, e));
	int64_t want = end - start, got = 0;
	for (; got < want; got++) {
		sora_frame f;
		int rc = sora_video_read(v, &f, e);
		if (rc < 0)
			goto fail;
		CHECK(e, rc > 0, "the source ended after %lld of %lld frames", (long long)got,
		      (long long)want);
		CHECK(e, got > 0 || fabs(f.pts_sec - start_sec) < 1e-6,
		      "the first frame after seeking is at %.6f s, not %.6f s", f.pts_sec, start_sec);
		if (!rs.held) {
			TRY(sora_video_writer_put_rgb(w, f.data[0], f.linesize[0], e));
			continue;
		}
		TRY(emit_until(&rs, w, f.pts_sec + 1e-9, e));
		for (int y = 0; y < rs.h; y++)
			memcpy(rs.held + (size_t)y * (size_t)rs.ls,
			       f.data[0] + (size_t)y * (size_t)f.linesize[0], (size_t)rs.ls);
		rs.have = 1;
	}
	int64_t written = want;
	if (rs.held) {
		TRY(emit_until(&rs, w, end_sec, e));
		written = rs.k;
	}
	CHECK(e, written > 0, "no frame to write at %g fps", o->fps);
	int rc = sora_video_writer_close(w, e);
	w = NULL;
	TRY(rc);
	if (with_audio) {
		sora_remux_result rr;
		const sora_remux_src video = {vtmp, 0, 0}, audio = {src, start_sec, end_sec};
		TRY(sora_remux(tmp, &video, &audio, &rr, e));
		unlink(vtmp);
	}
	CHECK_SYS(e, rename(tmp, dst), "cannot rename the finished clip");
	*r = (sora_cut_result){
	    .num_frames = written, .width = vo.out_width, .height = vo.out_height, .fps = av_q2d(rate)};
	sora_video_close(v);
	free(rs.held);
	free(tmp);
	free(vtmp);
	return 0;
fail:
	if (w) {
		sora_err ignored;
		sora_video_writer_close(w, &ignored);
	}
	if (tmp)
		unlink(tmp);
	if (vtmp)
		unlink(vtmp);
	sora_video_close(v);
	free(rs.held);
	free(tmp);
	free(vtmp);
	return -1;
}
