/* Training the MMDiT on the CPU: a model over f32 parameters the trainer owns, a same-shaped model over
 * their gradients, the forward that keeps what the backward reads (a tape), and the backward.
 *
 *     float *w = ..., *g = ...;                       // m.n_params floats each
 *     sora_mmdit p, gr;
 *     TRY(sora_mmdit_view(&p, &m, w, 1, e));          // f32 copy of m's weights
 *     TRY(sora_mmdit_view(&gr, &m, g, 0, e));         // gradients, same names and shapes
 *     sora_mmdit_tape *tp = sora_mmdit_tape_new(ckpt_double, ckpt_single);
 *     TRY(sora_mmdit_train_forward(&p, tp, &in, pred, e));
 *     TRY(sora_mmdit_backward(&p, &gr, tp, &in, dpred, &gin, e));   // gr += ∂loss/∂w
 *
 * Every gradient accumulates (+=) into what the caller zeroed, so micro-batches add up. The backward
 * follows mmdit_forward.c part by part (mmdit_backward.c); the first ckpt_double double blocks and
 * ckpt_single single blocks keep only their input and run their forward again right before their
 * backward (Open-Sora's grad_ckpt_settings), giving the same gradients bit for bit with less memory. */
#ifndef SORA_MMDIT_TRAIN_H
#define SORA_MMDIT_TRAIN_H

#include "mmdit.h"

#include <stddef.h>

/* A model with m's config whose every tensor is an f32 view into buf (m->n_params floats, in the
 * checkpoint's tensor order), holding a copy of m's values when copy is set (widened from any stored
 * dtype). v owns no weights (sora_mmdit_free(v) frees only its block tables); buf must outlive it. */
int sora_mmdit_view(sora_mmdit *v, const sora_mmdit *m, float *buf, int copy, sora_err *e);

/* A model of config c whose tensors are f32 views into buf (its n_params floats, checkpoint order),
 * unset. With buf NULL it only counts: v->n_params, v->n_tensors (the views are NULL). */
int sora_mmdit_view_config(sora_mmdit *v, const sora_mmdit_config *c, float *buf, sora_err *e);

/* FLUX.1-dev's layout converted to Open-Sora 2.0's, as hpcai-tech/flux1-dev-fused-rope is: the fused
 * img_attn.qkv and linear1 split into q_proj, k_proj, v_proj / v_mlp; the q and k rows (weights, biases)
 * and the QK-norm scales permuted per head from the interleaved RoPE basis to the half-split one (dim 2j →
 * j, 2j + 1 → D/2 + j), so half-split RoPE computes what interleaved RoPE did; guidance_in kept when
 * keep_guidance, else dropped (Open-Sora 2.0 has none); a zero cond_in (its init) added when cond_embed.
 * v is an f32 view into buf, which must hold the converted model's parameters (count them with
 * sora_mmdit_view_config on sora_mmdit_flux_config's result and a NULL buf). */
sora_mmdit_config sora_mmdit_flux_config(const sora_mmdit_config *flux, int keep_guidance, int cond_embed);
int sora_mmdit_from_flux(sora_mmdit *v, const sora_mmdit *flux, float *buf, int keep_guidance, int cond_embed,
			 sora_err *e);

/* fn(ctx, name, tensor) for every tensor of m in the checkpoint's order, with its published name; a
 * non-zero return stops with that value. */
int sora_mmdit_each(sora_mmdit *m, int (*fn)(void *ctx, const char *name, sora_tensor *t, sora_err *e),
		    void *ctx, sora_err *e);

/* Gradients of the inputs (each [as the input], accumulated; NULL = not wanted). */
typedef struct sora_mmdit_input_grad {
	float *img, *txt, *y_vec, *cond;
} sora_mmdit_input_grad;

typedef struct sora_mmdit_tape sora_mmdit_tape;

/* NULL when out of memory. Buffers are sized at the first forward and kept while the sizes stay. */
sora_mmdit_tape *sora_mmdit_tape_new(int ckpt_double, int ckpt_single);
void sora_mmdit_tape_free(sora_mmdit_tape *tp);
/* Bytes the tape holds: activations kept for the backward plus its gradient scratch. */
size_t sora_mmdit_tape_bytes(const sora_mmdit_tape *tp);

/* The forward of sora_mmdit_forward (same output bits), keeping activations on the tape. m's tensors
 * must all be f32 in memory (sora_mmdit_view). */
int sora_mmdit_train_forward(sora_mmdit *m, sora_mmdit_tape *tp, const sora_mmdit_input *in, float *out,
			     sora_err *e);
/* grad's tensors += ∂/∂w of Σ dout·out for the tape's last forward on the same in; gin's inputs too.
 * cond_embed models need in->cond (zeros for t2v samples). */
int sora_mmdit_backward(sora_mmdit *m, sora_mmdit *grad, sora_mmdit_tape *tp, const sora_mmdit_input *in,
			const float *dout, const sora_mmdit_input_grad *gin, sora_err *e);

#endif
