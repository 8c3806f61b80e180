#include "content.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

/* OpenCV's RGB2HSV_b: divisions by V and by (max - min) as 12-bit fixed-point reciprocals, rounded
 * the way saturate_cast<int>(double) rounds (to nearest). Matching them makes our H and S equal
 * OpenCV's for the same RGB input, not just close. */
enum { HSV_SHIFT = 12 };
static int sdiv[256], hdiv[256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void make_tables(void)
{
	for (int i = 1; i < 256; i++) {
		sdiv[i] = (int)lrint((255 << HSV_SHIFT) / (1.0 * i));
		hdiv[i] = (int)lrint((180 << HSV_SHIFT) / (6.0 * i));
	}
}

void sora_rgb_to_hsv(const uint8_t *rgb, int ls, int w, int h, uint8_t *hsv)
{
	pthread_once(&tables_once, make_tables);
	size_t n = (size_t)w * (size_t)h;
	uint8_t *hp = hsv, *sp = hsv + n, *vp = hsv + 2 * n;
	for (int y = 0; y < h; y++) {
		const uint8_t *p = rgb + (size_t)y * (size_t)ls;
		for (int x = 0; x < w; x++, p += 3) {
			int r = p[0], g = p[1], b = p[2];
			int v = r > g ? r : g;
			v = v > b ? v : b;
			int mn = r < g ? r : g;
			mn = mn < b ? mn : b;
			int diff = v - mn;
			int s = (diff * sdiv[v] + (1 << (HSV_SHIFT - 1))) >> HSV_SHIFT;
			int hh;
			if (v == r)
				hh = g - b;
			else if (v == g)
				hh = b - r + 2 * diff;
			else
				hh = r - g + 4 * diff;
			hh = (hh * hdiv[diff] + (1 << (HSV_SHIFT - 1))) >> HSV_SHIFT;
			hh += hh < 0 ? 180 : 0;
			*hp++ = (uint8_t)hh;
			*sp++ = (uint8_t)s;
			*vp++ = (uint8_t)v;
		}
	}
}

double sora_content_score(const uint8_t *hsv_a, const uint8_t *hsv_b, int n)
{
	/* The three planes are contiguous, so one sum over 3n values is the sum of the three deltas. */
	uint64_t sum = 0;
	for (size_t i = 0; i < 3 * (size_t)n; i++)
		sum += (uint64_t)abs((int)hsv_a[i] - (int)hsv_b[i]);
	return (double)sum / (3.0 * (double)n);
}

double sora_rgb_mean(const uint8_t *rgb, int ls, int w, int h)
{
	uint64_t sum = 0;
	for (int y = 0; y < h; y++) {
		const uint8_t *p = rgb + (size_t)y * (size_t)ls;
		for (int x = 0; x < 3 * w; x++)
			sum += p[x];
	}
	return (double)sum / (3.0 * (double)w * (double)h);
}
