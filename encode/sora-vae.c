/* sora-vae: the command-line face of the HunyuanVideo VAE.
 *
 *   sora-vae encode --vae F [CLIP | IMAGE | --in F.safetensors --tensor NAME] -o OUT.safetensors
 *       → moments [1, 32, t, h, w], mean, logvar, z (scaled: 0.476986 · mean, or a sample with --vae-sample)
 *   sora-vae decode --vae F --in F.safetensors [--tensor z] -o OUT.{mp4,png,safetensors}
 *   sora-vae check --vae F   (names and shapes from the header only; prints the parameter count)
 */
#include "infer/sample_save.h"
#include "io/image_file.h"
#include "io/safetensors.h"
#include "io/video.h"
#include "models/vae_hunyuan.h"
#include "util/cli.h"
#include "util/log.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct args {
	const char *vae, *config, *in, *tensor, *spatial, *temporal;
	int sample, seed, frames, fps, tile_size, temporal_tile, stream;
	double overlap;
} args;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcasecmp(s + n - k, suffix);
}

static int is_image(const char *path)
{
	static const char *const ext[] = {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".webp", NULL};
	for (int i = 0; ext[i]; i++)
		if (ends_with(path, ext[i]))
			return 1;
	return 0;
}

/* "on" / "off" / NULL (keep) into *flag. */
static int on_off(const char *v, const char *name, int *flag, sora_err *e)
{
	if (!v)
		return 0;
	CHECK(e, !strcmp(v, "on") || !strcmp(v, "off"), "--%s takes on or off, not '%s'", name, v);
	*flag = !strcmp(v, "on");
	return 0;
fail:
	return -1;
}

static int apply_tiling(sora_vae *m, const args *a, sora_err *e)
{
	TRY(on_off(a->spatial, "spatial-tiling", &m->cfg.use_spatial_tiling, e));
	TRY(on_off(a->temporal, "temporal-tiling", &m->cfg.use_temporal_tiling, e));
	if (a->tile_size) {
		CHECK(e, a->tile_size >= 16 && a->tile_size % 8 == 0,
		      "--tile-size %d: a multiple of 8, at least 16", a->tile_size);
		m->cfg.sample_size = a->tile_size;
	}
	if (a->temporal_tile) {
		CHECK(e, a->temporal_tile >= 4 && a->temporal_tile % 4 == 0,
		      "--temporal-tile %d: a multiple of 4", a->temporal_tile);
		m->cfg.sample_tsize = a->temporal_tile;
	}
	if (a->overlap >= 0) {
		CHECK(e, a->overlap < 1, "--tile-overlap %g: in [0, 1)", a->overlap);
		m->cfg.tile_overlap_factor = a->overlap;
	}
	return 0;
fail:
	return -1;
}

/* A [1, C, T, H, W] or [C, T, H, W] float tensor from a safetensors file, as f32 (malloc'd). */
static int read_tensor(const char *path, const char *name, float **out, int dims[4], sora_err *e)
{
	sora_safetensors *st = NULL;
	sora_dtype dt;
	*out = NULL;
	TRY(sora_st_open(&st, path, e));
	const sora_st_tensor *t = sora_st_find(st, name);
	CHECK(e, t, "%s: no tensor '%s'", path, name);
	CHECK(e, (t->ndim == 5 && t->shape[0] == 1) || t->ndim == 4,
	      "%s: '%s' must be [1, C, T, H, W] or [C, T, H, W]", path, name);
	for (int i = 0; i < 4; i++)
		dims[i] = (int)t->shape[t->ndim - 4 + i];
	TRY(sora_st_dtype(t, &dt, e));
	const size_t n = (size_t)dims[0] * dims[1] * dims[2] * dims[3];
	CHECK_ALLOC(e, *out = malloc((n ? n : 1) * sizeof **out));
	TRY(sora_to_f32(*out, t->data, dt, n, e));
	sora_st_close(st);
	return 0;
fail:
	free(*out);
	*out = NULL;
	sora_st_close(st);
	return -1;
}

/* RGB24 pixels into x[c, t] planes in [−1, 1] (ToTensor, then Normalize(0.5, 0.5)). */
static void put_frame(float *x, const uint8_t *rgb, int ls, int t, int T, int H, int W)
{
	for (int c = 0; c < 3; c++)
		for (int h = 0; h < H; h++)
			for (int w = 0; w < W; w++)
				x[(((size_t)c * T + t) * H + h) * W + w] =
				    rgb[(size_t)h * ls + 3 * (size_t)w + c] / 255.0f * 2 - 1;
}

