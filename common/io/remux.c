#include "remux.h"

#include <libavformat/avformat.h>
#include <libavutil/avstring.h>

#include <math.h>
#include <sys/stat.h>

typedef struct input {
	AVFormatContext *fmt;
	AVStream *st;
	AVStream *out;
	AVPacket *pkt; /* the next packet to write, when have */
	int have, done;
	int64_t origin; /* stream start in time_base */
	int64_t shift;  /* subtracted from every timestamp */
	int64_t end;    /* stop at this decode time (time_base); INT64_MAX: the end of the file */
} input;

static double tb(const input *in)
{
	return av_q2d(in->st->time_base);
}

static int open_input(input *in, const char *path, enum AVMediaType type, sora_err *e)
{
	AVDictionary *o = NULL;
	char *url = NULL;
	struct stat sb;
	/* As sora_video_open: never open a FIFO (it would block), only the file protocol. */
	CHECK_SYS(e, stat(path, &sb), "cannot open");
	CHECK(e, S_ISREG(sb.st_mode), "not a regular file");
	CHECK_ALLOC(e, url = av_asprintf("file:%s", path));
	CHECK_AV(e, av_dict_set(&o, "protocol_whitelist", "file", 0), "cannot set options");
	CHECK_AV(e, avformat_open_input(&in->fmt, url, NULL, &o), "cannot open as a video");
	CHECK_AV(e, avformat_find_stream_info(in->fmt, NULL), "cannot read stream info");
	CHECK_ALLOC(e, in->pkt = av_packet_alloc());
	int si = av_find_best_stream(in->fmt, type, -1, -1, NULL, 0);
	if (si >= 0) {
		in->st = in->fmt->streams[si];
		for (unsigned i = 0; i < in->fmt->nb_streams; i++)
			in->fmt->streams[i]->discard = (int)i == si ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
		in->origin = in->st->start_time != AV_NOPTS_VALUE ? in->st->start_time : 0;
	}
	av_dict_free(&o);
	av_free(url);
	return 0;
fail:
	av_dict_free(&o);
	av_free(url);
	return -1;
}

static void close_input(input *in)
{
	av_packet_free(&in->pkt);
	avformat_close_input(&in->fmt);
}

static int64_t ticks(const input *in, double sec)
{
	return in->origin + (int64_t)llround(fmin(sec / tb(in), 0x1p62));
}

/* Reads the next packet of the stream into in->pkt; done at the end or past in->end. */
static int next(input *in, sora_err *e)
{
	for (;;) {
		int rc = av_read_frame(in->fmt, in->pkt);
		if (rc == AVERROR_EOF) {
			in->done = 1;
			return 0;
		}
		CHECK_AV(e, rc, "read");
		if (in->pkt->stream_index != in->st->index) {
			av_packet_unref(in->pkt);
			continue;
		}
		int64_t t = in->pkt->dts != AV_NOPTS_VALUE ? in->pkt->dts : in->pkt->pts;
		if (t != AV_NOPTS_VALUE && t >= in->end) {
			av_packet_unref(in->pkt);
			in->done = 1;
			return 0;
		}
		in->have = 1;
		return 0;
	}
fail:
	return -1;
}

static double when(const input *in)
{
	int64_t t = in->pkt->dts != AV_NOPTS_VALUE ? in->pkt->dts : in->pkt->pts;
	return t == AV_NOPTS_VALUE ? 0 : (double)(t - in->shift) * tb(in);
}

static int put(AVFormatContext *oc, input *in, sora_err *e)
{
	AVPacket *p = in->pkt;
	if (p->pts != AV_NOPTS_VALUE)
		p->pts -= in->shift;
	if (p->dts != AV_NOPTS_VALUE)
		p->dts -= in->shift;
	av_packet_rescale_ts(p, in->st->time_base, in->out->time_base);
	p->stream_index = in->out->index;
	p->pos = -1;
	in->have = 0;
	CHECK_AV(e, av_interleaved_write_frame(oc, p), "write");
	return 0;
fail:
	av_packet_unref(p);
	return -1;
}

