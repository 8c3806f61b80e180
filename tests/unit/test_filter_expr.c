#include "score/filter_expr.h"
#include "util/number.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

static const char *cols[] = {"path", "aes", "num_frames", "text", "fps", "my col", "b"};

/* Compiles src against cols and evaluates it on one row. */
static int eval_on(const char *src, const char *const *row, sora_err *e)
{
	sora_fields header = {0};
	for (size_t i = 0; i < sizeof cols / sizeof *cols; i++)
		cr_assert_eq(sora_fields_push(&header, cols[i], strlen(cols[i])), 0);
	sora_filter_expr *x;
	cr_assert_eq(sora_filter_parse(&x, src, e), 0, "%s: %s", src, e->msg);
	cr_assert_eq(sora_filter_bind(x, &header, e), 0, "%s: %s", src, e->msg);
	int rc = sora_filter_eval(x, (char *const *)row, e);
	sora_filter_free(x);
	sora_fields_free(&header);
	return rc;
}

static const char *const row[] = {"/v/a.mp4", "4.75", "49", "a cat, \"quoted\"", "29.97", "x y", "4.75"};

Test(filter_expr, comparisons)
{
	sora_err e;
	const struct {
		const char *src;
		int want;
	} cases[] = {
	    {"aes >= 4.5", 1},
	    {"aes > 4.75", 0},
	    {"aes >= 4.75", 1},
	    {"aes == 4.750", 1},
	    {"aes != 4.75", 0},
	    {"aes < 5", 1},
	    {"aes <= -1", 0},
	    {"num_frames >= 49", 1},
	    {"num_frames > 4.9e1", 0},
	    {"1 < 2", 1},
	    {"text != \"\"", 1},
	    {"text == 'a cat, \"quoted\"'", 1},
	    {"text == \"a cat, \\\"quoted\\\"\"", 1},
	    {"path > \"/v\"", 1},
	    {"path < \"/v\"", 0},
	    {"aes == b", 1},
	    {"fps > aes", 1},
	    {"`my col` == \"x y\"", 1},
	    {"aes >= 4.5 && num_frames >= 49", 1},
	    {"aes >= 5 || num_frames >= 49", 1},
	    {"aes >= 5 || num_frames > 49", 0},
	    {"!(aes >= 5)", 1},
	    {"!!(aes >= 5)", 0},
	    {"!aes >= 5", 1},
	    {"aes >= 5 || num_frames >= 49 && fps < 30", 1},
	    {"(aes >= 5 || num_frames >= 49) && fps > 30", 0},
	    {"  ( ( aes>=4.5 ) )  ", 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		cr_expect_eq(eval_on(cases[i].src, row, &e), cases[i].want, "%s", cases[i].src);
}

Test(filter_expr, and_binds_tighter_than_or)
{
	sora_err e;
	/* false || true && false = false; (false || true) && false would also be false, so: */
	cr_expect_eq(eval_on("aes > 1 || aes > 9 && aes > 9", row, &e), 1);
}

static void expect_syntax_error(const char *src, const char *needle)
{
	sora_err e;
	sora_filter_expr *x;
	cr_expect_lt(sora_filter_parse(&x, src, &e), 0, "'%s' parsed", src);
	cr_expect(strstr(e.msg, needle), "'%s': message '%s' lacks '%s'", src, e.msg, needle);
}

Test(filter_expr, malformed_expressions)
{
	expect_syntax_error("", "found the end");
	expect_syntax_error("aes", "expected a comparison");
	expect_syntax_error("aes >=", "found the end");
	expect_syntax_error("aes = 4", "'=' is written '=='");
	expect_syntax_error("aes >= 4 &&", "found the end");
	expect_syntax_error("aes >= 4 & x > 1", "expected && || or the end");
	expect_syntax_error("(aes >= 4", "expected ')'");
	expect_syntax_error("aes >= 4)", "expected && || or the end");
	expect_syntax_error("text == \"open", "unterminated string");
	expect_syntax_error("`open >= 1", "unterminated `name`");
	expect_syntax_error("aes >= 4..5", "expected a number");
	expect_syntax_error("aes >= 0x10", "at column 9");
	expect_syntax_error("1 == \"1\"", "compares a number with a string");
	expect_syntax_error("aes >= 1e999", "expected a number");
	expect_syntax_error("!= 3", "expected a value");
	expect_syntax_error("aes >= 4 aes", "expected && || or the end");
}

Test(filter_expr, unknown_column_named_at_bind)
{
	sora_err e;
	sora_filter_expr *x;
	sora_fields header = {0};
	cr_assert_eq(sora_fields_push(&header, "aes", 3), 0);
	cr_assert_eq(sora_filter_parse(&x, "aes > 1 && flow > 2", &e), 0);
	cr_expect_lt(sora_filter_bind(x, &header, &e), 0);
	cr_expect(strstr(e.msg, "no column 'flow'"), "%s", e.msg);
	sora_filter_free(x);
	sora_fields_free(&header);
}

Test(filter_expr, hostile_values_reject_the_row)
{
	sora_err e;
	const char *bad[] = {"",      "abc",    "nan", "inf", "-inf",    "0x10",
			     "1e999", "4.5abc", "1,5", " ",   "\xff\xfe"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		const char *r[] = {"/v/a.mp4", bad[i], "49", "t", "30", "x", "1"};
		cr_expect_eq(eval_on("aes >= 4.5", r, &e), -1, "'%s'", bad[i]);
		cr_expect(strstr(e.msg, "aes >= 4.5: column 'aes' is not a number"), "%s", e.msg);
	}
	/* A string comparison needs no number; two non-numeric columns compare as strings. */
	const char *r[] = {"/v/a.mp4", "abc", "49", "abc", "30", "x", "1"};
	cr_expect_eq(eval_on("aes == \"abc\"", r, &e), 1);
	cr_expect_eq(eval_on("aes == text", r, &e), 1);
	/* Spaces around a number are allowed, as pandas reads them. */
	const char *sp[] = {"/v/a.mp4", " 4.75 ", "49", "t", "30", "x", "1"};
	cr_expect_eq(eval_on("aes >= 4.5", sp, &e), 1);
	/* Short-circuit: the bad value is never needed. */
	const char *r2[] = {"/v/a.mp4", "abc", "10", "t", "30", "x", "1"};
	cr_expect_eq(eval_on("num_frames > 49 && aes > 1", r2, &e), 0);
}

Test(filter_expr, long_and_deep_expressions)
{
	sora_err e;
	char src[8192] = "";
	for (int i = 0; i < 500; i++)
		strcat(src, "(");
	strcat(src, "aes > 1");
	for (int i = 0; i < 500; i++)
		strcat(src, ")");
	cr_expect_eq(eval_on(src, row, &e), 1);
	/* Deeper than any real filter: an error, not a stack overflow. */
	static char deep[300000];
	memset(deep, '(', 100000);
	strcat(deep, "aes > 1");
	memset(deep + strlen(deep), ')', 100000);
	expect_syntax_error(deep, "nested too deeply");
	memset(deep, '!', 200000);
	deep[200000] = 0;
	strcat(deep, "aes > 1");
	expect_syntax_error(deep, "nested too deeply");
}

Test(filter_expr, numbers)
{
	double x;
	cr_expect(sora_parse_number("4.5", &x) && x == 4.5);
	cr_expect(sora_parse_number(" -1e-3 ", &x) && x == -1e-3);
	cr_expect(sora_parse_number(".5", &x) && x == 0.5);
	cr_expect(sora_parse_number("5.", &x) && x == 5);
	cr_expect(sora_parse_number("+7", &x) && x == 7);
	const char *bad[] = {"",      " ",   ".",   "-",   "e5",    "1e", "1e+",
			     "0x1p3", "inf", "NaN", "1 2", "1e400", "--1"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		cr_expect_not(sora_parse_number(bad[i], &x), "'%s'", bad[i]);
}
