/* Shared by the flow and sampling tests: the video fixtures ($SORA_FIXTURES/video, default
 * ../shared/fixtures/video), found through expect.h's fixture_path (a test without them skips, or fails
 * under CI=true), and the fixture's two comparisons over compare.h. */
#ifndef TEST_FLOW_FIXTURE_H
#define TEST_FLOW_FIXTURE_H

#include "expect.h"
#include "io/safetensors.h"
#include "util/json.h"

/* $SORA_FIXTURES/video/REL; the test ends (skipped, or failed under CI=true) when it is absent. */
static inline const char *flow_fixture(char *buf, size_t n, const char *rel)
{
	char video[512];
	snprintf(video, sizeof video, "video/%s", rel);
	return fixture_path(buf, n, video);
}

static inline sora_safetensors *flow_open_st(const char *rel)
{
	char p[1024];
	sora_err e = {0};
	sora_safetensors *st = NULL;
	cr_assert_eq(sora_st_open(&st, flow_fixture(p, sizeof p, rel), &e), 0, "%s", e.msg);
	return st;
}

static inline void flow_open_json(sora_json *j, const char *rel)
{
	char p[1024];
	sora_err e = {0};
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

/* Bit for bit: the fixture's float32 inputs (noise, schedules, packing, ids) are exact. */
static inline cmp_report flow_expect_exact(const char *what, const float *c, const float *ref, int64_t n)
{
	return expect_cmp(what, cmp_exact(cmp_f32(c, (size_t)n), cmp_f32(ref, (size_t)n)));
}

/* max|c − ref| ≤ tol·max|ref| (the README's bound for sampling). */
static inline cmp_report flow_expect_close(const char *what, const float *c, const float *ref, int64_t n,
					   double tol)
{
	return expect_cmp(what, cmp_rel(cmp_f32(c, (size_t)n), cmp_f32(ref, (size_t)n), tol));
}

#endif