static int add_stream(AVFormatContext *oc, input *in, sora_err *e)
{
	CHECK_ALLOC(e, in->out = avformat_new_stream(oc, NULL));
	CHECK_AV(e, avcodec_parameters_copy(in->out->codecpar, in->st->codecpar), "cannot copy the stream");
	in->out->codecpar->codec_tag = 0;
	in->out->time_base = in->st->time_base;
	/* The display matrix travels with the stream, so a rotated source stays rotated. */
	for (int i = 0; i < in->st->nb_side_data; i++) {
		const AVPacketSideData *sd = &in->st->side_data[i];
		uint8_t *d = av_stream_new_side_data(in->out, sd->type, sd->size);
		CHECK_ALLOC(e, d);
		memcpy(d, sd->data, sd->size);
	}
	return 0;
fail:
	return -1;
}

int sora_remux(const char *dst, const sora_remux_src *video, const sora_remux_src *audio,
	       sora_remux_result *r, sora_err *e)
{
	input v = {0}, a = {0};
	AVFormatContext *oc = NULL;
	char *url = NULL;
	int header = 0;
	*r = (sora_remux_result){0};
	TRY(open_input(&v, video->path, AVMEDIA_TYPE_VIDEO, e));
	CHECK(e, v.st, "no video stream");
	if (audio)
		TRY(open_input(&a, audio->path, AVMEDIA_TYPE_AUDIO, e));

	/* The first keyframe at or before the start sets the video's shift. */
	CHECK_AV(e, av_seek_frame(v.fmt, v.st->index, ticks(&v, video->start_sec), AVSEEK_FLAG_BACKWARD),
		 "cannot seek");
	v.end = video->end_sec > 0 ? ticks(&v, video->end_sec) : INT64_MAX;
	do {
		av_packet_unref(v.pkt);
		v.have = 0;
		TRY(next(&v, e));
	} while (!v.done && !(v.pkt->flags & AV_PKT_FLAG_KEY));
	CHECK(e, v.have, "no keyframe before %.6f s", video->end_sec);
	v.shift = v.pkt->pts != AV_NOPTS_VALUE ? v.pkt->pts : v.pkt->dts;
	r->video_start_sec = (double)(v.shift - v.origin) * tb(&v);

	/* Output time 0 is the keyframe; the audio at audio->start_sec lines up with the video at
	 * video->start_sec. */
	if (a.st) {
		double from = audio->start_sec - (video->start_sec - r->video_start_sec);
		a.shift = ticks(&a, from);
		a.end = audio->end_sec > 0 ? ticks(&a, audio->end_sec) : INT64_MAX;
		CHECK_AV(e, av_seek_frame(a.fmt, a.st->index, a.shift, AVSEEK_FLAG_BACKWARD),
			 "cannot seek the audio");
		do {
			av_packet_unref(a.pkt);
			a.have = 0;
			TRY(next(&a, e));
		} while (a.have && a.pkt->pts != AV_NOPTS_VALUE && a.pkt->pts < a.shift);
	}

	CHECK_AV(e, avformat_alloc_output_context2(&oc, NULL, "mp4", dst), "cannot set up the muxer");
	TRY(add_stream(oc, &v, e));
	if (a.have)
		TRY(add_stream(oc, &a, e));
	CHECK_ALLOC(e, url = av_asprintf("file:%s", dst));
	CHECK_AV(e, avio_open(&oc->pb, url, AVIO_FLAG_WRITE), "cannot create the file");
	CHECK_AV(e, avformat_write_header(oc, NULL), "cannot write the header");
	header = 1;
	/* Interleaved by time: whichever pending packet comes first goes out. */
	while (v.have || a.have) {
		input *in = !a.have || (v.have && when(&v) <= when(&a)) ? &v : &a;
		if (in == &v)
			r->video_packets++;
		TRY(put(oc, in, e));
		if (!in->done)
			TRY(next(in, e));
	}
	CHECK_AV(e, av_write_trailer(oc), "cannot finish the file");
	avio_closep(&oc->pb);
	avformat_free_context(oc);
	av_free(url);
	close_input(&v);
	close_input(&a);
	return 0;
fail:
	if (oc) {
		if (header)
			av_write_trailer(oc);
		avio_closep(&oc->pb);
	}
	avformat_free_context(oc);
	av_free(url);
	close_input(&v);
	close_input(&a);
	return -1;
}
