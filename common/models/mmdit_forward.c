/* MMDiTModel forward (opensora/models/mmdit/{model,layers,math}.py) on the CPU ops, part by part (see
 * mmdit_blocks.h): the inference forward here, the training forward and backward in mmdit_backward.c. */
#include "mmdit_blocks.h"

#include "../nn/ops.h"
#include "../nn/ops_dit.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mmdit_in_place(const sora_tensor *t)
{
	return t->dtype == SORA_F32 && (uintptr_t)t->data % sizeof(float) == 0;
}

mmdit_dims mmdit_dims_of(const sora_mmdit_config *c, int B, int L, int Lt)
{
	return (mmdit_dims){.B = B,
			    .L = L,
			    .Lt = Lt,
			    .Lj = L + Lt,
			    .C = c->hidden,
			    .M = c->mlp_hidden,
			    .H = c->heads,
			    .D = c->head_dim};
}

/* ---- cutting activation sets out of one allocation ---- */

static size_t up16(size_t n)
{
	return (n + 15) / 16 * 16;
}

/* *dst = the next n floats at *at (when at is not NULL); returns the floats taken. */
static size_t take(float **dst, size_t n, float **at)
{
	if (at) {
		*dst = *at;
		*at += up16(n);
	}
	return up16(n);
}

static size_t prep_take(mmdit_prep_acts *a, const sora_mmdit_config *c, const mmdit_dims *d, float **at)
{
	const size_t BC = (size_t)d->B * d->C, Nj = (size_t)d->B * d->Lj, half = (size_t)d->D / 2;
	const size_t T = (size_t)d->B * SORA_DIT_TIME_DIM;
	const size_t G = c->guidance_embed ? 1 : 0, K = c->cond_embed ? 1 : 0;
	return take(&a->temb, T, at) + take(&a->t0, BC, at) + take(&a->t1, BC, at) +
	       take(&a->gemb, G * T, at) + take(&a->g0, G * BC, at) + take(&a->g1, G * BC, at) +
	       take(&a->y0, BC, at) + take(&a->y1, BC, at) + take(&a->vec, BC, at) + take(&a->svec, BC, at) +
	       take(&a->cond, K * (size_t)d->B * d->L * d->C, at) + take(&a->cos, Nj * half, at) +
	       take(&a->sin, Nj * half, at) + take(&a->ids, Nj * 3, at);
}

static size_t double_take(mmdit_double_acts *a, const sora_mmdit_config *c, const mmdit_dims *d, float **at)
{
	const size_t NC = (size_t)d->B * d->Lj * d->C, NM = (size_t)d->B * d->Lj * d->M;
	const size_t mod = (size_t)d->B * 6 * d->C;
	return take(&a->mod_img, mod, at) + take(&a->mod_txt, mod, at) + take(&a->h, NC, at) +
	       take(&a->p, c->fused_qkv ? 3 * NC : 0, at) + take(&a->sq, NC, at) + take(&a->sk, NC, at) +
	       take(&a->sv, NC, at) + take(&a->q, NC, at) + take(&a->k, NC, at) + take(&a->v, NC, at) +
	       take(&a->a, NC, at) + take(&a->sa, NC, at) + take(&a->po, NC, at) + take(&a->x1, NC, at) +
	       take(&a->h2, NC, at) + take(&a->m0, NM, at) + take(&a->m1, NM, at) + take(&a->o, NC, at);
}

static size_t single_take(mmdit_single_acts *a, const sora_mmdit_config *c, const mmdit_dims *d, float **at)
{
	const size_t N = (size_t)d->B * d->Lj, NC = N * d->C;
	const size_t W = c->fused_qkv ? 3 * (size_t)d->C + d->M : (size_t)d->C + d->M;
	return take(&a->mod, (size_t)d->B * 3 * d->C, at) + take(&a->h, NC, at) + take(&a->p, N * W, at) +
	       take(&a->sq, NC, at) + take(&a->sk, NC, at) + take(&a->q, NC, at) + take(&a->k, NC, at) +
	       take(&a->v, NC, at) + take(&a->a, NC, at) + take(&a->cat, N * (d->C + d->M), at) +
	       take(&a->o, NC, at);
}

