/* sora-probe: one CSV row of metadata per video, with Open-Sora's columns. */
#include "io/video.h"
#include "util/cli.h"
#include "util/log.h"
#include "util/rowmap.h"

#include <math.h>
#include <stdlib.h>

enum {
	C_NUM_FRAMES,
	C_HEIGHT,
	C_WIDTH,
	C_ASPECT_RATIO,
	C_RESOLUTION,
	C_FPS,
	C_DURATION,
	C_CODEC,
	C_PIX_FMT,
	C_BIT_DEPTH,
	C_ROTATION,
	C_VFR,
	C_HAS_AUDIO,
	C_BIT_RATE,
};

static const char *const columns[] = {
    "num_frames", "height",    "width",    "aspect_ratio", "resolution", "fps",      "duration_sec", "codec",
    "pix_fmt",    "bit_depth", "rotation", "vfr",          "has_audio",  "bit_rate", NULL,
};

typedef struct probe {
	int count_frames;
	int path_col;
} probe;

static int prepare(void *ctx, const sora_fields *header, sora_err *e)
{
	probe *p = ctx;
	p->path_col = sora_fields_find(header, "path");
	if (p->path_col < 0)
		return SORA_FAIL(e, "the input CSV has no 'path' column");
	return 0;
}

/* Open-Sora's meta.py writes round(fps, 3). */
static double round3(double x)
{
	return round(x * 1000.0) / 1000.0;
}

static int probe_row(void *ctx, int worker, const sora_fields *in, sora_out *out, sora_err *e)
{
	const probe *p = ctx;
	const char *path = in->v[p->path_col];
	sora_video *v = NULL;
	CHECK(e, path[0], "empty path");
	/* Rows run in parallel (-j), so each decoder gets one thread. */
	const sora_video_opts opts = {.threads = 1, .pix = SORA_PIX_NATIVE};
	TRY(sora_video_open(&v, path, &opts, e));
	if (p->count_frames)
		TRY(sora_video_count_frames(v, e));
	const sora_video_info *vi = sora_video_get_info(v);
	CHECK(e, vi->num_frames > 0, "no frames could be counted or decoded");
	CHECK(e, vi->width > 0 && vi->height > 0, "unknown frame size");

	sora_out_add(out);
	sora_out_setf(out, C_NUM_FRAMES, "%lld", (long long)vi->num_frames);
	sora_out_setf(out, C_HEIGHT, "%d", vi->height);
	sora_out_setf(out, C_WIDTH, "%d", vi->width);
	sora_out_setd(out, C_ASPECT_RATIO, (double)vi->height / vi->width);
	sora_out_setf(out, C_RESOLUTION, "%lld", (long long)vi->height * vi->width);
	sora_out_setd(out, C_FPS, round3(vi->fps));
	sora_out_setd(out, C_DURATION, round(vi->duration_sec * 1e6) / 1e6);
	sora_out_set(out, C_CODEC, vi->codec);
	sora_out_set(out, C_PIX_FMT, vi->pix_fmt);
	sora_out_setf(out, C_BIT_DEPTH, "%d", vi->bit_depth);
	sora_out_setf(out, C_ROTATION, "%d", vi->rotation);
	sora_out_setf(out, C_VFR, "%d", vi->vfr);
	sora_out_setf(out, C_HAS_AUDIO, "%d", vi->has_audio);
	sora_out_setf(out, C_BIT_RATE, "%lld", (long long)vi->bit_rate);
	sora_video_close(v);
	return 0;
fail:
	sora_video_close(v);
	return -1;
}

int main(int argc, char **argv)
{
	probe p = {0};
	const sora_opt opts[] = {
	    {"count-frames", 0, SORA_OPT_FLAG, &p.count_frames, NULL,
	     "count frames by decoding every one (exact, as Open-Sora's meta.py; slower)"},
	    {0},
	};
	const sora_cli cli = {
	    .prog = "sora-probe",
	    .usage = "[files | dirs]...",
	    .summary =
		"Writes one CSV row per video with Open-Sora's columns (path, num_frames, height, width,\n"
		"aspect_ratio, resolution, fps) and duration_sec, codec, pix_fmt, bit_depth, rotation,\n"
		"vfr, has_audio, bit_rate. Directories are walked recursively (video extensions only);\n"
		"without operands, reads a CSV with a `path` column on stdin and keeps its columns.",
	    .opts = opts,
	};
	sora_common_opts c;
	int first;
	int rc = sora_cli_parse(&cli, argc, argv, &c, &first);
	if (rc != SORA_CLI_OK)
		return rc == SORA_CLI_EXIT ? SORA_EXIT_OK : SORA_EXIT_USAGE;
	const sora_rowmap_spec spec = {
	    .input = SORA_INPUT_MEDIA,
	    .columns = columns,
	    .unit = "videos",
	    .ctx = &p,
	    .prepare = prepare,
	    .process = probe_row,
	};
	return sora_rowmap_run(&spec, &c, argc - first, argv + first);
}
