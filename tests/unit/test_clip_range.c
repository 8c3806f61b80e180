#include "util/clip_range.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

static void fields(sora_fields *f, const char *const *v, int n)
{
	memset(f, 0, sizeof *f);
	for (int i = 0; i < n; i++)
		sora_fields_push(f, v[i], strlen(v[i]));
}

static int range(const char *const *hdr, const char *const *row, int n, double *s, double *e, sora_err *err)
{
	sora_fields h, r;
	sora_range_cols c;
	fields(&h, hdr, n);
	fields(&r, row, n);
	sora_range_cols_find(&c, &h);
	int rc = sora_row_range(&c, &r, s, e, err);
	sora_fields_free(&h);
	sora_fields_free(&r);
	return rc;
}

Test(clip_range, range_of_the_path_itself)
{
	const char *h[] = {"path", "start_sec", "end_sec"};
	const char *r1[] = {"a.mp4", "1.5", "4"}, *r2[] = {"a.mp4", "", ""};
	double s, e;
	sora_err err = {0};
	cr_assert_eq(range(h, r1, 3, &s, &e, &err), 0);
	cr_assert_float_eq(s, 1.5, 0);
	cr_assert_float_eq(e, 4.0, 0);
	cr_assert_eq(range(h, r2, 3, &s, &e, &err), 0);
	cr_assert(s == 0 && isinf(e));
}

Test(clip_range, a_cut_clip_is_read_whole)
{
	const char *h[] = {"path", "source", "start_sec", "end_sec"};
	const char *cut[] = {"clips/a-0001.mp4", "a.mp4", "3", "6"}, *same[] = {"a.mp4", "a.mp4", "3", "6"};
	double s, e;
	sora_err err = {0};
	cr_assert_eq(range(h, cut, 4, &s, &e, &err), 0);
	cr_assert(s == 0 && isinf(e));
	cr_assert_eq(range(h, same, 4, &s, &e, &err), 0);
	cr_assert(s == 3 && e == 6);
}

Test(clip_range, bad_ranges_are_errors)
{
	const char *h[] = {"path", "start_sec", "end_sec"};
	const char *bad[][3] = {{"a", "x", ""}, {"a", "-1", ""}, {"a", "5", "5"}, {"a", "1", "nan"}};
	for (int i = 0; i < 4; i++) {
		double s, e;
		sora_err err = {0};
		cr_assert_lt(range(h, bad[i], 3, &s, &e, &err), 0, "%s %s", bad[i][1], bad[i][2]);
		cr_assert(err.msg[0]);
	}
}
