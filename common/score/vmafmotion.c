#include "vmafmotion.h"

#include <stdlib.h>

/* The blur and SAD loops are the whole cost of a clip after decoding; -O2 leaves them scalar. */
#pragma GCC optimize("O3")

/* FFmpeg's FILTER_5 as lrint(x * 2^15). */
static const int32_t filt[5] = {1785, 8002, 13193, 8002, 1785};

struct sora_vmafmotion {
	int w, h, depth;
	uint16_t *tmp;         /* one row of the vertical pass */
	uint16_t *blur, *prev; /* this frame's and the previous frame's blurred luma, rows packed */
	int32_t *rows;         /* mirrored source row of each vertical tap, 5 per output row */
	int32_t *cols;         /* mirrored source column of each horizontal tap at the borders */
	int64_t n;
	double sum_m, sum_m2, last_m;
};

/* FFmpeg mirrors below 0 as |i| and at n >= size as size - (n - size + 1). */
static int mirror(int i, int size)
{
	i = abs(i);
	return i >= size ? size - (i - size + 1) : i;
}

int sora_vmafmotion_open(sora_vmafmotion **out, int w, int h, int depth, sora_err *e)
{
	sora_vmafmotion *s = NULL;
	*out = NULL;
	/* FFmpeg's mirror needs at least 3 samples each way. */
	CHECK(e, w >= 3 && h >= 3 && w <= 1 << 16 && h <= 1 << 16, "vmafmotion: unsupported size %dx%d", w,
	      h);
	CHECK(e, depth >= 8 && depth <= 16, "vmafmotion: unsupported bit depth %d", depth);
	CHECK_ALLOC(e, s = calloc(1, sizeof *s));
	s->w = w;
	s->h = h;
	s->depth = depth;
	size_t n = (size_t)w * (size_t)h;
	CHECK_ALLOC(e, s->tmp = malloc((size_t)w * sizeof *s->tmp));
	CHECK_ALLOC(e, s->blur = malloc(n * sizeof *s->blur));
	CHECK_ALLOC(e, s->prev = malloc(n * sizeof *s->prev));
	CHECK_ALLOC(e, s->rows = malloc((size_t)h * 5 * sizeof *s->rows));
	CHECK_ALLOC(e, s->cols = malloc((size_t)w * 5 * sizeof *s->cols));
	for (int i = 0; i < h; i++)
		for (int k = 0; k < 5; k++)
			s->rows[(ptrdiff_t)i * 5 + k] = mirror(i - 2 + k, h);
	for (int j = 0; j < w; j++)
		for (int k = 0; k < 5; k++)
			s->cols[(ptrdiff_t)j * 5 + k] = mirror(j - 2 + k, w);
	*out = s;
	return 0;
fail:
	sora_vmafmotion_close(s);
	return -1;
}

void sora_vmafmotion_close(sora_vmafmotion *s)
{
	if (!s)
		return;
	free(s->tmp);
	free(s->blur);
	free(s->prev);
	free(s->rows);
	free(s->cols);
	free(s);
}

/* Vertical pass for output row i, from five mirrored source rows into s->tmp; written per sample type
 * so that the inner loop vectorises. The sum stays below 2^31 up to 16 bits (32767 x 65535). */
#define VROW(name, type)                                                                                     \
	static void name(const sora_vmafmotion *s, const uint8_t *luma, int linesize, int i)                 \
	{                                                                                                    \
		const int32_t *r = s->rows + (ptrdiff_t)i * 5;                                               \
		const type *a = (const type *)(luma + (ptrdiff_t)r[0] * linesize);                           \
		const type *b = (const type *)(luma + (ptrdiff_t)r[1] * linesize);                           \
		const type *c = (const type *)(luma + (ptrdiff_t)r[2] * linesize);                           \
		const type *d = (const type *)(luma + (ptrdiff_t)r[3] * linesize);                           \
		const type *f = (const type *)(luma + (ptrdiff_t)r[4] * linesize);                           \
		uint16_t *o = s->tmp;                                                                        \
		for (int j = 0; j < s->w; j++)                                                               \
			o[j] = (uint16_t)((uint32_t)(filt[0] * (a[j] + f[j]) + filt[1] * (b[j] + d[j]) +     \
						     filt[2] * c[j]) >>                                      \
					  s->depth);                                                         \
	}
VROW(vrow8, uint8_t)
VROW(vrow16, uint16_t)

static uint16_t hborder(const sora_vmafmotion *s, const uint16_t *t, int j)
{
	const int32_t *c = s->cols + (ptrdiff_t)j * 5;
	uint32_t sum = 0;
	for (int k = 0; k < 5; k++)
		sum += (uint32_t)(filt[k] * t[c[k]]);
	return (uint16_t)(sum >> 15);
}

/* Horizontal pass of s->tmp into row o. */
static void hrow(const sora_vmafmotion *s, uint16_t *o)
{
	const int w = s->w, right = w - 2 > 2 ? w - 2 : 2;
	const uint16_t *t = s->tmp;
	for (int j = 0; j < 2; j++)
		o[j] = hborder(s, t, j);
	for (int j = 2; j < w - 2; j++)
		o[j] = (uint16_t)((uint32_t)(filt[0] * (t[j - 2] + t[j + 2]) +
					     filt[1] * (t[j - 1] + t[j + 1]) + filt[2] * t[j]) >>
				  15);
	for (int j = right; j < w; j++)
		o[j] = hborder(s, t, j);
}

static uint64_t sad(const uint16_t *a, const uint16_t *b, size_t n)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += (uint32_t)abs((int32_t)a[i] - (int32_t)b[i]);
	return sum;
}

double sora_vmafmotion_push(sora_vmafmotion *s, const uint8_t *luma, int linesize)
{
	/* Row by row, so that the vertical pass's output is one row, still in cache for the horizontal. */
	for (int i = 0; i < s->h; i++) {
		if (s->depth == 8)
			vrow8(s, luma, linesize, i);
		else
			vrow16(s, luma, linesize, i);
		hrow(s, s->blur + (size_t)i * s->w);
	}
	double m = 0;
	if (s->n) {
		/* FFmpeg's normalisation, in the same order of operations so the doubles agree. */
		uint64_t d = sad(s->prev, s->blur, (size_t)s->w * s->h);
		m = (double)(d * 1.0 / ((uint64_t)s->w * s->h << 7));
		s->sum_m2 += m < s->last_m ? m : s->last_m;
	}
	uint16_t *t = s->prev;
	s->prev = s->blur;
	s->blur = t;
	s->n++;
	s->sum_m += m;
	s->last_m = m;
	return m;
}

sora_vmafmotion_result sora_vmafmotion_result_get(const sora_vmafmotion *s)
{
	sora_vmafmotion_result r = {0};
	if (!s || !s->n)
		return r;
	r.frames = s->n;
	r.avg = s->sum_m / (double)s->n;
	/* motion2 of the last frame is its own m. */
	r.score = (r.avg + (s->sum_m2 + s->last_m) / (double)s->n) / 2;
	return r;
}
