/* sora-split: shot detection (PySceneDetect's adaptive / content detectors, fades, dissolves) and one
 * CSV row per clip, optionally written to its own file. */
#include "io/video.h"
#include "scene/clips.h"
#include "scene/content.h"
#include "scene/cut.h"
#include "scene/detect.h"
#include "scene/dissolve.h"
#include "scene/fade.h"
#include "util/cli.h"
#include "util/log.h"
#include "util/rowmap.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum {
	C_PATH,
	C_ID,
	C_SOURCE,
	C_START_SEC,
	C_END_SEC,
	C_START_FRAME,
	C_END_FRAME,
	C_NUM_FRAMES,
	C_FPS,
	C_HEIGHT,
	C_WIDTH,
	C_ASPECT_RATIO,
	C_RESOLUTION,
	C_BEFORE,
	C_AFTER,
};

static const char *const columns[] = {
    "path",
    "id",
    "source",
    "start_sec",
    "end_sec",
    "start_frame",
    "end_frame",
    "num_frames",
    "fps",
    "height",
    "width",
    "aspect_ratio",
    "resolution",
    "transition_before",
    "transition_after",
    NULL,
};

typedef struct split {
	const char *detector;
	double threshold, adaptive_threshold, min_content_val, fade_threshold;
	int min_scene_len, keep_transitions, no_fast, min_height, min_width;
	sora_clip_opts clip;
	const char *cut_dir, *audio;
	int copy;
	sora_cut_opts cut;
	int dec_threads, path_col;
	atomic_llong filtered_clips;
} split;

/* PySceneDetect's auto downscale: the long side L over 256 is the factor when L >= 256, and each side
 * is round(side / factor) (Python's round: ties to even). */
static void detect_size(int w, int h, int *dw, int *dh)
{
	int l = w > h ? w : h;
	double f = l < 256 ? 1.0 : l / 256.0;
	*dw = (int)fmax(1, nearbyint(w / f));
	*dh = (int)fmax(1, nearbyint(h / f));
}

/* Per-frame measures of the whole video, gathered in one decoding pass. */
typedef struct measures {
	double *pts, *score, *mean;
	int64_t n, cap;
	sora_transitions tr;
} measures;

static void measures_free(measures *m)
{
	free(m->pts);
	free(m->score);
	free(m->mean);
	sora_transitions_free(&m->tr);
}

static int measures_push(measures *m, double pts, double score, double mean, sora_err *e)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * (size_t)m->cap : 1024;
		double *p;
		CHECK_ALLOC(e, p = realloc(m->pts, cap * sizeof *p));
		m->pts = p;
		CHECK_ALLOC(e, p = realloc(m->score, cap * sizeof *p));
		m->score = p;
		CHECK_ALLOC(e, p = realloc(m->mean, cap * sizeof *p));
		m->mean = p;
		m->cap = (int64_t)cap;
	}
	m->pts[m->n] = pts;
	m->score[m->n] = score;
	m->mean[m->n] = mean;
	m->n++;
	return 0;
fail:
	return -1;
}

/* Decodes every frame at the detection size (every frame is scaled to it, even after a resolution
 * change) and measures it: content score, mean RGB, and the dissolve window. */
