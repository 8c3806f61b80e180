/* The MMDiT's training forward and backward (mmdit_train.h): mmdit_forward.c's parts run with a set of
 * activations per block, then their backward in reverse, part by part, on the ops of ops_grad.h and
 * ops_dit_grad.h. The gradient of each activation set lives in a set of the same shape (a "g" set), so
 * the backward of a line `y = op(x)` of the forward reads a->x, g->y and adds into g->x. */
#include "mmdit_blocks.h"
#include "mmdit_train.h"

#include "../nn/ops.h"
#include "../nn/ops_dit.h"
#include "../nn/ops_dit_grad.h"
#include "../nn/ops_grad.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct sora_mmdit_tape {
	int ckpt_double, ckpt_single;
	int B, L, Lt; /* the sizes the buffers are cut for (0: none yet) */
	int fused, guidance, cond;
	float *base;
	size_t floats;
	mmdit_prep_acts pa, gp;         /* activations of the input embedders, and their gradients */
	float **img, **txt;             /* residual streams: [0] from prepare, [i + 1] after double block i */
	float **x;                      /* [0] = cat(txt, img), [i + 1] after single block i */
	mmdit_double_acts *da, dshared; /* per double block (checkpointed ones share dshared) */
	mmdit_single_acts *sa, sshared;
	mmdit_final_acts fa;
	float *dimg, *dtxt, *dx; /* gradients of the residual streams */
	float *gregion;          /* the g set of the part being differentiated */
	size_t gregion_n;
};

sora_mmdit_tape *sora_mmdit_tape_new(int ckpt_double, int ckpt_single)
{
	sora_mmdit_tape *tp = calloc(1, sizeof *tp);
	if (tp) {
		tp->ckpt_double = ckpt_double > 0 ? ckpt_double : 0;
		tp->ckpt_single = ckpt_single > 0 ? ckpt_single : 0;
	}
	return tp;
}

static void tape_release(sora_mmdit_tape *tp)
{
	free(tp->base);
	free(tp->img);
	free(tp->txt);
	free(tp->x);
	free(tp->da);
	free(tp->sa);
	tp->base = NULL;
	tp->img = tp->txt = tp->x = NULL;
	tp->da = NULL;
	tp->sa = NULL;
	tp->floats = 0;
	tp->B = tp->L = tp->Lt = 0;
}

void sora_mmdit_tape_free(sora_mmdit_tape *tp)
{
	if (!tp)
		return;
	tape_release(tp);
	free(tp);
}

size_t sora_mmdit_tape_bytes(const sora_mmdit_tape *tp)
{
	return tp ? tp->floats * sizeof(float) : 0;
}

static size_t max3(size_t a, size_t b, size_t c)
{
	return a > b ? (a > c ? a : c) : (b > c ? b : c);
}

