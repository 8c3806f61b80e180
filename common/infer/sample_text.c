#include "sample_text.h"

#include <stdlib.h>
#include <string.h>

int sora_sample_text_load(sora_sample_text *x, const char *t5_dir, const char *clip_dir, sora_err *e)
{
	memset(x, 0, sizeof *x);
	if (sora_t5_load_dir(&x->t5, t5_dir, e) < 0) {
		sora_err_prefix(e, "T5 %s: ", t5_dir);
		goto fail;
	}
	x->have_t5 = 1;
	if (sora_t5_tok_load(&x->t5_tok, t5_dir, e) < 0) {
		sora_err_prefix(e, "T5 tokenizer %s: ", t5_dir);
		goto fail;
	}
	if (sora_clip_text_load_dir(&x->clip, clip_dir, e) < 0) {
		sora_err_prefix(e, "CLIP %s: ", clip_dir);
		goto fail;
	}
	x->have_clip = 1;
	if (sora_clip_tok_load(&x->clip_tok, clip_dir, e) < 0) {
		sora_err_prefix(e, "CLIP tokenizer %s: ", clip_dir);
		goto fail;
	}
	CHECK(e, x->clip.cfg.max_positions >= SORA_CLIP_MAX_LENGTH,
	      "CLIP %s: %d positions, the sampler pads to %d tokens", clip_dir, x->clip.cfg.max_positions,
	      SORA_CLIP_MAX_LENGTH);
	return 0;
fail:
	sora_sample_text_free(x);
	return -1;
}

void sora_sample_text_free(sora_sample_text *x)
{
	if (x->have_t5)
		sora_t5_free(&x->t5);
	if (x->have_clip)
		sora_clip_text_free(&x->clip);
	sora_t5_tok_free(x->t5_tok);
	sora_clip_tok_free(x->clip_tok);
	memset(x, 0, sizeof *x);
}

int sora_sample_text_dim(const sora_sample_text *x)
{
	return x->t5.cfg.d_model;
}

int sora_sample_vec_dim(const sora_sample_text *x)
{
	return x->clip.cfg.hidden;
}

int sora_sample_text_encode(const sora_sample_text *x, const char *const *texts, int n, float *txt,
			    float *y_vec, sora_err *e)
{
	const int L = SORA_T5_MAX_LENGTH, Lc = SORA_CLIP_MAX_LENGTH, D = x->t5.cfg.d_model;
	int ids[SORA_T5_MAX_LENGTH], used;
	int32_t ids32[SORA_T5_MAX_LENGTH];
	float *hidden = NULL;
	sora_arena scratch = {0}; /* both models' activations, reused text after text */
	CHECK_ALLOC(e, hidden = malloc((size_t)Lc * x->clip.cfg.hidden * sizeof *hidden));
	for (int i = 0; i < n; i++) {
		TRY(sora_t5_tok_encode(x->t5_tok, texts[i], L, ids, &used, e));
		for (int j = 0; j < L; j++) {
			CHECK(e, ids[j] >= 0 && ids[j] < x->t5.cfg.vocab_size,
			      "T5: token id %d outside the model's vocabulary of %d", ids[j],
			      x->t5.cfg.vocab_size);
			ids32[j] = ids[j];
		}
		TRY(sora_t5_forward(&x->t5, &scratch, ids32, NULL, 1, L, txt + (size_t)i * L * D, e));
		TRY(sora_clip_tok_encode(x->clip_tok, texts[i], Lc, ids, &used, e));
		for (int j = 0; j < Lc; j++) {
			CHECK(e, ids[j] >= 0 && ids[j] < x->clip.cfg.vocab_size,
			      "CLIP: token id %d outside the model's vocabulary of %d", ids[j],
			      x->clip.cfg.vocab_size);
			ids32[j] = ids[j];
		}
		TRY(sora_clip_text_forward(&x->clip, &scratch, ids32, NULL, 1, Lc, hidden,
					   y_vec + (size_t)i * x->clip.cfg.hidden, e));
	}
	sora_arena_free(&scratch);
	free(hidden);
	return 0;
fail:
	sora_arena_free(&scratch);
	free(hidden);
	return -1;
}