static int measure(const split *p, const char *path, measures *m, sora_video_info *info, sora_err *e)
{
	sora_video *v = NULL;
	sora_dissolve *dis = NULL;
	uint8_t *hsv = NULL, *thumb = NULL;
	sora_video_opts vo = {.threads = p->dec_threads, .pix = SORA_PIX_RGB, .fast = !p->no_fast};
	TRY(sora_video_open(&v, path, &vo, e));
	*info = *sora_video_get_info(v);
	CHECK(e, info->width > 0 && info->height > 0, "unknown frame size");
	detect_size(info->width, info->height, &vo.out_width, &vo.out_height);
	TRY(sora_video_set_size(v, vo.out_width, vo.out_height, e));

	int w = vo.out_width, h = vo.out_height, npix = w * h;
	/* Thumbnails of about 64 px: boxes of 4 x 4 detection pixels. */
	sora_dissolve_opts dopt = {.tw = w >= 4 ? w / 4 : 1,
				   .th = h >= 4 ? h / 4 : 1,
				   .min_diff = 20,
				   .max_ratio = 0.25,
				   .min_run = 3};
	double fps = info->fps > 0 ? info->fps : 25;
	dopt.k = (int)fmin(8, fmax(2, lround(fps / 5)));
	TRY(sora_dissolve_open(&dis, &dopt, e));
	CHECK_ALLOC(e, hsv = malloc(6 * (size_t)npix));
	CHECK_ALLOC(e, thumb = malloc((size_t)dopt.tw * (size_t)dopt.th));
	for (;;) {
		sora_frame f;
		int rc = sora_video_read(v, &f, e);
		if (rc < 0)
			goto fail;
		if (rc == 0)
			break;
		uint8_t *cur = hsv + (size_t)(m->n & 1) * 3 * (size_t)npix;
		uint8_t *prev = hsv + (size_t)(~m->n & 1) * 3 * (size_t)npix;
		sora_rgb_to_hsv(f.data[0], f.linesize[0], w, h, cur);
		double score = m->n ? sora_content_score(prev, cur, npix) : 0;
		TRY(measures_push(m, f.pts_sec, score, sora_rgb_mean(f.data[0], f.linesize[0], w, h), e));
		sora_luma_thumb(f.data[0], f.linesize[0], w, h, thumb, dopt.tw, dopt.th);
		TRY(sora_dissolve_push(dis, thumb, e));
	}
	CHECK(e, m->n > 0, "no frame could be decoded");
	TRY(sora_dissolve_finish(dis, &m->tr, e));
	TRY(sora_detect_fades(m->mean, m->n, p->fade_threshold, (int64_t)lround(3 * fps), &m->tr, e));
	sora_dissolve_close(dis);
	sora_video_close(v);
	free(hsv);
	free(thumb);
	return 0;
fail:
	sora_dissolve_close(dis);
	sora_video_close(v);
	free(hsv);
	free(thumb);
	return -1;
}

/* Open-Sora's meta.py writes round(fps, 3). */
static double round3(double x)
{
	return round(x * 1000.0) / 1000.0;
}

/* <stem>-<8 hex of a hash of the absolute source path>-<clip index>. The stem keeps letters, digits,
 * '.', '_', '-' and UTF-8; anything else (spaces, quotes, commas, control characters) becomes '_', so
 * the id is a safe file name. */
static void make_id(const char *path, int64_t index, char *id, size_t size)
{
	char *abs = realpath(path, NULL);
	const char *key = abs ? abs : path;
	uint64_t hsh = 1469598103934665603ull;
	for (const unsigned char *s = (const unsigned char *)key; *s; s++)
		hsh = (hsh ^ *s) * 1099511628211ull;
	free(abs);

	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	const char *dot = strrchr(base, '.');
	size_t len = dot && dot > base ? (size_t)(dot - base) : strlen(base);
	char stem[101];
	if (len > 100) {
		len = 100;
		while (len > 0 && ((unsigned char)base[len] & 0xC0) == 0x80)
			len--;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)base[i];
		int safe = ch >= 0x80 || (ch >= '0' && ch <= '9') ||
			   ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') || ch == '_' || ch == '-' ||
			   (ch == '.' && i > 0);
		stem[i] = safe ? (char)ch : '_';
	}
	stem[len] = '\0';
	snprintf(id, size, "%s-%08x-%04lld", len ? stem : "video", (unsigned)(hsh & 0xffffffffu),
		 (long long)index);
}