/* A clip (its first `frames` frames, or all) or an image as x [3, T, H, W]. */
static int read_pixels(const char *path, int frames, float **x, int dims[4], sora_err *e)
{
	sora_video *v = NULL;
	uint8_t *rgb = NULL;
	sora_frame f;
	*x = NULL;
	if (is_image(path)) {
		int w, h;
		TRY(sora_image_load(path, &rgb, &w, &h, e));
		CHECK_ALLOC(e, *x = malloc((size_t)3 * w * h * sizeof **x));
		put_frame(*x, rgb, 3 * w, 0, 1, h, w);
		dims[0] = 3, dims[1] = 1, dims[2] = h, dims[3] = w;
		free(rgb);
		return 0;
	}
	sora_video_opts o = {.pix = SORA_PIX_RGB};
	TRY(sora_video_open(&v, path, &o, e));
	int T = frames;
	if (!T) {
		TRY(sora_video_count_frames(v, e));
		T = (int)sora_video_get_info(v)->num_frames;
	}
	const int W = sora_video_get_info(v)->width, H = sora_video_get_info(v)->height;
	CHECK(e, T > 0 && (T - 1) % 4 == 0,
	      "%s: %d frames: the VAE takes 4k+1 frames (1, 5, 9, ...); choose with --frames", path, T);
	CHECK(e, H % 8 == 0 && W % 8 == 0, "%s: frame size %dx%d: width and height must be multiples of 8",
	      path, W, H);
	CHECK_ALLOC(e, *x = malloc((size_t)3 * T * H * W * sizeof **x));
	for (int t = 0; t < T; t++) {
		int rc = sora_video_read(v, &f, e);
		TRY(rc);
		CHECK(e, rc == 1, "%s: only %d frames, %d wanted", path, t, T);
		put_frame(*x, f.data[0], f.linesize[0], t, T, H, W);
	}
	dims[0] = 3, dims[1] = T, dims[2] = H, dims[3] = W;
	sora_video_close(v);
	return 0;
fail:
	free(*x);
	*x = NULL;
	sora_video_close(v);
	return -1;
}

static int cmd_encode(const sora_vae *m, const args *a, const char *src, const char *out, sora_err *e)
{
	float *x = NULL, *mo = NULL, *buf = NULL;
	int xd[4], ld[4];
	double t0 = now();
	if (src)
		TRY(read_pixels(src, a->frames, &x, xd, e));
	else
		TRY(read_tensor(a->in, a->tensor ? a->tensor : "x", &x, xd, e));
	CHECK(e, xd[0] == m->cfg.in_channels, "the input has %d channels, the VAE takes %d", xd[0],
	      m->cfg.in_channels);
	TRY(sora_vae_encode(m, x, xd[1], xd[2], xd[3], &mo, ld, e));
	const int L = ld[0] / 2;
	const size_t n = (size_t)L * ld[1] * ld[2] * ld[3];
	CHECK_ALLOC(e, buf = malloc(4 * n * sizeof *buf));
	float *mean = buf, *lv = mean + n, *z = lv + n, *eps = z + n;
	if (a->sample)
		sora_vae_gaussian(eps, n, (uint64_t)a->seed);
	sora_vae_latent(m, mo, ld, a->sample ? eps : NULL, z, mean, lv);
	sora_tensor t[4];
	sora_tensor_view(&t[0], SORA_F32, 5, (int64_t[]){1, ld[0], ld[1], ld[2], ld[3]}, mo);
	for (int i = 1; i < 4; i++)
		sora_tensor_view(&t[i], SORA_F32, 5, (int64_t[]){1, L, ld[1], ld[2], ld[3]},
				 i == 1   ? mean
				 : i == 2 ? lv
					  : z);
	static const char *const names[] = {"moments", "mean", "logvar", "z"};
	const char *meta[] = {
	    "z", a->sample ? "scale_factor * (mean + std * eps), eps from --seed" : "scale_factor * mean",
	    NULL};
	TRY(sora_st_write(out, names, t, 4, meta, e));
	log_info("encoded %d frames %dx%d -> latent [%d, %d, %d, %d] in %.2f s", xd[1], xd[3], xd[2], L,
		 ld[1], ld[2], ld[3], now() - t0);
	free(x), free(mo), free(buf);
	return 0;
fail:
	free(x), free(mo), free(buf);
	return -1;
}

