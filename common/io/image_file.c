#include "image_file.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/error.h>
#include <libswscale/swscale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The first frame the decoder gives for the stream's packets (one packet for a still image). */
static int decode_first(AVFormatContext *fmt, AVCodecContext *dec, int si, AVFrame *frame, sora_err *e)
{
	AVPacket *pkt = NULL;
	int rc, packets = 0;
	CHECK_ALLOC(e, pkt = av_packet_alloc());
	while ((rc = av_read_frame(fmt, pkt)) >= 0) {
		if (pkt->stream_index == si) {
			CHECK(e, ++packets == 1, "not a still image (more than one frame)");
			CHECK_AV(e, avcodec_send_packet(dec, pkt), "cannot decode the image");
		}
		av_packet_unref(pkt);
	}
	CHECK(e, rc == AVERROR_EOF, "cannot read the image: %s", av_err2str(rc));
	CHECK(e, packets == 1, "no image data");
	CHECK_AV(e, avcodec_send_packet(dec, NULL), "cannot decode the image");
	CHECK_AV(e, avcodec_receive_frame(dec, frame), "cannot decode the image");
	av_packet_free(&pkt);
	return 0;
fail:
	av_packet_free(&pkt);
	return -1;
}

/* swscale wants the limited-range twin of a full-range JPEG format plus the range said separately (the
 * J formats are deprecated and warned about). */
static enum AVPixelFormat unj(enum AVPixelFormat f, int *full)
{
	static const enum AVPixelFormat pairs[][2] = {{AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_YUV420P},
						      {AV_PIX_FMT_YUVJ422P, AV_PIX_FMT_YUV422P},
						      {AV_PIX_FMT_YUVJ444P, AV_PIX_FMT_YUV444P},
						      {AV_PIX_FMT_YUVJ440P, AV_PIX_FMT_YUV440P},
						      {AV_PIX_FMT_YUVJ411P, AV_PIX_FMT_YUV411P}};
	for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++)
		if (f == pairs[i][0]) {
			*full = 1;
			return pairs[i][1];
		}
	return f;
}

int sora_image_load(const char *path, uint8_t **rgb, int *w, int *h, sora_err *e)
{
	AVFormatContext *fmt = NULL;
	AVCodecContext *dec = NULL;
	AVDictionary *fopts = NULL;
	AVFrame *frame = NULL;
	struct SwsContext *sws = NULL;
	char *url = NULL;
	uint8_t *out = NULL;
	struct stat sb;
	const AVCodec *codec;
	*rgb = NULL;
	/* As in io/video.c: stat first (a FIFO would block), file: only, no protocols from inside. */
	CHECK_SYS(e, stat(path, &sb), "cannot open");
	CHECK(e, S_ISREG(sb.st_mode), "not a regular file");
	CHECK_ALLOC(e, url = av_asprintf("file:%s", path));
	CHECK_AV(e, av_dict_set(&fopts, "protocol_whitelist", "file", 0), "cannot set options");
	CHECK_AV(e, avformat_open_input(&fmt, url, NULL, &fopts), "cannot open as an image");
	CHECK_AV(e, avformat_find_stream_info(fmt, NULL), "cannot read stream info");
	int si = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
	CHECK(e, si >= 0, "no image stream");
	CHECK_ALLOC(e, dec = avcodec_alloc_context3(codec));
	CHECK_AV(e, avcodec_parameters_to_context(dec, fmt->streams[si]->codecpar),
		 "cannot set up the decoder");
	dec->thread_count = 1;
	CHECK_AV(e, avcodec_open2(dec, codec, NULL), "cannot open the decoder");
	CHECK_ALLOC(e, frame = av_frame_alloc());
	TRY(decode_first(fmt, dec, si, frame, e));
	CHECK(e, frame->width > 0 && frame->height > 0 && frame->width <= 65536 && frame->height <= 65536,
	      "bad image size %dx%d", frame->width, frame->height);
	/* RGB sources convert exactly. For YUV ones (JPEG), in the frame's own matrix and range, bicubic
	 * chroma upsampling came closest to Pillow's libjpeg (testsrc2 JPEG: mean 0.8 levels, max 50; point
	 * sampling gave 2.4 and 158, bilinear 0.9 and 90). */
	int full = frame->color_range == AVCOL_RANGE_JPEG;
	enum AVPixelFormat in = unj(frame->format, &full);
	CHECK_ALLOC(e, sws = sws_getContext(
			   frame->width, frame->height, in, frame->width, frame->height, AV_PIX_FMT_RGB24,
			   SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, NULL, NULL, NULL));
	sws_setColorspaceDetails(sws, sws_getCoefficients(frame->colorspace), full,
				 sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
	CHECK_ALLOC(e, out = malloc((size_t)frame->width * frame->height * 3));
	uint8_t *dst[4] = {out};
	int ls[4] = {frame->width * 3};
	CHECK(e,
	      sws_scale(sws, (const uint8_t *const *)frame->data, frame->linesize, 0, frame->height, dst,
			ls) == frame->height,
	      "cannot convert the image to RGB");
	*rgb = out, *w = frame->width, *h = frame->height;
	out = NULL;
	sws_freeContext(sws);
	av_frame_free(&frame);
	avcodec_free_context(&dec);
	avformat_close_input(&fmt);
	av_dict_free(&fopts);
	av_free(url);
	return 0;
fail:
	free(out);
	sws_freeContext(sws);
	av_frame_free(&frame);
	avcodec_free_context(&dec);
	avformat_close_input(&fmt);
	av_dict_free(&fopts);
	av_free(url);
	sora_err_prefix(e, "%s: ", path);
	return -1;
}

int sora_image_save_png(const char *path, const uint8_t *rgb, int w, int h, sora_err *e)
{
	AVCodecContext *c = NULL;
	AVFrame *f = NULL;
	AVPacket *pkt = NULL;
	FILE *fp = NULL;
	int rc = -1;
	const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_PNG);
	CHECK(e, codec, "FFmpeg has no png encoder");
	CHECK_ALLOC(e, c = avcodec_alloc_context3(codec));
	c->width = w, c->height = h, c->pix_fmt = AV_PIX_FMT_RGB24, c->time_base = (AVRational){1, 25};
	CHECK_AV(e, avcodec_open2(c, codec, NULL), "cannot open the PNG encoder");
	CHECK_ALLOC(e, f = av_frame_alloc());
	f->width = w, f->height = h, f->format = AV_PIX_FMT_RGB24;
	CHECK_AV(e, av_frame_get_buffer(f, 0), "cannot allocate a frame");
	for (int y = 0; y < h; y++)
		memcpy(f->data[0] + (size_t)y * f->linesize[0], rgb + (size_t)y * w * 3, (size_t)w * 3);
	CHECK_ALLOC(e, pkt = av_packet_alloc());
	CHECK_AV(e, avcodec_send_frame(c, f), "PNG encode");
	CHECK_AV(e, avcodec_receive_packet(c, pkt), "PNG encode");
	CHECK_SYS(e, (fp = fopen(path, "wb")) ? 0 : -1, path);
	CHECK_SYS(e, fwrite(pkt->data, 1, (size_t)pkt->size, fp) == (size_t)pkt->size ? 0 : -1, path);
	CHECK_SYS(e, fclose(fp), path);
	fp = NULL;
	rc = 0;
fail:
	if (fp)
		fclose(fp);
	av_packet_free(&pkt);
	av_frame_free(&f);
	avcodec_free_context(&c);
	return rc;
}