static int emit(split *p, const char *src, const sora_video_info *info, const sora_clip *k, sora_out *out,
		sora_err *e)
{
	char id[160], *dst = NULL;
	make_id(src, k->index, id, sizeof id);
	int64_t nf = k->end - k->start;
	double dur = k->end_sec - k->start_sec;
	double fps = info->vfr && dur > 0 ? nf / dur : info->fps;
	int w = info->width, h = info->height;
	if (p->cut_dir) {
		sora_cut_result r;
		size_t n = strlen(p->cut_dir) + strlen(id) + 8;
		CHECK_ALLOC(e, dst = malloc(n));
		snprintf(dst, n, "%s/%s.mp4", p->cut_dir, id);
		TRY(sora_cut_clip(src, dst, k->start, k->end, k->start_sec, k->end_sec, &p->cut, &r, e));
		nf = r.num_frames;
		fps = r.fps;
		w = r.width;
		h = r.height;
	}
	sora_out_add(out);
	sora_out_set(out, C_PATH, dst ? dst : src);
	sora_out_set(out, C_ID, id);
	sora_out_set(out, C_SOURCE, src);
	sora_out_setd(out, C_START_SEC, round(k->start_sec * 1e6) / 1e6);
	sora_out_setd(out, C_END_SEC, round(k->end_sec * 1e6) / 1e6);
	sora_out_setf(out, C_START_FRAME, "%lld", (long long)k->start);
	sora_out_setf(out, C_END_FRAME, "%lld", (long long)k->end);
	sora_out_setf(out, C_NUM_FRAMES, "%lld", (long long)nf);
	sora_out_setd(out, C_FPS, round3(fps));
	sora_out_setf(out, C_HEIGHT, "%d", h);
	sora_out_setf(out, C_WIDTH, "%d", w);
	sora_out_setd(out, C_ASPECT_RATIO, (double)h / w);
	sora_out_setf(out, C_RESOLUTION, "%lld", (long long)h * w);
	sora_out_set(out, C_BEFORE, sora_tr_name(k->before));
	sora_out_set(out, C_AFTER, sora_tr_name(k->after));
	free(dst);
	return 0;
fail:
	sora_err_prefix(e, "clip %s: ", id);
	free(dst);
	return -1;
}

static int split_row(void *ctx, int worker, const sora_fields *in, sora_out *out, sora_err *e)
{
	split *p = ctx;
	const char *path = in->v[p->path_col];
	measures m = {0};
	sora_cuts cuts = {0};
	sora_clips clips = {0};
	sora_video_info info;
	CHECK(e, path[0], "empty path");
	TRY(measure(p, path, &m, &info, e));

	if (!strcmp(p->detector, "content")) {
		TRY(sora_detect_content(m.score, m.n, p->threshold, p->min_scene_len, &cuts, e));
	} else {
		sora_adaptive_opts ao = {.ratio = p->adaptive_threshold,
					 .min_content = p->min_content_val,
					 .window = 2,
					 .min_len = p->min_scene_len};
		TRY(sora_detect_adaptive(m.score, m.n, &ao, &cuts, e));
	}
	/* The last frame lasts as long as the gap before it (one frame at constant rate). */
	double last = m.n > 1 ? m.pts[m.n - 1] - m.pts[m.n - 2] : info.fps > 0 ? 1 / info.fps : 0;
	TRY(sora_make_clips(m.n, m.pts, m.pts[m.n - 1] + last, &cuts, &m.tr, &p->clip, &clips, e));

	int small = info.height < p->min_height || info.width < p->min_width;
	int64_t kept = 0;
	for (int64_t i = 0; i < clips.n; i++) {
		if (small || clips.v[i].too_short)
			continue;
		TRY(emit(p, path, &info, &clips.v[i], out, e));
		kept++;
	}
	atomic_fetch_add(&p->filtered_clips, (long long)(clips.n - kept));
	log_debug("%s: %lld frames, %lld cuts, %lld transitions, %lld clips, %lld filtered", path,
		  (long long)m.n, (long long)cuts.n, (long long)m.tr.n, (long long)kept,
		  (long long)(clips.n - kept));
	measures_free(&m);
	sora_cuts_free(&cuts);
	sora_clips_free(&clips);
	return 0;
fail:
	measures_free(&m);
	sora_cuts_free(&cuts);
	sora_clips_free(&clips);
	return -1;
}