static int write_video(const char *out, const float *v, const int vd[4], int fps, sora_err *e)
{
	uint8_t *rgb = NULL;
	sora_video_writer *w = NULL;
	const int T = vd[1], H = vd[2], W = vd[3];
	CHECK(e, vd[0] == 3, "the decoded video has %d channels; only 3 can be written as pixels", vd[0]);
	CHECK_ALLOC(e, rgb = malloc((size_t)H * W * 3));
	if (ends_with(out, ".png")) {
		const int pattern = strchr(out, '%') != NULL;
		CHECK(e, T == 1 || pattern,
		      "%s: a PNG holds one frame and this video has %d; give a pattern like out_%%03d.png",
		      out, T);
		for (int t = 0; t < T; t++) {
			char path[4096];
			if (pattern)
				snprintf(path, sizeof path, out, t);
			else
				snprintf(path, sizeof path, "%s", out);
			sora_sample_frame(rgb, v, t, T, H, W);
			TRY(sora_image_save_png(path, rgb, W, H, e));
		}
	} else {
		sora_writer_opts o = {.width = W, .height = H, .fps_num = fps, .fps_den = 1};
		TRY(sora_video_writer_open(&w, out, &o, e));
		for (int t = 0; t < T; t++) {
			sora_sample_frame(rgb, v, t, T, H, W);
			if (sora_video_writer_put_rgb(w, rgb, W * 3, e) < 0)
				goto fail;
		}
		sora_video_writer *tmp = w;
		w = NULL;
		TRY(sora_video_writer_close(tmp, e));
	}
	free(rgb);
	return 0;
fail:
	if (w) {
		sora_err ignore = {0};
		sora_video_writer_close(w, &ignore);
	}
	free(rgb);
	return -1;
}

typedef struct mp4_sink {
	const char *path;
	int fps;
	sora_video_writer *w;
	uint8_t *rgb;
} mp4_sink;

/* --stream: each decoded chunk of frames straight into the MP4. */
static int put_frames(void *ctx, const float *f, int n, int first, int C, int H, int W, sora_err *e)
{
	mp4_sink *k = ctx;
	sora_writer_opts o = {.width = W, .height = H, .fps_num = k->fps, .fps_den = 1};
	CHECK(e, C == 3, "the decoded video has %d channels; only 3 can be written as pixels", C);
	if (!k->w) {
		CHECK_ALLOC(e, k->rgb = malloc((size_t)H * W * 3));
		TRY(sora_video_writer_open(&k->w, k->path, &o, e));
	}
	for (int t = 0; t < n; t++) {
		sora_sample_frame(k->rgb, f, t, n, H, W);
		TRY(sora_video_writer_put_rgb(k->w, k->rgb, W * 3, e));
	}
	log_debug("frames %d..%d written", first, first + n - 1);
	return 0;
fail:
	return -1;
}

static int cmd_decode(const sora_vae *m, const args *a, const char *out, sora_err *e)
{
	float *z = NULL, *v = NULL;
	int zd[4], vd[4];
	double t0 = now();
	CHECK(e, a->in, "decode reads the latent from --in FILE (a safetensors file)");
	TRY(read_tensor(a->in, a->tensor ? a->tensor : "z", &z, zd, e));
	if (a->stream) {
		mp4_sink k = {.path = out, .fps = a->fps};
		CHECK(e, !ends_with(out, ".safetensors") && !ends_with(out, ".png"),
		      "--stream writes an MP4");
		int rc = sora_vae_decode_stream(m, z, zd, 1, put_frames, &k, e);
		if (k.w) {
			sora_err e2 = {0};
			if (sora_video_writer_close(k.w, &e2) < 0 && rc == 0)
				*e = e2, rc = -1;
		}
		free(k.rgb);
		TRY(rc);
		log_info("decoded latent [%d, %d, %d, %d] (streamed) in %.2f s", zd[0], zd[1], zd[2], zd[3],
			 now() - t0);
		free(z);
		return 0;
	}
	TRY(sora_vae_decode(m, z, zd, &v, vd, e));
	if (ends_with(out, ".safetensors")) {
		sora_tensor t;
		static const char *const names[] = {"video"};
		sora_tensor_view(&t, SORA_F32, 5, (int64_t[]){1, vd[0], vd[1], vd[2], vd[3]}, v);
		TRY(sora_st_write(out, names, &t, 1, NULL, e));
	} else {
		TRY(write_video(out, v, vd, a->fps, e));
	}
	log_info("decoded latent [%d, %d, %d, %d] -> %d frames %dx%d in %.2f s", zd[0], zd[1], zd[2], zd[3],
		 vd[1], vd[3], vd[2], now() - t0);
	free(z), free(v);
	return 0;
fail:
	free(z), free(v);
	return -1;
}

