#include "jpeg.h"

#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
#include <stdlib.h>
#include <string.h>

int sora_jpeg_encode(const uint8_t *rgb, int ls, int w, int h, int qscale, uint8_t **out, size_t *size,
		     sora_err *e)
{
	AVCodecContext *c = NULL;
	AVFrame *f = NULL;
	AVPacket *pkt = NULL;
	struct SwsContext *sws = NULL;
	int rc = -1;
	*out = NULL;
	const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
	CHECK(e, codec, "FFmpeg has no mjpeg encoder");
	CHECK_ALLOC(e, c = avcodec_alloc_context3(codec));
	c->width = w;
	c->height = h;
	/* Full-range 4:2:0, what every JPEG decoder expects. */
	c->pix_fmt = AV_PIX_FMT_YUVJ420P;
	c->time_base = (AVRational){1, 25};
	c->flags |= AV_CODEC_FLAG_QSCALE;
	c->global_quality = FF_QP2LAMBDA * qscale;
	CHECK_AV(e, avcodec_open2(c, codec, NULL), "cannot open the JPEG encoder");
	CHECK_ALLOC(e, f = av_frame_alloc());
	f->width = w;
	f->height = h;
	f->format = c->pix_fmt;
	f->quality = c->global_quality;
	CHECK_AV(e, av_frame_get_buffer(f, 0), "cannot allocate a frame");
	CHECK_ALLOC(
	    e, sws = sws_getContext(w, h, AV_PIX_FMT_RGB24, w, h, c->pix_fmt, SWS_BICUBIC, NULL, NULL, NULL));
	const uint8_t *src[1] = {rgb};
	const int src_ls[1] = {ls};
	sws_scale(sws, src, src_ls, 0, h, f->data, f->linesize);
	CHECK_ALLOC(e, pkt = av_packet_alloc());
	CHECK_AV(e, avcodec_send_frame(c, f), "JPEG encode");
	CHECK_AV(e, avcodec_receive_packet(c, pkt), "JPEG encode");
	CHECK_ALLOC(e, *out = malloc((size_t)pkt->size));
	memcpy(*out, pkt->data, (size_t)pkt->size);
	*size = (size_t)pkt->size;
	rc = 0;
fail:
	sws_freeContext(sws);
	av_packet_free(&pkt);
	av_frame_free(&f);
	avcodec_free_context(&c);
	return rc;
}
