#include "io/video.h"
#include "util/log.h"

#include <criterion/criterion.h>
#include <libavutil/pixfmt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Every test makes its own clips with the ffmpeg CLI in a fresh directory. */
static char g_dir[] = "/tmp/sora_video_XXXXXX";

static void setup(void)
{
	sora_log_init("test_video", SORA_LOG_ERROR);
	cr_assert(mkdtemp(g_dir), "mkdtemp");
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(video, .init = setup, .fini = teardown, .timeout = 120);

/* A path in the test directory; a few can be alive at once. */
static const char *tmp(const char *name)
{
	static char ring[8][256];
	static int next;
	char *p = ring[next++ % 8];
	snprintf(p, sizeof ring[0], "%s/%s", g_dir, name);
	return p;
}

__attribute__((format(printf, 1, 2))) static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	cr_assert_eq(system(cmd), 0, "command failed: %s", cmd);
}

#define FFMPEG "ffmpeg -nostdin -loglevel error -y "

/* The first number a shell command prints. */
__attribute__((format(printf, 1, 2))) static double sh_num(const char *fmt, ...)
{
	char cmd[2048], out[256] = "";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	FILE *p = popen(cmd, "r");
	cr_assert(p);
	size_t n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	cr_assert_eq(pclose(p), 0, "command failed: %s", cmd);
	char *end;
	double v = strtod(out, &end);
	cr_assert_neq(end, out, "no number from: %s (got '%s')", cmd, out);
	return v;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	cr_assert(fp, "open %s", path);
	fseek(fp, 0, SEEK_END);
	long n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	uint8_t *buf = malloc((size_t)n + 1);
	cr_assert(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

/* The first frame as the ffmpeg CLI decodes it (autorotate included), as raw gray or rgb24. */
static uint8_t *cli_frame(const char *in, const char *pix, const char *vf, size_t *len)
{
	const char *raw = tmp("cli.raw");
	sh(FFMPEG "-i '%s' -frames:v 1 %s%s -sws_flags bilinear -pix_fmt %s -f rawvideo '%s'", in,
	   vf ? "-vf " : "", vf ? vf : "", pix, raw);
	return slurp(raw, len);
}

/* Mean absolute difference between a decoded frame and a tightly packed image of the same size. */
static double mean_diff(const sora_frame *f, int bpp, const uint8_t *img, size_t len)
{
	cr_assert_eq(len, (size_t)f->width * (size_t)f->height * (size_t)bpp, "size %dx%d vs %zu bytes",
		     f->width, f->height, len);
	double sum = 0;
	for (int y = 0; y < f->height; y++)
		for (int x = 0; x < f->width * bpp; x++)
			sum += abs(f->data[0][y * f->linesize[0] + x] -
				   img[(size_t)y * (size_t)f->width * bpp + x]);
	return sum / (double)len;
}

static double mean_plane(const sora_frame *f, int bytes_per_row)
{
	double sum = 0;
	for (int y = 0; y < f->height; y++)
		for (int x = 0; x < bytes_per_row; x++)
			sum += f->data[0][y * f->linesize[0] + x];
	return sum / ((double)bytes_per_row * f->height);
}

static sora_video *open_ok(const char *path, const sora_video_opts *o)
{
	sora_video *v = NULL;
	sora_err e = {0};
	cr_assert_eq(sora_video_open(&v, path, o, &e), 0, "open %s: %s", path, e.msg);
	return v;
}

static void read_ok(sora_video *v, sora_frame *f)
{
	sora_err e = {0};
	cr_assert_eq(sora_video_read(v, f, &e), 1, "read: %s", e.msg);
}

/* ---- metadata ---- */

static void check_testsrc_info(const sora_video_info *in, int has_audio)
{
	cr_expect_eq(in->width, 160);
	cr_expect_eq(in->height, 90);
	cr_expect_eq(in->coded_width, 160);
	cr_expect_eq(in->coded_height, 90);
	cr_expect_eq(in->rotation, 0);
	cr_expect_float_eq(in->fps, 25.0, 1e-9);
	cr_expect_eq(in->fps_num, 25);
	cr_expect_eq(in->fps_den, 1);
	cr_expect_float_eq(in->duration_sec, 2.0, 0.05);
	cr_expect_eq(in->num_frames, 50);
	cr_expect_eq(in->num_frames_source, SORA_NFRAMES_CONTAINER);
	cr_expect_str_eq(in->codec, "h264");
	cr_expect_str_eq(in->pix_fmt, "yuv420p");
	cr_expect_eq(in->bit_depth, 8);
	cr_expect_eq(in->vfr, 0);
	cr_expect_eq(in->has_audio, has_audio);
	cr_expect_gt(in->bit_rate, 0);
}

Test(video, info_of_cfr_h264_mp4)
{
	const char *p = tmp("a.mp4");
	sh(FFMPEG "-f lavfi -i testsrc2=s=160x90:r=25:d=2 -c:v libx264 -pix_fmt yuv420p '%s'", p);
	sora_video *v = open_ok(p, NULL);
	check_testsrc_info(sora_video_get_info(v), 0);
	sora_video_close(v);
}

Test(video, info_with_audio)
{
	const char *p = tmp("av.mp4");
	sh(FFMPEG "-f lavfi -i testsrc2=s=160x90:r=25:d=2 -f lavfi -i sine=d=2 -c:v libx264 -pix_fmt yuv420p "
		  "-c:a aac '%s'",
	   p);
	sora_video *v = open_ok(p, NULL);
	check_testsrc_info(sora_video_get_info(v), 1);
	sora_frame f;
	int n = 0;
	sora_err e = {0};
	while (sora_video_read(v, &f, &e) == 1)
		n++;
	cr_expect_eq(n, 50);
	sora_video_close(v);
}

/* Without a frame count in the container (Matroska) frames are counted from packets, and their
 * timestamps decide whether the rate varies. */
Test(video, packet_count_without_container_count)
{
	const char *cfr = tmp("cfr.mkv"), *vfr = tmp("vfr.mkv");
	sh(FFMPEG "-f lavfi -i testsrc2=s=160x90:r=25:d=2 -c:v libx264 '%s'", cfr);
	sh(FFMPEG "-f lavfi -i \"testsrc2=s=160x90:r=25:d=2,settb=1/25,setpts='if(lt(N,25),2*N,N+25)'\" "
		  "-fps_mode passthrough -c:v libx264 '%s'",
	   vfr);
	sora_video *v = open_ok(cfr, NULL);
	const sora_video_info *in = sora_video_get_info(v);
	cr_expect_eq(in->num_frames, 50);
	cr_expect_eq(in->num_frames_source, SORA_NFRAMES_PACKETS);
	cr_expect_eq(in->vfr, 0);
	sora_frame f;
	read_ok(v, &f);
	cr_expect_eq(f.index, 0, "reading starts again at frame 0 after counting packets");
	cr_expect_float_eq(f.pts_sec, 0.0, 1e-9);
	sora_video_close(v);

	v = open_ok(vfr, NULL);
	in = sora_video_get_info(v);
	cr_expect_eq(in->num_frames, 50);
	cr_expect_eq(in->num_frames_source, SORA_NFRAMES_PACKETS);
	cr_expect_eq(in->vfr, 1);
	sora_video_close(v);
}

Test(video, ten_bit_reads_as_8_bit_rgb)
{
	const char *p = tmp("10.mp4");
	sh(FFMPEG "-f lavfi -i testsrc2=s=160x90:r=25:d=2 -pix_fmt yuv420p10le -c:v libx264 '%s'", p);
	sora_video_opts o = {.pix = SORA_PIX_RGB};
	sora_video *v = open_ok(p, &o);
	const sora_video_info *in = sora_video_get_info(v);
	cr_expect_eq(in->bit_depth, 10);
	cr_expect_str_eq(in->pix_fmt, "yuv420p10le");
	sora_frame f;
	read_ok(v, &f);
	cr_assert_eq(f.width, 160);
	cr_assert_eq(f.height, 90);
	cr_expect_eq(f.pix_fmt, AV_PIX_FMT_RGB24);
	size_t len;
	uint8_t *ref = cli_frame(p, "rgb24", NULL, &len);
	double d = mean_diff(&f, 3, ref, len);
	cr_expect_lt(d, 1.0, "mean difference from ffmpeg's RGB: %.2f", d);
	free(ref);
	int n = 1;
	sora_err e = {0};
	int rc;
	while ((rc = sora_video_read(v, &f, &e)) == 1)
		n++;
	cr_expect_eq(rc, 0, "%s", e.msg);
	cr_expect_eq(n, 50);
	sora_video_close(v);

	o.pix = SORA_PIX_GRAY;
	v = open_ok(p, &o);
	read_ok(v, &f);
	ref = cli_frame(p, "gray", NULL, &len);
	d = mean_diff(&f, 1, ref, len);
	cr_expect_lt(d, 1.0, "mean difference from ffmpeg's gray: %.2f", d);
	free(ref);
	sora_video_close(v);
}

/* ffmpeg 5.1 turns "-metadata:s:v rotate=N" into a display matrix; whatever angle it stores, our frames
 * must come out as ffmpeg's autorotate shows them. */
Test(video, rotation_matches_ffmpeg_autorotate)
{
	const char *src = tmp("box.mp4");
	sh(FFMPEG "-f lavfi -i color=c=black:s=64x48:r=25:d=1,drawbox=x=0:y=0:w=16:h=12:c=white:t=fill "
		  "-c:v libx264 -pix_fmt yuv420p '%s'",
	   src);
	int seen = 0;
	for (int tag = 90; tag <= 270; tag += 90) {
		char name[32];
		snprintf(name, sizeof name, "rot%d.mp4", tag);
		const char *p = tmp(name);
		sh(FFMPEG "-i '%s' -c copy -metadata:s:v:0 rotate=%d '%s'", src, tag, p);
		int matrix = (int)sh_num(
		    "ffprobe -v error -select_streams v:0 -show_entries stream_side_data=rotation "
		    "-of default=nw=1:nk=1 '%s'",
		    p);
		int expect = ((-matrix % 360) + 360) % 360;
		cr_assert(expect == 90 || expect == 180 || expect == 270, "display matrix angle %d", matrix);
		seen |= 1 << (expect / 90);

		sora_video_opts o = {.pix = SORA_PIX_GRAY};
		sora_video *v = open_ok(p, &o);
		const sora_video_info *in = sora_video_get_info(v);
		cr_expect_eq(in->rotation, expect, "tag %d", tag);
		cr_expect_eq(in->coded_width, 64);
		cr_expect_eq(in->coded_height, 48);
		cr_expect_eq(in->width, expect == 180 ? 64 : 48);
		cr_expect_eq(in->height, expect == 180 ? 48 : 64);
		sora_frame f;
		read_ok(v, &f);
		cr_expect_eq(f.width, in->width);
		cr_expect_eq(f.height, in->height);
		size_t len;
		uint8_t *ref = cli_frame(p, "gray", NULL, &len);
		double d = mean_diff(&f, 1, ref, len);
		cr_expect_lt(d, 0.5, "rotation %d: mean difference from ffmpeg %.2f", expect, d);
		free(ref);
		sora_video_close(v);

		/* Scaled RGB: the size asked for is the displayed one. */
		o = (sora_video_opts){.pix = SORA_PIX_RGB, .out_width = 24};
		v = open_ok(p, &o);
		read_ok(v, &f);
		cr_expect_eq(f.width, 24);
		cr_expect_eq(f.height, expect == 180 ? 18 : 32);
		char vf[32];
		snprintf(vf, sizeof vf, "scale=%d:%d", f.width, f.height);
		ref = cli_frame(p, "rgb24", vf, &len);
		d = mean_diff(&f, 3, ref, len);
		cr_expect_lt(d, 2.0, "rotation %d scaled: mean difference from ffmpeg %.2f", expect, d);
		free(ref);
		sora_video_close(v);
	}
	cr_expect_eq(seen, 2 | 4 | 8, "all three quarter turns were tested");
}

/* ---- counting ---- */

static const char *make_vfr(void)
{
	/* Frames 0-24 last 2/25 s, 25-49 last 1/25 s; luma 16 + 4N tells which frame is which. */
	const char *p = tmp("vfr.mp4");
	sh(FFMPEG
	   "-f lavfi -i \"color=c=black:s=64x64:r=25:d=2,format=yuv420p,geq=lum='16+N*4':cb=128:cr=128,"
	   "settb=1/25,setpts='if(lt(N,25),2*N,N+25)'\" -fps_mode passthrough "
	   "-c:v libx264 -crf 1 -bf 3 -b_strategy 0 -g 12 '%s'",
	   p);
	return p;
}

static const char *make_numbered(void)
{
	const char *p = tmp("numbered.mp4");
	sh(FFMPEG
	   "-f lavfi -i \"color=c=black:s=64x64:r=25:d=2,format=yuv420p,geq=lum='16+N*4':cb=128:cr=128\" "
	   "-c:v libx264 -crf 1 -bf 3 -b_strategy 0 -g 12 '%s'",
	   p);
	return p;
}

static double vfr_pts(int k)
{
	return k < 25 ? 2.0 * k / 25 : (k + 25) / 25.0;
}

static int frame_number(const sora_frame *f)
{
	cr_assert_eq(f->pix_fmt, AV_PIX_FMT_YUV420P);
	double y = mean_plane(f, f->width);
	return (int)lround((y - 16) / 4);
}

Test(video, vfr_detected_and_counted)
{
	const char *p = make_vfr();
	sora_video *v = open_ok(p, NULL);
	const sora_video_info *in = sora_video_get_info(v);
	cr_expect_eq(in->vfr, 1, "r_frame_rate 25 vs avg_frame_rate 50/3");
	sora_err e = {0};
	cr_assert_eq(sora_video_count_frames(v, &e), 0, "%s", e.msg);
	cr_expect_eq(in->num_frames, 50);
	cr_expect_eq(in->num_frames_source, SORA_NFRAMES_DECODED);
	cr_expect_eq(in->vfr, 1);
	cr_expect_float_eq(in->duration_sec, 3.0, 0.05);
	long probe = (long)sh_num("ffprobe -v error -count_frames -select_streams v:0 -show_entries "
				  "stream=nb_read_frames -of default=nw=1:nk=1 '%s'",
				  p);
	cr_expect_eq(in->num_frames, probe);
	sora_video_close(v);
}

Test(video, count_frames_matches_ffprobe_then_rewinds)
{
	const char *p = tmp("b.mp4");
	sh(FFMPEG "-f lavfi -i testsrc2=s=160x90:r=25:d=2 -c:v libx264 -bf 3 -g 10 '%s'", p);
	sora_video *v = open_ok(p, NULL);
	sora_frame f;
	for (int i = 0; i < 10; i++)
		read_ok(v, &f);
	cr_expect_eq(f.index, 9);
	sora_err e = {0};
	cr_assert_eq(sora_video_count_frames(v, &e), 0, "%s", e.msg);
	const sora_video_info *in = sora_video_get_info(v);
	long probe = (long)sh_num("ffprobe -v error -count_frames -select_streams v:0 -show_entries "
				  "stream=nb_read_frames -of default=nw=1:nk=1 '%s'",
				  p);
	cr_expect_eq(in->num_frames, probe);
	cr_expect_eq(in->num_frames, 50);
	cr_expect_eq(in->num_frames_source, SORA_NFRAMES_DECODED);
	cr_expect_eq(in->vfr, 0);
	int n = 0, rc;
	while ((rc = sora_video_read(v, &f, &e)) == 1) {
		cr_expect_eq(f.index, n);
		cr_expect_float_eq(f.pts_sec, n / 25.0, 1e-6);
		n++;
	}
	cr_expect_eq(rc, 0, "%s", e.msg);
	cr_expect_eq(n, 50);
	sora_video_close(v);
}

/* A raw elementary stream has no timestamps and no frame count: frames are counted from packets, placed
 * one frame apart, and the reader can rewind but not seek elsewhere. */
Test(video, raw_h264_without_timestamps)
{
	const char *p = tmp("raw.h264");
	sh(FFMPEG "-f lavfi -i testsrc2=s=160x90:r=25:d=2 -c:v libx264 -bf 3 '%s'", p);
	sora_video *v = open_ok(p, NULL);
	const sora_video_info *in = sora_video_get_info(v);
	cr_expect_eq(in->num_frames, 50);
	cr_expect_eq(in->num_frames_source, SORA_NFRAMES_PACKETS);
	cr_expect_float_eq(in->fps, 25.0, 1e-9);
	cr_expect_float_eq(in->duration_sec, 2.0, 1e-6);
	sora_frame f;
	sora_err e = {0};
	int n = 0, rc;
	while ((rc = sora_video_read(v, &f, &e)) == 1) {
		cr_expect_float_eq(f.pts_sec, n / 25.0, 1e-6, "frame %d at %g", n, f.pts_sec);
		n++;
	}
	cr_expect_eq(rc, 0, "%s", e.msg);
	cr_expect_eq(n, 50);
	cr_assert_eq(sora_video_seek(v, 0, &e), 0, "%s", e.msg);
	read_ok(v, &f);
	cr_expect_eq(f.index, 0);
	cr_expect_lt(sora_video_seek(v, 1.0, &e), 0);
	cr_expect_neq(e.msg[0], '\0');
	sora_video_close(v);
}

/* ---- reading ---- */

Test(video, gray_scaled_frames_of_white)
{
	const char *p = tmp("white.mp4");
	sh(FFMPEG "-f lavfi -i color=c=white:s=160x90:r=25:d=2 -c:v libx264 -pix_fmt yuv420p '%s'", p);
	sora_video_opts o = {.pix = SORA_PIX_GRAY, .out_width = 64, .out_height = 36};
	sora_video *v = open_ok(p, &o);
	sora_frame f;
	sora_err e = {0};
	int n = 0, rc;
	double last = -1;
	while ((rc = sora_video_read(v, &f, &e)) == 1) {
		cr_assert_eq(f.width, 64);
		cr_assert_eq(f.height, 36);
		cr_assert_eq(f.pix_fmt, AV_PIX_FMT_GRAY8);
		cr_expect_gt(f.pts_sec, last);
		cr_expect_eq(f.index, n);
		if (n == 0) {
			double mean = mean_plane(&f, f.width);
			size_t len;
			uint8_t *ref = cli_frame(p, "gray", "scale=64:36", &len);
			double cli = 0;
			for (size_t i = 0; i < len; i++)
				cli += ref[i];
			cli /= (double)len;
			free(ref);
			cr_expect(fabs(mean - cli) <= 2, "mean luma %.2f, ffmpeg %.2f", mean, cli);
			cr_expect(fabs(mean - 235) <= 2 || fabs(mean - 255) <= 2, "mean luma %.2f", mean);
		}
		last = f.pts_sec;
		n++;
	}
	cr_expect_eq(rc, 0, "%s", e.msg);
	cr_expect_eq(n, 50);
	cr_expect_eq(sora_video_read(v, &f, &e), 0, "stays at the end");
	sora_video_close(v);
}

Test(video, output_size_keeps_aspect_and_native_is_untouched)
{
	const char *p = tmp("a.mp4");
	sh(FFMPEG "-f lavfi -i testsrc2=s=160x90:r=25:d=1 -c:v libx264 -pix_fmt yuv420p '%s'", p);
	const struct {
		int w, h, ew, eh;
	} cases[] = {{64, 0, 64, 36}, {0, 50, 88, 50}, {0, 0, 160, 90}, {40, 40, 40, 40}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		sora_video_opts o = {.pix = SORA_PIX_RGB, .out_width = cases[i].w, .out_height = cases[i].h};
		sora_video *v = open_ok(p, &o);
		sora_frame f;
		read_ok(v, &f);
		cr_expect_eq(f.width, cases[i].ew, "asked %dx%d", cases[i].w, cases[i].h);
		cr_expect_eq(f.height, cases[i].eh, "asked %dx%d", cases[i].w, cases[i].h);
		cr_expect_geq(f.linesize[0], f.width * 3);
		sora_video_close(v);
	}
	sora_video_opts o = {.pix = SORA_PIX_NATIVE, .out_width = 64, .threads = 2, .fast = 1};
	sora_video *v = open_ok(p, &o);
	sora_frame f;
	read_ok(v, &f);
	cr_expect_eq(f.pix_fmt, AV_PIX_FMT_YUV420P);
	cr_expect_eq(f.width, 160);
	cr_expect_eq(f.height, 90);
	cr_expect(f.data[0] && f.data[1] && f.data[2]);
	cr_expect_geq(f.linesize[1], 80);
	sora_video_close(v);

	sora_err e = {0};
	o = (sora_video_opts){.out_width = -1};
	cr_expect_lt(sora_video_open(&v, p, &o, &e), 0);
	cr_expect_neq(e.msg[0], '\0');
	sora_video_close(NULL);
}

/* ---- seeking ---- */

static void seek_expect(sora_video *v, double t, int k, double pts, int check_index)
{
	sora_err e = {0};
	cr_assert_eq(sora_video_seek(v, t, &e), 0, "seek %g: %s", t, e.msg);
	sora_frame f;
	int rc = sora_video_read(v, &f, &e);
	if (k < 0) {
		cr_expect_eq(rc, 0, "seek %g: expected the end, got rc %d (pts %g)", t, rc,
			     rc == 1 ? f.pts_sec : -1);
		return;
	}
	cr_assert_eq(rc, 1, "seek %g: %s", t, e.msg);
	cr_expect_float_eq(f.pts_sec, pts, 1e-6, "seek %g: pts %.6f, want %.6f", t, f.pts_sec, pts);
	cr_expect_eq(frame_number(&f), k, "seek %g: frame %d, want %d", t, frame_number(&f), k);
	if (check_index)
		cr_expect_eq(f.index, k, "seek %g: index %lld", t, (long long)f.index);
	/* Reading goes on from there. */
	if (k < 49) {
		cr_assert_eq(sora_video_read(v, &f, &e), 1, "%s", e.msg);
		cr_expect_eq(frame_number(&f), k + 1, "after seek %g", t);
		if (check_index)
			cr_expect_eq(f.index, k + 1);
	}
}

Test(video, seek_is_frame_exact_cfr)
{
	const char *p = make_numbered();
	sora_video_opts o = {.pix = SORA_PIX_NATIVE};
	sora_video *v = open_ok(p, &o);
	/* Between frames, on frames, on and around keyframes and B-frames, backwards, past the end. */
	const double ts[] = {0, 0.2, 0.21, 0.199, 0.4, 0.44, 0.48, 1.0, 0.3, 1.96, 1.97, 2.5, 0.04, -1, 1.5};
	for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
		double t = ts[i] < 0 ? 0 : ts[i];
		int k = (int)ceil(t * 25 - 1e-6);
		seek_expect(v, ts[i], k > 49 ? -1 : k, k / 25.0, 1);
	}
	sora_video_close(v);
}

Test(video, seek_is_frame_exact_vfr)
{
	const char *p = make_vfr();
	sora_video_opts o = {.pix = SORA_PIX_NATIVE};
	const double ts[] = {0, 0.08, 0.09, 1.0, 1.92, 1.93, 2.0, 2.01, 0.5, 2.96, 2.97, 5, 1.3};
	for (int counted = 0; counted < 2; counted++) {
		sora_video *v = open_ok(p, &o);
		sora_err e = {0};
		/* With every frame's timestamp known, the index after a seek is exact too. */
		if (counted)
			cr_assert_eq(sora_video_count_frames(v, &e), 0, "%s", e.msg);
		for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
			int k = 0;
			while (k < 50 && vfr_pts(k) < ts[i] - 1e-6)
				k++;
			seek_expect(v, ts[i], k == 50 ? -1 : k, k == 50 ? 0 : vfr_pts(k), counted);
		}
		sora_video_close(v);
	}
}

