#include "io/video.h"
#include "score/vmaf_input.h"
#include "score/vmafmotion.h"
#include "util/log.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char g_dir[] = "/tmp/sora_vmafmotion_XXXXXX";

static void setup(void)
{
	sora_log_init("test_vmafmotion", SORA_LOG_ERROR);
	cr_assert(mkdtemp(g_dir), "mkdtemp");
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(vmafmotion, .init = setup, .fini = teardown, .timeout = 120);

/* FFmpeg's loops written out the slow way: every tap through the mirror, one sample at a time. */
static int mirror(int i, int n)
{
	i = abs(i);
	return i >= n ? n - (i - n + 1) : i;
}

static void ref_blur(const uint16_t *src, int w, int h, int depth, uint16_t *out)
{
	static const int f[5] = {1785, 8002, 13193, 8002, 1785};
	uint16_t *tmp = malloc((size_t)w * h * sizeof *tmp);
	for (int i = 0; i < h; i++)
		for (int j = 0; j < w; j++) {
			int sum = 0;
			for (int k = 0; k < 5; k++)
				sum += f[k] * src[mirror(i - 2 + k, h) * w + j];
			tmp[i * w + j] = (uint16_t)(sum >> depth);
		}
	for (int i = 0; i < h; i++)
		for (int j = 0; j < w; j++) {
			int sum = 0;
			for (int k = 0; k < 5; k++)
				sum += f[k] * tmp[i * w + mirror(j - 2 + k, w)];
			out[i * w + j] = (uint16_t)(sum >> 15);
		}
	free(tmp);
}

static void check_against_reference(int w, int h, int depth, int frames, unsigned seed)
{
	sora_err e;
	sora_vmafmotion *s;
	cr_assert_eq(sora_vmafmotion_open(&s, w, h, depth, &e), 0, "%s", e.msg);
	size_t n = (size_t)w * h;
	uint16_t *px = calloc(n, 2), *blur = calloc(n, 2), *prev = calloc(n, 2);
	uint8_t *plane = malloc((size_t)h * ((size_t)w * 2 + 6));
	double sum = 0, sum2 = 0, last = 0;
	srand(seed);
	for (int t = 0; t < frames; t++) {
		/* Mostly a moving ramp, plus noise: both smooth and sharp content. */
		for (size_t i = 0; i < n; i++) {
			int v = (int)((i % (size_t)w) * 3 + (size_t)t * 5 + (size_t)(rand() % 40));
			px[i] = (uint16_t)(v % (1 << depth));
		}
		int ls = depth > 8 ? w * 2 + 6 : w + 3; /* padded rows */
		for (int i = 0; i < h; i++)
			for (int j = 0; j < w; j++) {
				if (depth > 8)
					memcpy(plane + (size_t)i * ls + (size_t)j * 2, &px[i * w + j], 2);
				else
					plane[(size_t)i * ls + j] = (uint8_t)px[i * w + j];
			}
		double m = sora_vmafmotion_push(s, plane, ls);
		ref_blur(px, w, h, depth, blur);
		double want = 0;
		if (t) {
			uint64_t sad = 0;
			for (size_t i = 0; i < n; i++)
				sad += (uint64_t)abs(blur[i] - prev[i]);
			want = (double)(sad * 1.0 / (w * h << 7));
			sum2 += want < last ? want : last;
		}
		cr_assert_eq(m, want, "%dx%d depth %d frame %d: %.17g, want %.17g", w, h, depth, t, m, want);
		sum += want;
		last = want;
		memcpy(prev, blur, n * 2);
	}
	sora_vmafmotion_result r = sora_vmafmotion_result_get(s);
	cr_expect_eq(r.frames, frames);
	cr_expect_float_eq(r.avg, sum / frames, 1e-12);
	cr_expect_float_eq(r.score, (sum / frames + (sum2 + last) / frames) / 2, 1e-12);
	sora_vmafmotion_close(s);
	free(px);
	free(blur);
	free(prev);
	free(plane);
}

Test(vmafmotion, bit_exact_with_ffmpeg_loops_8bit)
{
	const int sizes[][2] = {{3, 3}, {4, 5}, {5, 4}, {7, 3}, {17, 9}, {64, 36}, {161, 91}};
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
		check_against_reference(sizes[i][0], sizes[i][1], 8, 6, (unsigned)i);
}

Test(vmafmotion, bit_exact_with_ffmpeg_loops_10bit)
{
	const int sizes[][2] = {{3, 3}, {6, 5}, {33, 17}, {160, 90}};
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
		check_against_reference(sizes[i][0], sizes[i][1], 10, 6, 100 + (unsigned)i);
}

Test(vmafmotion, pooling)
{
	sora_err e;
	sora_vmafmotion *s;
	cr_assert_eq(sora_vmafmotion_open(&s, 8, 8, 8, &e), 0);
	sora_vmafmotion_result r = sora_vmafmotion_result_get(s);
	cr_expect_eq(r.frames, 0);
	cr_expect_eq(r.score, 0);
	uint8_t frame[64] = {0};
	cr_expect_eq(sora_vmafmotion_push(s, frame, 8), 0, "the first frame scores 0");
	r = sora_vmafmotion_result_get(s);
	cr_expect_eq(r.frames, 1);
	cr_expect_eq(r.score, 0);
	sora_vmafmotion_close(s);
}

Test(vmafmotion, rejects_what_it_cannot_blur)
{
	sora_err e;
	sora_vmafmotion *s;
	cr_expect_lt(sora_vmafmotion_open(&s, 2, 90, 8, &e), 0);
	cr_expect(strstr(e.msg, "size"));
	cr_expect_lt(sora_vmafmotion_open(&s, 160, 90, 7, &e), 0);
	cr_expect(strstr(e.msg, "bit depth"));
}

/* Every frame's m, printed as FFmpeg prints it, equals FFmpeg's stats file line. */
static void check_ffmpeg_stats(const char *gen)
{
	char clip[256], stats[256], cmd[1024];
	snprintf(clip, sizeof clip, "%s/clip.mkv", g_dir);
	snprintf(stats, sizeof stats, "%s/stats.txt", g_dir);
	snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -loglevel error -y %s '%s'", gen, clip);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	snprintf(cmd, sizeof cmd,
		 "ffmpeg -nostdin -loglevel error -y -i '%s' -vf vmafmotion=stats_file='%s' -f null -", clip,
		 stats);
	cr_assert_eq(system(cmd), 0, "%s", cmd);

	sora_err e;
	sora_video *v;
	sora_vmafmotion *s = NULL;
	sora_vmaf_input *in = NULL;
	const sora_video_opts o = {.threads = 1, .pix = SORA_PIX_NATIVE};
	cr_assert_eq(sora_video_open(&v, clip, &o, &e), 0, "%s", e.msg);
	FILE *fp = fopen(stats, "r");
	cr_assert(fp);
	sora_frame f;
	char line[128], want[128];
	int n = 0;
	while (sora_video_read(v, &f, &e) == 1) {
		const uint8_t *y = f.data[0];
		int yls = f.linesize[0], depth;
		if (!s) {
			cr_assert_eq(sora_vmaf_input_open(&in, f.pix_fmt, f.width, f.height, &depth, &e), 0,
				     "%s", e.msg);
			cr_assert_eq(sora_vmafmotion_open(&s, f.width, f.height, depth, &e), 0);
		}
		if (in)
			cr_assert_eq(sora_vmaf_input_convert(in, f.data, f.linesize, &y, &yls, &e), 0);
		double m = sora_vmafmotion_push(s, y, yls);
		cr_assert(fgets(line, sizeof line, fp), "ffmpeg has fewer frames than %d", n + 1);
		snprintf(want, sizeof want, "n:%d motion:%0.2f\n", n + 1, m);
		cr_expect_str_eq(want, line, "frame %d", n);
		n++;
	}
	cr_expect_not(fgets(line, sizeof line, fp), "ffmpeg has more frames than %d", n);
	cr_expect_gt(n, 20);
	fclose(fp);
	sora_vmafmotion_close(s);
	sora_vmaf_input_close(in);
	sora_video_close(v);
}

