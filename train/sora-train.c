/* sora-train: Open-Sora 2.0's rectified-flow training of the MMDiT (scripts/diffusion/train.py).
 *
 *   sora-train --data DIR[,DIR...] --model F [--config F] [--run DIR] [--resume] [overrides]
 *       → RUN/epoch{E}-global_step{S}/ checkpoints, RUN/metrics.jsonl, a line per step on stderr
 *   sora-train --replay FILE --prefix P --model F [--model-config F] --out OUT [--grad-ckpt D,S]
 *       → one training step from stored inputs: pred, loss, grad.<parameter>, grad_input.* (for comparing
 *         with the official code)
 */
#include "train/config.h"
#include "train/replay_step.h"
#include "train/trainer.h"
#include "util/cli.h"
#include "util/json.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* "t2v=1,i2v_head=5,...": condition_config weights (names not given are 0). */
static int parse_cond(const char *s, double *w)
{
	static const char *const names[SORA_TRAIN_NCOND] = {"t2v", "i2v_head", "i2v_tail", "i2v_loop"};
	double v[SORA_TRAIN_NCOND] = {0};
	const char *p = s;
	while (*p) {
		const char *eq = strchr(p, '=');
		int k = 0;
		if (!eq)
			return -1;
		while (k < SORA_TRAIN_NCOND &&
		       (strlen(names[k]) != (size_t)(eq - p) || strncmp(p, names[k], eq - p) != 0))
			k++;
		if (k == SORA_TRAIN_NCOND)
			return -1;
		char *end;
		v[k] = strtod(eq + 1, &end);
		if (end == eq + 1 || v[k] < 0 || (*end && *end != ','))
			return -1;
		p = *end ? end + 1 : end;
	}
	memcpy(w, v, sizeof v);
	return 0;
}

/* The flags that override the config: -1 (or NULL) when not given. */
typedef struct overrides {
	double lr, grad_clip, dropout_t5, dropout_clip;
	int batch_size, max_steps, epochs, seed, ckpt_every, log_every, keep, accumulation, warmup;
	const char *grad_ckpt, *condition, *bucket_config, *model_dtype;
} overrides;

static int apply(sora_train_config *c, const overrides *v, sora_err *e)
{
	if (v->lr >= 0)
		c->lr = v->lr;
	if (v->grad_clip >= 0)
		c->grad_clip = v->grad_clip;
	if (v->dropout_t5 >= 0)
		c->dropout_t5 = v->dropout_t5;
	if (v->dropout_clip >= 0)
		c->dropout_clip = v->dropout_clip;
	CHECK(e, c->dropout_t5 <= 1 && c->dropout_clip <= 1,
	      "--dropout-t5 and --dropout-clip are probabilities");
	const struct {
		int v;
		int64_t *dst, lo;
	} ints[] = {{v->batch_size, &c->batch_size, 1}, {v->max_steps, &c->max_steps, 0},
		    {v->epochs, &c->epochs, 1},         {v->seed, &c->seed, 0},
		    {v->ckpt_every, &c->ckpt_every, 0}, {v->log_every, &c->log_every, 1},
		    {v->keep, &c->keep_n_latest, 0},    {v->accumulation, &c->accumulation_steps, 1},
		    {v->warmup, &c->warmup_steps, 0}};
	for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
		if (ints[i].v != -1) {
			CHECK(e, ints[i].v >= ints[i].lo, "a count flag is %d, below its least value %lld",
			      ints[i].v, (long long)ints[i].lo);
			*ints[i].dst = ints[i].v;
		}
	if (v->grad_ckpt) {
		int d, sg;
		CHECK(e, parse_ckpt(v->grad_ckpt, &d, &sg) == 0, "--grad-ckpt: '%s' is not D,S",
		      v->grad_ckpt);
		c->grad_ckpt_double = d, c->grad_ckpt_single = sg;
	}
	if (v->condition)
		CHECK(e, parse_cond(v->condition, c->cond_weights) == 0,
		      "--condition: '%s' is not t2v=W,i2v_head=W,i2v_tail=W,i2v_loop=W", v->condition);
	if (v->bucket_config) {
		sora_json j = {0};
		TRY(sora_json_load(&j, v->bucket_config, e));
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(j.root, "bucket_config");
		cJSON_Delete(c->bucket_config);
		c->bucket_config = cJSON_Duplicate(b ? b : j.root, 1);
		sora_json_free(&j);
		CHECK_ALLOC(e, c->bucket_config);
	}
	if (v->model_dtype) {
		CHECK(e, !strcmp(v->model_dtype, "bf16") || !strcmp(v->model_dtype, "f32"),
		      "--model-dtype is bf16 or f32, not '%s'", v->model_dtype);
		c->model_bf16 = !strcmp(v->model_dtype, "bf16");
	}
	return 0;
fail:
	return -1;
}

