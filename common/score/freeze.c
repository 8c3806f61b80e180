#include "freeze.h"

#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct sora_freeze {
	int planes, wide, depth; /* planes compared; 2-byte samples; bits per sample */
	int width[4]; /* samples per row, as FFmpeg counts them (the row's bytes for packed chroma) */
	int height[4];
	uint8_t *ref[4]; /* the reference frame, rows packed */
	int have_ref;
	double ref_pts, noise;
	int64_t duration_us; /* FFmpeg compares durations in microseconds */
	int64_t frames, run, flagged;
	int reported; /* the current run has been reported */
};

int sora_freeze_open(sora_freeze **out, int pix_fmt, int w, int h, double noise, double duration, sora_err *e)
{
	sora_freeze *f = NULL;
	*out = NULL;
	const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(pix_fmt);
	CHECK(e, d, "unknown pixel format %d", pix_fmt);
	CHECK_ALLOC(e, f = calloc(1, sizeof *f));
	f->depth = d->comp[0].depth;
	f->wide = f->depth > 8;
	f->noise = noise;
	f->duration_us = llrint(duration * 1e6);
	for (int p = 0; p < 4; p++) {
		int ls = av_image_get_linesize(pix_fmt, w, p);
		/* FFmpeg does not round chroma heights up. */
		int ph = h >> (p == 1 || p == 2 ? d->log2_chroma_h : 0);
		if (ls <= 0)
			break;
		f->width[p] = ls >> f->wide;
		f->height[p] = ph;
		CHECK_ALLOC(e, f->ref[p] = malloc((size_t)ls * (size_t)(ph > 0 ? ph : 1)));
		f->planes = p + 1;
	}
	*out = f;
	return 0;
fail:
	sora_freeze_close(f);
	return -1;
}

void sora_freeze_close(sora_freeze *f)
{
	if (!f)
		return;
	for (int p = 0; p < 4; p++)
		free(f->ref[p]);
	free(f);
}

static uint64_t plane_sad(const sora_freeze *f, int p, const uint8_t *data, int linesize)
{
	uint64_t sum = 0;
	const size_t row = (size_t)f->width[p] << f->wide;
	for (int i = 0; i < f->height[p]; i++) {
		const uint8_t *a = data + (ptrdiff_t)i * linesize, *b = f->ref[p] + i * row;
		if (f->wide) {
			const uint16_t *a16 = (const uint16_t *)a, *b16 = (const uint16_t *)b;
			for (int j = 0; j < f->width[p]; j++)
				sum += (uint32_t)abs(a16[j] - b16[j]);
		} else {
			for (int j = 0; j < f->width[p]; j++)
				sum += (uint32_t)abs(a[j] - b[j]);
		}
	}
	return sum;
}

static void set_ref(sora_freeze *f, uint8_t *const data[4], const int linesize[4], double pts)
{
	for (int p = 0; p < f->planes; p++) {
		const size_t row = (size_t)f->width[p] << f->wide;
		for (int i = 0; i < f->height[p]; i++)
			memcpy(f->ref[p] + i * row, data[p] + (ptrdiff_t)i * linesize[p], row);
	}
	f->have_ref = 1;
	f->ref_pts = pts;
	f->run = 1;
	f->reported = 0;
}

void sora_freeze_push(sora_freeze *f, uint8_t *const data[4], const int linesize[4], double pts_sec)
{
	f->frames++;
	if (!f->have_ref) {
		set_ref(f, data, linesize, pts_sec);
		return;
	}
	uint64_t sad = 0, count = 0;
	for (int p = 0; p < f->planes; p++) {
		sad += plane_sad(f, p, data[p], linesize[p]);
		count += (uint64_t)f->width[p] * (uint64_t)f->height[p];
	}
	int frozen = (double)sad / (double)count / (double)(1ULL << f->depth) <= f->noise;
	/* Timestamps going backwards: FFmpeg falls back to frame counts; the run is not reported. */
	int64_t duration = pts_sec >= f->ref_pts ? llrint((pts_sec - f->ref_pts) * 1e6) : 0;
	if (duration >= f->duration_us)
		f->reported = 1;
	if (frozen) {
		f->run++;
		return;
	}
	if (f->reported)
		f->flagged += f->run;
	set_ref(f, data, linesize, pts_sec);
}

double sora_freeze_ratio(const sora_freeze *f)
{
	if (!f || !f->frames)
		return 0;
	return (double)(f->flagged + (f->reported ? f->run : 0)) / (double)f->frames;
}
