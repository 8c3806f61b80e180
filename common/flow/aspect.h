/* Open-Sora's resolution and aspect-ratio tables (opensora/datasets/aspect.py), computed as the reference
 * computes them rather than stored: a table is the ordered dict that get_aspect_ratios_dict returns, with
 * the same keys in the same order, so that ties in get_closest_ratio fall the same way.
 *
 * Names: a resolution is "256px" (256² pixels) or "720p" (720²·16/9 pixels), optionally "_max" (only the
 * largest shape) or "_ar16:9" (only that ratio); a ratio is "W:H" (e.g. "16:9", "1:2.39"). Sizes are
 * (height, width) pairs, multiples of 16 (the VAE's 8 × the patch 2). */
#ifndef SORA_FLOW_ASPECT_H
#define SORA_FLOW_ASPECT_H

#include "../util/err.h"

#include <stdint.h>

#define SORA_AR_MAX 32

typedef struct sora_ar_entry {
	char name[16];
	int h, w;
} sora_ar_entry;

typedef struct sora_ar_dict {
	int n;
	sora_ar_entry e[SORA_AR_MAX];
} sora_ar_dict;

/* The ratios get_aspect_ratios_dict walks, landscape first ("2.39:1", ..., "1:1"). */
extern const char *const sora_aspect_ratio_list[9];

/* get_num_pexels_from_name: "256px" → 65536, "720p" → 921600 (a "_setting" suffix is ignored). */
int sora_resolution_pixels(const char *resolution, int64_t *pixels, sora_err *e);
/* get_aspect_ratios_dict(total_pixels, training): training nudges each shape ±16 toward the pixel budget
 * and drops shapes already present. */
void sora_aspect_ratios(sora_ar_dict *d, int64_t total_pixels, int training);
/* get_resolution_with_aspect_ratio(resolution): the training table, narrowed by "_max" or "_arW:H". */
int sora_resolution_table(const char *resolution, int64_t *pixels, sora_ar_dict *d, sora_err *e);
/* The entry of d named ratio, or NULL. */
const sora_ar_entry *sora_ar_find(const sora_ar_dict *d, const char *ratio);
/* get_ratio("W:H") = H / W. */
double sora_ratio_value(const char *ratio);
/* get_closest_ratio(height, width, d): the first name whose H/W is nearest to height/width. */
const char *sora_closest_ratio(double height, double width, const sora_ar_dict *d);
/* get_image_size(resolution, ratio, training); a ratio the table lacks (training drops duplicates, e.g.
 * 256px "1.85:1") is an error naming it and the ratios there are. */
int sora_image_size(const char *resolution, const char *ratio, int training, int *h, int *w, sora_err *e);
/* sanitize_sampling_option: the inference size of (resolution, ratio), each side rounded up to a multiple
 * of 16; with resolution NULL, *h and *w are given and only rounded. */
int sora_sampling_size(const char *resolution, const char *ratio, int *h, int *w, sora_err *e);

#endif
