/* sora-tokenize: the token ids of each prompt, as the T5 or CLIP tokenizer of Open-Sora v2 makes them.
 *
 * Rows go through sora_rowmap_run like every program. Two small adapters around it: --lines turns
 * stdin's lines into a one-column `text` CSV on a pipe, and the default output keeps only the ids
 * column of the CSV rowmap writes (another pipe), one JSON array per line; --csv keeps the CSV. */
#include "models/tokenizer_clip.h"
#include "models/tokenizer_t5.h"
#include "util/cli.h"
#include "util/log.h"
#include "util/rowmap.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { C_IDS, C_NUM_TOKENS };
static const char *const columns[] = {"input_ids", "num_tokens", NULL};

typedef struct tok {
	const char *t5_dir, *clip_dir;
	int max_length, lines, csv;
	sora_t5_tok *t5;
	sora_clip_tok *clip;
	int text_col;
} tok;

static int prepare(void *ctx, const sora_fields *header, sora_err *e)
{
	tok *t = ctx;
	t->text_col = sora_fields_find(header, "text");
	if (t->text_col < 0)
		return SORA_FAIL(e, "the input CSV has no 'text' column");
	return 0;
}

static int tokenize_row(void *ctx, int worker, const sora_fields *in, sora_out *out, sora_err *e)
{
	const tok *t = ctx;
	int *ids = malloc((size_t)t->max_length * sizeof *ids), n = 0;
	char *json = malloc((size_t)t->max_length * 12 + 3);
	CHECK_ALLOC(e, ids && json);
	const char *text = in->v[t->text_col];
	if (t->t5)
		TRY(sora_t5_tok_encode(t->t5, text, t->max_length, ids, &n, e));
	else
		TRY(sora_clip_tok_encode(t->clip, text, t->max_length, ids, &n, e));
	size_t k = 0;
	json[k++] = '[';
	for (int i = 0; i < t->max_length; i++)
		k += (size_t)sprintf(json + k, "%s%d", i ? "," : "", ids[i]);
	json[k++] = ']';
	json[k] = '\0';
	sora_out_add(out);
	sora_out_set(out, C_IDS, json);
	sora_out_setf(out, C_NUM_TOKENS, "%d", n);
	free(ids);
	free(json);
	return 0;
fail:
	free(ids);
	free(json);
	return -1;
}

/* --lines: stdin's lines (without their "\n") as the rows of a CSV with one `text` column. */
static void *lines_to_csv(void *arg)
{
	FILE *out = arg;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	sora_err e = {0};
	char *header[] = {"text"};
	int ok = sora_csv_write(out, header, 1, &e) == 0;
	while (ok && (n = getline(&line, &cap, stdin)) >= 0) {
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		ok = sora_csv_write(out, &line, 1, &e) == 0;
	}
	free(line);
	fclose(out);
	return NULL;
}

typedef struct ids_out {
	FILE *in, *out;
	int failed;
} ids_out;

/* The default output: the input_ids field of each CSV row rowmap writes, one line each. */
static void *csv_to_ids(void *arg)
{
	ids_out *io = arg;
	sora_csv_reader *r = NULL;
	sora_fields rec = {0};
	sora_err e = {0};
	int col = -1, rc;
	if (sora_csv_reader_open(&r, io->in, "output", &e) < 0) {
		io->failed = 1;
		goto done;
	}
	while ((rc = sora_csv_read(r, &rec, &e)) > 0) {
		if (col < 0) {
			col = sora_fields_find(&rec, "input_ids");
		} else if (col < rec.n &&
			   (fprintf(io->out, "%s\n", rec.v[col]) < 0 || fflush(io->out) != 0)) {
			io->failed = 1;
			break;
		}
		sora_fields_free(&rec);
	}
	if (rc < 0)
		io->failed = 1;
done:
	sora_fields_free(&rec);
	sora_csv_reader_close(r);
	/* Drain what is left so the writer never blocks on a full pipe. */
	while (fgetc(io->in) != EOF)
		;
	return NULL;
}

