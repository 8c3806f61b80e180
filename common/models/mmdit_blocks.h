/* Inside the MMDiT (private to mmdit_forward.c and mmdit_backward.c): the activations each part of the
 * forward writes, and the forward of each part. One forward serves inference and training: inference
 * gives every block the same activation buffers (each block overwrites the last one's), training gives
 * each block its own, which its backward then reads; a block under gradient checkpointing gets a shared
 * set again and is run once more, from its saved input, right before its backward.
 *
 * Stream buffers are stream-major: [all txt rows (B·Lt); all img rows (B·L)], so each projection is one
 * sgemm over the batch; "joint" buffers are batch-major [B, Lt + L, C], the attention's layout. */
#ifndef SORA_MMDIT_BLOCKS_H
#define SORA_MMDIT_BLOCKS_H

#include "mmdit.h"

#include <stddef.h>

/* What the input embedders write (prepare_block_inputs). */
typedef struct mmdit_prep_acts {
	float *temb, *t0, *t1;  /* [B, 256], time_in.in_layer output, its SiLU [B, C] */
	float *gemb, *g0, *g1;  /* the same for guidance_in (guidance_embed models) */
	float *y0, *y1;         /* vector_in.in_layer output, its SiLU [B, C] */
	float *vec, *svec;      /* [B, C]: vec and SiLU(vec), the input of every modulation */
	float *cond;            /* cond_in output [B·L, C] (cond_embed models) */
	float *cos, *sin, *ids; /* RoPE tables [B, Lj, D/2], ids [B, Lj, 3] */
} mmdit_prep_acts;

/* One double block. Inputs and outputs are the residual streams, saved by the caller. */
typedef struct mmdit_double_acts {
	float *mod_img, *mod_txt; /* [B, 6C] */
	float *h;                 /* stream-major adaLN outputs: the q/k/v input [B·Lj, C] */
	float *p;                 /* fused qkv output [B·Lj, 3C] (FLUX layout) */
	float *sq, *sk, *sv;      /* stream-major q, k (before the QK norm), v [B·Lj, C] */
	float *q, *k, *v;         /* joint, normed and rotated [B, Lj, C] */
	float *a;                 /* joint attention output [B, Lj, C] */
	float *sa;                /* its stream-major copy: proj's input [B·Lj, C] */
	float *po;                /* proj output [B·Lj, C] */
	float *x1;                /* the streams after the attention's gated residual [B·Lj, C] */
	float *h2;                /* adaLN of x1: the MLP input [B·Lj, C] */
	float *m0, *m1;           /* mlp.0 output and its GELU-tanh [B·Lj, M] */
	float *o;                 /* mlp.2 output [B·Lj, C] */
} mmdit_double_acts;

/* One single block over x [B, Lj, C]. */
typedef struct mmdit_single_acts {
	float *mod;       /* [B, 3C] */
	float *h;         /* adaLN output [B·Lj, C] */
	float *p;         /* v_mlp [B·Lj, C + M] or linear1 [B·Lj, 3C + M] output */
	float *sq, *sk;   /* q, k before the QK norm [B·Lj, C] */
	float *q, *k, *v; /* normed and rotated q, k; v [B·Lj, C] */
	float *a;         /* attention output [B·Lj, C] */
	float *cat;       /* linear2's input [attention, GELU-tanh(mlp)] [B·Lj, C + M] */
	float *o;         /* linear2 output [B·Lj, C] */
} mmdit_single_acts;

/* The final layer over the image tokens. */
typedef struct mmdit_final_acts {
	float *img; /* [B·L, C] the image rows of the last single block's output */
	float *mod; /* [B, 2C] */
	float *h;   /* adaLN output [B·L, C] */
} mmdit_final_acts;

/* f32 and float-aligned: used where it lies (else widened into the model's scratch per unit). */
int mmdit_in_place(const sora_tensor *t);
/* The forward's checks of an input's sizes and pointers. */
int mmdit_check_input(const sora_mmdit *m, const sora_mmdit_input *in, sora_err *e);

/* The sizes every buffer above is cut to. */
typedef struct mmdit_dims {
	int B, L, Lt, Lj, C, M, H, D;
} mmdit_dims;

mmdit_dims mmdit_dims_of(const sora_mmdit_config *c, int B, int L, int Lt);

/* Floats each set takes, and cutting a set out of `at` (advanced past it; 16-float aligned pieces). */
size_t mmdit_prep_floats(const sora_mmdit_config *c, const mmdit_dims *d);
size_t mmdit_double_floats(const sora_mmdit_config *c, const mmdit_dims *d);
size_t mmdit_single_floats(const sora_mmdit_config *c, const mmdit_dims *d);
size_t mmdit_final_floats(const mmdit_dims *d);
void mmdit_prep_cut(mmdit_prep_acts *a, const sora_mmdit_config *c, const mmdit_dims *d, float **at);
void mmdit_double_cut(mmdit_double_acts *a, const sora_mmdit_config *c, const mmdit_dims *d, float **at);
void mmdit_single_cut(mmdit_single_acts *a, const sora_mmdit_config *c, const mmdit_dims *d, float **at);
void mmdit_final_cut(mmdit_final_acts *a, const mmdit_dims *d, float **at);

/* The forward's context: weights widened per unit into the model's scratch, the hook. */
typedef struct mmdit_fwd {
	sora_mmdit *m;
	size_t used;
	const sora_mmdit_hook *hook;
	sora_err *e;
} mmdit_fwd;

/* prepare_block_inputs: img [B·L, C], txt [B·Lt, C] (the first residual streams) and a. */
int mmdit_prepare_forward(mmdit_fwd *f, const sora_mmdit_input *in, mmdit_prep_acts *a, float *img,
			  float *txt);
/* Double block `blk`: img_out [B·L, C], txt_out [B·Lt, C] from img_in, txt_in (out may alias in). */
int mmdit_double_forward(mmdit_fwd *f, const mmdit_prep_acts *pa, mmdit_double_acts *a, const mmdit_dims *d,
			 int blk, const float *img_in, const float *txt_in, float *img_out, float *txt_out);
/* Single block `blk`: x_out [B, Lj, C] from x_in (may alias). */
int mmdit_single_forward(mmdit_fwd *f, const mmdit_prep_acts *pa, mmdit_single_acts *a, const mmdit_dims *d,
			 int blk, const float *x_in, float *x_out);
/* The final layer: out [B·L, in_channels] from the single blocks' output x [B, Lj, C]. */
int mmdit_final_forward(mmdit_fwd *f, const mmdit_prep_acts *pa, mmdit_final_acts *a, const mmdit_dims *d,
			const float *x, float *out);

#endif
