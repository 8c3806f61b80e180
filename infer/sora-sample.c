/* sora-sample: Open-Sora 2.0's text-to-video and image-to-video sampler (scripts/diffusion/inference.py).
 *
 *   sora-sample --prompt TEXT | --csv FILE --model F --vae F --t5 DIR --clip DIR [--ref IMAGE] ... --save-dir
 * D → D/video_<resolution>/<name>.mp4 (or image_<resolution>/<name>.png for one frame) + <name>.txt
 *   sora-sample --replay FILE.safetensors --prefix P --model F --out OUT.safetensors
 *       → the sampling loop from stored inputs: stepN.x_in, stepN.pred, x_final (for comparisons)
 */
#include "flow/denoise.h"
#include "flow/replay.h"
#include "flow/sampler.h"
#include "infer/sample_job.h"
#include "infer/sample_model.h"
#include "models/mmdit.h"
#include "util/cli.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int replay(const sora_sample_job_args *a, const sora_sample_opts *o, int quiet, sora_err *e)
{
	sora_replay r;
	sora_mmdit m;
	sora_sample_model s = {0};
	int rc = -1, have_m = 0;
	TRY(sora_replay_load(&r, a->replay, a->prefix, e));
	CHECK(e, r.txt && r.y_vec, "%s: %stxt and %sy_vec are needed to run the model", a->replay, a->prefix,
	      a->prefix);
	TRY(sora_mmdit_load(&m, a->model, a->model_config, e));
	have_m = 1;
	TRY(sora_sample_model_init(&s, &m, 3 * r.B, r.txt_len, r.txt, r.txt_dim, r.y_vec, r.y_dim, r.T,
				   r.H / m.cfg.patch_size, r.W / m.cfg.patch_size, e));
	s.num_steps = r.timesteps ? r.num_steps : o->num_steps;
	s.quiet = quiet;
	TRY(sora_replay_run(&r, o, sora_sample_model_call, &s, a->out, e));
	rc = 0;
fail:
	sora_sample_model_free(&s);
	if (have_m)
		sora_mmdit_free(&m);
	sora_replay_free(&r);
	return rc;
}

