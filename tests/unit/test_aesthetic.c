/* The LAION aesthetic predictor against the official MLP in float64 (aesthetic_io.safetensors) on the
 * published weights, read from $SORA_FIXTURES (default ../shared/fixtures); skips, saying so, without. */
#include "io/safetensors.h"
#include "models/aesthetic.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *fixture(char *buf, size_t n, const char *rel)
{
	const char *fx = getenv("SORA_FIXTURES");
	snprintf(buf, n, "%s/aesthetic/%s", fx && *fx ? fx : "../shared/fixtures", rel);
	return buf;
}

static void need(const char *p)
{
	if (access(p, R_OK) != 0) {
		cr_log_warn("aesthetic test skipped: fixtures not found (%s): set SORA_FIXTURES", p);
		cr_skip_test("fixtures not found (%s): set SORA_FIXTURES", p);
	}
}

static const float *tensor(const sora_safetensors *st, const char *name, int rows, int cols)
{
	const sora_st_tensor *t = sora_st_find(st, name);
	cr_assert(t, "%s missing", name);
	cr_assert(t->ndim == 2 && t->shape[0] == rows && t->shape[1] == cols, "%s shape", name);
	return t->data;
}

/* Both the raw and the already normalised embeddings must give the float64 scores within 1e-5. */
Test(aesthetic, matches_the_official_mlp)
{
	char pw[1024], pio[1024];
	need(fixture(pw, sizeof pw, "sac+logos+ava1-l14-linearMSE.safetensors"));
	need(fixture(pio, sizeof pio, "aesthetic_io.safetensors"));
	sora_aesthetic *m;
	sora_safetensors *io;
	sora_err e = {0};
	char *report = NULL;
	cr_assert_eq(sora_aesthetic_load(&m, pw, &report, &e), 0, "%s\n%s", e.msg, report ? report : "");
	cr_assert_eq(sora_aesthetic_dim(m), 768);
	cr_assert_eq(sora_st_open(&io, pio, &e), 0, "%s", e.msg);
	const float *want = tensor(io, "score_f64_as_f32", 8, 1);
	const char *inputs[] = {"image_embeds_raw", "image_embeds_l2"};
	for (int i = 0; i < 2; i++) {
		float got[8];
		cr_assert_eq(sora_aesthetic_score(m, tensor(io, inputs[i], 8, 768), 8, got, &e), 0, "%s",
			     e.msg);
		double worst = 0;
		for (int r = 0; r < 8; r++)
			worst = fmax(worst, fabs((double)got[r] - want[r]));
		cr_log_info("aesthetic %s: max |error| %.3g", inputs[i], worst);
		cr_assert(worst <= 1e-5, "%s: max |error| %.3g > 1e-5", inputs[i], worst);
	}
	sora_st_close(io);
	sora_aesthetic_free(m);
}

Test(aesthetic, strict_names)
{
	char pio[1024];
	need(fixture(pio, sizeof pio, "aesthetic_io.safetensors"));
	sora_aesthetic *m = NULL;
	sora_err e = {0};
	char *report = NULL;
	cr_assert_lt(sora_aesthetic_load(&m, pio, &report, &e), 0);
	cr_assert_null(m);
	cr_assert(report && strstr(report, "missing 'layers.0.weight'") &&
		      strstr(report, "unexpected 'score_f32'"),
		  "%s", report ? report : e.msg);
	free(report);
}