/* Buffers for these sizes: kept when they match the last forward's. */
static int tape_fit(sora_mmdit_tape *tp, const sora_mmdit_config *c, const mmdit_dims *d, sora_err *e)
{
	if (tp->base && tp->B == d->B && tp->L == d->L && tp->Lt == d->Lt && tp->fused == c->fused_qkv &&
	    tp->guidance == c->guidance_embed && tp->cond == c->cond_embed)
		return 0;
	tape_release(tp);
	const int D = c->depth, S = c->depth_single;
	const int kd = tp->ckpt_double < D ? tp->ckpt_double : D,
		  ks = tp->ckpt_single < S ? tp->ckpt_single : S;
	const size_t nimg = (size_t)d->B * d->L * d->C, ntxt = (size_t)d->B * d->Lt * d->C, nx = nimg + ntxt;
	const size_t prep = mmdit_prep_floats(c, d), dbl = mmdit_double_floats(c, d);
	const size_t sgl = mmdit_single_floats(c, d), fin = mmdit_final_floats(d);
	tp->gregion_n = max3(dbl, sgl, fin);
	/* prep and its gradients, the residual streams, the block sets (own ones, one shared when any block
	 * is checkpointed), the final set, the stream gradients, the g region. */
	const size_t total = 2 * prep + (size_t)(D + 1) * nx + (size_t)(S + 1) * nx +
			     (size_t)(D - kd + (kd > 0)) * dbl + (size_t)(S - ks + (ks > 0)) * sgl + fin +
			     2 * nx + tp->gregion_n + 64;
	CHECK_ALLOC(e, tp->base = malloc(total * sizeof(float)));
	CHECK_ALLOC(e, tp->img = calloc((size_t)D + 1, sizeof *tp->img));
	CHECK_ALLOC(e, tp->txt = calloc((size_t)D + 1, sizeof *tp->txt));
	CHECK_ALLOC(e, tp->x = calloc((size_t)S + 1, sizeof *tp->x));
	CHECK_ALLOC(e, tp->da = calloc((size_t)D + 1, sizeof *tp->da));
	CHECK_ALLOC(e, tp->sa = calloc((size_t)S + 1, sizeof *tp->sa));
	float *at = tp->base;
	mmdit_prep_cut(&tp->pa, c, d, &at);
	mmdit_prep_cut(&tp->gp, c, d, &at);
	for (int i = 0; i <= D; i++) {
		tp->img[i] = at;
		tp->txt[i] = at + nimg;
		at += nx;
	}
	for (int i = 0; i <= S; i++) {
		tp->x[i] = at;
		at += nx;
	}
	if (kd > 0)
		mmdit_double_cut(&tp->dshared, c, d, &at);
	for (int i = 0; i < D; i++)
		if (i < kd)
			tp->da[i] = tp->dshared;
		else
			mmdit_double_cut(&tp->da[i], c, d, &at);
	if (ks > 0)
		mmdit_single_cut(&tp->sshared, c, d, &at);
	for (int i = 0; i < S; i++)
		if (i < ks)
			tp->sa[i] = tp->sshared;
		else
			mmdit_single_cut(&tp->sa[i], c, d, &at);
	mmdit_final_cut(&tp->fa, d, &at);
	tp->dimg = at;
	tp->dtxt = at + nimg;
	at += nx;
	tp->dx = at;
	at += nx;
	tp->gregion = at;
	tp->floats = total;
	tp->B = d->B, tp->L = d->L, tp->Lt = d->Lt;
	tp->fused = c->fused_qkv, tp->guidance = c->guidance_embed, tp->cond = c->cond_embed;
	return 0;
fail:
	tape_release(tp);
	return -1;
}

static int f32_in_place(void *ctx, const char *name, sora_tensor *t, sora_err *e)
{
	(void)ctx;
	CHECK(e, mmdit_in_place(t), "MMDiT training: %s is %s, not f32 in memory (train on sora_mmdit_view)",
	      name, sora_dtype_name(t->dtype));
	return 0;
fail:
	return -1;
}

int sora_mmdit_train_forward(sora_mmdit *m, sora_mmdit_tape *tp, const sora_mmdit_input *in, float *out,
			     sora_err *e)
{
	const sora_mmdit_config *c = &m->cfg;
	mmdit_fwd f = {.m = m, .e = e};
	TRY(mmdit_check_input(m, in, e));
	TRY(sora_mmdit_each(m, f32_in_place, NULL, e));
	const mmdit_dims d = mmdit_dims_of(c, in->B, in->L, in->Lt);
	TRY(tape_fit(tp, c, &d, e));
	TRY(mmdit_prepare_forward(&f, in, &tp->pa, tp->img[0], tp->txt[0]));
	for (int i = 0; i < c->depth; i++)
		TRY(mmdit_double_forward(&f, &tp->pa, &tp->da[i], &d, i, tp->img[i], tp->txt[i],
					 tp->img[i + 1], tp->txt[i + 1]));
	TRY(sora_cpu_cat_tokens(tp->x[0], tp->txt[c->depth], tp->img[c->depth], d.B, d.Lt, d.L, d.C,
				e)); /* [B, Lj, C] */
	for (int i = 0; i < c->depth_single; i++)
		TRY(mmdit_single_forward(&f, &tp->pa, &tp->sa[i], &d, i, tp->x[i], tp->x[i + 1]));
	TRY(mmdit_final_forward(&f, &tp->pa, &tp->fa, &d, tp->x[c->depth_single], out));
	return 0;
fail:
	return -1;
}

/* ---- backward, part by part ---- */

