#include "aesthetic.h"

#include "../nn/ops.h"
#include "weights.h"

#include <stdio.h>
#include <stdlib.h>

#define NLAYERS 5

struct sora_aesthetic {
	sora_tensor w[NLAYERS], b[NLAYERS];
};

/* nn.Sequential indices of the Linear layers (1, 3, 5 are Dropout) and their widths. */
static const int seq_index[NLAYERS] = {0, 2, 4, 6, 7};
static const int width[NLAYERS + 1] = {768, 1024, 128, 64, 16, 1};

int sora_aesthetic_dim(const sora_aesthetic *m)
{
	return (int)m->w[0].shape[1];
}

int sora_aesthetic_load(sora_aesthetic **out, const char *weights, char **report, sora_err *e)
{
	sora_aesthetic *m = NULL;
	sora_safetensors *st = NULL;
	char names[2 * NLAYERS][32];
	sora_weight_spec spec[2 * NLAYERS];
	*out = NULL;
	if (report)
		*report = NULL;
	CHECK_ALLOC(e, m = calloc(1, sizeof *m));
	for (int i = 0; i < NLAYERS; i++) {
		const size_t w = 2 * (size_t)i, b = w + 1;
		snprintf(names[w], sizeof names[w], "layers.%d.weight", seq_index[i]);
		snprintf(names[b], sizeof names[b], "layers.%d.bias", seq_index[i]);
		spec[w] = (sora_weight_spec){names[w], 2, {width[i + 1], width[i]}, &m->w[i]};
		spec[b] = (sora_weight_spec){names[b], 1, {width[i + 1]}, &m->b[i]};
	}
	TRY(sora_st_open(&st, weights, e));
	TRY(sora_weights_load(st, spec, 2 * NLAYERS, NULL, SORA_F32, report, e));
	sora_st_close(st);
	*out = m;
	return 0;
fail:
	sora_st_close(st);
	free(m);
	return -1;
}

void sora_aesthetic_free(sora_aesthetic *m)
{
	if (!m)
		return;
	for (int i = 0; i < NLAYERS; i++)
		sora_tensor_free(&m->w[i]), sora_tensor_free(&m->b[i]);
	free(m);
}

int sora_aesthetic_score(const sora_aesthetic *m, const float *image_embeds, int N, float *scores,
			 sora_err *e)
{
	float *a = NULL, *b = NULL;
	CHECK(e, N > 0, "batch size %d", N);
	CHECK_ALLOC(e, a = malloc((size_t)N * width[1] * sizeof *a));
	CHECK_ALLOC(e, b = malloc((size_t)N * width[1] * sizeof *b));
	/* simple_inference.py's normalized(): a zero vector stays zero, as with any tiny eps. */
	TRY(sora_cpu_l2_normalize(b, image_embeds, N, width[0], 1e-12f, e)); /* [N, 768] */
	for (int i = 0; i < NLAYERS; i++) { /* [N, 1024] → [N, 128] → [N, 64] → [N, 16] → [N, 1] */
		float *y = i == NLAYERS - 1 ? scores : a;
		TRY(sora_cpu_linear(y, b, m->w[i].data, m->b[i].data, N, width[i], width[i + 1], e));
		float *t = a;
		a = b, b = t;
	}
	free(a), free(b);
	return 0;
fail:
	free(a), free(b);
	sora_err_prefix(e, "aesthetic: ");
	return -1;
}
