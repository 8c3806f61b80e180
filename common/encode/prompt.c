#include "prompt.h"

#include "../util/csv.h"
#include "../util/number.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void sora_map_target_fps(double fps, double fps_max, double *new_fps, int *interval, int *is_int)
{
	*interval = 1;
	*is_int = 0;
	if (isnan(fps)) {
		*new_fps = 0;
		*is_int = 1;
	} else if (fps < fps_max) {
		*new_fps = fps;
	} else {
		*interval = (int)ceil(fps / fps_max);
		*new_fps = floor(fps / *interval);
		*is_int = 1;
	}
}

/* A field as pandas reads it into a float column: empty or "nan" is NaN. */
static int field_number(const char *s, const char *column, double *x, sora_err *e)
{
	if (!s || !*s || !strcasecmp(s, "nan")) {
		*x = NAN;
		return 0;
	}
	if (!sora_parse_number(s, x))
		return SORA_FAIL(e, "%s '%.40s' is not a number", column, s);
	return 0;
}

/* Python's str() of a float: the shortest repr, with ".0" on whole numbers. */
static void py_float(char *buf, double x)
{
	sora_fmt_double(buf, x);
	if (!strpbrk(buf, ".eni"))
		strcat(buf, ".0");
}

int sora_prompt_build(const char *text, const char *fps, const char *motion, double fps_max, char **out,
		      sora_err *e)
{
	double f = NAN, m = NAN, new_fps;
	int interval, is_int;
	char post[128] = "", num[40];
	*out = NULL;
	TRY(field_number(fps, "fps", &f, e));
	TRY(field_number(motion, "score_vmafmotion", &m, e));
	sora_map_target_fps(f, fps_max, &new_fps, &interval, &is_int);
	if (new_fps != 0) {
		if (is_int)
			snprintf(num, sizeof num, "%.0f", new_fps);
		else
			py_float(num, new_fps);
		snprintf(post, sizeof post, " %s FPS", num);
	}
	if (motion && !isnan(m)) {
		CHECK(e, fabs(m) < 1e18, "score_vmafmotion %g is out of range", m);
		size_t k = strlen(post);
		snprintf(post + k, sizeof post - k, "%s%.0f motion score", k ? ", " : " ",
			 trunc(m + 0.5) + 0.0); /* no "-0" */
	}
	if (post[0])
		strcat(post, ".");
	size_t n = strlen(text) + strlen(post) + 1;
	CHECK_ALLOC(e, *out = malloc(n));
	snprintf(*out, n, "%s%s", text, post);
	return 0;
fail:
	return -1;
}
