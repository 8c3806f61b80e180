#include "vmaf_input.h"

#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <stdlib.h>

struct sora_vmaf_input {
	struct SwsContext *sws;
	int h;
	uint8_t *data[4];
	int linesize[4];
};

/* vf_vmafmotion.c's query_formats, in its order. */
static const enum AVPixelFormat accepted[] = {
    AV_PIX_FMT_YUV444P,   AV_PIX_FMT_YUV422P,   AV_PIX_FMT_YUV420P,
    AV_PIX_FMT_YUV444P10, AV_PIX_FMT_YUV422P10, AV_PIX_FMT_YUV420P10,
};
enum { N_ACCEPTED = sizeof accepted / sizeof *accepted };

/* Full-range twins of accepted formats: the same samples reach the filter. */
static const enum AVPixelFormat passed[] = {AV_PIX_FMT_YUVJ444P, AV_PIX_FMT_YUVJ422P, AV_PIX_FMT_YUVJ420P};

int sora_vmaf_input_open(sora_vmaf_input **out, int pix_fmt, int w, int h, int *depth, sora_err *e)
{
	sora_vmaf_input *c = NULL;
	*out = NULL;
	const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(pix_fmt);
	CHECK(e, d, "unknown pixel format %d", pix_fmt);
	*depth = d->comp[0].depth;
	for (int i = 0; i < N_ACCEPTED; i++)
		if (accepted[i] == pix_fmt || (i < 3 && passed[i] == pix_fmt))
			return 0;
	/* libavfilter's choice when a link must convert: the least lossy of the list, pairwise. */
	enum AVPixelFormat best = accepted[0];
	int alpha = (d->flags & AV_PIX_FMT_FLAG_ALPHA) != 0;
	for (int i = 1; i < N_ACCEPTED; i++)
		best = av_find_best_pix_fmt_of_2(best, accepted[i], pix_fmt, alpha, NULL);
	CHECK_ALLOC(e, c = calloc(1, sizeof *c));
	c->h = h;
	c->sws = sws_getContext(w, h, pix_fmt, w, h, best, SWS_BICUBIC, NULL, NULL, NULL);
	CHECK(e, c->sws, "vmafmotion: cannot convert %s to %s", d->name, av_get_pix_fmt_name(best));
	/* ffmpeg's scaler keeps the samples' range (full-range gray stays full range): no range change. */
	int *inv, *table, src_full, dst_full, bright, contrast, sat;
	if (sws_getColorspaceDetails(c->sws, &inv, &src_full, &table, &dst_full, &bright, &contrast, &sat) >=
	    0)
		sws_setColorspaceDetails(c->sws, inv, src_full, table, src_full, bright, contrast, sat);
	CHECK_AV(e, av_image_alloc(c->data, c->linesize, w, h, best, 32), "vmafmotion: frame buffer");
	*depth = av_pix_fmt_desc_get(best)->comp[0].depth;
	*out = c;
	return 0;
fail:
	sora_vmaf_input_close(c);
	return -1;
}

void sora_vmaf_input_close(sora_vmaf_input *c)
{
	if (!c)
		return;
	sws_freeContext(c->sws);
	av_freep(&c->data[0]);
	free(c);
}

int sora_vmaf_input_convert(sora_vmaf_input *c, uint8_t *const data[4], const int linesize[4],
			    const uint8_t **luma, int *luma_linesize, sora_err *e)
{
	int rc = sws_scale(c->sws, (const uint8_t *const *)data, linesize, 0, c->h, c->data, c->linesize);
	CHECK(e, rc == c->h, "vmafmotion: conversion failed");
	*luma = c->data[0];
	*luma_linesize = c->linesize[0];
	return 0;
fail:
	return -1;
}
