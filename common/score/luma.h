/* The luma plane of a decoded native frame: which layouts can be read directly, and the per-frame
 * sums behind brightness and FFmpeg's blackdetect. */
#ifndef SORA_LUMA_H
#define SORA_LUMA_H

#include "util/err.h"

#include <stdint.h>

typedef struct sora_luma_fmt {
	int depth;     /* bits per sample: 8 is one byte, 9 to 16 a native-endian uint16 */
	int full;      /* full-range (yuvj*) formats, for blackdetect's threshold */
	int threshold; /* blackdetect's pixel_black_th_i: a sample <= it is black */
} sora_luma_fmt;

/* Checks that pix_fmt (an AVPixelFormat) keeps its luma in plane 0 as one sample per step (planar and
 * semi-planar YUV, gray) and fills f, blackdetect's threshold from pix_th (its pixel_black_th). */
int sora_luma_fmt_get(sora_luma_fmt *f, int pix_fmt, double pix_th, sora_err *e);

/* Sum of the samples and the number of samples <= f->threshold, in one pass. */
void sora_luma_stats(const sora_luma_fmt *f, const uint8_t *luma, int linesize, int w, int h, uint64_t *sum,
		     uint64_t *black);

/* 8-bit gray from the luma plane: samples above 8 bits are shifted down. dst is w x h, rows packed. */
void sora_luma_gray8(const sora_luma_fmt *f, const uint8_t *luma, int linesize, int w, int h, uint8_t *dst);

#endif
