/* Open-Sora's token layout (sampling.py pack / unpack / prepare_ids).
 *
 * pack:   [B, C, T, H, W] → [B, T·(H/p)·(W/p), C·p·p]  ("b c t (h ph) (w pw) -> b (t h w) (c ph pw)")
 * unpack: the inverse, with the token grid given in PIXELS as the reference takes it: h = ⌈height/16⌉,
 *         w = ⌈width/16⌉ (16 = VAE 8 × patch 2).
 * ids:    img_ids[b, (t·h + y)·w + x] = (t, y, x) as floats; txt_ids = 0. */
#ifndef SORA_FLOW_PACK_H
#define SORA_FLOW_PACK_H

#include "../util/err.h"

#include <stdint.h>

/* x [B, C, T, H, W] → out [B, T·(H/p)·(W/p), C·p·p]; H and W must be multiples of p. */
int sora_pack(float *out, const float *x, int B, int C, int T, int H, int W, int p, sora_err *e);
/* x [B, T·h·w, C·p·p] → out [B, C, T, h·p, w·p], h = ⌈height/16⌉, w = ⌈width/16⌉. */
int sora_unpack(float *out, const float *x, int B, int C, int T, int height, int width, int p, sora_err *e);
/* img_ids [B, T·h·w, 3] for a latent of T × (h·p) × (w·p). */
void sora_img_ids(float *img_ids, int B, int T, int h, int w);
/* txt_ids [B, L, 3]: zeros. */
void sora_txt_ids(float *txt_ids, int B, int L);

#endif
