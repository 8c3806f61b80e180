#include "dissolve.h"

#include <stdlib.h>
#include <string.h>

struct sora_dissolve {
	sora_dissolve_opts o;
	size_t npix;
	uint8_t *ring; /* the last 2k + 1 thumbnails, frame i at slot i % (2k + 1) */
	int64_t pushed;
	int64_t run_start, run_len; /* the current run of blending frames */
	sora_transitions found;
};

void sora_luma_thumb(const uint8_t *rgb, int ls, int w, int h, uint8_t *thumb, int tw, int th)
{
	int bw = w / tw, bh = h / th;
	for (int ty = 0; ty < th; ty++)
		for (int tx = 0; tx < tw; tx++) {
			uint32_t sum = 0;
			for (int y = ty * bh; y < (ty + 1) * bh; y++) {
				const uint8_t *p = rgb + (size_t)y * (size_t)ls + (size_t)tx * (size_t)bw * 3;
				for (int x = 0; x < bw; x++, p += 3)
					sum += (77u * p[0] + 150u * p[1] + 29u * p[2]) >> 8;
			}
			thumb[ty * tw + tx] = (uint8_t)(sum / (uint32_t)(bw * bh));
		}
}

int sora_dissolve_open(sora_dissolve **out, const sora_dissolve_opts *o, sora_err *e)
{
	sora_dissolve *d = NULL;
	*out = NULL;
	CHECK(e, o->tw > 0 && o->th > 0 && o->k > 0, "invalid dissolve window");
	CHECK_ALLOC(e, d = calloc(1, sizeof *d));
	d->o = *o;
	d->npix = (size_t)o->tw * (size_t)o->th;
	CHECK_ALLOC(e, d->ring = malloc(d->npix * (size_t)(2 * o->k + 1)));
	*out = d;
	return 0;
fail:
	sora_dissolve_close(d);
	return -1;
}

static uint8_t *slot(sora_dissolve *d, int64_t i)
{
	return d->ring + (size_t)(i % (2 * d->o.k + 1)) * d->npix;
}

static int end_run(sora_dissolve *d, sora_err *e)
{
	if (d->run_len >= d->o.min_run) {
		int64_t k = d->o.k, a = d->run_start - k, z = d->run_start + d->run_len + k;
		sora_transition t = {.start = a < 0 ? 0 : a, .end = z, .kind = SORA_TR_DISSOLVE};
		t.cut = (t.start + t.end) / 2;
		TRY(sora_transitions_push(&d->found, t, e));
	}
	d->run_len = 0;
	return 0;
fail:
	return -1;
}

int sora_dissolve_push(sora_dissolve *d, const uint8_t *thumb, sora_err *e)
{
	int64_t i = d->pushed++, k = d->o.k;
	memcpy(slot(d, i), thumb, d->npix);
	if (i < 2 * k)
		return 0;
	int64_t c = i - k;
	const uint8_t *a = slot(d, c - k), *m = slot(d, c), *b = slot(d, i);
	uint64_t diff = 0, dev = 0;
	for (size_t p = 0; p < d->npix; p++) {
		int sa = a[p], sb = b[p];
		diff += (uint64_t)abs(sa - sb);
		dev += (uint64_t)abs(2 * m[p] - sa - sb);
	}
	double dd = (double)diff / (double)d->npix, ee = (double)dev / (2.0 * (double)d->npix);
	if (dd >= d->o.min_diff && ee <= d->o.max_ratio * dd) {
		if (!d->run_len)
			d->run_start = c;
		d->run_len++;
		return 0;
	}
	return end_run(d, e);
}

int sora_dissolve_finish(sora_dissolve *d, sora_transitions *out, sora_err *e)
{
	TRY(end_run(d, e));
	for (int64_t i = 0; i < d->found.n; i++) {
		sora_transition t = d->found.v[i];
		t.end = t.end < d->pushed ? t.end : d->pushed;
		TRY(sora_transitions_push(out, t, e));
	}
	return 0;
fail:
	return -1;
}

void sora_dissolve_close(sora_dissolve *d)
{
	if (!d)
		return;
	sora_transitions_free(&d->found);
	free(d->ring);
	free(d);
}
