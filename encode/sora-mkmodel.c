/* sora-mkmodel: a randomly initialised model folder in the published layout (config.json,
 * model.safetensors, tokenizer files), for tests and the demo when the real checkpoints are not at hand.
 * The kinds are tables in common/models/init_kinds.c. */
#include "models/init_model.h"
#include "util/cli.h"
#include "util/log.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	const char *kind = NULL, *config = NULL, *out = NULL, *dtype = "f32";
	int seed = 0;
	char kinds[1024] = "", names[256] = "";
	for (const sora_init_kind *k = sora_init_kinds; k->name; k++) {
		snprintf(kinds + strlen(kinds), sizeof kinds - strlen(kinds), "\n  %-12s %s", k->name,
			 k->what);
		snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", *names ? ", " : "",
			 k->name);
	}
	const sora_opt opts[] = {
	    {"kind", 0, SORA_OPT_STR, &kind, "KIND", "the model (below)"},
	    {"config", 0, SORA_OPT_STR, &config, "FILE", "the model's config.json (see configs/tiny/)"},
	    {"out", 0, SORA_OPT_STR, &out, "DIR", "the model folder to write (created if needed)"},
	    {"seed", 0, SORA_OPT_INT, &seed, "N", "weights and tokenizer corpus; same seed, same bytes"},
	    {"dtype", 0, SORA_OPT_STR, &dtype, "f32|bf16", "stored dtype of the weights"},
	    {0},
	};
	char summary[2048];
	snprintf(summary, sizeof summary,
		 "Writes a randomly initialised model folder in the published layout: DIR/config.json (a\n"
		 "copy of FILE), DIR/model.safetensors (the published tensor names and shapes, initialised\n"
		 "as transformers' _init_weights, or PyTorch's defaults for the VAE) and the tokenizer\n"
		 "files, trained on a generated caption corpus: spiece.model by SentencePiece's own\n"
		 "trainer, or a byte-level BPE vocab.json and merges.txt. For tests and demos: the weights\n"
		 "mean nothing. Kinds:%s",
		 kinds);
	const sora_cli cli = {
	    .prog = "sora-mkmodel",
	    .usage = "--kind KIND --config FILE --out DIR [--seed N] [--dtype f32|bf16]",
	    .summary = summary,
	    .opts = opts,
	};
	sora_common_opts c;
	int first;
	int rc = sora_cli_parse(&cli, argc, argv, &c, &first);
	if (rc != SORA_CLI_OK)
		return rc == SORA_CLI_EXIT ? SORA_EXIT_OK : SORA_EXIT_USAGE;
	const sora_init_kind *k = kind ? sora_init_kind_find(kind) : NULL;
	if (!kind || !config || !out || first < argc) {
		log_error("give --kind, --config and --out, and no operands (see --help)");
		return SORA_EXIT_USAGE;
	}
	if (!k) {
		log_error("--kind %s: not one of %s", kind, names);
		return SORA_EXIT_USAGE;
	}
	if (strcmp(dtype, "f32") != 0 && strcmp(dtype, "bf16") != 0) {
		log_error("--dtype %s: f32 or bf16", dtype);
		return SORA_EXIT_USAGE;
	}
	if (seed < 0) {
		log_error("--seed %d: not negative", seed);
		return SORA_EXIT_USAGE;
	}
	sora_err e = {0};
	sora_init_report r;
	const sora_dtype dt = strcmp(dtype, "f32") != 0 ? SORA_BF16 : SORA_F32;
	if (sora_init_model(k, config, out, (uint64_t)seed, dt, &r, &e) < 0) {
		sora_log_err(SORA_LOG_ERROR, "cannot make the model", &e);
		return SORA_EXIT_FAIL;
	}
	log_info("%s/model.safetensors: %d tensors, %lld parameters, %s, seed %d", out, r.tensors,
		 (long long)r.params, dtype, seed);
	if (r.pieces)
		log_info("%s/spiece.model: %d pieces, then 100 <extra_id_N>", out, r.pieces);
	if (r.merges)
		log_info("%s/vocab.json, merges.txt: 512 byte symbols, %d merges, <|startoftext|> 49406, "
			 "<|endoftext|> 49407",
			 out, r.merges);
	return SORA_EXIT_OK;
}