static int prepare(void *ctx, const sora_fields *header, sora_err *e)
{
	split *p = ctx;
	p->path_col = sora_fields_find(header, "path");
	if (p->path_col < 0)
		return SORA_FAIL(e, "the input CSV has no 'path' column");
	return 0;
}

/* Option values that make no sense are usage errors, found before any row is read. */
static const char *check_opts(split *p)
{
	if (strcmp(p->detector, "adaptive") != 0 && strcmp(p->detector, "content") != 0)
		return "--detector must be adaptive or content";
	if (strcmp(p->audio, "drop") != 0 && strcmp(p->audio, "keep") != 0)
		return "--audio must be keep or drop";
	if (p->copy && (p->cut.resize_short || p->cut.fps > 0))
		return "--copy cannot resize or resample: drop --resize-short / --fps, or --copy";
	if (p->min_scene_len < 0 || p->clip.min_sec < 0 || p->clip.max_sec < 0 || p->clip.trim_sec < 0 ||
	    p->cut.resize_short < 0 || p->cut.fps < 0)
		return "negative lengths, sizes and rates are not allowed";
	if (p->clip.max_sec > 0 && p->clip.max_sec < p->clip.min_sec)
		return "--max-sec is shorter than --min-sec";
	if (p->cut.crf < 1 || p->cut.crf > 51)
		return "--crf must be 1 to 51";
	if ((p->cut.resize_short || p->cut.fps > 0 || p->copy) && !p->cut_dir)
		return "--resize-short, --fps and --copy need --cut-dir";
	return NULL;
}