static size_t final_take(mmdit_final_acts *a, const mmdit_dims *d, float **at)
{
	const size_t NC = (size_t)d->B * d->L * d->C;
	return take(&a->img, NC, at) + take(&a->mod, (size_t)d->B * 2 * d->C, at) + take(&a->h, NC, at);
}

size_t mmdit_prep_floats(const sora_mmdit_config *c, const mmdit_dims *d)
{
	mmdit_prep_acts a;
	return prep_take(&a, c, d, NULL);
}

size_t mmdit_double_floats(const sora_mmdit_config *c, const mmdit_dims *d)
{
	mmdit_double_acts a;
	return double_take(&a, c, d, NULL);
}

size_t mmdit_single_floats(const sora_mmdit_config *c, const mmdit_dims *d)
{
	mmdit_single_acts a;
	return single_take(&a, c, d, NULL);
}

size_t mmdit_final_floats(const mmdit_dims *d)
{
	mmdit_final_acts a;
	return final_take(&a, d, NULL);
}

void mmdit_prep_cut(mmdit_prep_acts *a, const sora_mmdit_config *c, const mmdit_dims *d, float **at)
{
	prep_take(a, c, d, at);
}

void mmdit_double_cut(mmdit_double_acts *a, const sora_mmdit_config *c, const mmdit_dims *d, float **at)
{
	double_take(a, c, d, at);
}

void mmdit_single_cut(mmdit_single_acts *a, const sora_mmdit_config *c, const mmdit_dims *d, float **at)
{
	single_take(a, c, d, at);
}

void mmdit_final_cut(mmdit_final_acts *a, const mmdit_dims *d, float **at)
{
	final_take(a, d, at);
}

/* ---- weights and hooks ---- */

/* The f32 data of a weight (NULL for an absent bias): in place, or widened into the model's scratch. */
static const float *wt(mmdit_fwd *f, const sora_tensor *t)
{
	if (!t->data || mmdit_in_place(t))
		return t->data;
	size_t n = (size_t)sora_tensor_numel(t);
	if (f->used + n > f->m->scratch_n) {
		SORA_FAIL(f->e, "MMDiT: weight scratch overflow (%zu + %zu > %zu)", f->used, n,
			  f->m->scratch_n);
		return NULL;
	}
	float *p = f->m->scratch + f->used;
	if (sora_to_f32(p, t->data, t->dtype, n, f->e) < 0)
		return NULL;
	f->used += n;
	return p;
}

/* y [N, out] = x [N, in]·wᵀ + b. */
static int lin(mmdit_fwd *f, const sora_mmdit_linear *l, float *y, const float *x, int N)
{
	const float *w = wt(f, &l->w), *b = l->b.data ? wt(f, &l->b) : NULL;
	if (!w || (l->b.data && !b))
		return -1;
	return sora_cpu_linear(y, x, w, b, N, (int)l->w.shape[1], (int)l->w.shape[0], f->e);
}