/* ---- writing ---- */

Test(video, writer_roundtrip)
{
	const char *p = tmp("w.mp4");
	sora_writer_opts wo = {.width = 64, .height = 48, .fps_num = 24, .fps_den = 1};
	sora_video_writer *w;
	sora_err e = {0};
	cr_assert_eq(sora_video_writer_open(&w, p, &wo, &e), 0, "%s", e.msg);
	static uint8_t rgb[48][64 * 3];
	for (int k = 0; k < 30; k++) {
		for (int y = 0; y < 48; y++)
			for (int x = 0; x < 64; x++) {
				rgb[y][x * 3 + 0] = (uint8_t)(x * 4);
				rgb[y][x * 3 + 1] = (uint8_t)(y * 5);
				rgb[y][x * 3 + 2] = (uint8_t)(k * 8);
			}
		cr_assert_eq(sora_video_writer_put_rgb(w, &rgb[0][0], 64 * 3, &e), 0, "%s", e.msg);
	}
	cr_assert_eq(sora_video_writer_close(w, &e), 0, "%s", e.msg);

	sora_video_opts o = {.pix = SORA_PIX_RGB};
	sora_video *v = open_ok(p, &o);
	const sora_video_info *in = sora_video_get_info(v);
	cr_expect_str_eq(in->codec, "h264");
	cr_expect_str_eq(in->pix_fmt, "yuv420p");
	cr_expect_eq(in->num_frames, 30);
	cr_expect_eq(in->fps_num, 24);
	cr_expect_eq(in->fps_den, 1);
	cr_expect_eq(in->width, 64);
	cr_expect_eq(in->height, 48);
	sora_frame f;
	int n = 0;
	while (sora_video_read(v, &f, &e) == 1) {
		/* Blue carries the frame number. */
		double blue = 0;
		for (int y = 0; y < 48; y++)
			for (int x = 0; x < 64; x++)
				blue += f.data[0][y * f.linesize[0] + x * 3 + 2];
		blue /= 64 * 48;
		cr_expect(fabs(blue - n * 8) < 4, "frame %d: blue %.1f, wrote %d", n, blue, n * 8);
		n++;
	}
	cr_expect_eq(n, 30);
	sora_video_close(v);
	cr_expect_eq((long)sh_num("ffprobe -v error -count_frames -select_streams v:0 -show_entries "
				  "stream=nb_read_frames -of default=nw=1:nk=1 '%s'",
				  p),
		     30);
	cr_expect_eq((long)sh_num("ffprobe -v error -select_streams v:0 -show_entries stream=width "
				  "-of default=nw=1:nk=1 '%s'",
				  p),
		     64);
	cr_expect_float_eq(sh_num("ffprobe -v error -select_streams v:0 -show_entries stream=avg_frame_rate "
				  "-of default=nw=1:nk=1 '%s' | awk -F/ '{print $1/$2}'",
				  p),
			   24.0, 1e-6);
}