Test(vmafmotion, every_frame_as_ffmpeg_prints_it_8bit)
{
	check_ffmpeg_stats("-f lavfi -i testsrc2=s=160x90:r=25:d=1.2 -c:v libx264 -pix_fmt yuv420p");
}

Test(vmafmotion, every_frame_as_ffmpeg_prints_it_10bit)
{
	check_ffmpeg_stats(
	    "-f lavfi -i mandelbrot=s=162x94:r=25 -frames:v 30 -c:v libx264 -pix_fmt yuv420p10le");
}

Test(vmafmotion, every_frame_as_ffmpeg_prints_it_444_odd_size)
{
	check_ffmpeg_stats("-f lavfi -i testsrc2=s=161x91:r=25:d=1 -c:v libx264 -pix_fmt yuv444p");
}

/* Formats the filter does not take: ffmpeg converts them first (keeping their range), and so do we. */
Test(vmafmotion, every_frame_as_ffmpeg_prints_it_full_range)
{
	check_ffmpeg_stats("-f lavfi -i testsrc2=s=160x90:r=25:d=1 -c:v libx264 -pix_fmt yuvj420p");
}

Test(vmafmotion, every_frame_as_ffmpeg_prints_it_gray)
{
	check_ffmpeg_stats("-f lavfi -i testsrc2=s=160x90:r=25:d=1 -c:v ffv1 -pix_fmt gray");
}

Test(vmafmotion, every_frame_as_ffmpeg_prints_it_12bit)
{
	check_ffmpeg_stats(
	    "-f lavfi -i mandelbrot=s=160x90:r=25 -frames:v 25 -c:v ffv1 -pix_fmt yuv420p12le");
}

Test(vmafmotion, every_frame_as_ffmpeg_prints_it_nv12)
{
	check_ffmpeg_stats("-f lavfi -i testsrc2=s=160x90:r=25:d=1 -c:v rawvideo -pix_fmt nv12");
}