__attribute__((format(printf, 5, 6))) static int hook(mmdit_fwd *f, const float *d, int ndim,
						      const int64_t *shape, const char *fmt, ...)
{
	if (!f->hook)
		return 0;
	char name[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	return f->hook->fn(f->hook->ctx, name, d, ndim, shape, f->e);
}

#define H2(d, a, b, ...)       hook(f, d, 2, (int64_t[]){a, b}, __VA_ARGS__)
#define H3(d, a, b, c, ...)    hook(f, d, 3, (int64_t[]){a, b, c}, __VA_ARGS__)
#define H4(d, a, b, c, g, ...) hook(f, d, 4, (int64_t[]){a, b, c, g}, __VA_ARGS__)

/* ---- prepare_block_inputs ---- */

/* An MLPEmbedder: y [B, C] = out_layer(silu(in_layer(x))), keeping in_layer's output h0 and its SiLU h1. */
static int mlp_embed(mmdit_fwd *f, const sora_mmdit_linear *l0, const sora_mmdit_linear *l1, float *y,
		     float *h0, float *h1, const float *x, int B)
{
	const size_t n = (size_t)B * l0->w.shape[0];
	TRY(lin(f, l0, h0, x, B));           /* h0 [B, C] */
	TRY(sora_cpu_silu(h1, h0, n, f->e)); /* h1 [B, C] */
	TRY(lin(f, l1, y, h1, B));           /* y [B, C] */
	return 0;
fail:
	return -1;
}

int mmdit_prepare_forward(mmdit_fwd *f, const sora_mmdit_input *in, mmdit_prep_acts *a, float *img,
			  float *txt)
{
	const sora_mmdit *m = f->m;
	const sora_mmdit_config *c = &m->cfg;
	const int B = in->B, L = in->L, Lt = in->Lt, C = c->hidden, Lj = L + Lt, hd = c->head_dim / 2;
	sora_err *e = f->e;
	TRY(lin(f, &m->img_in, img, in->img, B * L)); /* [B·L, C] */
	TRY(H3(img, B, L, C, "img_in"));
	if (c->cond_embed) {
		if (in->cond) {
			TRY(lin(f, &m->cond_in, a->cond, in->cond, B * L)); /* [B·L, C] */
		} else {                                                    /* cond_in(0) = its bias */
			const float *b = wt(f, &m->cond_in.b);
			CHECK(e, b, "%s", e->msg);
			for (int i = 0; i < B * L; i++)
				memcpy(a->cond + (size_t)i * C, b, (size_t)C * sizeof(float));
		}
		TRY(H3(a->cond, B, L, C, "cond_in"));
		for (size_t i = 0; i < (size_t)B * L * C; i++)
			img[i] += a->cond[i];
	}
	TRY(sora_cpu_timestep_embedding(a->temb, in->timesteps, B, m->quantize_t, e)); /* [B, 256] */
	TRY(H2(a->temb, B, SORA_DIT_TIME_DIM, "timestep_embedding"));
	TRY(mlp_embed(f, &m->time_in0, &m->time_in1, a->vec, a->t0, a->t1, a->temb, B)); /* vec [B, C] */
	TRY(H2(a->vec, B, C, "time_in"));
	if (c->guidance_embed) {
		CHECK(e, in->guidance, "MMDiT: this model (guidance_in) needs a guidance strength");
		TRY(sora_cpu_timestep_embedding(a->gemb, in->guidance, B, m->quantize_t, e)); /* [B, 256] */
		TRY(H2(a->gemb, B, SORA_DIT_TIME_DIM, "guidance_embedding"));
		TRY(mlp_embed(f, &m->guid_in0, &m->guid_in1, a->svec, a->g0, a->g1, a->gemb, B)); /* [B, C] */
		TRY(H2(a->svec, B, C, "guidance_in"));
		for (int i = 0; i < B * C; i++)
			a->vec[i] += a->svec[i];
	}
	TRY(mlp_embed(f, &m->vec_in0, &m->vec_in1, a->svec, a->y0, a->y1, in->y_vec, B)); /* [B, C] */
	TRY(H2(a->svec, B, C, "vector_in"));
	for (int i = 0; i < B * C; i++)
		a->vec[i] += a->svec[i];
	TRY(lin(f, &m->txt_in, txt, in->txt, B * Lt)); /* [B·Lt, C] */
	TRY(H3(txt, B, Lt, C, "txt_in"));
	TRY(H3(img, B, L, C, "block_in.img"));
	TRY(H3(txt, B, Lt, C, "block_in.txt"));
	TRY(H2(a->vec, B, C, "block_in.vec"));
	TRY(sora_cpu_silu(a->svec, a->vec, (size_t)B * C, e));                      /* [B, C] */
	TRY(sora_cpu_cat_tokens(a->ids, in->txt_ids, in->img_ids, B, Lt, L, 3, e)); /* [B, Lj, 3] */
	TRY(sora_cpu_rope_table(a->cos, a->sin, a->ids, B, Lj, c->axes_dim, 3, c->theta, !c->liger_rope,
				e)); /* [B, Lj, D/2] */
	TRY(H3(a->cos, B, Lj, hd, "pe.cos"));
	TRY(H3(a->sin, B, Lj, hd, "pe.sin"));
	return 0;
fail:
	return -1;
}

/* ---- double blocks ---- */

/* One stream's q, k, v (before the QK norm) into the stream-major buffers at row `row0`. */
static int stream_qkv(mmdit_fwd *f, const sora_mmdit_stream *s, mmdit_double_acts *a, size_t row0, int B,
		      int Ls, int blk, const char *k)
{
	const sora_mmdit_config *c = &f->m->cfg;
	const int C = c->hidden, N = B * Ls;
	const float *h = a->h + row0 * C;
	float *q = a->sq + row0 * C, *kk = a->sk + row0 * C, *v = a->sv + row0 * C;
	sora_err *e = f->e;
	if (c->fused_qkv) {
		float *p = a->p + row0 * 3 * C;
		TRY(lin(f, &s->qkv, p, h, N)); /* [N, 3C] as (K H D) */
		TRY(H3(p, B, Ls, (int64_t)3 * C, "double_blocks.%d.%s_attn.qkv", blk, k));
		TRY(sora_cpu_copy_cols(q, C, p, 3 * C, N, C, e));                 /* q [N, C] */
		TRY(sora_cpu_copy_cols(kk, C, p + C, 3 * C, N, C, e));            /* k [N, C] */
		TRY(sora_cpu_copy_cols(v, C, p + (size_t)2 * C, 3 * C, N, C, e)); /* v [N, C] */
	} else {
		TRY(lin(f, &s->q, q, h, N));  /* q [N, C] */
		TRY(lin(f, &s->k, kk, h, N)); /* k [N, C] */
		TRY(lin(f, &s->v, v, h, N));  /* v [N, C] */
		TRY(H3(q, B, Ls, C, "double_blocks.%d.%s_attn.q_proj", blk, k));
		TRY(H3(kk, B, Ls, C, "double_blocks.%d.%s_attn.k_proj", blk, k));
		TRY(H3(v, B, Ls, C, "double_blocks.%d.%s_attn.v_proj", blk, k));
	}
	return 0;
fail:
	return -1;
}

/* The QK norm of one stream's rows [row0, row0 + B·Ls) of src into dst (stream-major). */
static int stream_norm(mmdit_fwd *f, const sora_tensor *scale, float *dst, const float *src, size_t row0,
		       int B, int Ls, int blk, const char *k, const char *which)
{
	const sora_mmdit_config *c = &f->m->cfg;
	const int C = c->hidden, H = c->heads, D = c->head_dim;
	const float *w = wt(f, scale);
	sora_err *e = f->e;
	CHECK(e, w, "%s", e->msg);
	TRY(sora_cpu_rmsnorm(dst + row0 * C, src + row0 * C, w, B * Ls * H, D, 1e-6f, e)); /* [N·H, D] */
	TRY(H4(dst + row0 * C, B, Ls, H, D, "double_blocks.%d.%s_attn.norm.%s", blk, k, which));
	return 0;
fail:
	return -1;
}

/* Joint attention: the QK-normed stream-major q, k and v into the joint buffers, RoPE, SDPA, and the
 * result back to stream-major in a->sa. a->sa holds the normed q, then k, on the way (it is free until
 * the attention writes it). */
static int joint_attention(mmdit_fwd *f, const mmdit_prep_acts *pa, const sora_mmdit_double *d,
			   mmdit_double_acts *a, const mmdit_dims *dm, int blk)
{
	const sora_mmdit_config *c = &f->m->cfg;
	const int B = dm->B, Lt = dm->Lt, L = dm->L, Lj = dm->Lj, C = dm->C, H = dm->H, D = dm->D;
	const size_t off = (size_t)B * Lt; /* the first image row of the stream-major buffers */
	sora_err *e = f->e;
	sora_attn_args aa = {.B = B, .H = H, .Tq = Lj, .Tk = Lj, .D = D, .scale = 1.0f / sqrtf((float)D)};
	TRY(stream_norm(f, &d->img.q_norm, a->sa, a->sq, off, B, L, blk, "img", "query_norm"));
	TRY(stream_norm(f, &d->txt.q_norm, a->sa, a->sq, 0, B, Lt, blk, "txt", "query_norm"));
	TRY(sora_cpu_cat_tokens(a->q, a->sa, a->sa + off * C, B, Lt, L, C, e)); /* [B, Lj, C] */
	TRY(stream_norm(f, &d->img.k_norm, a->sa, a->sk, off, B, L, blk, "img", "key_norm"));
	TRY(stream_norm(f, &d->txt.k_norm, a->sa, a->sk, 0, B, Lt, blk, "txt", "key_norm"));
	TRY(sora_cpu_cat_tokens(a->k, a->sa, a->sa + off * C, B, Lt, L, C, e));           /* [B, Lj, C] */
	TRY(sora_cpu_cat_tokens(a->v, a->sv, a->sv + off * C, B, Lt, L, C, e));           /* [B, Lj, C] */
	TRY(sora_cpu_rope_apply(a->q, pa->cos, pa->sin, B, Lj, H, D, !c->liger_rope, e)); /* [B, Lj, C] */
	TRY(sora_cpu_rope_apply(a->k, pa->cos, pa->sin, B, Lj, H, D, !c->liger_rope, e)); /* [B, Lj, C] */
	TRY(sora_cpu_attention(a->a, a->q, a->k, a->v, &aa, e));                          /* [B, Lj, C] */
	TRY(sora_cpu_split_tokens(a->sa, a->sa + off * C, a->a, B, Lt, L, C, e));         /* stream-major */
	return 0;
fail:
	return -1;
}

/* After attention, one stream (rows [row0, row0 + B·Ls) of the stream-major buffers):
 * x1 = x + g1·proj(att); out = x1 + g2·mlp((1 + sc2)·LN(x1) + sh2). */
static int stream_out(mmdit_fwd *f, const sora_mmdit_stream *s, mmdit_double_acts *a, const float *mod,
		      size_t row0, int B, int Ls, int blk, const char *k, const float *x, float *out)
{
	const sora_mmdit_config *c = &f->m->cfg;
	const int C = c->hidden, M = c->mlp_hidden, N = B * Ls;
	const size_t rc = row0 * C, rm = row0 * M, n = (size_t)N * C;
	float *po = a->po + rc, *x1 = a->x1 + rc, *h2 = a->h2 + rc, *m0 = a->m0 + rm, *m1 = a->m1 + rm;
	float *o = a->o + rc;
	sora_err *e = f->e;
	TRY(H3(a->sa + rc, B, Ls, C, "double_blocks.%d.%s_attn.proj.input", blk, k));
	TRY(lin(f, &s->proj, po, a->sa + rc, N)); /* [N, C] */
	TRY(H3(po, B, Ls, C, "double_blocks.%d.%s_attn.proj", blk, k));
	memcpy(x1, x, n * sizeof *x1);
	TRY(sora_cpu_gated_add(x1, po, mod + (size_t)2 * C, B, Ls, C, 6 * C, e)); /* x1 [N, C] */
	TRY(sora_cpu_adaln(h2, x1, mod + (size_t)3 * C, mod + (size_t)4 * C, B, Ls, C, 6 * C, 1e-6f,
			   e));           /* [N, C] */
	TRY(lin(f, &s->mlp0, m0, h2, N)); /* [N, M] */
	TRY(H3(m0, B, Ls, M, "double_blocks.%d.%s_mlp.0", blk, k));
	TRY(sora_cpu_gelu_tanh(m1, m0, (size_t)N * M, e)); /* [N, M] */
	TRY(lin(f, &s->mlp2, o, m1, N));                   /* [N, C] */
	TRY(H3(o, B, Ls, C, "double_blocks.%d.%s_mlp.2", blk, k));
	memmove(out, x1, n * sizeof *out);
	TRY(sora_cpu_gated_add(out, o, mod + (size_t)5 * C, B, Ls, C, 6 * C, e)); /* out [N, C] */
	return 0;
fail:
	return -1;
}

int mmdit_double_forward(mmdit_fwd *f, const mmdit_prep_acts *pa, mmdit_double_acts *a, const mmdit_dims *dm,
			 int blk, const float *img_in, const float *txt_in, float *img_out, float *txt_out)
{
	const sora_mmdit_double *d = &f->m->dbl[blk];
	const int B = dm->B, Lt = dm->Lt, L = dm->L, C = dm->C;
	const size_t off = (size_t)B * Lt;
	sora_err *e = f->e;
	TRY(lin(f, &d->img.mod, a->mod_img, pa->svec, B)); /* [B, 6C] */
	TRY(lin(f, &d->txt.mod, a->mod_txt, pa->svec, B)); /* [B, 6C] */
	TRY(H2(a->mod_img, B, (int64_t)6 * C, "double_blocks.%d.img_mod.lin", blk));
	TRY(H2(a->mod_txt, B, (int64_t)6 * C, "double_blocks.%d.txt_mod.lin", blk));
	TRY(sora_cpu_adaln(a->h + off * C, img_in, a->mod_img, a->mod_img + C, B, L, C, 6 * C, 1e-6f,
			   e)); /* [B·L, C] */
	TRY(stream_qkv(f, &d->img, a, off, B, L, blk, "img"));
	TRY(sora_cpu_adaln(a->h, txt_in, a->mod_txt, a->mod_txt + C, B, Lt, C, 6 * C, 1e-6f,
			   e)); /* [B·Lt, C] */
	TRY(stream_qkv(f, &d->txt, a, 0, B, Lt, blk, "txt"));
	TRY(joint_attention(f, pa, d, a, dm, blk));
	TRY(stream_out(f, &d->img, a, a->mod_img, off, B, L, blk, "img", img_in, img_out));
	TRY(stream_out(f, &d->txt, a, a->mod_txt, 0, B, Lt, blk, "txt", txt_in, txt_out));
	TRY(H3(img_out, B, L, C, "double_blocks.%d.out.img", blk));
	TRY(H3(txt_out, B, Lt, C, "double_blocks.%d.out.txt", blk));
	return 0;
fail:
	return -1;
}

/* ---- single blocks ---- */

int mmdit_single_forward(mmdit_fwd *f, const mmdit_prep_acts *pa, mmdit_single_acts *a, const mmdit_dims *dm,
			 int blk, const float *x_in, float *x_out)
{
	const sora_mmdit_config *c = &f->m->cfg;
	const sora_mmdit_single *s = &f->m->sgl[blk];
	const int B = dm->B, Lj = dm->Lj, C = dm->C, M = dm->M, H = dm->H, D = dm->D, N = B * Lj;
	const int W = c->fused_qkv ? 3 * C + M : C + M; /* width of the big projection, MLP part last */
	const float *qn = wt(f, &s->q_norm), *kn = wt(f, &s->k_norm);
	sora_err *e = f->e;
	sora_attn_args aa = {.B = B, .H = H, .Tq = Lj, .Tk = Lj, .D = D, .scale = 1.0f / sqrtf((float)D)};
	CHECK(e, qn && kn, "%s", e->msg);
	TRY(lin(f, &s->mod, a->mod, pa->svec, B)); /* [B, 3C] */
	TRY(H2(a->mod, B, (int64_t)3 * C, "single_blocks.%d.modulation.lin", blk));
	TRY(sora_cpu_adaln(a->h, x_in, a->mod, a->mod + C, B, Lj, C, 3 * C, 1e-6f, e)); /* [N, C] */
	if (c->fused_qkv) {
		TRY(lin(f, &s->linear1, a->p, a->h, N)); /* [N, 3C + M] */
		TRY(H3(a->p, B, Lj, W, "single_blocks.%d.linear1", blk));
		TRY(sora_cpu_copy_cols(a->sq, C, a->p, W, N, C, e));                /* q [N, C] */
		TRY(sora_cpu_copy_cols(a->sk, C, a->p + C, W, N, C, e));            /* k [N, C] */
		TRY(sora_cpu_copy_cols(a->v, C, a->p + (size_t)2 * C, W, N, C, e)); /* v [N, C] */
	} else {
		TRY(lin(f, &s->q, a->sq, a->h, N));    /* q [N, C] */
		TRY(lin(f, &s->k, a->sk, a->h, N));    /* k [N, C] */
		TRY(lin(f, &s->v_mlp, a->p, a->h, N)); /* [N, C + M] */
		TRY(H3(a->sq, B, Lj, C, "single_blocks.%d.q_proj", blk));
		TRY(H3(a->sk, B, Lj, C, "single_blocks.%d.k_proj", blk));
		TRY(H3(a->p, B, Lj, W, "single_blocks.%d.v_mlp", blk));
		TRY(sora_cpu_copy_cols(a->v, C, a->p, W, N, C, e)); /* v [N, C] */
	}
	TRY(sora_cpu_rmsnorm(a->q, a->sq, qn, N * H, D, 1e-6f, e)); /* [N·H, D] */
	TRY(sora_cpu_rmsnorm(a->k, a->sk, kn, N * H, D, 1e-6f, e)); /* [N·H, D] */
	TRY(H4(a->q, B, Lj, H, D, "single_blocks.%d.norm.query_norm", blk));
	TRY(H4(a->k, B, Lj, H, D, "single_blocks.%d.norm.key_norm", blk));
	TRY(sora_cpu_rope_apply(a->q, pa->cos, pa->sin, B, Lj, H, D, !c->liger_rope, e)); /* [N, C] */
	TRY(sora_cpu_rope_apply(a->k, pa->cos, pa->sin, B, Lj, H, D, !c->liger_rope, e)); /* [N, C] */
	TRY(sora_cpu_attention(a->a, a->q, a->k, a->v, &aa, e));                          /* [N, C] */
	TRY(sora_cpu_copy_cols(a->cat, C + M, a->a, C, N, C, e));                         /* cat[:, :C] */
	TRY(sora_cpu_gelu_tanh_cols(a->cat + C, C + M, a->p + W - M, W, N, M, e));        /* cat[:, C:] */
	TRY(H3(a->cat, B, Lj, C + M, "single_blocks.%d.linear2.input", blk));
	TRY(lin(f, &s->linear2, a->o, a->cat, N)); /* [N, C] */
	TRY(H3(a->o, B, Lj, C, "single_blocks.%d.linear2", blk));
	if (x_out != x_in)
		memcpy(x_out, x_in, (size_t)N * C * sizeof *x_out);
	TRY(sora_cpu_gated_add(x_out, a->o, a->mod + (size_t)2 * C, B, Lj, C, 3 * C, e)); /* x [N, C] */
	TRY(H3(x_out, B, Lj, C, "single_blocks.%d.out", blk));
	return 0;
fail:
	return -1;
}

/* ---- final layer ---- */

int mmdit_final_forward(mmdit_fwd *f, const mmdit_prep_acts *pa, mmdit_final_acts *a, const mmdit_dims *dm,
			const float *x, float *out)
{
	const sora_mmdit *m = f->m;
	const int B = dm->B, L = dm->L, Lt = dm->Lt, C = dm->C;
	sora_err *e = f->e;
	TRY(sora_cpu_split_tokens(NULL, a->img, x, B, Lt, L, C, e)); /* [B·L, C] */
	TRY(lin(f, &m->final_mod, a->mod, pa->svec, B));             /* [B, 2C] */
	TRY(H2(a->mod, B, (int64_t)2 * C, "final_layer.adaLN_modulation"));
	TRY(sora_cpu_adaln(a->h, a->img, a->mod, a->mod + C, B, L, C, 2 * C, 1e-6f, e)); /* [B·L, C] */
	TRY(lin(f, &m->final_linear, out, a->h, B * L));                                 /* [B·L, in] */
	TRY(H3(out, B, L, m->cfg.in_channels, "final_layer.out"));
	TRY(H3(out, B, L, m->cfg.in_channels, "output"));
	return 0;
fail:
	return -1;
}

/* ---- the inference forward: one activation set shared by every block ---- */

int mmdit_check_input(const sora_mmdit *m, const sora_mmdit_input *in, sora_err *e)
{
	const int Lj = in->L + in->Lt;
	/* Row counts are ints in the ops (the QK norm sees B·Lj·H rows); offsets are size_t. */
	CHECK(e, in->B > 0 && in->L > 0 && in->Lt >= 0 && (int64_t)in->B * Lj * m->cfg.heads < INT32_MAX,
	      "MMDiT forward: bad sizes B %d, L %d, Lt %d", in->B, in->L, in->Lt);
	CHECK(e,
	      in->img && in->img_ids && (in->txt || !in->Lt) && (in->txt_ids || !in->Lt) && in->timesteps &&
		  in->y_vec,
	      "MMDiT forward: an input is missing");
	return 0;
fail:
	return -1;
}

int sora_mmdit_forward(sora_mmdit *m, const sora_mmdit_input *in, float *out, const sora_mmdit_hook *hk,
		       sora_err *e)
{
	const sora_mmdit_config *c = &m->cfg;
	mmdit_fwd ff = {.m = m, .hook = hk, .e = e}, *f = &ff;
	mmdit_prep_acts pa;
	mmdit_double_acts da;
	mmdit_single_acts sa;
	mmdit_final_acts fa;
	float *base = NULL;
	TRY(mmdit_check_input(m, in, e));
	const mmdit_dims d = mmdit_dims_of(c, in->B, in->L, in->Lt);
	const size_t nimg = (size_t)d.B * d.L * d.C, ntxt = (size_t)d.B * d.Lt * d.C;
	/* The residual streams, then the block sets, which share one region: the double blocks are done
	 * before the first single block starts, and the final layer after the last. */
	size_t blk = mmdit_double_floats(c, &d);
	if (mmdit_single_floats(c, &d) > blk)
		blk = mmdit_single_floats(c, &d);
	if (mmdit_final_floats(&d) > blk)
		blk = mmdit_final_floats(&d);
	const size_t total = mmdit_prep_floats(c, &d) + nimg + ntxt + nimg + ntxt + blk + 32;
	CHECK_ALLOC(e, base = malloc(total * sizeof *base));
	float *at = base, *img = at, *txt = img + nimg, *x = txt + ntxt; /* x [B, Lj, C] */
	at = x + nimg + ntxt;
	mmdit_prep_cut(&pa, c, &d, &at);
	float *region = at;
	mmdit_double_cut(&da, c, &d, &at);
	at = region;
	mmdit_single_cut(&sa, c, &d, &at);
	at = region;
	mmdit_final_cut(&fa, &d, &at);
	TRY(mmdit_prepare_forward(f, in, &pa, img, txt));
	for (int i = 0; i < c->depth; i++) {
		f->used = 0;
		TRY(mmdit_double_forward(f, &pa, &da, &d, i, img, txt, img, txt));
	}
	TRY(sora_cpu_cat_tokens(x, txt, img, d.B, d.Lt, d.L, d.C, e)); /* [B, Lj, C] */
	for (int i = 0; i < c->depth_single; i++) {
		f->used = 0;
		TRY(mmdit_single_forward(f, &pa, &sa, &d, i, x, x));
	}
	f->used = 0;
	TRY(mmdit_final_forward(f, &pa, &fa, &d, x, out));
	free(base);
	return 0;
fail:
	free(base);
	return -1;
}
