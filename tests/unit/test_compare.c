/* The comparison every test uses (tests/common/compare.h) fails on what it is meant to catch: NaN and
 * infinities on either side, an all-zero or empty output, counts that differ, a broken bound; and it
 * names the element. */
#include "expect.h"

#include <math.h>

static const float ref[] = {0.5f, -2.0f, 1.0f, 0.25f};

Test(compare, close_output_passes_with_its_figures)
{
	const float got[] = {0.5f, -2.0f + 1e-6f, 1.0f, 0.25f};
	cmp_report r = expect_cmp("close", cmp_rel(cmp_f32(got, 4), cmp_f32(ref, 4), 1e-5));
	cr_assert(r.ok);
	cr_expect_float_eq(r.scale, 2.0, 1e-12);
	cr_expect_eq(r.at, 1);
	cr_expect(r.rel > 0 && r.rel < 1e-5, "rel %g", r.rel);
}

Test(compare, nan_in_the_output_fails_naming_it)
{
	const float got[] = {0.5f, -2.0f, NAN, 0.25f};
	cmp_report r = cmp_rel(cmp_f32(got, 4), cmp_f32(ref, 4), 1e-5);
	cr_assert(!r.ok);
	cr_expect_eq(r.at, 2);
	cr_expect(strstr(r.msg, "element 2") && strstr(r.msg, "output is not finite"), "%s", r.msg);
}

Test(compare, all_nan_output_fails)
{
	const float got[] = {NAN, NAN, NAN, NAN};
	cr_expect(!cmp_rel(cmp_f32(got, 4), cmp_f32(ref, 4), 1e9).ok);
	cr_expect(!cmp_each(cmp_f32(got, 4), cmp_f32(ref, 4), 1e9, 1e9).ok);
	cr_expect(!cmp_exact(cmp_f32(got, 4), cmp_f32(got, 4)).ok, "NaN equals nothing, itself included");
}

Test(compare, nan_or_inf_in_the_reference_fails)
{
	const double want[] = {0.5, -2.0, 1.0, INFINITY};
	cmp_report r = cmp_rel(cmp_f32(ref, 4), cmp_f64(want, 4), 1e-5);
	cr_assert(!r.ok);
	cr_expect_eq(r.at, 3);
	cr_expect(strstr(r.msg, "reference is not finite"), "%s", r.msg);
}

Test(compare, infinity_in_the_output_fails)
{
	const float got[] = {INFINITY, -2.0f, 1.0f, 0.25f};
	cr_expect(!cmp_rel(cmp_f32(got, 4), cmp_f32(ref, 4), 1e30).ok);
}

Test(compare, zeros_fail_against_a_nonzero_reference)
{
	const float zeros[4] = {0};
	cmp_report r = cmp_rel(cmp_f32(zeros, 4), cmp_f32(ref, 4), 1e-2);
	cr_assert(!r.ok);
	cr_expect_eq(r.at, 1, "the worst element is the reference's largest");
	cr_expect_float_eq(r.rel, 1.0, 1e-12);
}

Test(compare, counts_must_match)
{
	cmp_report r = cmp_rel(cmp_f32(ref, 3), cmp_f32(ref, 4), 1);
	cr_assert(!r.ok);
	cr_expect(strstr(r.msg, "got 3 elements, want 4"), "%s", r.msg);
}

Test(compare, nothing_to_compare_fails)
{
	cr_expect(!cmp_rel(cmp_f32(ref, 0), cmp_f32(ref, 0), 1).ok);
	cr_expect(!cmp_exact(cmp_f32(NULL, 4), cmp_f32(ref, 4)).ok);
}

Test(compare, the_bound_is_relative_to_the_reference_max)
{
	/* 1e-3 off at a value of 0.25 is 5e-4 of the reference's max (2): inside 1e-3, outside 1e-4. */
	const float got[] = {0.5f, -2.0f, 1.0f, 0.251f};
	cr_expect(cmp_rel(cmp_f32(got, 4), cmp_f32(ref, 4), 1e-3).ok);
	cmp_report r = cmp_rel(cmp_f32(got, 4), cmp_f32(ref, 4), 1e-4);
	cr_assert(!r.ok);
	cr_expect_eq(r.at, 3);
	cr_expect(strstr(r.msg, "element 3 is 0.250999987"), "%s", r.msg);
}

Test(compare, an_all_zero_reference_makes_the_bound_absolute)
{
	const double zero[2] = {0, 0}, small[2] = {1e-7, 0}, big[2] = {1e-3, 0};
	cr_expect(cmp_rel(cmp_f64(small, 2), cmp_f64(zero, 2), 1e-6).ok);
	cr_expect(!cmp_rel(cmp_f64(big, 2), cmp_f64(zero, 2), 1e-6).ok);
}

Test(compare, each_names_the_worst_element_and_counts_the_others)
{
	const float got[] = {0.6f, -2.0f, 1.3f, 0.25f};
	cmp_report r = cmp_each(cmp_f32(got, 4), cmp_f32(ref, 4), 1e-4, 1e-4);
	cr_assert(!r.ok);
	cr_expect_eq(r.off, 2);
	cr_expect_eq(r.at, 2);
	cr_expect(cmp_each(cmp_f32(got, 4), cmp_f32(ref, 4), 0.31, 0).ok);
}

Test(compare, exact_is_bit_for_bit)
{
	const float a[] = {0.0f, 1.0f}, b[] = {-0.0f, 1.0f};
	const double bd[] = {0.0, 1.0};
	const uint8_t x[] = {1, 2, 3}, y[] = {1, 2, 4};
	cr_expect(cmp_exact(cmp_f32(a, 2), cmp_f32(a, 2)).ok);
	cr_expect(!cmp_exact(cmp_f32(b, 2), cmp_f32(a, 2)).ok, "-0 is not 0");
	cr_expect(cmp_exact(cmp_f32(a, 2), cmp_f64(bd, 2)).ok, "the same values in two types");
	cmp_report r = cmp_exact(cmp_u8(y, 3), cmp_u8(x, 3));
	cr_assert(!r.ok);
	cr_expect_eq(r.at, 2);
	cr_expect_eq(r.off, 1);
}
