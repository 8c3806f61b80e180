/* Frame sampling and resize-crop of clip_frames.h on hand cases: the indices are numpy's
 * np.linspace(begin, end - 1, n, dtype=int) (values printed by numpy), the pixels F.interpolate's
 * bilinear with align_corners=False worked out by hand. */
#include "encode/clip_frames.h"
#include "expect.h"

#include <stdint.h>

static void indices_are(int total, int n, int interval, int begin, const int *want)
{
	int got[64];
	sora_err e = {0};
	cr_assert_eq(sora_clip_frame_indices(total, n, interval, begin, got, &e), 0, "%s", e.msg);
	for (int i = 0; i < n; i++)
		cr_expect_eq(got[i], want[i], "total %d, %d frames at stride %d from %d: [%d] = %d, want %d",
			     total, n, interval, begin, i, got[i], want[i]);
}

Test(clip_frames, indices_as_numpy_linspace)
{
	indices_are(40, 9, 1, 0, (const int[]){0, 1, 2, 3, 4, 5, 6, 7, 8});
	indices_are(30, 9, 2, 0, (const int[]){0, 2, 4, 6, 8, 10, 12, 14, 17});
	indices_are(48, 12, 4, 0, (const int[]){0, 4, 8, 12, 17, 21, 25, 29, 34, 38, 42, 47});
	indices_are(20, 5, 3, 3, (const int[]){3, 6, 10, 13, 17});
	/* The window runs past the end: cut at the last frame, so the stride shrinks. */
	indices_are(10, 9, 2, 0, (const int[]){0, 1, 2, 3, 4, 5, 6, 7, 9});
	indices_are(7, 1, 2, 0, (const int[]){0});
}

Test(clip_frames, too_few_frames_is_an_error)
{
	int idx[8];
	sora_err e = {0};
	cr_expect_lt(sora_clip_frame_indices(4, 5, 1, 0, idx, &e), 0);
	cr_expect(strstr(e.msg, "too short") != NULL, "message: %s", e.msg);
	cr_expect_lt(sora_clip_frame_indices(10, 0, 1, 0, idx, &e), 0);
}

Test(clip_frames, resize_crop_plan)
{
	int sh, sw, i, j;
	sora_resize_crop_plan(100, 150, 64, 64, &sh, &sw, &i, &j); /* wider: height fits, centre columns */
	cr_expect(sh == 64 && sw == 96 && i == 0 && j == 16, "%d %d %d %d", sh, sw, i, j);
	sora_resize_crop_plan(300, 100, 64, 80, &sh, &sw, &i, &j); /* taller: width fits, centre rows */
	cr_expect(sh == 240 && sw == 80 && i == 88 && j == 0, "%d %d %d %d", sh, sw, i, j);
	sora_resize_crop_plan(48, 80, 48, 80, &sh, &sw, &i, &j); /* already the size */
	cr_expect(sh == 48 && sw == 80 && i == 0 && j == 0, "%d %d %d %d", sh, sw, i, j);
	sora_resize_crop_plan(2, 3, 3, 3, &sh, &sw, &i, &j); /* 4.5 rounds half to even, as Python's round */
	cr_expect(sh == 3 && sw == 4 && i == 0 && j == 0, "%d %d %d %d", sh, sw, i, j);
}

/* One RGB24 frame of h × w from per-pixel (r, g, b). */
static void frame(uint8_t *rgb, int h, int w, const uint8_t *r, uint8_t g, uint8_t b)
{
	for (size_t p = 0; p < (size_t)h * w; p++) {
		rgb[3 * p] = r[p];
		rgb[3 * p + 1] = g;
		rgb[3 * p + 2] = b;
	}
}

Test(clip_frames, bilinear_upsample_by_two)
{
	/* 2 × 2 → 4 × 4: source positions −0.25 (clamped to 0), 0.25, 0.75, 1.25 (the last sample), so a
	 * column step 0 → 255 becomes weights 1, 0.75/0.25, 0.25/0.75, 1: −1, −0.5, 0.5, 1 after the
	 * normalisation; a constant stays itself. */
	uint8_t rgb[12], r[4] = {0, 255, 0, 255};
	float out[48];
	const float ramp[4] = {-1, -0.5f, 0.5f, 1};
	float want[48];
	for (int y = 0; y < 4; y++)
		for (int x = 0; x < 4; x++) {
			want[y * 4 + x] = ramp[x];
			want[16 + y * 4 + x] = (0.2f - 0.5f) / 0.5f;
			want[32 + y * 4 + x] = 1;
		}
	frame(rgb, 2, 2, r, 51, 255);
	sora_resize_crop_rgb(rgb, 6, 2, 2, 4, 4, out, 16);
	expect_cmp("bilinear x2", cmp_each(cmp_f32(out, 48), cmp_f32(want, 48), 1e-6, 0));
}

Test(clip_frames, centre_crop_and_identity)
{
	/* 2 × 4 to 2 × 2: the height already fits, so no resize, and the centre columns 1 and 2 remain. */
	uint8_t rgb[24], r[8] = {0, 85, 170, 255, 0, 85, 170, 255};
	float out[12];
	frame(rgb, 2, 4, r, 0, 0);
	sora_resize_crop_rgb(rgb, 12, 2, 4, 2, 2, out, 4);
	for (size_t y = 0; y < 2; y++) {
		/* exactly ToTensorVideo's /255 then Normalize(0.5, 0.5) */
		cr_expect_eq(out[y * 2], (85 / 255.0f - 0.5f) / 0.5f);
		cr_expect_eq(out[y * 2 + 1], (170 / 255.0f - 0.5f) / 0.5f);
		cr_expect_eq(out[4 + y * 2], -1.0f);
	}
}

Test(clip_frames, image_crop_rounds_half_to_even)
{
	/* 2 × 9 to 2 × 2: no resize (Pillow's bicubic at scale 1 keeps every pixel), and the crop offset is
	 * round(7 / 2) = 4 for an image where a video frame takes int(7 / 2.0) = 3. */
	uint8_t rgb[54], r[18];
	float out[12];
	sora_err e = {0};
	for (int i = 0; i < 18; i++)
		r[i] = (uint8_t)(20 * (i % 9));
	frame(rgb, 2, 9, r, 0, 255);
	cr_assert_eq(sora_resize_crop_image(rgb, 27, 2, 9, 2, 2, out, 4, &e), 0, "%s", e.msg);
	for (size_t y = 0; y < 2; y++) {
		cr_expect_eq(out[y * 2], (80 / 255.0f - 0.5f) / 0.5f, "%g", out[y * 2]);
		cr_expect_eq(out[y * 2 + 1], (100 / 255.0f - 0.5f) / 0.5f, "%g", out[y * 2 + 1]);
		cr_expect_eq(out[8 + y * 2], 1.0f);
	}
	sora_resize_crop_rgb(rgb, 27, 2, 9, 2, 2, out, 4);
	cr_expect_eq(out[0], (60 / 255.0f - 0.5f) / 0.5f, "video: %g", out[0]);
}
