/* Binding a model's expected tensor names to a checkpoint, strictly: every missing name, every name the
 * model does not know and every shape mismatch is listed, then the load fails. Tensors that pass are
 * converted once to the compute dtype into memory the model owns (the checkpoint can then be closed).
 *
 *     sora_weight_spec spec[] = {
 *         {"shared.weight", 2, {32128, 32}, &w->shared},            // [vocab, d_model]
 *         ...
 *     };
 *     static const char *const ignore[] = {"encoder.embed_tokens.weight", NULL};  // tied alias
 *     TRY(sora_weights_load(st, spec, n, ignore, SORA_F32, &report, e));
 */
#ifndef SORA_WEIGHTS_H
#define SORA_WEIGHTS_H

#include "../io/safetensors.h"
#include "../nn/tensor.h"

typedef struct sora_weight_spec {
	const char *name;
	int ndim;
	int64_t shape[SORA_MAX_DIMS];
	sora_tensor *dst; /* filled on success (owned: free with sora_tensor_free) */
} sora_weight_spec;

/* On failure e holds a summary ("3 problems in CKPT: missing 'a'; ...", cut to fit) and, when report is
 * not NULL, *report the whole list, one problem per line (free it); *report is NULL on success.
 * `ignore` (NULL-terminated, may be NULL) names checkpoint tensors that may be present and are not
 * used; an entry ending in '*' is a prefix ("vision_model.*"). compute: SORA_F32, SORA_BF16 or SORA_F16; stored floats of any of these are converted. */
int sora_weights_load(const sora_safetensors *st, const sora_weight_spec *spec, int n,
		      const char *const *ignore, sora_dtype compute, char **report, sora_err *e);

/* The expected tensors of a model, added one by one with printf-formatted names ("...layers.%d.mlp...").
 * An allocation failure is remembered and reported by sora_weights_load_list. */
typedef struct sora_weight_list {
	sora_weight_spec *spec; /* names are owned by the list */
	int n, cap, oom;
} sora_weight_list;

/* shape: ndim sizes, e.g. (int64_t[]){out, in}. */
void sora_weight_want(sora_weight_list *l, sora_tensor *dst, int ndim, const int64_t *shape, const char *fmt,
		      ...) __attribute__((format(printf, 5, 6)));
int sora_weights_load_list(const sora_safetensors *st, const sora_weight_list *l, const char *const *ignore,
			   sora_dtype compute, char **report, sora_err *e);
/* The same checks without reading any data: each dst becomes a view (not owned) of its tensor inside the
 * mapping, in the stored dtype, valid while st stays open. For checkpoints too large to convert whole. */
int sora_weights_map_list(const sora_safetensors *st, const sora_weight_list *l, const char *const *ignore,
			  char **report, sora_err *e);
void sora_weight_list_free(sora_weight_list *l);

/* A published model folder: DIR/config.json and DIR/model.safetensors.index.json when the checkpoint
 * is sharded, else DIR/model.safetensors. */
void sora_model_files(const char *dir, char *config, size_t nc, char *weights, size_t nw);

#endif
