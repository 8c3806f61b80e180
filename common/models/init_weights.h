/* Randomly initialised checkpoints in the published layout, for tests and the demo: each model kind is
 * one table of its tensors (published names, shapes and init as expressions over config.json keys), so a
 * new kind (the VAE, the MMDiT) is one more table in init_kinds.c.
 *
 *     static const sora_init_tensor t5_tensors[] = {
 *         {"shared.weight", NULL, NULL, {"vocab_size", "d_model"}, 'n', "initializer_factor"},
 *         {"encoder.block.%d.layer.0.SelfAttention.q.weight", "num_layers", NULL,
 *          {"num_heads*d_kv", "d_model"}, 'n', "initializer_factor*(d_model*d_kv)^-0.5"},
 *         ...
 *
 * Expressions: numbers; config keys (dotted paths into nested objects, looked up under the part's scope
 * first, then from the top; true/false are 1/0), KEY[index] into a list (negative: from the end, as
 * Python) and len(KEY); the loop indices i and j; fan_in (the product of the tensor's dimensions after
 * the first, as PyTorch's init); max(a, b), min(a, b); + - * / ^, comparisons (== != < <= > >=, giving 1
 * or 0), c ? a : b and parentheses. A key that is missing or not a number is an error naming it. */
#ifndef SORA_INIT_WEIGHTS_H
#define SORA_INIT_WEIGHTS_H

#include "../nn/tensor.h"
#include "../util/err.h"
#include "../util/json.h"

#include <stdint.h>

typedef struct sora_init_tensor {
	const char *name;  /* the published name; a printf pattern with a %d for i, and one for j */
	const char *count; /* "A": i = 0 .. A−1; "A; B": and for each i, j = 0 .. B−1 (B may use i);
			      NULL: one tensor */
	const char *when;  /* an expression (the tensor exists when it is not 0), or "KEY~PREFIX": when the
			      string KEY starts with PREFIX ("!KEY~PREFIX": when not); NULL: always */
	const char *shape[SORA_MAX_DIMS]; /* expressions, up to the first NULL */
	char init; /* 'n': normal(0, value); 'u': uniform(−value, value); 'c': every element = value */
	const char *value; /* expression */
} sora_init_tensor;

/* A table and the config object its keys are read from ("" the top, "text_config." a nested one). */
typedef struct sora_init_part {
	const sora_init_tensor *tensors; /* ends with an entry whose name is NULL */
	const char *scope;
} sora_init_part;

typedef enum { SORA_TOK_NONE, SORA_TOK_SPM, SORA_TOK_BPE } sora_init_tokenizer;

typedef struct sora_init_kind {
	const char *name;  /* --kind */
	const char *what;  /* for --help: the published class */
	const char *vocab; /* the key of the vocabulary size (for the tokenizer), or NULL */
	sora_init_tokenizer tokenizer;
	sora_init_part parts[4]; /* up to the first with tensors == NULL */
} sora_init_kind;

extern const sora_init_kind sora_init_kinds[]; /* ends with name == NULL */
const sora_init_kind *sora_init_kind_find(const char *name);

/* The value of an expression over the config (scope as above). */
int sora_init_eval(const sora_json *cfg, const char *scope, const char *expr, double *out, sora_err *e);

/* Every tensor of the kind for this config, drawn from a generator seeded by (seed, tensor name), so a
 * tensor does not depend on the others or on their order; stored as dtype (F32 or BF16) into `path`
 * (safetensors, with __metadata__ {"format": "pt"} as transformers writes). *count: tensors written,
 * *params: their elements. */
int sora_init_write(const sora_init_kind *k, const sora_json *cfg, uint64_t seed, sora_dtype dtype,
		    const char *path, int *count, int64_t *params, sora_err *e);

/* What sora_init_write would write, without writing: tensors and their elements. */
int sora_init_count(const sora_init_kind *k, const sora_json *cfg, int *count, int64_t *params, sora_err *e);

#endif