int main(int argc, char **argv)
{
	split p = {.detector = "adaptive",
		   .threshold = 27,
		   .adaptive_threshold = 3,
		   .min_content_val = 15,
		   .fade_threshold = 12,
		   .min_scene_len = 15,
		   .clip = {.min_sec = 2.0},
		   .audio = "drop",
		   .cut = {.crf = 22, .preset = "veryfast"}};
	const sora_opt opts[] = {
	    {"detector", 0, SORA_OPT_STR, &p.detector, "NAME",
	     "adaptive (PySceneDetect's AdaptiveDetector) or content"},
	    {"threshold", 0, SORA_OPT_DOUBLE, &p.threshold, "X",
	     "content detector: cut where the score >= X"},
	    {"adaptive-threshold", 0, SORA_OPT_DOUBLE, &p.adaptive_threshold, "X",
	     "adaptive detector: cut where score / mean of 2 neighbours each side >= X"},
	    {"min-content-val", 0, SORA_OPT_DOUBLE, &p.min_content_val, "X",
	     "adaptive detector: and the score >= X"},
	    {"min-scene-len", 0, SORA_OPT_INT, &p.min_scene_len, "N",
	     "frames from one cut to the next, at least"},
	    {"fade-threshold", 0, SORA_OPT_DOUBLE, &p.fade_threshold, "X",
	     "a frame whose mean R, G, B value is below X is black (fades)"},
	    {"keep-transitions", 0, SORA_OPT_FLAG, &p.keep_transitions, NULL,
	     "keep fade and dissolve frames inside clips (one cut in the middle)"},
	    {"min-sec", 0, SORA_OPT_DOUBLE, &p.clip.min_sec, "S", "shorter clips are filtered"},
	    {"max-sec", 0, SORA_OPT_DOUBLE, &p.clip.max_sec, "S",
	     "longer shots are split in chunks of at most S (0: none)"},
	    {"trim-sec", 0, SORA_OPT_DOUBLE, &p.clip.trim_sec, "S", "dropped at both ends of every shot"},
	    {"min-height", 0, SORA_OPT_INT, &p.min_height, "N", "videos less tall are filtered"},
	    {"min-width", 0, SORA_OPT_INT, &p.min_width, "N", "videos less wide are filtered"},
	    {"cut-dir", 0, SORA_OPT_STR, &p.cut_dir, "DIR",
	     "write each clip to DIR/<id>.mp4 (re-encoded with libx264)"},
	    {"crf", 0, SORA_OPT_INT, &p.cut.crf, "N", "written clips: libx264 constant rate factor"},
	    {"preset", 0, SORA_OPT_STR, &p.cut.preset, "NAME", "written clips: libx264 preset"},
	    {"copy", 0, SORA_OPT_FLAG, &p.copy, NULL, "stream-copy clips (keyframe-snapped, inexact)"},
	    {"resize-short", 0, SORA_OPT_INT, &p.cut.resize_short, "N",
	     "written clips: short side N, never upscaling (0: keep the size)"},
	    {"fps", 0, SORA_OPT_DOUBLE, &p.cut.fps, "F",
	     "written clips: resample to F frames per second (0: the source rate)"},
	    {"audio", 0, SORA_OPT_STR, &p.audio, "keep|drop", "written clips: audio"},
	    {"no-fast", 0, SORA_OPT_FLAG, &p.no_fast, NULL,
	     "detect on fully decoded frames (loop filter on, no fast flags, bilinear scaling)"},
	    {0},
	};
	const sora_cli cli = {
	    .prog = "sora-split",
	    .usage = "[files | dirs]...",
	    .summary =
		"Finds shot boundaries (hard cuts like PySceneDetect's adaptive or content detector, fades\n"
		"to and from black, dissolves) and writes one CSV row per clip: path, id, source,\n"
		"start_sec, end_sec, start_frame, end_frame (exclusive), num_frames, fps, height, width,\n"
		"aspect_ratio, resolution, transition_before, transition_after. Without operands, reads\n"
		"a CSV with a `path` column on stdin (e.g. from sora-probe) and keeps its columns.",
	    .opts = opts,
	};
	sora_common_opts c;
	int first;
	int rc = sora_cli_parse(&cli, argc, argv, &c, &first);
	if (rc != SORA_CLI_OK)
		return rc == SORA_CLI_EXIT ? SORA_EXIT_OK : SORA_EXIT_USAGE;
	const char *bad = check_opts(&p);
	if (bad) {
		log_error("%s", bad);
		return SORA_EXIT_USAGE;
	}
	p.clip.keep_transitions = p.keep_transitions;
	p.cut.copy = p.copy;
	p.cut.audio = !strcmp(p.audio, "keep");
	if (p.copy)
		log_info(
		    "--copy: clips start at the keyframe at or before their first frame, so they may hold "
		    "earlier frames (inexact); num_frames counts the frames copied");
	if (p.cut_dir && mkdir(p.cut_dir, 0777) < 0 && errno != EEXIST) {
		log_error("cannot create %s: %s", p.cut_dir, strerror(errno));
		return SORA_EXIT_FAIL;
	}
	/* Files run in parallel (-j); each decoder gets its share of the cores plus one, as FFmpeg's
	 * automatic count does (frame threads wait on each other, and the measuring runs beside them). */
	int share = sora_cpu_count() / (c.threads > 0 ? c.threads : 1);
	p.dec_threads = share > 1 ? share + 1 : 2;
	p.cut.threads = p.dec_threads;
	const sora_rowmap_spec spec = {
	    .input = SORA_INPUT_MEDIA,
	    .columns = columns,
	    .unit = "videos",
	    .ctx = &p,
	    .prepare = prepare,
	    .process = split_row,
	};
	rc = sora_rowmap_run(&spec, &c, argc - first, argv + first);
	long long nf = atomic_load(&p.filtered_clips);
	if (nf)
		log_info(
		    "%lld clips filtered (shorter than --min-sec, or the video smaller than --min-height / "
		    "--min-width)",
		    nf);
	return rc;
}