Test(video, writer_rejects_bad_options)
{
	sora_video_writer *w = NULL;
	sora_err e = {0};
	sora_writer_opts wo = {.width = 63, .height = 48, .fps_num = 24, .fps_den = 1};
	cr_expect_lt(sora_video_writer_open(&w, tmp("odd.mp4"), &wo, &e), 0);
	cr_expect(strstr(e.msg, "even"), "%s", e.msg);
	cr_expect_null(w);

	wo = (sora_writer_opts){.width = 64, .height = 48, .fps_num = 24, .fps_den = 1, .preset = "nope"};
	sora_err_clear(&e);
	cr_expect_lt(sora_video_writer_open(&w, tmp("preset.mp4"), &wo, &e), 0);
	cr_expect_neq(e.msg[0], '\0');

	wo.preset = NULL;
	sora_err_clear(&e);
	cr_expect_lt(sora_video_writer_open(&w, tmp("no/such/dir.mp4"), &wo, &e), 0);
	cr_expect_neq(e.msg[0], '\0');

	wo = (sora_writer_opts){
	    .width = 64, .height = 48, .fps_num = 30000, .fps_den = 1001, .crf = 30, .preset = "ultrafast"};
	/* A colon in a relative name is part of the name, not a protocol. */
	cr_assert_eq(chdir(g_dir), 0);
	const char *colon = "clip:1.mp4";
	cr_assert_eq(sora_video_writer_open(&w, colon, &wo, &e), 0, "%s", e.msg);
	static uint8_t rgb[48][64 * 3];
	for (int k = 0; k < 5; k++)
		cr_assert_eq(sora_video_writer_put_rgb(w, &rgb[0][0], 64 * 3, &e), 0, "%s", e.msg);
	cr_expect_eq(sora_video_writer_close(w, &e), 0, "%s", e.msg);
	sora_video *v = open_ok(colon, NULL);
	cr_expect_eq(sora_video_get_info(v)->num_frames, 5);
	cr_expect_eq(sora_video_get_info(v)->fps_num, 30000);
	cr_expect_eq(sora_video_get_info(v)->fps_den, 1001);
	sora_video_close(v);
	cr_expect_eq(sora_video_writer_close(NULL, &e), 0);
}