int main(int argc, char **argv)
{
	tok t = {.max_length = 0};
	const sora_opt opts[] = {
	    {"t5", 0, SORA_OPT_STR, &t.t5_dir, "DIR", "T5 tokenizer: DIR/spiece.model (google/t5-v1_1-xxl)"},
	    {"clip", 0, SORA_OPT_STR, &t.clip_dir, "DIR",
	     "CLIP tokenizer: DIR/vocab.json and DIR/merges.txt (openai/clip-vit-large-patch14)"},
	    {"max-length", 0, SORA_OPT_INT, &t.max_length, "N",
	     "ids per row, padded or truncated (T5: 512, CLIP: 77)"},
	    {"lines", 0, SORA_OPT_FLAG, &t.lines, NULL, "read one prompt per line of stdin instead of a CSV"},
	    {"csv", 0, SORA_OPT_FLAG, &t.csv, NULL,
	     "write the CSV with input_ids and num_tokens columns added"},
	    {0},
	};
	const sora_cli cli = {
	    .prog = "sora-tokenize",
	    .usage = "--t5 DIR | --clip DIR [--max-length N] [--lines] [csv files]...",
	    .summary =
		"Prints the token ids of each prompt (the `text` column) as one JSON array per line, in\n"
		"input order, exactly as Open-Sora v2's tokenizers make them (transformers' slow\n"
		"T5Tokenizer(legacy=True) / CLIPTokenizer, truncated and padded to max length).",
	    .opts = opts,
	};
	sora_common_opts c;
	int first;
	int rc = sora_cli_parse(&cli, argc, argv, &c, &first);
	if (rc != SORA_CLI_OK)
		return rc == SORA_CLI_EXIT ? SORA_EXIT_OK : SORA_EXIT_USAGE;
	if (!t.t5_dir == !t.clip_dir) {
		log_error("give exactly one of --t5 DIR and --clip DIR");
		return SORA_EXIT_USAGE;
	}
	if (t.lines && first < argc) {
		log_error("--lines reads stdin; no operands");
		return SORA_EXIT_USAGE;
	}
	if (t.max_length == 0)
		t.max_length = t.t5_dir ? SORA_T5_MAX_LENGTH : SORA_CLIP_MAX_LENGTH;
	if (t.max_length < 2 || t.max_length > 1 << 20) {
		log_error("--max-length must be between 2 and 1048576");
		return SORA_EXIT_USAGE;
	}
	sora_err e = {0};
	if ((t.t5_dir ? sora_t5_tok_load(&t.t5, t.t5_dir, &e) : sora_clip_tok_load(&t.clip, t.clip_dir, &e)) <
	    0) {
		log_error("%s", e.msg);
		return SORA_EXIT_FAIL;
	}

	const sora_rowmap_spec spec = {
	    .input = SORA_INPUT_CSV,
	    .columns = columns,
	    .unit = "prompts",
	    .ctx = &t,
	    .prepare = prepare,
	    .process = tokenize_row,
	};
	int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1};
	pthread_t in_thread = 0, out_thread = 0;
	ids_out io = {0};
	char in_path[32], out_path[32];
	char *lines_arg[] = {in_path};
	const char *dest = c.output;
	if (t.lines) {
		if (pipe(in_pipe) < 0 ||
		    pthread_create(&in_thread, NULL, lines_to_csv, fdopen(in_pipe[1], "w"))) {
			log_error("cannot start reading lines");
			return SORA_EXIT_FAIL;
		}
		snprintf(in_path, sizeof in_path, "/dev/fd/%d", in_pipe[0]);
	}
	if (!t.csv) {
		io.out = dest ? fopen(dest, "w") : stdout;
		if (!io.out || pipe(out_pipe) < 0 || !(io.in = fdopen(out_pipe[0], "r")) ||
		    pthread_create(&out_thread, NULL, csv_to_ids, &io)) {
			log_error("cannot open the output");
			return SORA_EXIT_FAIL;
		}
		snprintf(out_path, sizeof out_path, "/dev/fd/%d", out_pipe[1]);
		c.output = out_path;
	}
	rc = t.lines ? sora_rowmap_run(&spec, &c, 1, lines_arg)
		     : sora_rowmap_run(&spec, &c, argc - first, argv + first);
	if (t.lines) {
		close(in_pipe[0]);
		pthread_join(in_thread, NULL);
	}
	if (!t.csv) {
		close(out_pipe[1]);
		pthread_join(out_thread, NULL);
		fclose(io.in);
		if ((dest && fclose(io.out) != 0) || io.failed) {
			log_error("cannot write the output");
			rc = rc ? rc : SORA_EXIT_FAIL;
		}
	}
	sora_t5_tok_free(t.t5);
	sora_clip_tok_free(t.clip);
	return rc;
}