typedef struct bwd {
	const sora_mmdit *m, *g; /* weights and their gradients */
	sora_mmdit_tape *tp;
	mmdit_dims d;
	sora_err *e;
} bwd;

/* x's gradient += dy·W, W's and b's += (y = x·Wᵀ + b). */
static int lin_back(bwd *k, const sora_mmdit_linear *l, const sora_mmdit_linear *gl, float *dx,
		    const float *dy, const float *x, int N)
{
	return sora_cpu_linear_backward(dx, gl->w.data, gl->b.data, dy, x, l->w.data, N, (int)l->w.shape[1],
					(int)l->w.shape[0], k->e);
}

/* One stream's MLP and attention output projection, rows [row0, row0 + B·Ls): dres holds ∂out on entry
 * and ∂x on exit (the residual path plus both branches' adaLN / gate terms, except the q/k/v branch,
 * added later); g->sa gets ∂att. */
static int stream_out_back(bwd *k, const sora_mmdit_stream *s, const sora_mmdit_stream *gs,
			   const mmdit_double_acts *a, mmdit_double_acts *g, const float *mod, float *dmod,
			   size_t row0, int Ls, float *dres)
{
	const int B = k->d.B, C = k->d.C, M = k->d.M, N = B * Ls;
	const size_t rc = row0 * C, rm = row0 * M;
	sora_err *e = k->e;
	/* out = x1 + g2·o */
	TRY(sora_cpu_gated_add_backward(g->o + rc, dmod + (size_t)5 * C, dres, a->o + rc, mod + (size_t)5 * C,
					B, Ls, C, 6 * C, e));
	TRY(lin_back(k, &s->mlp2, &gs->mlp2, g->m1 + rm, g->o + rc, a->m1 + rm, N)); /* ∂m1 [N, M] */
	TRY(sora_cpu_gelu_tanh_backward(g->m0 + rm, g->m1 + rm, a->m0 + rm, (size_t)N * M, e)); /* ∂m0 */
	TRY(lin_back(k, &s->mlp0, &gs->mlp0, g->h2 + rc, g->m0 + rm, a->h2 + rc, N)); /* ∂h2 [N, C] */
	/* h2 = adaLN(x1): dres becomes ∂x1 */
	TRY(sora_cpu_adaln_backward(dres, dmod + (size_t)3 * C, dmod + (size_t)4 * C, g->h2 + rc, a->x1 + rc,
				    mod + (size_t)4 * C, B, Ls, C, 6 * C, 1e-6f, e));
	/* x1 = x + g1·proj(att): dres is ∂x so far */
	TRY(sora_cpu_gated_add_backward(g->po + rc, dmod + (size_t)2 * C, dres, a->po + rc,
					mod + (size_t)2 * C, B, Ls, C, 6 * C, e));
	TRY(lin_back(k, &s->proj, &gs->proj, g->sa + rc, g->po + rc, a->sa + rc, N)); /* ∂att [N, C] */
	return 0;
fail:
	return -1;
}

/* One stream's q/k/v projections and adaLN: ∂sq, ∂sk, ∂sv (stream-major, in g) into ∂h, then into dres
 * and the modulation's gradient. */
static int stream_qkv_back(bwd *k, const sora_mmdit_stream *s, const sora_mmdit_stream *gs,
			   const mmdit_double_acts *a, mmdit_double_acts *g, const float *mod, float *dmod,
			   const float *x, size_t row0, int Ls, float *dres)
{
	const int B = k->d.B, C = k->d.C, N = B * Ls;
	const size_t rc = row0 * C;
	sora_err *e = k->e;
	if (k->m->cfg.fused_qkv) {
		float *gp = g->p + rc * 3;
		TRY(sora_cpu_add_cols(gp, 3 * C, g->sq + rc, C, N, C, e));     /* ∂qkv[:, :C] */
		TRY(sora_cpu_add_cols(gp + C, 3 * C, g->sk + rc, C, N, C, e)); /* ∂qkv[:, C:2C] */
		TRY(sora_cpu_add_cols(gp + (size_t)2 * C, 3 * C, g->sv + rc, C, N, C, e)); /* ∂qkv[:, 2C:] */
		TRY(lin_back(k, &s->qkv, &gs->qkv, g->h + rc, gp, a->h + rc, N));          /* ∂h [N, C] */
	} else {
		TRY(lin_back(k, &s->q, &gs->q, g->h + rc, g->sq + rc, a->h + rc, N)); /* ∂h [N, C] */
		TRY(lin_back(k, &s->k, &gs->k, g->h + rc, g->sk + rc, a->h + rc, N));
		TRY(lin_back(k, &s->v, &gs->v, g->h + rc, g->sv + rc, a->h + rc, N));
	}
	TRY(sora_cpu_adaln_backward(dres, dmod, dmod + C, g->h + rc, x, mod + C, B, Ls, C, 6 * C, 1e-6f, e));
	return 0;
fail:
	return -1;
}

