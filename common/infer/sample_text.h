/* The text side of Open-Sora 2.0's sampler (opensora/models/text/conditioner.py HFEmbedder): T5 states of
 * 512 tokens (padded, no attention mask) and the CLIP text tower's pooled vector of 77 tokens (padded, no
 * mask), each text encoded on its own. */
#ifndef SORA_INFER_SAMPLE_TEXT_H
#define SORA_INFER_SAMPLE_TEXT_H

#include "../models/clip_text.h"
#include "../models/t5.h"
#include "../models/tokenizer_clip.h"
#include "../models/tokenizer_t5.h"
#include "../util/err.h"

typedef struct sora_sample_text {
	sora_t5 t5;
	sora_t5_tok *t5_tok;
	sora_clip_text clip;
	sora_clip_tok *clip_tok;
	int have_t5, have_clip;
} sora_sample_text;

/* Model folders holding config.json, model.safetensors and the tokenizer files. */
int sora_sample_text_load(sora_sample_text *x, const char *t5_dir, const char *clip_dir, sora_err *e);
void sora_sample_text_free(sora_sample_text *x);

/* Widths of the outputs: T5 d_model and CLIP hidden. */
int sora_sample_text_dim(const sora_sample_text *x);
int sora_sample_vec_dim(const sora_sample_text *x);

/* n texts → txt [n, SORA_T5_MAX_LENGTH, d_model] and y_vec [n, hidden]. */
int sora_sample_text_encode(const sora_sample_text *x, const char *const *texts, int n, float *txt,
			    float *y_vec, sora_err *e);

#endif
