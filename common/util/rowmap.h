/* The body of every row program: read rows (CSV on stdin or named CSV files, or media files and
 * directories named on the command line), keep this shard's rows, run the program's function on them
 * in parallel, write the result rows in input order, reject what failed with its reason, show
 * progress and print the summary. A program's main() is its options and one call to sora_rowmap_run.
 *
 * The invariant, printed at the end: rows in = rows that gave output + rejected + filtered. */
#ifndef SORA_ROWMAP_H
#define SORA_ROWMAP_H

#include "cli.h"
#include "csv.h"
#include "err.h"

typedef enum {
	SORA_INPUT_CSV,   /* operands are CSV files (none: stdin) */
	SORA_INPUT_MEDIA, /* operands are media files and directories (none: a CSV with `path` on stdin) */
} sora_input_kind;

/* The rows one input row produced. */
typedef struct sora_out sora_out;

/* Starts a new output row: the input row's fields (a column the program replaces keeps its input
 * value until set), with the program's new columns empty. */
int sora_out_add(sora_out *o);
/* Sets program column `col` (index into spec.columns) of the row last added. An allocation failure
 * is remembered and turns the input row into a reject. */
void sora_out_set(sora_out *o, int col, const char *value);
/* A number in its shortest exact decimal form (see sora_fmt_double). */
void sora_out_setd(sora_out *o, int col, double x);
void sora_out_setf(sora_out *o, int col, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

typedef struct sora_rowmap_spec {
	sora_input_kind input;
	const char *const *columns; /* columns the program writes, in order, NULL-terminated; an input
				       column of the same name is replaced (said once on stderr) */
	const char *unit;           /* what a row is, for progress: "videos", "clips" */
	void *ctx;
	/* Called once with the input header before any row; fail (e filled) for a usage error such as a
	 * missing column. May be NULL. */
	int (*prepare)(void *ctx, const sora_fields *header, sora_err *e);
	/* Called on a worker thread for each input row. Return 0 after adding zero or more rows (zero
	 * means filtered), or -1 with e filled to reject the row. */
	int (*process)(void *ctx, int worker, const sora_fields *in, sora_out *out, sora_err *e);
} sora_rowmap_spec;

/* Runs the program over operands args[0..nargs). Returns the exit status for main(). */
int sora_rowmap_run(const sora_rowmap_spec *spec, const sora_common_opts *c, int nargs, char **args);

#endif
