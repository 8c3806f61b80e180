#include "video.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct sora_video {
	sora_video_opts opts;
	sora_video_info info;
	AVFormatContext *fmt;
	AVStream *st;
	AVCodecContext *dec;
	AVPacket *pkt;
	AVFrame *frame;
	int64_t start;      /* stream start_time in time_base, 0 when unknown */
	int64_t frame_dur;  /* one frame in time_base, for frames without a timestamp */
	int64_t guess_ts;   /* timestamp given to the next frame if it has none */
	int64_t next_index; /* index of the next frame sora_video_read returns */
	int pending;        /* frame holds the first frame after a seek, not yet returned */
	int eof;            /* the decoder is drained */
	int read_err;       /* why the demuxer stopped early (AVERROR), 0 at a clean end */
	int last_err;       /* the last decode error, reported if no frame ever decodes */
	int64_t decoded;    /* frames decoded since open */

	/* Sorted timestamps of every frame, when a full pass over the stream saw them all; gives exact
	 * indices after a seek in variable frame rate streams. */
	int64_t *ts;
	int64_t n_ts, cap_ts;

	/* GRAY/RGB output: scaled to sw x sh, then rotated to out_w x out_h. */
	struct SwsContext *sws;
	int sws_key[5]; /* input w, h, format, colorspace, range the colour details were set for */
	int sw, sh, out_w, out_h, bpp;
	uint8_t *scaled, *rotated;
	int scaled_ls, rotated_ls;
};

static double ts_sec(const sora_video *v, int64_t ts)
{
	return ((double)ts - (double)v->start) * av_q2d(v->st->time_base);
}

