/* Open-Sora 2.0's text conditioning for a batch of prompts: the T5 tokenizer and encoder
 * (last_hidden_state [L = 512, d_model], no attention mask) and the CLIP tokenizer and text tower
 * (pooler_output [hidden]), as opensora/models/text/conditioner.py runs them.
 *
 *     sora_text_encoder te;
 *     TRY(sora_text_encoder_load(&te, "ckpt/t5", "ckpt/clip", 8, e));
 *     for (b = 0; b < B; b++) TRY(sora_text_encoder_tokenize(&te, b, prompt[b], &tok[b], e));
 *     TRY(sora_text_encoder_run(&te, B, e));
 *     ... sora_text_encoder_t5(&te, b) [L, d_model], sora_text_encoder_clip(&te, b) [hidden] ...
 *     sora_text_encoder_free(&te); */
#ifndef SORA_TEXT_ENCODER_H
#define SORA_TEXT_ENCODER_H

#include "../models/clip_text.h"
#include "../models/t5.h"
#include "../models/tokenizer_clip.h"
#include "../models/tokenizer_t5.h"

typedef struct sora_text_encoder {
	sora_t5 t5;
	sora_clip_text clip;
	sora_t5_tok *t5_tok;
	sora_clip_tok *clip_tok;
	int t5_len, clip_len, max_batch;
	int *t5_ids, *clip_ids; /* [max_batch, len] */
	int *scratch;           /* one row of ids, to tell whether a prompt was cut */
	float *t5_out;          /* [max_batch, t5_len, d_model] */
	float *clip_hidden;     /* [max_batch, clip_len, hidden] */
	float *clip_pooled;     /* [max_batch, hidden] */
	sora_arena activations; /* both models' scratch, one after the other */
} sora_text_encoder;

typedef struct sora_prompt_tokens {
	int t5;               /* T5 ids before the padding, </s> included */
	int t5_cut, clip_cut; /* the tokenizer truncated the prompt */
} sora_prompt_tokens;

/* T5 from t5_dir (config.json, model.safetensors, spiece.model), CLIP text from clip_dir (config.json,
 * model.safetensors, vocab.json, merges.txt). */
int sora_text_encoder_load(sora_text_encoder *te, const char *t5_dir, const char *clip_dir, int max_batch,
			   sora_err *e);
void sora_text_encoder_free(sora_text_encoder *te);

/* Tokenizes a UTF-8 prompt into slot b (0 ≤ b < max_batch). */
int sora_text_encoder_tokenize(sora_text_encoder *te, int b, const char *prompt, sora_prompt_tokens *tok,
			       sora_err *e);
/* Runs both models on slots [0, B). */
int sora_text_encoder_run(sora_text_encoder *te, int B, sora_err *e);

const float *sora_text_encoder_t5(const sora_text_encoder *te, int b);   /* [t5_len, d_model] */
const float *sora_text_encoder_clip(const sora_text_encoder *te, int b); /* [hidden] */

#endif
