/* The LAION "improved aesthetic predictor" (christophschuhmann/improved-aesthetic-predictor,
 * simple_inference.py): CLIP ViT-L/14 image_embeds, L2-normalised, through five Linear layers
 * 768 → 1024 → 128 → 64 → 16 → 1 with no activations between them (the Dropouts are identities at
 * inference). Open-Sora's aesthetic score. */
#ifndef SORA_AESTHETIC_H
#define SORA_AESTHETIC_H

#include "../util/err.h"

typedef struct sora_aesthetic sora_aesthetic;

/* weights: the state dict of sac+logos+ava1-l14-linearMSE as safetensors (`layers.{0,2,4,6,7}.*`). */
int sora_aesthetic_load(sora_aesthetic **out, const char *weights, char **report, sora_err *e);
void sora_aesthetic_free(sora_aesthetic *m);
/* The embedding width the first layer takes (768). */
int sora_aesthetic_dim(const sora_aesthetic *m);

/* scores [N] from image_embeds [N, dim] as CLIP returns them (normalised here). */
int sora_aesthetic_score(const sora_aesthetic *m, const float *image_embeds, int N, float *scores,
			 sora_err *e);

#endif