static int ts_push(sora_video *v, int64_t ts)
{
	if (v->n_ts == v->cap_ts) {
		int64_t cap = v->cap_ts ? 2 * v->cap_ts : 1024;
		int64_t *p = realloc(v->ts, (size_t)cap * sizeof *p);
		if (!p)
			return -1;
		v->ts = p;
		v->cap_ts = cap;
	}
	v->ts[v->n_ts++] = ts;
	return 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Frame durations are the gaps between consecutive timestamps (the last frame has none). One tick of
 * slack absorbs timestamp rounding, e.g. 29.97 fps in milliseconds alternating 33 and 34. */
static int ts_vary(const int64_t *ts, int64_t n)
{
	if (n < 3)
		return 0;
	/* In double: timestamps from a hostile file may be far enough apart to overflow int64. */
	double lo = INFINITY, hi = -INFINITY;
	for (int64_t i = 1; i < n; i++) {
		double d = (double)ts[i] - (double)ts[i - 1];
		lo = fmin(lo, d);
		hi = fmax(hi, d);
	}
	double mean = ((double)ts[n - 1] - (double)ts[0]) / (double)(n - 1);
	return hi - lo > 1 + 0.01 * mean;
}

/* Index of the first known frame at or after ts. */
static int64_t ts_index(const sora_video *v, int64_t ts)
{
	int64_t lo = 0, hi = v->n_ts;
	while (lo < hi) {
		int64_t mid = lo + (hi - lo) / 2;
		if (v->ts[mid] < ts)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Records a full count of n frames. The timestamp table is kept only when every frame had one; it
 * then decides vfr and, when the headers gave no duration, the duration: its span covers n - 1 frame
 * durations. */
static void finish_count(sora_video *v, int source, int64_t n, int complete)
{
	sora_video_info *in = &v->info;
	in->num_frames = n;
	in->num_frames_source = source;
	if (!complete)
		v->n_ts = 0;
	if (v->n_ts) {
		qsort(v->ts, (size_t)v->n_ts, sizeof *v->ts, cmp_i64);
		in->vfr = ts_vary(v->ts, v->n_ts);
	}
	if (in->duration_sec > 0 || n == 0)
		return;
	double span = v->n_ts > 1 ? (double)v->ts[v->n_ts - 1] - (double)v->ts[0] : 0;
	if (span > 0)
		in->duration_sec = span * av_q2d(v->st->time_base) * (double)n / (double)(n - 1);
	else if (in->fps > 0)
		in->duration_sec = (double)n / in->fps;
}

/* ---- opening ---- */

/* av_find_best_stream ranks by disposition before frame count, so a DEFAULT-flagged cover art could win
 * over the real video; choose among the non-picture video streams ourselves: default first, then the
 * largest. */
static int pick_stream(const AVFormatContext *fmt)
{
	int best = -1;
	int64_t best_score = -1;
	for (unsigned i = 0; i < fmt->nb_streams; i++) {
		const AVStream *st = fmt->streams[i];
		if (st->codecpar->codec_type != AVMEDIA_TYPE_VIDEO ||
		    (st->disposition & AV_DISPOSITION_ATTACHED_PIC))
			continue;
		int64_t score = (int64_t)st->codecpar->width * st->codecpar->height +
				(st->disposition & AV_DISPOSITION_DEFAULT ? INT64_C(1) << 40 : 0);
		if (score > best_score) {
			best = (int)i;
			best_score = score;
		}
	}
	return best;
}

/* A still image comes through the image2 family of demuxers ("image2" for files named like images,
 * "png_pipe", "jpeg_pipe", ... when probed by content); genuine animations (gif, apng) have their own
 * demuxers. Some demuxers also mark still images in the disposition. */
static int is_still_image(const AVFormatContext *fmt, const AVStream *st)
{
	const char *name = fmt->iformat->name;
	size_t n = strlen(name);
	return !strcmp(name, "image2") || (n > 5 && !strcmp(name + n - 5, "_pipe")) ||
	       (st->disposition & AV_DISPOSITION_STILL_IMAGE);
}

/* Clockwise degrees, as ffmpeg's autorotate applies them: the display matrix angle is counterclockwise.
 * Odd angles snap to the nearest quarter turn; mirroring is ignored. */
static int rotation_of(const AVStream *st)
{
	size_t size = 0;
	const uint8_t *m = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
	if (!m || size < 9 * sizeof(int32_t))
		return 0;
	double ccw = av_display_rotation_get((const int32_t *)m);
	if (!isfinite(ccw))
		return 0;
	int cw = (int)lround(-ccw / 90.0) * 90 % 360;
	return cw < 0 ? cw + 360 : cw;
}

static void read_info(sora_video *v)
{
	sora_video_info *in = &v->info;
	const AVStream *st = v->st;
	const AVCodecParameters *par = st->codecpar;

	in->coded_width = par->width;
	in->coded_height = par->height;
	in->rotation = rotation_of(st);
	int quarter = in->rotation == 90 || in->rotation == 270;
	in->width = quarter ? par->height : par->width;
	in->height = quarter ? par->width : par->height;

	AVRational avg = st->avg_frame_rate, r = st->r_frame_rate;
	AVRational fr = avg.num > 0 && avg.den > 0 ? avg : r.num > 0 && r.den > 0 ? r : (AVRational){0, 1};
	in->fps_num = fr.num;
	in->fps_den = fr.den;
	in->fps = av_q2d(fr);
	if (avg.num > 0 && avg.den > 0 && r.num > 0 && r.den > 0)
		in->vfr = fabs(av_q2d(r) / av_q2d(avg) - 1) > 0.005;

	if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
		in->duration_sec = (double)st->duration * av_q2d(st->time_base);
	else if (v->fmt->duration != AV_NOPTS_VALUE && v->fmt->duration > 0)
		in->duration_sec = (double)v->fmt->duration / AV_TIME_BASE;

	snprintf(in->codec, sizeof in->codec, "%s", avcodec_get_name(par->codec_id));
	const char *pf = av_get_pix_fmt_name(par->format);
	snprintf(in->pix_fmt, sizeof in->pix_fmt, "%s", pf ? pf : "");
	const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(par->format);
	in->bit_depth = desc ? desc->comp[0].depth : 0;
	for (unsigned i = 0; i < v->fmt->nb_streams; i++)
		in->has_audio |= v->fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO;
	in->bit_rate = par->bit_rate > 0 ? par->bit_rate : v->fmt->bit_rate > 0 ? v->fmt->bit_rate : 0;

	/* Headers lie (edited files, broken muxers); a count that matches duration x fps is believed. */
	double expect = in->duration_sec * in->fps;
	if (st->nb_frames > 0 && expect > 0 &&
	    fabs((double)st->nb_frames - expect) <= fmax(2, 0.02 * (double)st->nb_frames)) {
		in->num_frames = st->nb_frames;
		in->num_frames_source = SORA_NFRAMES_CONTAINER;
	}
}

static int open_decoder(sora_video *v, sora_err *e)
{
	const AVCodec *codec = avcodec_find_decoder(v->st->codecpar->codec_id);
	CHECK(e, codec, "no decoder for %s", avcodec_get_name(v->st->codecpar->codec_id));
	CHECK_ALLOC(e, v->dec = avcodec_alloc_context3(codec));
	CHECK_AV(e, avcodec_parameters_to_context(v->dec, v->st->codecpar), "cannot set up the decoder");
	v->dec->pkt_timebase = v->st->time_base;
	v->dec->thread_count = v->opts.threads;
	v->dec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
	if (v->opts.fast) {
		v->dec->skip_loop_filter = AVDISCARD_ALL;
		v->dec->flags2 |= AV_CODEC_FLAG2_FAST;
	}
	CHECK_AV(e, avcodec_open2(v->dec, codec, NULL), "cannot open the decoder");
	return 0;
fail:
	return -1;
}

/* Positions the demuxer at the keyframe at or before ts and empties the decoder. */
static int seek_raw(sora_video *v, int64_t ts, sora_err *e)
{
	int rc = av_seek_frame(v->fmt, v->st->index, ts, AVSEEK_FLAG_BACKWARD);
	/* A stream without timestamps (raw .h264, .hevc) cannot seek by time, but such a file is all data,
	 * so its start is byte 0. */
	if (rc < 0 && ts == v->start && v->st->start_time == AV_NOPTS_VALUE)
		rc = av_seek_frame(v->fmt, v->st->index, 0, AVSEEK_FLAG_BYTE);
	CHECK_AV(e, rc, "cannot seek");
	avcodec_flush_buffers(v->dec);
	av_frame_unref(v->frame);
	v->pending = v->eof = v->read_err = 0;
	v->guess_ts = ts;
	return 0;
fail:
	return -1;
}

static int rewind_video(sora_video *v, sora_err *e)
{
	TRY(seek_raw(v, v->start, e));
	v->next_index = 0;
	return 0;
fail:
	return -1;
}

/* Reading every packet costs I/O but no decoding; their timestamps also tell whether the rate varies. */
static int count_packets(sora_video *v, sora_err *e)
{
	int64_t n = 0;
	int complete = 1;
	v->n_ts = 0;
	for (;;) {
		int rc = av_read_frame(v->fmt, v->pkt);
		if (rc == AVERROR_EOF)
			break;
		CHECK_AV(e, rc, "cannot read packets");
		/* Packets flagged DISCARD (cut by an edit list) never become frames. */
		if (v->pkt->stream_index == v->st->index && !(v->pkt->flags & AV_PKT_FLAG_DISCARD)) {
			n++;
			if (v->pkt->pts == AV_NOPTS_VALUE)
				complete = 0;
			else
				CHECK_ALLOC(e, ts_push(v, v->pkt->pts) == 0);
		}
		av_packet_unref(v->pkt);
	}
	finish_count(v, SORA_NFRAMES_PACKETS, n, complete);
	return rewind_video(v, e);
fail:
	av_packet_unref(v->pkt);
	v->n_ts = 0;
	return -1;
}

/* Clamped so that absurd sizes reach av_image_check_size instead of overflowing. */
static int even(double x)
{
	return 2 * (int)lround(fmin(fmax(x / 2, 1), 1 << 20));
}

static int setup_output(sora_video *v, sora_err *e)
{
	const sora_video_opts *o = &v->opts;
	if (o->pix == SORA_PIX_NATIVE)
		return 0;
	CHECK(e, v->info.width > 0 && v->info.height > 0, "unknown frame size");
	v->out_w = o->out_width;
	v->out_h = o->out_height;
	if (!v->out_w && !v->out_h) {
		v->out_w = v->info.width;
		v->out_h = v->info.height;
	} else if (!v->out_w) {
		v->out_w = even((double)v->out_h * v->info.width / v->info.height);
	} else if (!v->out_h) {
		v->out_h = even((double)v->out_w * v->info.height / v->info.width);
	}
	CHECK_AV(e, av_image_check_size((unsigned)v->out_w, (unsigned)v->out_h, 0, NULL),
		 "invalid output size");
	int quarter = v->info.rotation == 90 || v->info.rotation == 270;
	v->sw = quarter ? v->out_h : v->out_w;
	v->sh = quarter ? v->out_w : v->out_h;
	v->bpp = o->pix == SORA_PIX_GRAY ? 1 : 3;
	/* Rows aligned to 32 bytes keep swscale on its SIMD paths. Those write whole vectors past the end of
	 * a row (seen: a 200-pixel RGB row), so the last row gets room for that too. */
	v->scaled_ls = (v->sw * v->bpp + 31) & ~31;
	CHECK_ALLOC(e, v->scaled = av_malloc((size_t)v->scaled_ls * (size_t)v->sh + 256));
	if (v->info.rotation) {
		v->rotated_ls = (v->out_w * v->bpp + 31) & ~31;
		CHECK_ALLOC(e, v->rotated = av_malloc((size_t)v->rotated_ls * (size_t)v->out_h));
	}
	return 0;
fail:
	return -1;
}

int sora_video_open(sora_video **out, const char *path, const sora_video_opts *opts, sora_err *e)
{
	sora_video *v = NULL;
	AVDictionary *fopts = NULL;
	char *url = NULL;
	struct stat sb;

	*out = NULL;
	/* stat before opening: opening a FIFO would block until a writer appears. */
	CHECK_SYS(e, stat(path, &sb), "cannot open");
	CHECK(e, S_ISREG(sb.st_mode), "not a regular file");
	CHECK(e, sb.st_size > 0, "file is empty");

	CHECK_ALLOC(e, v = calloc(1, sizeof *v));
	if (opts)
		v->opts = *opts;
	CHECK(e, v->opts.pix >= SORA_PIX_GRAY && v->opts.pix <= SORA_PIX_NATIVE, "invalid pixel layout %d",
	      (int)v->opts.pix);
	CHECK(e, v->opts.out_width >= 0 && v->opts.out_height >= 0 && v->opts.threads >= 0,
	      "invalid options: out size %dx%d, %d threads", v->opts.out_width, v->opts.out_height,
	      v->opts.threads);
	CHECK_ALLOC(e, v->pkt = av_packet_alloc());
	CHECK_ALLOC(e, v->frame = av_frame_alloc());

	/* "file:" keeps names with a colon from being taken as URLs, and the whitelist keeps playlists
	 * inside the file from reaching the network. */
	CHECK_ALLOC(e, url = av_asprintf("file:%s", path));
	CHECK_AV(e, av_dict_set(&fopts, "protocol_whitelist", "file", 0), "cannot set options");
	CHECK_AV(e, avformat_open_input(&v->fmt, url, NULL, &fopts), "cannot open as a video");
	CHECK_AV(e, avformat_find_stream_info(v->fmt, NULL), "cannot read stream info");

	int si = pick_stream(v->fmt);
	CHECK(e, si >= 0, "no video stream");
	v->st = v->fmt->streams[si];
	CHECK(e, !is_still_image(v->fmt, v->st), "not a video (single image)");
	for (unsigned i = 0; i < v->fmt->nb_streams; i++)
		if ((int)i != si)
			v->fmt->streams[i]->discard = AVDISCARD_ALL;
	v->start = v->st->start_time != AV_NOPTS_VALUE ? v->st->start_time : 0;
	v->guess_ts = v->start;

	TRY(open_decoder(v, e));
	read_info(v);
	v->frame_dur = 1;
	if (v->info.fps > 0) {
		AVRational dur = {v->info.fps_den, v->info.fps_num};
		v->frame_dur = av_rescale_q(1, dur, v->st->time_base);
		v->frame_dur = v->frame_dur > 0 ? v->frame_dur : 1;
	}
	if (v->info.num_frames_source != SORA_NFRAMES_CONTAINER)
		TRY(count_packets(v, e));
	TRY(setup_output(v, e));

	av_dict_free(&fopts);
	av_free(url);
	*out = v;
	return 0;
fail:
	av_dict_free(&fopts);
	av_free(url);
	sora_video_close(v);
	return -1;
}

void sora_video_close(sora_video *v)
{
	if (!v)
		return;
	sws_freeContext(v->sws);
	av_free(v->scaled);
	av_free(v->rotated);
	free(v->ts);
	av_frame_free(&v->frame);
	av_packet_free(&v->pkt);
	avcodec_free_context(&v->dec);
	avformat_close_input(&v->fmt);
	free(v);
}

int sora_video_set_size(sora_video *v, int out_width, int out_height, sora_err *e)
{
	CHECK(e, v->opts.pix != SORA_PIX_NATIVE, "native frames are not scaled");
	CHECK(e, out_width >= 0 && out_height >= 0, "invalid output size %dx%d", out_width, out_height);
	av_freep(&v->scaled);
	av_freep(&v->rotated);
	v->opts.out_width = out_width;
	v->opts.out_height = out_height;
	return setup_output(v, e);
fail:
	return -1;
}

const sora_video_info *sora_video_get_info(const sora_video *v)
{
	return &v->info;
}

/* ---- decoding ---- */

/* The end of the stream: clean, or the reason nothing more could be decoded. */
static int end_of_stream(const sora_video *v, sora_err *e)
{
	CHECK_AV(e, v->read_err, "read");
	CHECK_AV(e, v->decoded ? 0 : v->last_err, "decode");
	return 0;
fail:
	return -1;
}

/* Decodes the next frame into v->frame: 1, 0 at the end, <0 on error. Its best_effort_timestamp is
 * always set: a frame without one is placed one frame duration after the previous. */
static int decode_next(sora_video *v, sora_err *e)
{
	av_frame_unref(v->frame);
	while (!v->eof) {
		AVFrame *fr = v->frame;
		int rc = avcodec_receive_frame(v->dec, fr);
		if (rc >= 0) {
			if (fr->best_effort_timestamp == AV_NOPTS_VALUE)
				fr->best_effort_timestamp = v->guess_ts;
			v->guess_ts = av_sat_add64(fr->best_effort_timestamp,
						   fr->pkt_duration > 0 ? fr->pkt_duration : v->frame_dur);
			v->decoded++;
			return 1;
		}
		if (rc == AVERROR_EOF) {
			v->eof = 1;
			break;
		}
		CHECK(e, rc != AVERROR(ENOMEM), "decode: out of memory");
		if (rc != AVERROR(EAGAIN)) {
			/* A broken frame (frame threading reports it here); the decoder goes on with the
			 * next. */
			v->last_err = rc;
			continue;
		}
		rc = av_read_frame(v->fmt, v->pkt);
		if (rc < 0) {
			/* Like ffmpeg, a demuxer error ends the input; frames already in the decoder still
			 * come out. */
			v->read_err = rc == AVERROR_EOF ? 0 : rc;
			CHECK_AV(e, avcodec_send_packet(v->dec, NULL), "decode");
			continue;
		}
		if (v->pkt->stream_index != v->st->index) {
			av_packet_unref(v->pkt);
			continue;
		}
		rc = avcodec_send_packet(v->dec, v->pkt);
		av_packet_unref(v->pkt);
		CHECK(e, rc != AVERROR(ENOMEM), "decode: out of memory");
		/* A corrupt packet is skipped, as ffmpeg does; the error matters only if nothing ever
		 * decodes. */
		if (rc < 0)
			v->last_err = rc;
	}
	return end_of_stream(v, e);
fail:
	return -1;
}

/* Each output pixel reads its source pixel: walking an output row walks a source column for quarter
 * turns (step of one source row) or a source row backwards for a half turn. */
static void rotate(const uint8_t *src, int sls, int w, int h, int bpp, uint8_t *dst, int dls, int rot)
{
	int ow = rot == 180 ? w : h, oh = rot == 180 ? h : w;
	for (int y = 0; y < oh; y++) {
		const uint8_t *s;
		ptrdiff_t step;
		if (rot == 90) {
			s = src + (ptrdiff_t)(h - 1) * sls + (ptrdiff_t)y * bpp;
			step = -sls;
		} else if (rot == 180) {
			s = src + (ptrdiff_t)(h - 1 - y) * sls + (ptrdiff_t)(w - 1) * bpp;
			step = -bpp;
		} else {
			s = src + (ptrdiff_t)(w - 1 - y) * bpp;
			step = sls;
		}
		uint8_t *d = dst + (ptrdiff_t)y * dls;
		for (int x = 0; x < ow; x++, d += bpp, s += step)
			memcpy(d, s, (size_t)bpp);
	}
}

static int convert(sora_video *v, const AVFrame *in, sora_frame *f, sora_err *e)
{
	if (v->opts.pix == SORA_PIX_NATIVE) {
		for (int i = 0; i < 4; i++) {
			f->data[i] = in->data[i];
			f->linesize[i] = in->linesize[i];
		}
		f->width = in->width;
		f->height = in->height;
		f->pix_fmt = in->format;
		return 0;
	}
	enum AVPixelFormat dst = v->opts.pix == SORA_PIX_GRAY ? AV_PIX_FMT_GRAY8 : AV_PIX_FMT_RGB24;
	int flags = v->opts.fast                                      ? SWS_FAST_BILINEAR
		    : in->width > 2 * v->sw || in->height > 2 * v->sh ? SWS_AREA
								      : SWS_BILINEAR;
	struct SwsContext *sws = sws_getCachedContext(v->sws, in->width, in->height, in->format, v->sw, v->sh,
						      dst, flags, NULL, NULL, NULL);
	/* Like ffmpeg's scale filter: the frame's own matrix and range in, full range out (so white is 255
	 * in gray as in RGB). swscale cannot see them unless told, and forgets them with a new context. */
	int full = in->color_range == AVCOL_RANGE_JPEG;
	int key[5] = {in->width, in->height, in->format, in->colorspace, full};
	if (sws && (sws != v->sws || memcmp(key, v->sws_key, sizeof key) != 0)) {
		const int *coef = sws_getCoefficients(in->colorspace);
		sws_setColorspaceDetails(sws, coef, full, sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16,
					 1 << 16);
		memcpy(v->sws_key, key, sizeof key);
	}
	v->sws = sws;
	CHECK(e, sws, "cannot convert %s %dx%d", av_get_pix_fmt_name(in->format), in->width, in->height);
	int rc = sws_scale(v->sws, (const uint8_t *const *)in->data, in->linesize, 0, in->height, &v->scaled,
			   &v->scaled_ls);
	CHECK(e, rc > 0, "cannot convert %s %dx%d", av_get_pix_fmt_name(in->format), in->width, in->height);

	memset(f, 0, sizeof *f);
	f->data[0] = v->scaled;
	f->linesize[0] = v->scaled_ls;
	if (v->info.rotation) {
		rotate(v->scaled, v->scaled_ls, v->sw, v->sh, v->bpp, v->rotated, v->rotated_ls,
		       v->info.rotation);
		f->data[0] = v->rotated;
		f->linesize[0] = v->rotated_ls;
	}
	f->width = v->out_w;
	f->height = v->out_h;
	f->pix_fmt = dst;
	return 0;
fail:
	return -1;
}

int sora_video_read(sora_video *v, sora_frame *f, sora_err *e)
{
	if (v->pending) {
		v->pending = 0;
	} else {
		int rc = decode_next(v, e);
		if (rc <= 0)
			return rc;
	}
	TRY(convert(v, v->frame, f, e));
	f->pts_sec = ts_sec(v, v->frame->best_effort_timestamp);
	f->index = v->next_index++;
	return 1;
fail:
	return -1;
}

int sora_video_count_frames(sora_video *v, sora_err *e)
{
	int64_t n = 0;
	TRY(rewind_video(v, e));
	v->n_ts = 0;
	for (;;) {
		int rc = decode_next(v, e);
		if (rc < 0)
			goto fail;
		if (rc == 0)
			break;
		n++;
		CHECK_ALLOC(e, ts_push(v, v->frame->best_effort_timestamp) == 0);
	}
	finish_count(v, SORA_NFRAMES_DECODED, n, 1);
	return rewind_video(v, e);
fail:
	v->n_ts = 0;
	return -1;
}

/* ---- seeking ---- */

int sora_video_seek(sora_video *v, double t_sec, sora_err *e)
{
	CHECK(e, isfinite(t_sec), "seek: invalid time %g", t_sec);
	double tb = av_q2d(v->st->time_base);
	/* Demuxers seek by decode timestamps or land after the wanted frame (reordered B-frames, open GOPs):
	 * when the first frame decoded is already past t, start 1, 2, 4 ... 64 s further back, then from
	 * the start. */
	for (int tries = 0;; tries++) {
		double at = tries == 0 ? t_sec : tries <= 7 ? t_sec - (1 << (tries - 1)) : 0;
		/* Clamped: a time far past the end must not overflow the timestamp. */
		double ticks = fmin((double)v->start + floor(at / tb), 0x1p62);
		TRY(seek_raw(v, at > 0 ? (int64_t)ticks : v->start, e));
		int rc = decode_next(v, e);
		if (rc < 0)
			goto fail;
		if (at <= 0 || (rc > 0 && ts_sec(v, v->frame->best_effort_timestamp) <= t_sec + 1e-6))
			break;
	}
	/* Timestamps, never frame counts, decide: this stays exact when the frame rate varies. */
	while (!v->eof && ts_sec(v, v->frame->best_effort_timestamp) < t_sec - 1e-6)
		TRY(decode_next(v, e));
	if (v->eof)
		return 0;
	v->pending = 1;
	int64_t ts = v->frame->best_effort_timestamp;
	v->next_index = v->n_ts ? ts_index(v, ts) : (int64_t)llround(ts_sec(v, ts) * v->info.fps);
	return 0;
fail:
	return -1;
}

/* ---- writing ---- */

struct sora_video_writer {
	AVFormatContext *oc;
	AVCodecContext *enc;
	AVStream *st;
	struct SwsContext *sws;
	AVFrame *frame;
	AVPacket *pkt;
	int64_t next_pts;
};

static void writer_free(sora_video_writer *w)
{
	if (w->oc)
		avio_closep(&w->oc->pb);
	avformat_free_context(w->oc);
	avcodec_free_context(&w->enc);
	sws_freeContext(w->sws);
	av_frame_free(&w->frame);
	av_packet_free(&w->pkt);
	free(w);
}

/* Sends frame (NULL flushes) and muxes every packet the encoder has ready. */
static int encode(sora_video_writer *w, const AVFrame *frame, sora_err *e)
{
	CHECK_AV(e, avcodec_send_frame(w->enc, frame), "encode");
	for (;;) {
		int rc = avcodec_receive_packet(w->enc, w->pkt);
		if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
			return 0;
		CHECK_AV(e, rc, "encode");
		av_packet_rescale_ts(w->pkt, w->enc->time_base, w->st->time_base);
		w->pkt->stream_index = w->st->index;
		CHECK_AV(e, av_interleaved_write_frame(w->oc, w->pkt), "write");
	}
fail:
	av_packet_unref(w->pkt);
	return -1;
}

int sora_video_writer_open(sora_video_writer **out, const char *path, const sora_writer_opts *o, sora_err *e)
{
	sora_video_writer *w = NULL;
	*out = NULL;
	CHECK(e, o->width > 0 && o->height > 0 && o->width % 2 == 0 && o->height % 2 == 0,
	      "width and height must be even and positive for yuv420p, got %dx%d", o->width, o->height);
	CHECK(e, o->fps_num > 0 && o->fps_den > 0, "invalid frame rate %d/%d", o->fps_num, o->fps_den);
	/* libx264 prints an unknown preset to stderr itself, before FFmpeg's logging applies; x264's own
	 * list is not reachable through libavcodec, and it has not changed in years. */
	static const char *const presets[] = {"ultrafast", "superfast", "veryfast", "faster",   "fast",
					      "medium",    "slow",      "slower",   "veryslow", "placebo"};
	const char *preset = o->preset ? o->preset : "medium";
	int known = 0;
	for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
		known |= !strcmp(preset, presets[i]);
	CHECK(e, known, "unknown libx264 preset '%s'", preset);
	const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
	CHECK(e, codec, "the libx264 encoder is not available");

	CHECK_ALLOC(e, w = calloc(1, sizeof *w));
	CHECK_ALLOC(e, w->pkt = av_packet_alloc());
	CHECK_ALLOC(e, w->frame = av_frame_alloc());
	CHECK_AV(e, avformat_alloc_output_context2(&w->oc, NULL, "mp4", path), "cannot set up the muxer");
	CHECK_ALLOC(e, w->enc = avcodec_alloc_context3(codec));
	w->enc->width = o->width;
	w->enc->height = o->height;
	w->enc->pix_fmt = AV_PIX_FMT_YUV420P;
	w->enc->time_base = (AVRational){o->fps_den, o->fps_num};
	w->enc->framerate = (AVRational){o->fps_num, o->fps_den};
	/* swscale converts with BT.601 limited range; say so, or players assume BT.709 for HD sizes. */
	w->enc->colorspace = AVCOL_SPC_SMPTE170M;
	w->enc->color_range = AVCOL_RANGE_MPEG;
	if (w->oc->oformat->flags & AVFMT_GLOBALHEADER)
		w->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	CHECK_AV(e, av_opt_set_int(w->enc->priv_data, "crf", o->crf ? o->crf : 18, 0), "libx264 crf");
	CHECK_AV(e, av_opt_set(w->enc->priv_data, "preset", preset, 0), "libx264 preset");
	CHECK_AV(e, avcodec_open2(w->enc, codec, NULL), "cannot open libx264");

	CHECK_ALLOC(e, w->st = avformat_new_stream(w->oc, NULL));
	CHECK_AV(e, avcodec_parameters_from_context(w->st->codecpar, w->enc), "cannot set up the stream");
	w->st->time_base = w->enc->time_base;
	w->st->avg_frame_rate = w->enc->framerate;

	w->frame->format = AV_PIX_FMT_YUV420P;
	w->frame->width = o->width;
	w->frame->height = o->height;
	CHECK_AV(e, av_frame_get_buffer(w->frame, 0), "out of memory");
	CHECK_ALLOC(e, w->sws = sws_getContext(o->width, o->height, AV_PIX_FMT_RGB24, o->width, o->height,
					       AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL, NULL));

	/* As in sora_video_open: a colon in the name must not select a protocol. */
	char *url = av_asprintf("file:%s", path);
	CHECK_ALLOC(e, url);
	int rc = avio_open(&w->oc->pb, url, AVIO_FLAG_WRITE);
	av_free(url);
	CHECK_AV(e, rc, "cannot create the file");
	CHECK_AV(e, avformat_write_header(w->oc, NULL), "cannot write the header");
	*out = w;
	return 0;
fail:
	if (w)
		writer_free(w);
	return -1;
}

int sora_video_writer_put_rgb(sora_video_writer *w, const uint8_t *rgb, int linesize, sora_err *e)
{
	/* The encoder may still hold the previous frame's buffers. */
	CHECK_AV(e, av_frame_make_writable(w->frame), "out of memory");
	CHECK(e,
	      sws_scale(w->sws, &rgb, &linesize, 0, w->frame->height, w->frame->data, w->frame->linesize) > 0,
	      "cannot convert RGB to yuv420p");
	w->frame->pts = w->next_pts++;
	return encode(w, w->frame, e);
fail:
	return -1;
}

int sora_video_writer_close(sora_video_writer *w, sora_err *e)
{
	if (!w)
		return 0;
	TRY(encode(w, NULL, e));
	CHECK_AV(e, av_write_trailer(w->oc), "cannot finish the file");
	writer_free(w);
	return 0;
fail:
	writer_free(w);
	return -1;
}
