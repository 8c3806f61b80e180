/* The unit tests' side of tests/common/compare.h, and the one way a unit test finds its fixtures. */
#ifndef SORA_TESTS_EXPECT_H
#define SORA_TESTS_EXPECT_H

#include "../common/compare.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Logs the report's figures and expects it to pass; returns it for tests that use the figures. */
static inline cmp_report expect_cmp(const char *what, cmp_report r)
{
	cr_log_info("%s: %s", what, r.msg);
	cr_expect(r.ok, "%s: %s", what, r.msg);
	return r;
}

static inline int running_in_ci(void)
{
	const char *ci = getenv("CI");
	return ci && strcmp(ci, "true") == 0;
}

/* $SORA_FIXTURES/REL (default ../shared/fixtures/REL) into buf. When it cannot be read the test ends:
 * skipped, with the path in tests/run.sh's SKIP line, or failed under CI=true, where a missing fixture
 * folder must not pass as a skip. */
static inline const char *fixture_path(char *buf, size_t n, const char *rel)
{
	const char *fx = getenv("SORA_FIXTURES");
	snprintf(buf, n, "%s/%s", fx && *fx ? fx : "../shared/fixtures", rel);
	if (access(buf, R_OK) == 0)
		return buf;
	if (running_in_ci())
		cr_assert_fail("fixture not found (%s) under CI=true: set SORA_FIXTURES", buf);
	cr_skip_test("fixture not found (%s): set SORA_FIXTURES", buf);
}

#endif