/* ---- hostile inputs ---- */

static void open_fails(const char *path, const char *want)
{
	sora_video *v = (sora_video *)1;
	sora_err e = {0};
	cr_expect_lt(sora_video_open(&v, path, NULL, &e), 0, "%s opened", path);
	cr_expect_null(v);
	cr_expect_neq(e.msg[0], '\0', "%s: empty message", path);
	cr_expect_null(strchr(e.msg, '\n'), "%s: one line", path);
	if (want)
		cr_expect(strstr(e.msg, want), "%s: '%s' does not say '%s'", path, e.msg, want);
}

Test(video, rejects_non_files)
{
	const char *fifo = tmp("fifo.mp4");
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	open_fails(fifo, "not a regular file");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_expect_lt((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9, 1.0);

	open_fails(g_dir, "not a regular file");
	open_fails("/dev/null", "not a regular file");
	const char *dangling = tmp("dangling.mp4");
	cr_assert_eq(symlink(tmp("nowhere.mp4"), dangling), 0);
	open_fails(dangling, strerror(ENOENT));
	open_fails(tmp("missing.mp4"), strerror(ENOENT));
}

Test(video, rejects_files_that_are_not_videos)
{
	const char *empty = tmp("empty.mp4");
	sh(": > '%s'", empty);
	open_fails(empty, "file is empty");

	const char *rnd = tmp("random.mp4");
	sh("head -c 65536 /dev/urandom > '%s'", rnd);
	open_fails(rnd, NULL);

	const char *txt = tmp("notes.mp4");
	sh("for i in $(seq 200); do echo \"line $i of a text file\"; done > '%s'", txt);
	open_fails(txt, NULL);

	const char *png = tmp("x.png"), *jpg = tmp("x.jpg");
	sh(FFMPEG "-f lavfi -i testsrc2=s=160x90 -frames:v 1 '%s'", png);
	sh(FFMPEG "-f lavfi -i testsrc2=s=160x90 -frames:v 1 '%s'", jpg);
	open_fails(png, "not a video (single image)");
	open_fails(jpg, "not a video (single image)");

	const char *m4a = tmp("a.m4a"), *wav = tmp("a.wav"), *mp3 = tmp("cover.mp3");
	sh(FFMPEG "-f lavfi -i sine=d=1 -c:a aac '%s'", m4a);
	sh(FFMPEG "-f lavfi -i sine=d=1 '%s'", wav);
	sh(FFMPEG "-f lavfi -i sine=d=1 -i '%s' -map 0 -map 1 -c:a libmp3lame -c:v copy "
		  "-disposition:v attached_pic '%s'",
	   jpg, mp3);
	open_fails(m4a, "no video stream");
	open_fails(wav, "no video stream");
	open_fails(mp3, "no video stream");
}

/* Reads to the end; a damaged file may end in an error but must end. */
static int drain(sora_video *v)
{
	sora_frame f;
	sora_err e = {0};
	int n = 0, rc;
	while ((rc = sora_video_read(v, &f, &e)) == 1)
		cr_assert_lt(++n, 1000, "reading does not end");
	if (rc < 0)
		cr_expect_neq(e.msg[0], '\0');
	return n;
}

Test(video, truncated_mp4_fails_or_ends)
{
	/* moov at the end (the default) and at the front (faststart): cut both to 40%. */
	const char *full[2] = {tmp("end.mp4"), tmp("front.mp4")};
	sh(FFMPEG "-f lavfi -i testsrc2=s=160x90:r=25:d=2 -c:v libx264 '%s'", full[0]);
	sh(FFMPEG "-f lavfi -i testsrc2=s=160x90:r=25:d=2 -c:v libx264 -movflags +faststart '%s'", full[1]);
	for (int i = 0; i < 2; i++) {
		const char *cut = tmp(i ? "front_cut.mp4" : "end_cut.mp4");
		sh("head -c $(( $(stat -c %%s '%s') * 4 / 10 )) '%s' > '%s'", full[i], full[i], cut);
		sora_video *v = NULL;
		sora_err e = {0};
		if (sora_video_open(&v, cut, NULL, &e) < 0) {
			cr_expect_neq(e.msg[0], '\0');
			cr_expect_eq(i, 0, "moov at the front should open: %s", e.msg);
			continue;
		}
		int n = drain(v);
		cr_expect_lt(n, 50, "a cut file has fewer frames");
		if (sora_video_count_frames(v, &e) == 0)
			drain(v);
		if (sora_video_seek(v, 1.5, &e) == 0)
			drain(v);
		sora_video_close(v);
	}
}

/* A video whose middle packets are garbage still reads to the end. */
Test(video, corrupt_middle_is_skipped)
{
	const char *p = tmp("c.mkv"), *bad = tmp("bad.mkv");
	sh(FFMPEG "-f lavfi -i testsrc2=s=160x90:r=25:d=2 -c:v libx264 -g 10 '%s'", p);
	long size = (long)sh_num("stat -c %%s '%s'", p);
	sh("cp '%s' '%s' && head -c 2000 /dev/urandom | dd of='%s' bs=1 seek=%ld conv=notrunc status=none", p,
	   bad, bad, size / 2);
	sora_video *v = open_ok(bad, NULL);
	int n = drain(v);
	cr_expect_gt(n, 25, "frames after the damage are decoded too (%d)", n);
	sora_video_close(v);
}
