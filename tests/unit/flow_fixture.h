/* Shared by the test_flow_*.c tests: the video fixtures ($SORA_FIXTURES/video, default
 * ../shared/fixtures/video), skipping with one visible line when they are absent. */
#ifndef TEST_FLOW_FIXTURE_H
#define TEST_FLOW_FIXTURE_H

#include "io/safetensors.h"
#include "util/json.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline const char *flow_fixture(char *buf, size_t n, const char *rel)
{
	const char *fx = getenv("SORA_FIXTURES");
	snprintf(buf, n, "%s/video/%s", fx && *fx ? fx : "../shared/fixtures", rel);
	return buf;
}

/* Skips the test when the fixture file is absent; `say` logs it once where tests/run.sh shows it. */
static inline void flow_need(const char *rel, int say)
{
	char p[1024];
	if (access(flow_fixture(p, sizeof p, rel), R_OK) != 0) {
		if (say)
			cr_log_warn("flow cases skipped: fixtures not found (%s): set SORA_FIXTURES", p);
		cr_skip_test("fixtures not found (%s): set SORA_FIXTURES", p);
	}
}

static inline sora_safetensors *flow_open_st(const char *rel, int say)
{
	char p[1024];
	sora_err e = {0};
	sora_safetensors *st = NULL;
	flow_need(rel, say);
	cr_assert_eq(sora_st_open(&st, flow_fixture(p, sizeof p, rel), &e), 0, "%s", e.msg);
	return st;
}

static inline void flow_open_json(sora_json *j, const char *rel, int say)
{
	char p[1024];
	sora_err e = {0};
	flow_need(rel, say);
	cr_assert_eq(sora_json_load(j, flow_fixture(p, sizeof p, rel), &e), 0, "%s", e.msg);
}

/* Copies handed out by flow_f32, freed when the test process exits. */
static float *flow_copies[512];
static int flow_ncopies;

static inline void flow_free_copies(void)
{
	while (flow_ncopies > 0)
		free(flow_copies[--flow_ncopies]);
}

/* An F32 tensor of the fixture with n elements (n = 0: any), as an aligned copy: a tensor placed after
 * bf16 data in the file may sit at an address that is not a multiple of 4. */
static inline const float *flow_f32(const sora_safetensors *st, const char *name, int64_t n)
{
	const sora_st_tensor *t = sora_st_find(st, name);
	cr_assert(t, "fixture tensor %s missing", name);
	cr_assert_str_eq(t->dtype, "F32", "%s", name);
	if (n)
		cr_assert_eq((int64_t)(t->nbytes / 4), n, "%s: %zu values, expected %lld", name,
			     t->nbytes / 4, (long long)n);
	if (flow_ncopies == 0)
		atexit(flow_free_copies);
	cr_assert_lt(flow_ncopies, 512, "too many fixture tensors in one test");
	float *copy = malloc(t->nbytes ? t->nbytes : 1);
	cr_assert(copy);
	memcpy(copy, t->data, t->nbytes);
	flow_copies[flow_ncopies++] = copy;
	return copy;
}

/* Bit-exact comparison; logs the count of differing values and the largest difference. */
static inline void flow_expect_exact(const char *what, const float *c, const float *ref, int64_t n)
{
	int64_t bad = 0;
	double max_abs = 0;
	for (int64_t i = 0; i < n; i++) {
		if (memcmp(&c[i], &ref[i], sizeof(float)) != 0) {
			bad++;
			double d = fabs((double)c[i] - ref[i]);
			max_abs = d > max_abs ? d : max_abs;
		}
	}
	cr_log_info("%s: %lld values, %lld differ (max abs %.3g)", what, (long long)n, (long long)bad,
		    max_abs);
	cr_expect_eq(bad, 0, "%s: %lld of %lld values differ (max abs %.3g)", what, (long long)bad,
		     (long long)n, max_abs);
}

/* max|c − ref| ≤ tol·max|ref| (the README's bound for sampling); returns the measured ratio. */
static inline double flow_expect_close(const char *what, const float *c, const float *ref, int64_t n,
				       double tol)
{
	double max_abs = 0, max_ref = 0;
	for (int64_t i = 0; i < n; i++) {
		double d = fabs((double)c[i] - ref[i]);
		max_abs = d > max_abs || d != d ? d : max_abs;
		max_ref = fabs(ref[i]) > max_ref ? fabs(ref[i]) : max_ref;
	}
	double rel = max_ref > 0 ? max_abs / max_ref : max_abs;
	cr_log_info("%s: max abs %.3g, max abs / max|ref| %.3g", what, max_abs, rel);
	cr_expect(rel <= tol, "%s: max abs / max|ref| %.3g > %.1g", what, rel, tol);
	return rel;
}

#endif