/* The QK norm of one stream: ∂(normed) at dn (stream-major) into ∂(before) at g_pre. */
static int stream_norm_back(bwd *k, const sora_tensor *w, const sora_tensor *gw, float *g_pre,
			    const float *dn, const float *pre, size_t row0, int Ls)
{
	const size_t rc = row0 * k->d.C;
	return sora_cpu_rmsnorm_backward(g_pre + rc, gw->data, dn + rc, pre + rc, w->data,
					 k->d.B * Ls * k->d.H, k->d.D, 1e-6f, k->e);
}

static int double_back(bwd *k, int blk, const mmdit_double_acts *a, const float *img_in, const float *txt_in)
{
	const sora_mmdit_double *d = &k->m->dbl[blk], *gd = &k->g->dbl[blk];
	const sora_mmdit_config *c = &k->m->cfg;
	sora_mmdit_tape *tp = k->tp;
	const int B = k->d.B, Lt = k->d.Lt, L = k->d.L, Lj = k->d.Lj, C = k->d.C, H = k->d.H, D = k->d.D;
	const size_t off = (size_t)B * Lt;
	sora_err *e = k->e;
	sora_attn_args aa = {.B = B, .H = H, .Tq = Lj, .Tk = Lj, .D = D, .scale = 1.0f / sqrtf((float)D)};
	mmdit_double_acts g;
	float *at = tp->gregion;
	memset(tp->gregion, 0, tp->gregion_n * sizeof(float));
	mmdit_double_cut(&g, c, &k->d, &at);
	TRY(stream_out_back(k, &d->img, &gd->img, a, &g, a->mod_img, g.mod_img, off, L, tp->dimg));
	TRY(stream_out_back(k, &d->txt, &gd->txt, a, &g, a->mod_txt, g.mod_txt, 0, Lt, tp->dtxt));
	/* The joint attention: ∂att (stream-major) to joint, through SDPA and RoPE, back to stream-major.
	 * x1 and h2's gradients are spent: they hold the normed q's and k's on the way. */
	TRY(sora_cpu_cat_tokens(g.a, g.sa, g.sa + off * C, B, Lt, L, C, e)); /* [B, Lj, C] */
	TRY(sora_cpu_attention_backward(g.q, g.k, g.v, g.a, a->q, a->k, a->v, a->a, &aa, e));
	TRY(sora_cpu_rope_apply_backward(g.q, tp->pa.cos, tp->pa.sin, B, Lj, H, D, !c->liger_rope, e));
	TRY(sora_cpu_rope_apply_backward(g.k, tp->pa.cos, tp->pa.sin, B, Lj, H, D, !c->liger_rope, e));
	TRY(sora_cpu_split_tokens(g.x1, g.x1 + off * C, g.q, B, Lt, L, C, e)); /* ∂(normed q) */
	TRY(sora_cpu_split_tokens(g.h2, g.h2 + off * C, g.k, B, Lt, L, C, e)); /* ∂(normed k) */
	TRY(sora_cpu_split_tokens(g.sv, g.sv + off * C, g.v, B, Lt, L, C, e)); /* ∂v */
	TRY(stream_norm_back(k, &d->img.q_norm, &gd->img.q_norm, g.sq, g.x1, a->sq, off, L));
	TRY(stream_norm_back(k, &d->txt.q_norm, &gd->txt.q_norm, g.sq, g.x1, a->sq, 0, Lt));
	TRY(stream_norm_back(k, &d->img.k_norm, &gd->img.k_norm, g.sk, g.h2, a->sk, off, L));
	TRY(stream_norm_back(k, &d->txt.k_norm, &gd->txt.k_norm, g.sk, g.h2, a->sk, 0, Lt));
	TRY(stream_qkv_back(k, &d->img, &gd->img, a, &g, a->mod_img, g.mod_img, img_in, off, L, tp->dimg));
	TRY(stream_qkv_back(k, &d->txt, &gd->txt, a, &g, a->mod_txt, g.mod_txt, txt_in, 0, Lt, tp->dtxt));
	TRY(lin_back(k, &d->img.mod, &gd->img.mod, tp->gp.svec, g.mod_img, tp->pa.svec, B)); /* ∂svec */
	TRY(lin_back(k, &d->txt.mod, &gd->txt.mod, tp->gp.svec, g.mod_txt, tp->pa.svec, B));
	return 0;
fail:
	return -1;
}

