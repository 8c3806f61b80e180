/* The training prompt suffix and map_target_fps against what Open-Sora 2.0's TextDataset.getitem makes
 * (the expectations were printed by its own getitem/map_target_fps code on numpy float64 fields, as
 * pandas hands them over). */
#include "encode/prompt.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

static void expect_prompt(const char *fps, const char *motion, const char *want)
{
	sora_err e = {0};
	char *got = NULL;
	cr_assert_eq(sora_prompt_build("a cat", fps, motion, SORA_FPS_MAX, &got, &e), 0, "%s", e.msg);
	cr_expect_str_eq(got, want, "fps %s, motion %s", fps ? fps : "(none)", motion ? motion : "(none)");
	free(got);
}

Test(prompt, open_sora_suffix)
{
	expect_prompt("30", "3.5", "a cat 15 FPS, 4 motion score.");
	expect_prompt("15", "2.49", "a cat 15.0 FPS, 2 motion score.");
	expect_prompt("", "4.5", "a cat 5 motion score.");
	expect_prompt("23.976", "1", "a cat 23.976 FPS, 1 motion score.");
	expect_prompt("0", "-0.7", "a cat 0 motion score.");
	expect_prompt("29.97", "12.5", "a cat 14 FPS, 13 motion score.");
	expect_prompt("0.00001", "0.49999", "a cat 1e-05 FPS, 0 motion score.");
	expect_prompt("120", "nan", "a cat 24 FPS.");
	expect_prompt("24", "7.5", "a cat 24 FPS, 8 motion score.");
	expect_prompt("59.94", "100.2", "a cat 19 FPS, 100 motion score.");
}

Test(prompt, absent_columns)
{
	expect_prompt(NULL, NULL, "a cat");
	expect_prompt("NaN", NULL, "a cat");
	expect_prompt("60", NULL, "a cat 20 FPS.");
	expect_prompt(NULL, "3.2", "a cat 3 motion score.");
}

Test(prompt, map_target_fps)
{
	static const struct {
		double fps, new_fps;
		int interval, is_int;
	} cases[] = {{30, 15, 2, 1},         {60, 20, 3, 1},  {25, 12, 2, 1}, {24, 24, 1, 1},
		     {23.976, 23.976, 1, 0}, {120, 24, 5, 1}, {NAN, 0, 1, 1}, {10, 10, 1, 0}};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		double nf;
		int iv, ii;
		sora_map_target_fps(cases[i].fps, SORA_FPS_MAX, &nf, &iv, &ii);
		cr_expect(nf == cases[i].new_fps && iv == cases[i].interval && ii == cases[i].is_int,
			  "fps %g: got %g/%d/%d", cases[i].fps, nf, iv, ii);
	}
}

Test(prompt, bad_fields)
{
	sora_err e = {0};
	char *got = NULL;
	cr_expect_eq(sora_prompt_build("a cat", "thirty", NULL, SORA_FPS_MAX, &got, &e), -1);
	cr_expect(strstr(e.msg, "fps 'thirty' is not a number"), "%s", e.msg);
	cr_expect_eq(sora_prompt_build("a cat", "30", "inf", SORA_FPS_MAX, &got, &e), -1);
	cr_expect(strstr(e.msg, "score_vmafmotion"), "%s", e.msg);
	cr_expect_null(got);
}
