#include "luma.h"

#include <libavutil/pixdesc.h>
#include <string.h>

int sora_luma_fmt_get(sora_luma_fmt *f, int pix_fmt, double pix_th, sora_err *e)
{
	const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(pix_fmt);
	CHECK(e, d, "unknown pixel format %d", pix_fmt);
	int depth = d->comp[0].depth, bytes = depth > 8 ? 2 : 1;
	CHECK(e,
	      !(d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BITSTREAM |
			    AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_FLOAT | AV_PIX_FMT_FLAG_BE)) &&
		  d->comp[0].plane == 0 && d->comp[0].step == bytes && d->comp[0].offset == 0 &&
		  d->comp[0].shift == 0 && depth >= 8 && depth <= 16,
	      "pixel format %s has no directly readable luma plane", d->name);
	f->depth = depth;
	f->full = !strncmp(d->name, "yuvj", 4);
	/* FFmpeg 5.1 blackdetect: the fraction of the luma range above its floor, truncated. */
	int factor = 1 << (depth - 8), max = (1 << depth) - 1;
	f->threshold = f->full ? (int)(pix_th * max) : (int)(16 * factor + pix_th * (235 - 16) * factor);
	return 0;
fail:
	return -1;
}

#define STATS(type)                                                                                          \
	for (int i = 0; i < h; i++) {                                                                        \
		const type *p = (const type *)(luma + (ptrdiff_t)i * linesize);                              \
		uint64_t rs = 0, rb = 0;                                                                     \
		for (int j = 0; j < w; j++) {                                                                \
			rs += p[j];                                                                          \
			rb += p[j] <= th;                                                                    \
		}                                                                                            \
		s += rs;                                                                                     \
		b += rb;                                                                                     \
	}

void sora_luma_stats(const sora_luma_fmt *f, const uint8_t *luma, int linesize, int w, int h, uint64_t *sum,
		     uint64_t *black)
{
	uint64_t s = 0, b = 0;
	const unsigned th = (unsigned)f->threshold;
	if (f->depth == 8) {
		STATS(uint8_t)
	} else {
		STATS(uint16_t)
	}
	*sum = s;
	*black = b;
}

void sora_luma_gray8(const sora_luma_fmt *f, const uint8_t *luma, int linesize, int w, int h, uint8_t *dst)
{
	const int shift = f->depth - 8;
	for (int i = 0; i < h; i++) {
		const uint8_t *row = luma + (ptrdiff_t)i * linesize;
		uint8_t *o = dst + (size_t)i * w;
		if (!shift) {
			memcpy(o, row, (size_t)w);
			continue;
		}
		const uint16_t *p = (const uint16_t *)row;
		for (int j = 0; j < w; j++)
			o[j] = (uint8_t)(p[j] >> shift);
	}
}