/* dx holds ∂x_out on entry, ∂x_in on exit. */
static int single_back(bwd *k, int blk, const mmdit_single_acts *a, const float *x_in, float *dx)
{
	const sora_mmdit_single *s = &k->m->sgl[blk], *gs = &k->g->sgl[blk];
	const sora_mmdit_config *c = &k->m->cfg;
	sora_mmdit_tape *tp = k->tp;
	const int B = k->d.B, Lj = k->d.Lj, C = k->d.C, M = k->d.M, H = k->d.H, D = k->d.D, N = B * Lj;
	const int W = c->fused_qkv ? 3 * C + M : C + M;
	sora_err *e = k->e;
	sora_attn_args aa = {.B = B, .H = H, .Tq = Lj, .Tk = Lj, .D = D, .scale = 1.0f / sqrtf((float)D)};
	mmdit_single_acts g;
	float *at = tp->gregion;
	memset(tp->gregion, 0, tp->gregion_n * sizeof(float));
	mmdit_single_cut(&g, c, &k->d, &at);
	/* x_out = x_in + gate·linear2(cat) */
	TRY(sora_cpu_gated_add_backward(g.o, g.mod + (size_t)2 * C, dx, a->o, a->mod + (size_t)2 * C, B, Lj,
					C, 3 * C, e));
	TRY(lin_back(k, &s->linear2, &gs->linear2, g.cat, g.o, a->cat, N)); /* ∂cat [N, C + M] */
	TRY(sora_cpu_gelu_tanh_cols_backward(g.p + W - M, W, g.cat + C, C + M, a->p + W - M, W, N, M,
					     e));               /* ∂mlp into ∂p */
	TRY(sora_cpu_copy_cols(g.a, C, g.cat, C + M, N, C, e)); /* ∂att [N, C] */
	TRY(sora_cpu_attention_backward(g.q, g.k, g.v, g.a, a->q, a->k, a->v, a->a, &aa, e));
	TRY(sora_cpu_rope_apply_backward(g.q, tp->pa.cos, tp->pa.sin, B, Lj, H, D, !c->liger_rope, e));
	TRY(sora_cpu_rope_apply_backward(g.k, tp->pa.cos, tp->pa.sin, B, Lj, H, D, !c->liger_rope, e));
	TRY(sora_cpu_rmsnorm_backward(g.sq, gs->q_norm.data, g.q, a->sq, s->q_norm.data, N * H, D, 1e-6f, e));
	TRY(sora_cpu_rmsnorm_backward(g.sk, gs->k_norm.data, g.k, a->sk, s->k_norm.data, N * H, D, 1e-6f, e));
	if (c->fused_qkv) {
		TRY(sora_cpu_add_cols(g.p, W, g.sq, C, N, C, e));                /* ∂linear1[:, :C] */
		TRY(sora_cpu_add_cols(g.p + C, W, g.sk, C, N, C, e));            /* ∂linear1[:, C:2C] */
		TRY(sora_cpu_add_cols(g.p + (size_t)2 * C, W, g.v, C, N, C, e)); /* ∂linear1[:, 2C:3C] */
		TRY(lin_back(k, &s->linear1, &gs->linear1, g.h, g.p, a->h, N));  /* ∂h [N, C] */
	} else {
		TRY(sora_cpu_add_cols(g.p, W, g.v, C, N, C, e));     /* ∂v_mlp[:, :C] */
		TRY(lin_back(k, &s->q, &gs->q, g.h, g.sq, a->h, N)); /* ∂h [N, C] */
		TRY(lin_back(k, &s->k, &gs->k, g.h, g.sk, a->h, N));
		TRY(lin_back(k, &s->v_mlp, &gs->v_mlp, g.h, g.p, a->h, N));
	}
	TRY(sora_cpu_adaln_backward(dx, g.mod, g.mod + C, g.h, x_in, a->mod + C, B, Lj, C, 3 * C, 1e-6f, e));
	TRY(lin_back(k, &s->mod, &gs->mod, tp->gp.svec, g.mod, tp->pa.svec, B)); /* ∂svec */
	return 0;
fail:
	return -1;
}

