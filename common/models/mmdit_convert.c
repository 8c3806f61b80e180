/* FLUX.1-dev's MMDiT layout into Open-Sora 2.0's (mmdit_train.h: sora_mmdit_from_flux). */
#include "mmdit_train.h"

#include <stdlib.h>
#include <string.h>

sora_mmdit_config sora_mmdit_flux_config(const sora_mmdit_config *flux, int keep_guidance, int cond_embed)
{
	sora_mmdit_config c = *flux;
	c.fused_qkv = 0;
	c.liger_rope = 1;
	c.guidance_embed = flux->guidance_embed && keep_guidance;
	c.cond_embed = cond_embed;
	return c;
}

/* rows [r0, r0 + n) of src [*, in] (and of its bias) into dst, each head's rows permuted from the
 * interleaved basis to the half-split one when perm is set. */
typedef struct rows {
	const sora_tensor *w, *b; /* the fused source */
	int64_t r0, n;
	int perm, D; /* head size */
} rows;

/* The source row of destination row r: within a head, half-split dim j < D/2 held interleaved dim 2j,
 * dim D/2 + j held 2j + 1. */
static int64_t source_row(const rows *r, int64_t i)
{
	if (!r->perm)
		return i;
	const int64_t head = i / r->D, j = i % r->D, half = r->D / 2;
	return head * r->D + (j < half ? 2 * j : 2 * (j - half) + 1);
}

static int copy_rows(const rows *r, const sora_mmdit_linear *dst, sora_err *e)
{
	const int64_t in = r->w->shape[1];
	for (int64_t i = 0; i < r->n; i++) {
		const int64_t s = r->r0 + source_row(r, i);
		TRY(sora_to_f32((float *)dst->w.data + i * in,
				(const char *)r->w->data + s * in * (int64_t)sora_dtype_size(r->w->dtype),
				r->w->dtype, (size_t)in, e));
		if (dst->b.data)
			TRY(sora_to_f32((float *)dst->b.data + i,
					(const char *)r->b->data + s * (int64_t)sora_dtype_size(r->b->dtype),
					r->b->dtype, 1, e));
	}
	return 0;
fail:
	return -1;
}

static int copy_tensor(sora_tensor *dst, const sora_tensor *src, sora_err *e)
{
	return sora_to_f32(dst->data, src->data, src->dtype, (size_t)sora_tensor_numel(dst), e);
}

static int copy_linear(sora_mmdit_linear *dst, const sora_mmdit_linear *src, sora_err *e)
{
	TRY(copy_tensor(&dst->w, &src->w, e));
	if (dst->b.data)
		TRY(copy_tensor(&dst->b, &src->b, e));
	return 0;
fail:
	return -1;
}

/* A QK-norm scale [D], permuted like the rows it scales. */
static int copy_scale(sora_tensor *dst, const sora_tensor *src, sora_err *e)
{
	const int D = (int)dst->shape[0];
	const rows r = {.w = src, .perm = 1, .D = D};
	for (int i = 0; i < D; i++)
		TRY(sora_to_f32((float *)dst->data + i,
				(const char *)src->data +
				    source_row(&r, i) * (int64_t)sora_dtype_size(src->dtype),
				src->dtype, 1, e));
	return 0;
fail:
	return -1;
}

/* q, k (permuted) and v (as is) from a fused projection whose rows are [q; k; v; ...]; v_rows rows of v
 * (C, or C + M for a single block's v_mlp, whose MLP rows follow v in linear1). */
static int split_fused(const sora_mmdit_linear *fused, sora_mmdit_linear *q, sora_mmdit_linear *k,
		       sora_mmdit_linear *v, int64_t C, int64_t v_rows, int D, sora_err *e)
{
	const sora_tensor *w = &fused->w, *b = &fused->b;
	TRY(copy_rows(&(rows){w, b, 0, C, 1, D}, q, e));
	TRY(copy_rows(&(rows){w, b, C, C, 1, D}, k, e));
	TRY(copy_rows(&(rows){w, b, 2 * C, v_rows, 0, D}, v, e));
	return 0;
fail:
	return -1;
}

int sora_mmdit_from_flux(sora_mmdit *v, const sora_mmdit *flux, float *buf, int keep_guidance, int cond_embed,
			 sora_err *e)
{
	const sora_mmdit_config *fc = &flux->cfg;
	const sora_mmdit_config c = sora_mmdit_flux_config(fc, keep_guidance, cond_embed);
	const int64_t C = fc->hidden, M = fc->mlp_hidden;
	CHECK(e, fc->fused_qkv && !fc->liger_rope && !fc->cond_embed,
	      "MMDiT: only a FLUX.1-dev layout (fused qkv, interleaved RoPE, no cond_in) converts");
	TRY(sora_mmdit_view_config(v, &c, buf, e));
	TRY(copy_linear(&v->img_in, &flux->img_in, e));
	if (cond_embed) { /* zero: initialize_weights' cond_in, so the converted model starts as FLUX did */
		memset(v->cond_in.w.data, 0, sora_tensor_nbytes(&v->cond_in.w));
		memset(v->cond_in.b.data, 0, sora_tensor_nbytes(&v->cond_in.b));
	}
	TRY(copy_linear(&v->time_in0, &flux->time_in0, e));
	TRY(copy_linear(&v->time_in1, &flux->time_in1, e));
	if (c.guidance_embed) {
		TRY(copy_linear(&v->guid_in0, &flux->guid_in0, e));
		TRY(copy_linear(&v->guid_in1, &flux->guid_in1, e));
	}
	TRY(copy_linear(&v->vec_in0, &flux->vec_in0, e));
	TRY(copy_linear(&v->vec_in1, &flux->vec_in1, e));
	TRY(copy_linear(&v->txt_in, &flux->txt_in, e));
	for (int i = 0; i < c.depth; i++)
		for (int k = 0; k < 2; k++) {
			const sora_mmdit_stream *s = k ? &flux->dbl[i].txt : &flux->dbl[i].img;
			sora_mmdit_stream *d = k ? &v->dbl[i].txt : &v->dbl[i].img;
			TRY(copy_linear(&d->mod, &s->mod, e));
			TRY(split_fused(&s->qkv, &d->q, &d->k, &d->v, C, C, c.head_dim, e));
			TRY(copy_scale(&d->q_norm, &s->q_norm, e));
			TRY(copy_scale(&d->k_norm, &s->k_norm, e));
			TRY(copy_linear(&d->proj, &s->proj, e));
			TRY(copy_linear(&d->mlp0, &s->mlp0, e));
			TRY(copy_linear(&d->mlp2, &s->mlp2, e));
		}
	for (int i = 0; i < c.depth_single; i++) {
		const sora_mmdit_single *s = &flux->sgl[i];
		sora_mmdit_single *d = &v->sgl[i];
		TRY(split_fused(&s->linear1, &d->q, &d->k, &d->v_mlp, C, C + M, c.head_dim, e));
		TRY(copy_linear(&d->linear2, &s->linear2, e));
		TRY(copy_scale(&d->q_norm, &s->q_norm, e));
		TRY(copy_scale(&d->k_norm, &s->k_norm, e));
		TRY(copy_linear(&d->mod, &s->mod, e));
	}
	TRY(copy_linear(&v->final_mod, &flux->final_mod, e));
	TRY(copy_linear(&v->final_linear, &flux->final_linear, e));
	return 0;
fail:
	sora_mmdit_free(v);
	return -1;
}
