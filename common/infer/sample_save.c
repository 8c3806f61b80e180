#include "sample_save.h"

#include "../io/image_file.h"
#include "../io/video.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

uint8_t sora_sample_to_u8(float x)
{
	/* x.clamp(-1, 1); x.add(1).div(2).mul(255).add_(0.5).clamp_(0, 255).to(uint8): float32 steps */
	x = x < -1.0f ? -1.0f : x > 1.0f ? 1.0f : x;
	float v = (x + 1.0f) / 2.0f * 255.0f + 0.5f;
	v = v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v;
	return (uint8_t)v;
}

int sora_mkdirs_for(const char *path, sora_err *e)
{
	char *dir = NULL;
	CHECK_ALLOC(e, dir = strdup(path));
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		for (char *p = dir + 1; *p; p++) {
			if (*p != '/')
				continue;
			*p = '\0';
			CHECK(e, mkdir(dir, 0777) == 0 || errno == EEXIST, "cannot make folder %s: %s", dir,
			      strerror(errno));
			*p = '/';
		}
		CHECK(e, !*dir || mkdir(dir, 0777) == 0 || errno == EEXIST, "cannot make folder %s: %s", dir,
		      strerror(errno));
	}
	free(dir);
	return 0;
fail:
	free(dir);
	return -1;
}

void sora_sample_frame(uint8_t *rgb, const float *v, int t, int T, int H, int W)
{
	for (int h = 0; h < H; h++)
		for (int w = 0; w < W; w++)
			for (int c = 0; c < 3; c++)
				rgb[((size_t)h * W + w) * 3 + c] =
				    sora_sample_to_u8(v[(((size_t)c * T + t) * H + h) * W + w]);
}

static int write_mp4(const char *path, const float *v, int T, int H, int W, int fps, uint8_t *rgb,
		     sora_err *e)
{
	sora_video_writer *w = NULL;
	const sora_writer_opts o = {.width = W, .height = H, .fps_num = fps, .fps_den = 1, .crf = 23};
	TRY(sora_video_writer_open(&w, path, &o, e));
	for (int t = 0; t < T; t++) {
		sora_sample_frame(rgb, v, t, T, H, W);
		if (sora_video_writer_put_rgb(w, rgb, W * 3, e) < 0) {
			sora_err ignore = {0};
			sora_video_writer_close(w, &ignore);
			return -1;
		}
	}
	return sora_video_writer_close(w, e);
fail:
	return -1;
}

int sora_sample_save(const char *base, const float *video, int T, int H, int W, int fps, const char *prompt,
		     char *path, size_t n, sora_err *e)
{
	uint8_t *rgb = NULL;
	FILE *fp = NULL;
	char txt[4096];
	CHECK(e,
	      snprintf(path, n, "%s.%s", base, T == 1 ? "png" : "mp4") < (int)n &&
		  snprintf(txt, sizeof txt, "%s.txt", base) < (int)sizeof txt,
	      "output path %s is too long", base);
	TRY(sora_mkdirs_for(path, e));
	CHECK_ALLOC(e, rgb = malloc((size_t)H * W * 3));
	if (T == 1) {
		sora_sample_frame(rgb, video, 0, 1, H, W);
		TRY(sora_image_save_png(path, rgb, W, H, e));
	} else {
		TRY(write_mp4(path, video, T, H, W, fps, rgb, e));
	}
	CHECK_SYS(e, (fp = fopen(txt, "w")) ? 0 : -1, txt);
	CHECK_SYS(e, fputs(prompt, fp) < 0 ? -1 : 0, txt);
	CHECK_SYS(e, fclose(fp), txt);
	fp = NULL;
	free(rgb);
	return 0;
fail:
	if (fp)
		fclose(fp);
	free(rgb);
	return -1;
}
