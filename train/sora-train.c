/* sora-train: Open-Sora 2.0's rectified-flow training of the MMDiT (scripts/diffusion/train.py).
 *
 *   sora-train --replay FILE --prefix P --model F [--model-config F] --out OUT [--grad-ckpt D,S]
 *       → one training step from stored inputs: pred, loss, grad.<parameter>, grad_input.* (for comparing
 *         with the official code)
 */
#include "train/replay_step.h"
#include "util/cli.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>

/* "D,S" or "D": the first D double and S single blocks recompute their activations in the backward. */
static int parse_ckpt(const char *s, int *d, int *sg)
{
	char *end;
	long a = strtol(s, &end, 10), b = 0;
	if (end == s || a < 0 || a > 100000)
		return -1;
	if (*end == ',') {
		const char *p = end + 1;
		b = strtol(p, &end, 10);
		if (end == p || b < 0 || b > 100000)
			return -1;
	}
	if (*end)
		return -1;
	*d = (int)a;
	*sg = (int)b;
	return 0;
}

int main(int argc, char **argv)
{
	sora_train_replay r = {.prefix = ""};
	const char *ckpt = "0,0";
	const sora_opt opts[] = {
	    {"model", 0, SORA_OPT_STR, &r.model, "FILE",
	     "the MMDiT to start from (Open-Sora 2.0 or FLUX.1-dev layout; .safetensors or sharded "
	     ".index.json)"},
	    {"model-config", 0, SORA_OPT_STR, &r.model_config, "FILE",
	     "MMDiTConfig JSON for what the weights cannot tell (axes_dim, theta, patch_size); none: the "
	     "released values"},
	    {"grad-ckpt", 0, SORA_OPT_STR, &ckpt, "D,S",
	     "gradient checkpointing (grad_ckpt_settings): the first D double and S single blocks recompute "
	     "their activations in the backward"},
	    {"replay", 0, SORA_OPT_STR, &r.file, "FILE",
	     "one step from stored inputs: P.x_t, P.t, P.in.text_t5, P.in.text_clip, P.target_v, P.img_ids, "
	     "P.txt_ids, [P.in.cond, P.guidance]"},
	    {"prefix", 0, SORA_OPT_STR, &r.prefix, "P", "name prefix of the --replay tensors (e.g. train.)"},
	    {"out", 0, SORA_OPT_STR, &r.out, "FILE",
	     "--replay output: pred, loss, dloss_dpred, grad.<parameter>, grad_input.{img,txt,y_vec,cond}"},
	    {NULL, 0, 0, NULL, NULL, NULL}};
	const sora_cli cli = {
	    .prog = "sora-train",
	    .usage = "--replay FILE --model FILE --out FILE [OPTIONS]",
	    .summary = "Open-Sora 2.0's rectified-flow training of the MMDiT on the CPU. --replay runs "
		       "one training step (forward, MSE against the velocity target, backward) from "
		       "stored inputs and writes the prediction, the loss and every parameter and input "
		       "gradient under the checkpoint's names, to compare with the official code.",
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
	if (parse_ckpt(ckpt, &r.ckpt_double, &r.ckpt_single) < 0) {
		log_error("--grad-ckpt: '%s' is not D,S (two counts of blocks)", ckpt);
		return SORA_EXIT_USAGE;
	}
	if (!r.file || !r.model || !r.out) {
		log_error("--replay FILE, --model FILE and --out FILE are required");
		return SORA_EXIT_USAGE;
	}
	sora_err e = {0};
	double loss;
	if (sora_train_replay_run(&r, &loss, &e) < 0) {
		sora_log_err(SORA_LOG_ERROR, "replay", &e);
		return SORA_EXIT_FAIL;
	}
	log_info("replay: loss %.7g, written to %s", loss, r.out);
	return SORA_EXIT_OK;
}
