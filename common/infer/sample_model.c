#include "sample_model.h"

#include "../flow/pack.h"
#include "../util/log.h"
#include "../util/progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sora_sample_model_init(sora_sample_model *s, sora_mmdit *m, int n, int64_t Lt, const float *txt,
			   int64_t txt_dim, const float *y_vec, int64_t y_dim, int T, int h, int w,
			   sora_err *e)
{
	const sora_mmdit_config *c = &m->cfg;
	memset(s, 0, sizeof *s);
	CHECK(e, txt && y_vec, "model: the text states and pooled vectors are required");
	CHECK(e, txt_dim == c->context_in_dim, "model: text states are %lld wide, the MMDiT takes %d",
	      (long long)txt_dim, c->context_in_dim);
	CHECK(e, y_dim == c->vec_in_dim, "model: pooled text vectors are %lld wide, the MMDiT takes %d",
	      (long long)y_dim, c->vec_in_dim);
	CHECK(e, c->cond_embed,
	      "model: this MMDiT has no cond_in (a FLUX-layout checkpoint): it cannot run "
	      "Open-Sora's video sampler");
	CHECK(e, Lt > 0 && Lt <= 1 << 20, "model: %lld text tokens", (long long)Lt);
	const int64_t L = (int64_t)T * h * w;
	s->m = m;
	s->n = n;
	s->Lt = Lt;
	s->txt = txt;
	s->y_vec = y_vec;
	s->T = T, s->h = h, s->w = w;
	CHECK_ALLOC(e, s->img_ids = malloc((size_t)(n * L * 3) * sizeof *s->img_ids));
	CHECK_ALLOC(e, s->txt_ids = calloc((size_t)(n * Lt * 3), sizeof *s->txt_ids));
	CHECK_ALLOC(e, s->ts = malloc((size_t)n * sizeof *s->ts));
	sora_img_ids(s->img_ids, n, T, h, w);
	return 0;
fail:
	sora_sample_model_free(s);
	return -1;
}

void sora_sample_model_free(sora_sample_model *s)
{
	free(s->img_ids);
	free(s->txt_ids);
	free(s->ts);
	s->img_ids = s->txt_ids = s->ts = NULL;
}

int sora_sample_model_call(void *ctx, int step, int n, float t, const float *img, const float *cond,
			   float *pred, sora_err *e)
{
	sora_sample_model *s = ctx;
	CHECK(e, n == s->n, "model: called with %d rows, the text batch has %d", n, s->n);
	const double t0 = sora_now();
	if (step == 0)
		s->t0 = t0;
	for (int i = 0; i < n; i++)
		s->ts[i] = t;
	const sora_mmdit_input in = {.B = n,
				     .L = (int)((int64_t)s->T * s->h * s->w),
				     .Lt = (int)s->Lt,
				     .img = img,
				     .img_ids = s->img_ids,
				     .txt = s->txt,
				     .txt_ids = s->txt_ids,
				     .timesteps = s->ts,
				     .y_vec = s->y_vec,
				     .cond = cond};
	if (sora_mmdit_forward(s->m, &in, pred, NULL, e) < 0) {
		sora_err_prefix(e, "step %d: ", step);
		return -1;
	}
	const double now = sora_now();
	s->last_call = now - t0;
	if (!s->quiet && s->num_steps > 0) {
		const double per = (now - s->t0) / (step + 1);
		fprintf(stderr, "%s: step %d/%d  t=%.4f  %.2f s/step  ETA %.0f s\n", sora_log_prog(),
			step + 1, s->num_steps, t, per, per * (s->num_steps - step - 1));
	}
	return 0;
fail:
	return -1;
}
