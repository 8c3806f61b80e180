/* sora-filter: keeps the rows for which every expression holds. */
#include "score/filter_expr.h"
#include "util/cli.h"
#include "util/log.h"
#include "util/number.h"
#include "util/rowmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_EXPRS = 64 };

typedef struct filter {
	sora_filter_expr *x[MAX_EXPRS];
	int n;
	const char *dropped_path;
	FILE *dropped;
	int dropped_failed;
} filter;

static int prepare(void *ctx, const sora_fields *header, sora_err *e)
{
	filter *f = ctx;
	for (int i = 0; i < f->n; i++)
		TRY(sora_filter_bind(f->x[i], header, e));
	if (f->dropped)
		TRY(sora_csv_write(f->dropped, header->v, header->n, e));
	return 0;
fail:
	return -1;
}

static int filter_row(void *ctx, int worker, const sora_fields *in, sora_out *out, sora_err *e)
{
	filter *f = ctx;
	for (int i = 0; i < f->n; i++) {
		int rc = sora_filter_eval(f->x[i], in->v, e);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			/* One worker (see main), so dropped rows are written in input order. */
			if (f->dropped && !f->dropped_failed &&
			    sora_csv_write(f->dropped, in->v, in->n, e) < 0) {
				f->dropped_failed = 1;
				log_error("--dropped %s: %s", f->dropped_path, e->msg);
			}
			return 0;
		}
	}
	return sora_out_add(out) < 0 ? SORA_FAIL(e, "out of memory") : 0;
}

/* A datautil-style shortcut becomes one more expression: "column op value". */
static int add_shortcut(filter *f, const char *flag, const char *value, const char *column, const char *op)
{
	double x;
	sora_err e;
	char src[256];
	if (!value)
		return 0;
	if (!sora_parse_number(value, &x)) {
		log_error("--%s: not a number: '%s'", flag, value);
		return -1;
	}
	snprintf(src, sizeof src, "`%s` %s %s", column, op, value);
	if (f->n == MAX_EXPRS || sora_filter_parse(&f->x[f->n], src, &e) < 0) {
		log_error("--%s: %s", flag, f->n == MAX_EXPRS ? "too many expressions" : e.msg);
		return -1;
	}
	f->n++;
	return 0;
}

int main(int argc, char **argv)
{
	filter f = {0};
	const char *input = NULL, *aesmin = NULL, *flowmin = NULL, *motionmin = NULL, *fmin = NULL,
		   *fmax = NULL, *fpsmax = NULL, *hwmax = NULL;
	const sora_opt opts[] = {
	    {"input", 'i', SORA_OPT_STR, &input, "FILE", "read the CSV from FILE instead of stdin"},
	    {"dropped", 0, SORA_OPT_STR, &f.dropped_path, "FILE",
	     "write the rows filtered out there (same columns)"},
	    {"aesmin", 0, SORA_OPT_STR, &aesmin, "X", "keep aes >= X"},
	    {"flowmin", 0, SORA_OPT_STR, &flowmin, "X", "keep flow >= X"},
	    {"motionmin", 0, SORA_OPT_STR, &motionmin, "X", "keep score_vmafmotion >= X"},
	    {"fmin", 0, SORA_OPT_STR, &fmin, "N", "keep num_frames >= N"},
	    {"fmax", 0, SORA_OPT_STR, &fmax, "N", "keep num_frames <= N"},
	    {"fpsmax", 0, SORA_OPT_STR, &fpsmax, "X", "keep fps <= X"},
	    {"hwmax", 0, SORA_OPT_STR, &hwmax, "N", "keep resolution (height x width) <= N"},
	    {0},
	};
	const sora_cli cli = {
	    .prog = "sora-filter",
	    .usage = "[expression]...",
	    .summary =
		"Keeps the CSV rows for which every expression holds, e.g. 'score_vmafmotion >= 1'\n"
		"'num_frames >= 49' 'text != \"\"'. Operators: == != < <= > >=, && || !, parentheses;\n"
		"values: numbers, \"strings\", column names (`any name` in backquotes). A comparison with a\n"
		"number needs the column's value to be a number, else the row is rejected; with a string it\n"
		"compares bytes. Rows filtered out are counted as filtered (and written with --dropped).\n"
		"Options come before the expressions. Rows are evaluated on one worker: -j does not apply.",
	    .opts = opts,
	};
	sora_common_opts c;
	int first, status = SORA_EXIT_USAGE;
	int rc = sora_cli_parse(&cli, argc, argv, &c, &first);
	if (rc != SORA_CLI_OK)
		return rc == SORA_CLI_EXIT ? SORA_EXIT_OK : SORA_EXIT_USAGE;
	for (int i = first; i < argc; i++) {
		sora_err e;
		if (f.n == MAX_EXPRS) {
			log_error("at most %d expressions", MAX_EXPRS);
			goto out;
		}
		if (sora_filter_parse(&f.x[f.n], argv[i], &e) < 0) {
			log_error("%s", e.msg);
			goto out;
		}
		f.n++;
	}
	if (add_shortcut(&f, "aesmin", aesmin, "aes", ">=") < 0 ||
	    add_shortcut(&f, "flowmin", flowmin, "flow", ">=") < 0 ||
	    add_shortcut(&f, "motionmin", motionmin, "score_vmafmotion", ">=") < 0 ||
	    add_shortcut(&f, "fmin", fmin, "num_frames", ">=") < 0 ||
	    add_shortcut(&f, "fmax", fmax, "num_frames", "<=") < 0 ||
	    add_shortcut(&f, "fpsmax", fpsmax, "fps", "<=") < 0 ||
	    add_shortcut(&f, "hwmax", hwmax, "resolution", "<=") < 0)
		goto out;
	if (f.dropped_path && !(f.dropped = fopen(f.dropped_path, "w"))) {
		log_error("--dropped %s: %s", f.dropped_path, strerror(errno));
		status = SORA_EXIT_FAIL;
		goto out;
	}
	/* Evaluating a row costs far less than reading and writing it, which other threads do; one worker
	 * also keeps --dropped in input order. */
	c.threads = 1;
	const sora_rowmap_spec spec = {
	    .input = SORA_INPUT_CSV,
	    .columns = (const char *const[]){NULL},
	    .unit = "rows",
	    .ctx = &f,
	    .prepare = prepare,
	    .process = filter_row,
	};
	char *inputs[] = {(char *)input};
	status = sora_rowmap_run(&spec, &c, input ? 1 : 0, inputs);
	if (f.dropped && (fclose(f.dropped) != 0 || f.dropped_failed)) {
		log_error("--dropped %s: cannot write", f.dropped_path);
		status = SORA_EXIT_FAIL;
	}
out:
	for (int i = 0; i < f.n; i++)
		sora_filter_free(f.x[i]);
	return status;
}
