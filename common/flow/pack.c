#include "pack.h"

#include <string.h>

/* One loop for both directions: the element (b, c, t, y·p + py, x·p + px) of the latent is the feature
 * (c·p + py)·p + px of token (t·h + y)·w + x; to_tokens: src is the latent, dst the tokens, else the
 * other way. */
static void permute(const float *src, float *dst, int B, int C, int T, int h, int w, int p, int to_tokens)
{
	const int64_t H = (int64_t)h * p, W = (int64_t)w * p, L = (int64_t)T * h * w, F = (int64_t)C * p * p;
	for (int64_t b = 0; b < B; b++)
		for (int64_t c = 0; c < C; c++)
			for (int64_t t = 0; t < T; t++)
				for (int64_t yy = 0; yy < H; yy++)
					for (int64_t xx = 0; xx < W; xx++) {
						int64_t li = (((b * C + c) * T + t) * H + yy) * W + xx;
						int64_t tok_i = (t * h + yy / p) * w + xx / p;
						int64_t f = (c * p + yy % p) * p + xx % p;
						int64_t ti = (b * L + tok_i) * F + f;
						if (to_tokens)
							dst[ti] = src[li];
						else
							dst[li] = src[ti];
					}
}

int sora_pack(float *out, const float *x, int B, int C, int T, int H, int W, int p, sora_err *e)
{
	CHECK(e, B > 0 && C > 0 && T > 0 && H > 0 && W > 0 && p > 0, "pack: sizes must be positive");
	CHECK(e, H % p == 0 && W % p == 0, "pack: latent %dx%d is not a multiple of the patch size %d", H, W,
	      p);
	permute(x, out, B, C, T, H / p, W / p, p, 1);
	return 0;
fail:
	return -1;
}

int sora_unpack(float *out, const float *x, int B, int C, int T, int height, int width, int p, sora_err *e)
{
	CHECK(e, B > 0 && C > 0 && T > 0 && height > 0 && width > 0 && p > 0,
	      "unpack: sizes must be positive");
	permute(x, out, B, C, T, (height + 15) / 16, (width + 15) / 16, p, 0);
	return 0;
fail:
	return -1;
}

void sora_img_ids(float *img_ids, int B, int T, int h, int w)
{
	int64_t L = (int64_t)T * h * w;
	for (int64_t b = 0; b < B; b++)
		for (int64_t i = 0; i < L; i++) {
			float *id = img_ids + (b * L + i) * 3;
			int64_t t = i / ((int64_t)h * w), y = i / w % h, x = i % w;
			id[0] = (float)t;
			id[1] = (float)y;
			id[2] = (float)x;
		}
}

void sora_txt_ids(float *txt_ids, int B, int L)
{
	memset(txt_ids, 0, (size_t)B * L * 3 * sizeof *txt_ids);
}