/* ∂out into dx [B, Lj, C] (zero on the text rows). */
static int final_back(bwd *k, const float *dout)
{
	const sora_mmdit *m = k->m, *gm = k->g;
	sora_mmdit_tape *tp = k->tp;
	const mmdit_final_acts *a = &tp->fa;
	const int B = k->d.B, L = k->d.L, Lt = k->d.Lt, C = k->d.C;
	sora_err *e = k->e;
	mmdit_final_acts g;
	float *at = tp->gregion;
	memset(tp->gregion, 0, tp->gregion_n * sizeof(float));
	mmdit_final_cut(&g, &k->d, &at);
	TRY(lin_back(k, &m->final_linear, &gm->final_linear, g.h, dout, a->h, B * L)); /* ∂h [B·L, C] */
	TRY(sora_cpu_adaln_backward(g.img, g.mod, g.mod + C, g.h, a->img, a->mod + C, B, L, C, 2 * C, 1e-6f,
				    e));
	TRY(lin_back(k, &m->final_mod, &gm->final_mod, tp->gp.svec, g.mod, tp->pa.svec, B)); /* ∂svec */
	TRY(sora_cpu_cat_tokens(tp->dx, tp->dtxt, g.img, B, Lt, L, C, e)); /* dtxt is still zero */
	return 0;
fail:
	return -1;
}

/* An MLPEmbedder's backward: ∂y into its weights and dx (NULL: the input takes no gradient). */
static int mlp_embed_back(bwd *k, const sora_mmdit_linear *l0, const sora_mmdit_linear *l1,
			  const sora_mmdit_linear *g0, const sora_mmdit_linear *g1, float *dh0, float *dh1,
			  const float *h0, const float *h1, const float *dy, const float *x, float *dx)
{
	const int B = k->d.B;
	TRY(lin_back(k, l1, g1, dh1, dy, h1, B));                                    /* ∂h1 [B, C] */
	TRY(sora_cpu_silu_backward(dh0, dh1, h0, (size_t)B * l0->w.shape[0], k->e)); /* ∂h0 [B, C] */
	TRY(lin_back(k, l0, g0, dx, dh0, x, B));
	return 0;
fail:
	return -1;
}

static int prepare_back(bwd *k, const sora_mmdit_input *in, const sora_mmdit_input_grad *gin)
{
	const sora_mmdit *m = k->m, *gm = k->g;
	sora_mmdit_tape *tp = k->tp;
	const mmdit_prep_acts *a = &tp->pa;
	mmdit_prep_acts *g = &tp->gp;
	const int B = k->d.B, L = k->d.L, Lt = k->d.Lt, C = k->d.C;
	sora_err *e = k->e;
	TRY(sora_cpu_silu_backward(g->vec, g->svec, a->vec, (size_t)B * C, e)); /* ∂vec [B, C] */
	/* vec = time_in(temb) [+ guidance_in(gemb)] + vector_in(y_vec); t and guidance take no gradient */
	TRY(mlp_embed_back(k, &m->time_in0, &m->time_in1, &gm->time_in0, &gm->time_in1, g->t0, g->t1, a->t0,
			   a->t1, g->vec, a->temb, NULL));
	if (m->cfg.guidance_embed)
		TRY(mlp_embed_back(k, &m->guid_in0, &m->guid_in1, &gm->guid_in0, &gm->guid_in1, g->g0, g->g1,
				   a->g0, a->g1, g->vec, a->gemb, NULL));
	TRY(mlp_embed_back(k, &m->vec_in0, &m->vec_in1, &gm->vec_in0, &gm->vec_in1, g->y0, g->y1, a->y0,
			   a->y1, g->vec, in->y_vec, gin ? gin->y_vec : NULL));
	TRY(lin_back(k, &m->txt_in, &gm->txt_in, gin ? gin->txt : NULL, tp->dtxt, in->txt, B * Lt));
	TRY(lin_back(k, &m->img_in, &gm->img_in, gin ? gin->img : NULL, tp->dimg, in->img, B * L));
	if (m->cfg.cond_embed)
		TRY(lin_back(k, &m->cond_in, &gm->cond_in, gin ? gin->cond : NULL, tp->dimg, in->cond,
			     B * L));
	return 0;
fail:
	return -1;
}

