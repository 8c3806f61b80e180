/* The LAION aesthetic predictor against the official MLP in float64 (aesthetic_io.safetensors) on the
 * published weights, read from $SORA_FIXTURES (default ../shared/fixtures); without them each test skips
 * (fails under CI=true). */
#include "expect.h"
#include "io/safetensors.h"
#include "models/aesthetic.h"

/* $SORA_FIXTURES/aesthetic/NAME; the test ends (skipped, or failed under CI=true) when it is absent. */
static const char *fixture(char *buf, size_t n, const char *name)
{
	char rel[256];
	snprintf(rel, sizeof rel, "aesthetic/%s", name);
	return fixture_path(buf, n, rel);
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
	fixture(pw, sizeof pw, "sac+logos+ava1-l14-linearMSE.safetensors");
	fixture(pio, sizeof pio, "aesthetic_io.safetensors");
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
		char what[64];
		snprintf(what, sizeof what, "aesthetic %s", inputs[i]);
		expect_cmp(what, cmp_each(cmp_f32(got, 8), cmp_f32(want, 8), 1e-5, 0));
	}
	sora_st_close(io);
	sora_aesthetic_free(m);
}

Test(aesthetic, strict_names)
{
	char pio[1024];
	fixture(pio, sizeof pio, "aesthetic_io.safetensors");
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