int main(int argc, char **argv)
{
	sora_sample_job_args a = {.prefix = "",
				  .resolution = "256px",
				  .aspect_ratio = "16:9",
				  .num_frames = 129,
				  .num_steps = 50,
				  .guidance = 7.5,
				  .guidance_img = 3.0,
				  .flow_shift = -1,
				  .seed = 42,
				  .num_sample = 1,
				  .save_dir = "samples",
				  .cond_type = "t2v",
				  .neg = "",
				  .motion_score = "4",
				  .fps_save = 24};
	const sora_opt opts[] = {
	    {"prompt", 0, SORA_OPT_STR, &a.prompt, "TEXT", "one prompt (or --csv)"},
	    {"csv", 0, SORA_OPT_STR, &a.csv, "FILE", "prompts: columns text, and optionally ref, name, neg"},
	    {"ref", 0, SORA_OPT_STR, &a.ref, "IMAGE|VIDEO",
	     "reference for i2v_* (first frame for head, last for tail) or v2v_* (a video: its first or last "
	     "33 / 65 frames)"},
	    {"neg", 0, SORA_OPT_STR, &a.neg, "TEXT", "negative prompt"},
	    {"cond-type", 0, SORA_OPT_STR, &a.cond_type, "TYPE",
	     "t2v, i2v_head, i2v_tail, i2v_loop, v2v_head, v2v_tail, v2v_head_easy, v2v_tail_easy"},
	    {"model", 0, SORA_OPT_STR, &a.model, "FILE", "the MMDiT (Open_Sora_v2.safetensors)"},
	    {"model-config", 0, SORA_OPT_STR, &a.model_config, "FILE",
	     "MMDiTConfig JSON for what the weights cannot tell (axes_dim, theta, patch_size); none: the "
	     "released values"},
	    {"vae", 0, SORA_OPT_STR, &a.vae, "FILE", "hunyuan_vae.safetensors"},
	    {"vae-config", 0, SORA_OPT_STR, &a.vae_config, "FILE",
	     "AutoEncoder3DConfig JSON; none: the released values"},
	    {"t5", 0, SORA_OPT_STR, &a.t5, "DIR",
	     "T5 encoder folder (config.json, model.safetensors, spiece.model)"},
	    {"clip", 0, SORA_OPT_STR, &a.clip, "DIR",
	     "CLIP text folder (config.json, model.safetensors, vocab.json, merges.txt)"},
	    {"resolution", 0, SORA_OPT_STR, &a.resolution, "RES", "256px, 768px, ... (with --aspect-ratio)"},
	    {"aspect-ratio", 0, SORA_OPT_STR, &a.aspect_ratio, "W:H",
	     "16:9, 9:16, 1:1, 2.39:1, 4:3, 3:4, ..."},
	    {"height", 0, SORA_OPT_INT, &a.height, "PX",
	     "explicit height instead of --resolution/--aspect-ratio (rounded up to 16; with --width)"},
	    {"width", 0, SORA_OPT_INT, &a.width, "PX", "explicit width (with --height)"},
	    {"num-frames", 0, SORA_OPT_INT, &a.num_frames, "N", "4k+1 up to 129; 1 = an image (PNG)"},
	    {"num-steps", 0, SORA_OPT_INT, &a.num_steps, "N", "Euler steps"},
	    {"guidance", 0, SORA_OPT_DOUBLE, &a.guidance, "G", "text guidance"},
	    {"guidance-img", 0, SORA_OPT_DOUBLE, &a.guidance_img, "G", "image guidance"},
	    {"flow-shift", 0, SORA_OPT_DOUBLE, &a.flow_shift, "A",
	     "schedule shift α; -1: from the size and length"},
	    {"no-osci", 0, SORA_OPT_FLAG, &a.no_osci, NULL,
	     "full guidance on every step (no text/image oscillation, no temporal ramp)"},
	    {"seed", 0, SORA_OPT_INT, &a.seed, "N", "noise seed; sample k of --num-sample uses seed + k"},
	    {"num-sample", 0, SORA_OPT_INT, &a.num_sample, "K", "samples per prompt"},
	    {"save-dir", 0, SORA_OPT_STR, &a.save_dir, "DIR", "output folder"},
	    {"motion-score", 0, SORA_OPT_STR, &a.motion_score, "N",
	     "appended to the prompt as \"N motion score.\""},
	    {"fps-save", 0, SORA_OPT_INT, &a.fps_save, "N",
	     "frame rate of the MP4 (and of the prompt suffix)"},
	    {"replay", 0, SORA_OPT_STR, &a.replay, "FILE",
	     "run the loop from stored inputs (P.noise, P.txt, P.y_vec, [P.masks, P.masked_ref, "
	     "P.timesteps])"},
	    {"prefix", 0, SORA_OPT_STR, &a.prefix, "P",
	     "name prefix of the --replay tensors (e.g. denoise3.)"},
	    {"out", 0, SORA_OPT_STR, &a.out, "FILE", "--replay output: stepN.x_in, stepN.pred, x_final"},
	    {NULL, 0, 0, NULL, NULL, NULL}};
	const sora_cli cli = {
	    .prog = "sora-sample",
	    .usage = "--prompt TEXT | --csv FILE | --replay FILE  [OPTIONS]",
	    .summary =
		"Open-Sora 2.0's sampler: T5 and CLIP encode the prompt (with \". 24 FPS. 4 motion score.\" "
		"appended) and an empty negative prompt, the MMDiT denoises torch-seeded noise with "
		"shifted Euler steps and three-way guidance, the VAE decodes; the video is written as an "
		"H.264 MP4 (CRF 23) or, for one frame, a PNG, with the prompt beside it in a .txt. "
		"--replay runs the loop from stored inputs and writes every step's model input and "
		"prediction, to compare with the official code.",
	    .opts = opts};
	sora_common_opts c;
	int first;
	int rc = sora_cli_parse(&cli, argc, argv, &c, &first);
	if (rc != SORA_CLI_OK)
		return rc == SORA_CLI_EXIT ? SORA_EXIT_OK : SORA_EXIT_USAGE;
	if (first < argc) {
		log_error("unexpected operand %s", argv[first]);
		return SORA_EXIT_USAGE;
	}
	sora_err e = {0};
	sora_sample_opts o;
	if (sora_sample_job_opts(&a, &o, &e) < 0) {
		sora_log_err(SORA_LOG_ERROR, "options", &e);
		return SORA_EXIT_USAGE;
	}
	if (a.replay) {
		if (!a.model || !a.out) {
			log_error("--replay needs --model FILE and --out FILE");
			return SORA_EXIT_USAGE;
		}
		if (replay(&a, &o, c.verbosity < 0, &e) < 0) {
			sora_log_err(SORA_LOG_ERROR, "replay", &e);
			return SORA_EXIT_FAIL;
		}
		return SORA_EXIT_OK;
	}
	if (!a.prompt == !a.csv) {
		log_error("give one of --prompt TEXT and --csv FILE");
		return SORA_EXIT_USAGE;
	}
	if (!a.model || !a.vae || !a.t5 || !a.clip) {
		log_error("--model, --vae, --t5 and --clip are required");
		return SORA_EXIT_USAGE;
	}
	rc = sora_sample_job_run(&a, &o, c.verbosity < 0, &e);
	if (rc < 0)
		sora_log_err(SORA_LOG_ERROR, "sample", &e);
	return rc < 0 ? SORA_EXIT_FAIL : SORA_EXIT_OK;
}
