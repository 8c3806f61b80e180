#include "image_prep.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Pillow's fixed point for 8-bit images: coefficients scaled by 2^22 leave room for 255 × their sum. */
#define PRECISION_BITS (32 - 8 - 2)

static double bicubic(double x) /* Keys' cubic with a = −0.5, Pillow's BICUBIC */
{
	const double a = -0.5;
	if (x < 0.0)
		x = -x;
	if (x < 1.0)
		return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
	if (x < 2.0)
		return (((x - 5) * x + 8) * x - 4) * a;
	return 0.0;
}

/* Pillow's precompute_coeffs + normalize_coeffs_8bpc for the box [0, in_size): for each output pixel
 * the first input pixel bounds[2i], the count bounds[2i + 1] and ksize fixed-point weights in kk. When
 * downscaling the kernel is stretched by the scale, so every input pixel contributes (antialiasing). */
static int coeffs(int in_size, int out_size, int **bounds_out, int32_t **kk_out, sora_err *e)
{
	const double scale = (double)in_size / out_size, filterscale = scale < 1.0 ? 1.0 : scale;
	const double support = 2.0 * filterscale;
	const int ksize = (int)ceil(support) * 2 + 1;
	int *bounds = NULL;
	int32_t *kk = NULL;
	double *k = NULL;
	CHECK_ALLOC(e, bounds = calloc((size_t)out_size * 2, sizeof *bounds));
	CHECK_ALLOC(e, kk = calloc((size_t)out_size * ksize, sizeof *kk));
	CHECK_ALLOC(e, k = calloc((size_t)ksize, sizeof *k));
	for (int xx = 0; xx < out_size; xx++) {
		const double center = (xx + 0.5) * scale, ss = 1.0 / filterscale;
		double ww = 0.0;
		/* Pillow rounds the window ends with (int)(v + 0.5), truncating toward zero. */
		int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5), x;
		xmin = xmin < 0 ? 0 : xmin;
		xmax = (xmax > in_size ? in_size : xmax) - xmin;
		for (x = 0; x < xmax; x++) {
			k[x] = bicubic((x + xmin - center + 0.5) * ss);
			ww += k[x];
		}
		for (x = 0; x < ksize; x++) {
			double w = x < xmax && ww != 0.0 ? k[x] / ww : 0.0;
			kk[(size_t)xx * ksize + x] = (int32_t)(w < 0 ? -0.5 + w * (1 << PRECISION_BITS)
								     : 0.5 + w * (1 << PRECISION_BITS));
		}
		bounds[2 * (size_t)xx] = xmin;
		bounds[2 * (size_t)xx + 1] = xmax;
	}
	free(k);
	*bounds_out = bounds;
	*kk_out = kk;
	return ksize;
fail:
	free(bounds);
	free(kk);
	free(k);
	return -1;
}

static uint8_t clip8(int32_t v) /* Pillow's clip8: the integer part, clamped */
{
	v >>= PRECISION_BITS;
	return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

int sora_resize_bicubic_rgb(uint8_t *dst, int dw, int dh, const uint8_t *src, int sw, int sh, int stride,
			    sora_err *e)
{
	int *bx = NULL, *by = NULL;
	int32_t *kx = NULL, *ky = NULL;
	uint8_t *tmp = NULL;
	int ksx, ksy;
	CHECK(e, dw > 0 && dh > 0 && sw > 0 && sh > 0 && stride >= 3 * sw, "resize: bad sizes %dx%d to %dx%d",
	      sw, sh, dw, dh);
	TRY(ksx = coeffs(sw, dw, &bx, &kx, e));
	TRY(ksy = coeffs(sh, dh, &by, &ky, e));
	/* As Pillow: the horizontal pass runs over only the source rows the vertical pass reads, and a
	 * pass whose size does not change is skipped (the other pass then reads the source directly). */
	const int need_h = dw != sw, need_v = dh != sh;
	const int y0 = by[0], y1 = by[2 * (size_t)dh - 2] + by[2 * (size_t)dh - 1];
	const uint8_t *vsrc = src;
	int vstride = stride, vy0 = 0;
	if (need_h) {
		const int rows = need_v ? y1 - y0 : dh;
		const int first = need_v ? y0 : 0;
		uint8_t *out = need_v ? NULL : dst;
		if (need_v) {
			CHECK_ALLOC(e, tmp = calloc((size_t)rows * dw, 3));
			out = tmp;
		}
		for (int y = 0; y < rows; y++) {
			const uint8_t *row = src + (size_t)(y + first) * stride;
			for (int xx = 0; xx < dw; xx++) {
				const int32_t *k = kx + (size_t)xx * ksx;
				const int xmin = bx[2 * (size_t)xx], n = bx[2 * (size_t)xx + 1];
				int32_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
				for (int x = 0; x < n; x++) {
					const uint8_t *p = row + (size_t)(x + xmin) * 3;
					s0 += p[0] * k[x], s1 += p[1] * k[x], s2 += p[2] * k[x];
				}
				uint8_t *o = out + ((size_t)y * dw + xx) * 3;
				o[0] = clip8(s0), o[1] = clip8(s1), o[2] = clip8(s2);
			}
		}
		vsrc = tmp, vstride = dw * 3, vy0 = y0;
	}
	if (need_v) {
		for (int yy = 0; yy < dh; yy++) {
			const int32_t *k = ky + (size_t)yy * ksy;
			const int ymin = by[2 * (size_t)yy] - vy0, n = by[2 * (size_t)yy + 1];
			for (int xx = 0; xx < dw * 3; xx++) {
				int32_t s = 1 << (PRECISION_BITS - 1);
				for (int y = 0; y < n; y++)
					s += vsrc[(size_t)(y + ymin) * vstride + xx] * k[y];
				dst[(size_t)yy * dw * 3 + xx] = clip8(s);
			}
		}
	}
	if (!need_h && !need_v)
		for (int y = 0; y < dh; y++)
			memcpy(dst + (size_t)y * dw * 3, src + (size_t)y * stride, (size_t)dw * 3);
	free(bx), free(by), free(kx), free(ky), free(tmp);
	return 0;
fail:
	free(bx), free(by), free(kx), free(ky), free(tmp);
	return -1;
}

int sora_clip_preprocess(float *pixels, uint8_t *crop, int size, const uint8_t *rgb, int w, int h, int stride,
			 sora_err *e)
{
	static const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
	static const float std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
	uint8_t *r = NULL;
	CHECK(e, size > 0 && w > 0 && h > 0, "preprocess: bad sizes %dx%d to %d", w, h, size);
	/* transformers' get_resize_output_image_size(default_to_square=False): int() truncates. */
	const int rw = w <= h ? size : (int)((int64_t)size * w / h);
	const int rh = w <= h ? (int)((int64_t)size * h / w) : size;
	CHECK_ALLOC(e, r = malloc((size_t)rw * rh * 3));
	TRY(sora_resize_bicubic_rgb(r, rw, rh, rgb, w, h, stride, e));
	const int top = (rh - size) / 2, left = (rw - size) / 2;
	for (int y = 0; y < size; y++)
		for (int x = 0; x < size; x++)
			for (int c = 0; c < 3; c++) {
				const uint8_t v = r[((size_t)(y + top) * rw + x + left) * 3 + c];
				/* rescale in float64 then cast, normalise in float32: transformers' order. */
				const float f = (float)(v * (1.0 / 255.0));
				pixels[((size_t)c * size + y) * size + x] = (f - mean[c]) / std[c];
				if (crop)
					crop[((size_t)y * size + x) * 3 + c] = v;
			}
	free(r);
	return 0;
fail:
	free(r);
	return -1;
}
