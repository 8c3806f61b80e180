#include "aspect.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { D = 16 }; /* AE_SPATIAL_COMPRESSION: VAE 8 × patch 2 */

const char *const sora_aspect_ratio_list[9] = {"2.39:1", "2:1", "16:9", "1.85:1", "9:16",
					       "5:8",    "3:2", "4:3",  "1:1"};

/* "W:H" into its two numbers; 0 when it is not two positive numbers around one colon. */
static int parse_ratio(const char *ratio, double *wr, double *hr)
{
	char *end;
	*wr = strtod(ratio, &end);
	if (end == ratio || *end != ':')
		return 0;
	const char *h = end + 1;
	*hr = strtod(h, &end);
	return end != h && *end == '\0' && *wr > 0 && *hr > 0;
}

double sora_ratio_value(const char *ratio)
{
	double wr, hr;
	return parse_ratio(ratio, &wr, &hr) ? hr / wr : NAN;
}

int sora_resolution_pixels(const char *resolution, int64_t *pixels, sora_err *e)
{
	char name[32];
	size_t n = strcspn(resolution, "_");
	CHECK(e, n > 0 && n < sizeof name, "invalid resolution \"%s\" (expected e.g. 256px or 720p)",
	      resolution);
	memcpy(name, resolution, n);
	name[n] = '\0';
	char *end;
	long size = strtol(name, &end, 10);
	CHECK(e, end != name && size > 0 && size < 100000 && (!strcmp(end, "px") || !strcmp(end, "p")),
	      "invalid resolution \"%s\" (expected e.g. 256px or 720p)", resolution);
	if (!strcmp(end, "px"))
		*pixels = (int64_t)size * size;
	else
		*pixels = (int64_t)((double)(size * size) / 9 * 16); /* int(size * size / 9 * 16) */
	return 0;
fail:
	return -1;
}

const sora_ar_entry *sora_ar_find(const sora_ar_dict *d, const char *ratio)
{
	for (int i = 0; i < d->n; i++)
		if (!strcmp(d->e[i].name, ratio))
			return &d->e[i];
	return NULL;
}

/* dict[name] = (h, w): replaces in place or appends, as a Python dict does. */
static void ar_set(sora_ar_dict *d, const char *name, int h, int w)
{
	sora_ar_entry *x = (sora_ar_entry *)sora_ar_find(d, name);
	if (!x) {
		x = &d->e[d->n++];
		snprintf(x->name, sizeof x->name, "%s", name);
	}
	x->h = h;
	x->w = w;
}

static int64_t absdiff(int64_t a, int64_t b)
{
	return a > b ? a - b : b - a;
}

void sora_aspect_ratios(sora_ar_dict *d, int64_t total_pixels, int training)
{
	sora_ar_dict vertical = {0};
	d->n = 0;
	for (int i = 0; i < 9; i++) {
		const char *ratio = sora_aspect_ratio_list[i];
		double wr = 1, hr = 1;
		parse_ratio(ratio, &wr, &hr); /* the list's names always parse */
		/* int(sqrt(...) // D) * D and int((total / width) // D) * D: a float floor division */
		int64_t width = (int64_t)floor(sqrt((double)total_pixels * (wr / hr)) / D) * D;
		int64_t height = (int64_t)floor((double)total_pixels / (double)width / D) * D;
		if (training) {
			int64_t diff = absdiff(height * width, total_pixels);
			const int64_t cand[4][2] = {{height - D, width},
						    {height + D, width},
						    {height, width - D},
						    {height, width + D}};
			for (int c = 0; c < 4; c++) {
				int64_t ch = cand[c][0], cw = cand[c][1];
				if (absdiff(ch * cw, total_pixels) < diff) {
					height = ch;
					width = cw;
					diff = absdiff(ch * cw, total_pixels);
				}
			}
		}
		int dup = 0;
		for (int k = 0; k < d->n; k++)
			dup |= d->e[k].h == height && d->e[k].w == width;
		if (dup && training)
			continue;
		ar_set(d, ratio, (int)height, (int)width);
		const char *colon = strchr(ratio, ':');
		char flipped[16];
		snprintf(flipped, sizeof flipped, "%s:%.*s", colon + 1, (int)(colon - ratio), ratio);
		ar_set(&vertical, flipped, (int)width, (int)height);
	}
	for (int k = 0; k < vertical.n; k++)
		ar_set(d, vertical.e[k].name, vertical.e[k].h, vertical.e[k].w);
}

int sora_resolution_table(const char *resolution, int64_t *pixels, sora_ar_dict *d, sora_err *e)
{
	TRY(sora_resolution_pixels(resolution, pixels, e));
	sora_aspect_ratios(d, *pixels, 1);
	const char *setting = strchr(resolution, '_');
	if (!setting)
		return 0;
	setting++;
	int keep = -1;
	if (!strcmp(setting, "max")) {
		keep = 0;
		for (int i = 1; i < d->n; i++)
			if ((int64_t)d->e[i].h * d->e[i].w > (int64_t)d->e[keep].h * d->e[keep].w)
				keep = i;
	} else {
		CHECK(e, !strncmp(setting, "ar", 2),
		      "resolution \"%s\": invalid setting \"%s\" (max or arW:H)", resolution, setting);
		const sora_ar_entry *x = sora_ar_find(d, setting + 2);
		CHECK(e, x, "resolution \"%s\": aspect ratio %s not found", resolution, setting + 2);
		keep = (int)(x - d->e);
	}
	d->e[0] = d->e[keep];
	d->n = 1;
	return 0;
fail:
	return -1;
}

const char *sora_closest_ratio(double height, double width, const sora_ar_dict *d)
{
	double r = height / width, best = INFINITY;
	const char *name = NULL;
	for (int i = 0; i < d->n; i++) {
		double dist = fabs(r - sora_ratio_value(d->e[i].name));
		if (dist < best) {
			best = dist;
			name = d->e[i].name;
		}
	}
	return name;
}

int sora_image_size(const char *resolution, const char *ratio, int training, int *h, int *w, sora_err *e)
{
	int64_t px;
	sora_ar_dict d;
	TRY(sora_resolution_pixels(resolution, &px, e));
	sora_aspect_ratios(&d, px, training);
	const sora_ar_entry *x = sora_ar_find(&d, ratio);
	if (!x) {
		char names[SORA_AR_MAX * 16] = "";
		for (int i = 0; i < d.n; i++)
			snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? " " : "",
				 d.e[i].name);
		return SORA_FAIL(e, "aspect ratio \"%s\" not found for %s (%s): %s", ratio, resolution,
				 training ? "training" : "inference", names);
	}
	*h = x->h;
	*w = x->w;
	return 0;
fail:
	return -1;
}

int sora_sampling_size(const char *resolution, const char *ratio, int *h, int *w, sora_err *e)
{
	if (resolution || ratio) {
		CHECK(e, resolution && ratio, "both a resolution and an aspect ratio must be given");
		TRY(sora_image_size(resolution, ratio, 0, h, w, e));
	}
	CHECK(e, *h > 0 && *w > 0, "height and width must be positive, got %dx%d", *h, *w);
	*h = (*h + 15) / 16 * 16;
	*w = (*w + 15) / 16 * 16;
	return 0;
fail:
	return -1;
}