int main(int argc, char **argv)
{
	args a = {.fps = 24, .overlap = -1};
	const sora_opt opts[] = {
	    {"vae", 0, SORA_OPT_STR, &a.vae, "FILE", "hunyuan_vae.safetensors (official tensor names)"},
	    {"vae-config", 0, SORA_OPT_STR, &a.config, "FILE",
	     "AutoEncoder3DConfig JSON (top level or under \"AutoEncoder3DConfig\"); default: the released "
	     "values"},
	    {"in", 0, SORA_OPT_STR, &a.in, "FILE",
	     "input tensor file (encode: x [1,3,T,H,W] in [-1,1]; decode: z)"},
	    {"tensor", 0, SORA_OPT_STR, &a.tensor, "NAME",
	     "tensor name in --in (default x for encode, z for decode)"},
	    {"frames", 0, SORA_OPT_INT, &a.frames, "N",
	     "encode the first N frames of a clip (4k+1; default all)"},
	    {"vae-sample", 0, SORA_OPT_FLAG, &a.sample, NULL,
	     "z = scale * (mean + std * eps) with eps from --seed (default: z = scale * mean)"},
	    {"seed", 0, SORA_OPT_INT, &a.seed, "N", "seed of eps for --vae-sample"},
	    {"spatial-tiling", 0, SORA_OPT_STR, &a.spatial, "on|off",
	     "spatial tiles (default: the config's)"},
	    {"temporal-tiling", 0, SORA_OPT_STR, &a.temporal, "on|off",
	     "temporal tiles (default: the config's)"},
	    {"tile-size", 0, SORA_OPT_INT, &a.tile_size, "PX",
	     "spatial tile in pixels (sample_size, default 256)"},
	    {"temporal-tile", 0, SORA_OPT_INT, &a.temporal_tile, "FRAMES",
	     "temporal tile (sample_tsize, default 64)"},
	    {"tile-overlap", 0, SORA_OPT_DOUBLE, &a.overlap, "F", "tile overlap factor (default 0.25)"},
	    {"fps", 0, SORA_OPT_INT, &a.fps, "N", "frame rate of a decoded MP4"},
	    {"stream", 0, SORA_OPT_FLAG, &a.stream, NULL,
	     "decode to the MP4 one latent frame at a time (bounded memory, slower; no tiling)"},
	    {NULL, 0, 0, NULL, NULL, NULL}};
	const sora_cli cli = {
	    .prog = "sora-vae",
	    .usage = "encode|decode|check [OPTIONS] [CLIP | IMAGE]",
	    .summary =
		"The HunyuanVideo causal 3-D VAE of Open-Sora 2.0. encode: a clip (4k+1 frames), an image or "
		"a "
		"tensor (--in/--tensor) to a safetensors file of moments, mean, logvar and z (scaled). "
		"decode: z from --in to an MP4, PNG or a safetensors 'video' tensor, chosen by the -o "
		"extension. check: the checkpoint's names and shapes from its header alone.",
	    .opts = opts};
	sora_common_opts c;
	int first;
	/* The subcommand comes first; the options after it are parsed as the program's own. */
	const char *cmd = argc > 1 ? argv[1] : "";
	const int encode = !strcmp(cmd, "encode"), decode = !strcmp(cmd, "decode"),
		  check = !strcmp(cmd, "check");
	if (encode || decode || check)
		argv[1] = argv[0], argc--, argv++;
	int rc = sora_cli_parse(&cli, argc, argv, &c, &first);
	if (rc != SORA_CLI_OK)
		return rc == SORA_CLI_EXIT ? SORA_EXIT_OK : SORA_EXIT_USAGE;
	if (!encode && !decode && !check) {
		log_error("say encode, decode or check first (see --help)");
		return SORA_EXIT_USAGE;
	}
	if (!a.vae) {
		log_error("--vae FILE is required");
		return SORA_EXIT_USAGE;
	}
	const char *src = encode && first < argc ? argv[first] : NULL;
	if (first + (src != NULL) < argc || (encode && !src == !a.in)) {
		log_error(encode ? "encode takes one input: a clip or image operand, or --in FILE"
				 : "too many operands");
		return SORA_EXIT_USAGE;
	}
	if (!check && !c.output) {
		log_error("-o FILE is required");
		return SORA_EXIT_USAGE;
	}
	sora_err e = {0};
	if (check) {
		int64_t params;
		if (sora_vae_check(a.vae, a.config, &params, &e) < 0) {
			sora_log_err(SORA_LOG_ERROR, "check", &e);
			return SORA_EXIT_FAIL;
		}
		printf("%s: %lld parameters\n", a.vae, (long long)params);
		return SORA_EXIT_OK;
	}
	/* -j: the threads of the convolutions (OpenMP) and of the BLAS calls (attention). */
	omp_set_num_threads(c.threads);
	openblas_set_num_threads(c.threads);
	sora_vae m;
	if (sora_vae_load(&m, a.vae, a.config, &e) < 0) {
		sora_log_err(SORA_LOG_ERROR, "load", &e);
		return SORA_EXIT_FAIL;
	}
	rc = apply_tiling(&m, &a, &e);
	if (rc == 0)
		rc = encode ? cmd_encode(&m, &a, src, c.output, &e) : cmd_decode(&m, &a, c.output, &e);
	if (rc < 0)
		sora_log_err(SORA_LOG_ERROR, cmd, &e);
	sora_vae_free(&m);
	return rc < 0 ? SORA_EXIT_FAIL : SORA_EXIT_OK;
}