static int same_config(const sora_mmdit_config *a, const sora_mmdit_config *b)
{
	return a->in_channels == b->in_channels && a->vec_in_dim == b->vec_in_dim &&
	       a->context_in_dim == b->context_in_dim && a->hidden == b->hidden && a->heads == b->heads &&
	       a->mlp_hidden == b->mlp_hidden && a->depth == b->depth && a->depth_single == b->depth_single &&
	       a->patch_size == b->patch_size && a->qkv_bias == b->qkv_bias && a->fused_qkv == b->fused_qkv &&
	       a->guidance_embed == b->guidance_embed && a->cond_embed == b->cond_embed;
}

int sora_mmdit_backward(sora_mmdit *m, sora_mmdit *grad, sora_mmdit_tape *tp, const sora_mmdit_input *in,
			const float *dout, const sora_mmdit_input_grad *gin, sora_err *e)
{
	const sora_mmdit_config *c = &m->cfg;
	const mmdit_dims d = mmdit_dims_of(c, in->B, in->L, in->Lt);
	bwd k = {.m = m, .g = grad, .tp = tp, .d = d, .e = e};
	mmdit_fwd f = {.m = m, .e = e};
	CHECK(e, tp->base && tp->B == in->B && tp->L == in->L && tp->Lt == in->Lt,
	      "MMDiT backward: the tape holds no forward of these sizes (B %d, L %d, Lt %d)", in->B, in->L,
	      in->Lt);
	CHECK(e, same_config(c, &grad->cfg), "MMDiT backward: the gradient model has another config");
	CHECK(e, !c->cond_embed || in->cond,
	      "MMDiT backward: a cond_in model needs the condition (zeros for t2v)");
	TRY(sora_mmdit_each(grad, f32_in_place, NULL, e));
	const size_t nx = (size_t)d.B * d.Lj * d.C;
	memset(tp->dimg, 0, 2 * nx * sizeof(float)); /* dimg, dtxt, dx */
	float *at = tp->gp.temb;
	memset(at, 0, mmdit_prep_floats(c, &d) * sizeof(float));
	TRY(final_back(&k, dout));
	for (int i = c->depth_single - 1; i >= 0; i--) {
		if (i < tp->ckpt_single) /* checkpointed: its activations again, the same bits */
			TRY(mmdit_single_forward(&f, &tp->pa, &tp->sa[i], &d, i, tp->x[i], tp->x[i + 1]));
		TRY(single_back(&k, i, &tp->sa[i], tp->x[i], tp->dx));
	}
	TRY(sora_cpu_split_tokens(tp->dtxt, tp->dimg, tp->dx, d.B, d.Lt, d.L, d.C, e));
	for (int i = c->depth - 1; i >= 0; i--) {
		if (i < tp->ckpt_double)
			TRY(mmdit_double_forward(&f, &tp->pa, &tp->da[i], &d, i, tp->img[i], tp->txt[i],
						 tp->img[i + 1], tp->txt[i + 1]));
		TRY(double_back(&k, i, &tp->da[i], tp->img[i], tp->txt[i]));
	}
	TRY(prepare_back(&k, in, gin));
	return 0;
fail:
	return -1;
}