/* The dataset folders: DIR[,DIR...] of --data, then the operands. */
typedef struct dirs {
	const char **d;
	char *copy; /* --data's list, cut at the commas */
	int n;
} dirs;

static int dirs_of(dirs *o, const char *list, char **argv, int first, int argc)
{
	int cap = argc - first;
	for (const char *p = list; p && *p; p++)
		cap += *p == ',';
	cap += list != NULL;
	if (!(o->d = calloc((size_t)cap + 1, sizeof *o->d)) || (list && !(o->copy = strdup(list))))
		return -1;
	char *save = NULL;
	for (char *t = o->copy ? strtok_r(o->copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
		o->d[o->n++] = t;
	for (int i = first; i < argc; i++)
		o->d[o->n++] = argv[i];
	return 0;
}

static void dirs_free(dirs *o)
{
	free(o->d);
	free(o->copy);
}

static int train(const sora_trainer_opts *o, sora_err *e)
{
	sora_trainer_result r;
	TRY(sora_trainer_run(o, &r, e));
	if (r.steps > r.first_step)
		log_info("%s steps %lld..%lld: loss %.6f -> %.6f; %lld rows skipped; checkpoint %s",
			 r.interrupted ? "stopped by a signal after" : "trained", (long long)r.first_step + 1,
			 (long long)r.steps, r.first_loss, r.last_loss, (long long)r.skipped_rows,
			 r.last_ckpt);
	else
		log_info("nothing to train: the run is at step %lld of its %s", (long long)r.steps,
			 o->cfg->max_steps > 0 ? "max_steps" : "epochs");
	return 0;
fail:
	return -1;
}

int main(int argc, char **argv)
{
	sora_train_replay r = {.prefix = ""};
	sora_trainer_opts t = {.run = "runs/sora"};
	overrides v = {.lr = -1,
		       .grad_clip = -1,
		       .dropout_t5 = -1,
		       .dropout_clip = -1,
		       .batch_size = -1,
		       .max_steps = -1,
		       .epochs = -1,
		       .seed = -1,
		       .ckpt_every = -1,
		       .log_every = -1,
		       .keep = -1,
		       .accumulation = -1,
		       .warmup = -1};
	const char *config = NULL, *data = NULL;
	int resume = 0;
	const sora_opt opts[] = {
	    {"data", 0, SORA_OPT_STR, &data, "DIR[,DIR]",
	     "datasets written by sora-encode --vae (also as operands)"},
	    {"model", 0, SORA_OPT_STR, &r.model, "FILE",
	     "the MMDiT to start from (Open-Sora 2.0 or FLUX.1-dev layout; .safetensors or sharded "
	     ".index.json; "
	     "random weights: sora-mkmodel mmdit)"},
	    {"model-config", 0, SORA_OPT_STR, &r.model_config, "FILE",
	     "MMDiTConfig JSON for what the weights cannot tell (axes_dim, theta, patch_size); none: the "
	     "released values"},
	    {"config", 0, SORA_OPT_STR, &config, "FILE",
	     "training settings (JSON: lr, betas, eps, weight_decay, warmup_steps, grad_clip, "
	     "accumulation_steps, "
	     "grad_ckpt_settings, dropout_ratio, condition_config, bucket_config, batch_size, seed, epochs, "
	     "max_steps, ckpt_every, log_every, keep_n_latest, model_dtype); the flags below override it"},
	    {"run", 0, SORA_OPT_STR, &t.run, "DIR", "run folder: checkpoints and metrics.jsonl"},
	    {"resume", 0, SORA_OPT_FLAG, &resume, NULL, "continue from the run folder's newest checkpoint"},
	    {"null-t5", 0, SORA_OPT_STR, &t.null_t5, "FILE",
	     "the empty prompt's T5 states (sora-embed --t5 output), for T5 dropout"},
	    {"null-clip", 0, SORA_OPT_STR, &t.null_clip, "FILE",
	     "the empty prompt's CLIP vector (sora-embed --clip output), for CLIP dropout"},
	    {"lr", 0, SORA_OPT_DOUBLE, &v.lr, "LR", "learning rate (-1: the config's, default 1e-5)"},
	    {"batch-size", 0, SORA_OPT_INT, &v.batch_size, "N", "rows per batch without a bucket_config"},
	    {"max-steps", 0, SORA_OPT_INT, &v.max_steps, "N",
	     "optimizer steps (0: as many as the epochs give)"},
	    {"epochs", 0, SORA_OPT_INT, &v.epochs, "N", "passes over the data"},
	    {"seed", 0, SORA_OPT_INT, &v.seed, "N", "data order, t, noise, dropout and conditions"},
	    {"ckpt-every", 0, SORA_OPT_INT, &v.ckpt_every, "N",
	     "a checkpoint every N steps (0: at the end only)"},
	    {"log-every", 0, SORA_OPT_INT, &v.log_every, "N", "a progress line every N steps"},
	    {"keep", 0, SORA_OPT_INT, &v.keep, "N", "keep the N newest checkpoints (0: all)"},
	    {"accumulation-steps", 0, SORA_OPT_INT, &v.accumulation, "N", "micro-batches per optimizer step"},
	    {"warmup-steps", 0, SORA_OPT_INT, &v.warmup, "N", "linear learning-rate warm-up"},
	    {"grad-clip", 0, SORA_OPT_DOUBLE, &v.grad_clip, "X", "global gradient norm limit (0: none)"},
	    {"dropout-t5", 0, SORA_OPT_DOUBLE, &v.dropout_t5, "P", "T5 dropout to the empty prompt"},
	    {"dropout-clip", 0, SORA_OPT_DOUBLE, &v.dropout_clip, "P", "CLIP dropout to the empty prompt"},
	    {"condition", 0, SORA_OPT_STR, &v.condition, "SPEC",
	     "condition_config weights: t2v=1,i2v_head=5,i2v_tail=1,i2v_loop=1"},
	    {"bucket-config", 0, SORA_OPT_STR, &v.bucket_config, "FILE",
	     "bucket_config JSON (configs/buckets/)"},
	    {"model-dtype", 0, SORA_OPT_STR, &v.model_dtype, "T",
	     "checkpoints' model.safetensors: bf16 or f32"},
	    {"grad-ckpt", 0, SORA_OPT_STR, &v.grad_ckpt, "D,S",
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
	    .usage = "--data DIR --model FILE [--config FILE] [--run DIR] [--resume] [OPTIONS] [DIR...]\n"
		     "       sora-train --replay FILE --model FILE --out FILE [OPTIONS]",
	    .summary =
		"Open-Sora 2.0's rectified-flow training of the MMDiT on the CPU: batches of stored latents "
		"and text embeddings in bucketed order, T5/CLIP dropout and i2v conditions, logit-normal t "
		"with "
		"the resolution shift, the MSE against the velocity target, backward, global-norm clipping "
		"and "
		"AdamW on f32 master weights; checkpoints in Open-Sora's layout, exact resume, a line per "
		"step "
		"on stderr and in RUN/metrics.jsonl. --replay runs one step from stored inputs and writes "
		"every "
		"gradient, to compare with the official code.",
	    .opts = opts};
	sora_common_opts c;
	int first;
	int rc = sora_cli_parse(&cli, argc, argv, &c, &first);
	if (rc != SORA_CLI_OK)
		return rc == SORA_CLI_EXIT ? SORA_EXIT_OK : SORA_EXIT_USAGE;
	sora_err e = {0};
	if (r.file) {
		if (first < argc) {
			log_error("unexpected operand %s", argv[first]);
			return SORA_EXIT_USAGE;
		}
		if (v.grad_ckpt && parse_ckpt(v.grad_ckpt, &r.ckpt_double, &r.ckpt_single) < 0) {
			log_error("--grad-ckpt: '%s' is not D,S (two counts of blocks)", v.grad_ckpt);
			return SORA_EXIT_USAGE;
		}
		if (!r.model || !r.out) {
			log_error("--replay FILE, --model FILE and --out FILE are required");
			return SORA_EXIT_USAGE;
		}
		double loss;
		if (sora_train_replay_run(&r, &loss, &e) < 0) {
			sora_log_err(SORA_LOG_ERROR, "replay", &e);
			return SORA_EXIT_FAIL;
		}
		log_info("replay: loss %.7g, written to %s", loss, r.out);
		return SORA_EXIT_OK;
	}
	sora_train_config cfg;
	dirs d = {0};
	if (sora_train_config_load(&cfg, config, &e) < 0 || apply(&cfg, &v, &e) < 0) {
		sora_log_err(SORA_LOG_ERROR, "config", &e);
		sora_train_config_free(&cfg);
		return SORA_EXIT_USAGE;
	}
	if (dirs_of(&d, data, argv, first, argc) < 0 || !d.n || !r.model) {
		log_error(!d.d   ? "out of memory"
			  : !d.n ? "give the datasets: --data DIR[,DIR...]"
				 : "--model FILE is required");
		sora_train_config_free(&cfg);
		dirs_free(&d);
		return SORA_EXIT_USAGE;
	}
	t.cfg = &cfg;
	t.data = d.d;
	t.ndata = d.n;
	t.model = r.model;
	t.model_config = r.model_config;
	t.resume = resume;
	t.quiet = c.verbosity < 0;
	rc = train(&t, &e) < 0 ? SORA_EXIT_FAIL : SORA_EXIT_OK;
	if (rc != SORA_EXIT_OK)
		sora_log_err(SORA_LOG_ERROR, "train", &e);
	sora_train_config_free(&cfg);
	dirs_free(&d);
	return rc;
}
