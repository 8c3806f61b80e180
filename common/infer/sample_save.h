/* The sampler's files (opensora/datasets/utils.py save_sample): the decoded video clamped to [−1, 1], then
 * uint8 as the reference rounds it, (x + 1)/2 · 255 + 0.5 clamped and truncated; an H.264 MP4 (yuv420p,
 * CRF 23) at fps, or a PNG for one frame; the prompt in a .txt beside it. Missing folders are made. */
#ifndef SORA_INFER_SAMPLE_SAVE_H
#define SORA_INFER_SAMPLE_SAVE_H

#include "../util/err.h"

#include <stdint.h>

/* One value of the video as the reference's uint8. */
uint8_t sora_sample_to_u8(float x);
/* Frame t of video [3, T, H, W] as packed RGB24 of those values. */
void sora_sample_frame(uint8_t *rgb, const float *video, int t, int T, int H, int W);

/* video [3, T, H, W] → base.mp4 (T > 1) or base.png (T = 1), and base.txt holding the prompt (no newline,
 * as the reference writes it); path receives the media file's name (n bytes). */
int sora_sample_save(const char *base, const float *video, int T, int H, int W, int fps, const char *prompt,
		     char *path, size_t n, sora_err *e);

/* mkdir -p of the folder part of path. */
int sora_mkdirs_for(const char *path, sora_err *e);

#endif
