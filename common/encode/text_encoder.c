#include "text_encoder.h"

#include <stdlib.h>
#include <string.h>

int sora_text_encoder_load(sora_text_encoder *te, const char *t5_dir, const char *clip_dir, int max_batch,
			   sora_err *e)
{
	memset(te, 0, sizeof *te);
	te->t5_len = SORA_T5_MAX_LENGTH;
	te->clip_len = SORA_CLIP_MAX_LENGTH;
	te->max_batch = max_batch;
	TRY(sora_t5_tok_load(&te->t5_tok, t5_dir, e));
	TRY(sora_clip_tok_load(&te->clip_tok, clip_dir, e));
	TRY(sora_t5_load_dir(&te->t5, t5_dir, e));
	TRY(sora_clip_text_load_dir(&te->clip, clip_dir, e));
	CHECK(e, te->clip.cfg.max_positions >= te->clip_len, "%s: CLIP has %d positions, Open-Sora uses %d",
	      clip_dir, te->clip.cfg.max_positions, te->clip_len);
	const size_t B = (size_t)max_batch, D = (size_t)te->t5.cfg.d_model, C = (size_t)te->clip.cfg.hidden;
	CHECK_ALLOC(e, te->t5_ids = calloc(B * (size_t)te->t5_len, sizeof *te->t5_ids));
	CHECK_ALLOC(e, te->clip_ids = calloc(B * (size_t)te->clip_len, sizeof *te->clip_ids));
	CHECK_ALLOC(e, te->scratch = calloc((size_t)te->t5_len + te->clip_len + 2, sizeof *te->scratch));
	CHECK_ALLOC(e, te->t5_out = malloc(B * (size_t)te->t5_len * D * sizeof *te->t5_out));
	CHECK_ALLOC(e, te->clip_hidden = malloc(B * (size_t)te->clip_len * C * sizeof *te->clip_hidden));
	CHECK_ALLOC(e, te->clip_pooled = malloc(B * C * sizeof *te->clip_pooled));
	return 0;
fail:
	sora_text_encoder_free(te);
	return -1;
}

void sora_text_encoder_free(sora_text_encoder *te)
{
	sora_t5_tok_free(te->t5_tok);
	sora_clip_tok_free(te->clip_tok);
	sora_t5_free(&te->t5);
	sora_clip_text_free(&te->clip);
	free(te->t5_ids);
	free(te->clip_ids);
	free(te->scratch);
	free(te->t5_out);
	free(te->clip_hidden);
	free(te->clip_pooled);
	sora_arena_free(&te->activations);
	memset(te, 0, sizeof *te);
}

int sora_text_encoder_tokenize(sora_text_encoder *te, int b, const char *prompt, sora_prompt_tokens *tok,
			       sora_err *e)
{
	int *t5 = te->t5_ids + (size_t)b * te->t5_len, *clip = te->clip_ids + (size_t)b * te->clip_len, n,
	    more;
	CHECK(e, b >= 0 && b < te->max_batch, "batch slot %d of %d", b, te->max_batch);
	TRY(sora_t5_tok_encode(te->t5_tok, prompt, te->t5_len, t5, &tok->t5, e));
	TRY(sora_clip_tok_encode(te->clip_tok, prompt, te->clip_len, clip, &n, e));
	/* A prompt that fills every position may have been cut: one more position tells. */
	tok->t5_cut = tok->clip_cut = 0;
	if (tok->t5 == te->t5_len) {
		TRY(sora_t5_tok_encode(te->t5_tok, prompt, te->t5_len + 1, te->scratch, &more, e));
		tok->t5_cut = more > te->t5_len;
	}
	if (n == te->clip_len) {
		TRY(sora_clip_tok_encode(te->clip_tok, prompt, te->clip_len + 1, te->scratch, &more, e));
		tok->clip_cut = more > te->clip_len;
	}
	return 0;
fail:
	return -1;
}

int sora_text_encoder_run(sora_text_encoder *te, int B, sora_err *e)
{
	CHECK(e, B > 0 && B <= te->max_batch, "batch of %d (1 to %d)", B, te->max_batch);
	TRY(sora_t5_forward(&te->t5, &te->activations, te->t5_ids, NULL, B, te->t5_len, te->t5_out, e));
	TRY(sora_clip_text_forward(&te->clip, &te->activations, te->clip_ids, NULL, B, te->clip_len,
				   te->clip_hidden, te->clip_pooled, e));
	return 0;
fail:
	return -1;
}

const float *sora_text_encoder_t5(const sora_text_encoder *te, int b)
{
	return te->t5_out + (size_t)b * te->t5_len * te->t5.cfg.d_model;
}

const float *sora_text_encoder_clip(const sora_text_encoder *te, int b)
{
	return te->clip_pooled + (size_t)b * te->clip.cfg.hidden;
}
