#include "rowmap.h"

#include "log.h"
#include "pool.h"
#include "progress.h"
#include "walk.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sora_out {
	sora_fields *rows;
	int n, cap;
	const sora_fields *in;
	int width; /* output columns */
	const int *col_pos;
	int oom;
};

typedef struct item {
	sora_fields in;
	int64_t row;   /* 1-based input row number, for messages */
	char *problem; /* rejected before processing: a malformed CSV row, an unreadable directory */
	sora_out out;
	sora_err err;
	int rc;
} item;

typedef struct run {
	const sora_rowmap_spec *spec;
	const sora_common_opts *c;
	char **args;
	int nargs;

	sora_fields header, out_header;
	int *col_pos; /* program column -> output column */
	int path_col; /* input column used to name a row in messages, or -1 */

	sora_walk *walk;
	sora_csv_reader *csv;
	FILE *csv_fp;
	const char *csv_name;
	int next_file;
	int64_t next_row;

	FILE *out, *rej;
	int64_t in, out_rows, rejected, filtered;
	int fatal;       /* exit 1 at the end; the run goes on */
	int stopped;     /* --max-rejects exceeded */
	int usage;       /* the input could not be set up because of how we were called */
	atomic_int halt; /* stopped, or the output cannot be written: work no more rows */
	sora_progress prog;
} run;

int sora_out_add(sora_out *o)
{
	if (o->n == o->cap) {
		int cap = o->cap ? o->cap * 2 : 1;
		sora_fields *rows = realloc(o->rows, (size_t)cap * sizeof *rows);
		if (!rows)
			return o->oom = 1, -1;
		o->rows = rows;
		o->cap = cap;
	}
	sora_fields *f = &o->rows[o->n];
	memset(f, 0, sizeof *f);
	for (int i = 0; i < o->in->n && !o->oom; i++)
		if (sora_fields_push(f, o->in->v[i], strlen(o->in->v[i])) < 0)
			o->oom = 1;
	if (!o->oom && sora_fields_resize(f, o->width) < 0)
		o->oom = 1;
	if (o->oom) {
		sora_fields_free(f);
		return -1;
	}
	o->n++;
	return 0;
}

void sora_out_set(sora_out *o, int col, const char *value)
{
	if (o->n == 0 || o->oom)
		return;
	if (sora_fields_set(&o->rows[o->n - 1], o->col_pos[col], value) < 0)
		o->oom = 1;
}

void sora_out_setd(sora_out *o, int col, double x)
{
	char buf[32];
	sora_out_set(o, col, sora_fmt_double(buf, x));
}

void sora_out_setf(sora_out *o, int col, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof buf) {
		sora_out_set(o, col, buf);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (!big) {
		o->oom = 1;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sora_out_set(o, col, big);
	free(big);
}

static void out_free(sora_out *o)
{
	for (int i = 0; i < o->n; i++)
		sora_fields_free(&o->rows[i]);
	free(o->rows);
}

static void item_free(item *it)
{
	sora_fields_free(&it->in);
	out_free(&it->out);
	free(it->problem);
	free(it);
}

/* ---- input ---- */

static int open_csv_source(run *r, sora_err *e)
{
	if (r->nargs == 0) {
		r->csv_fp = stdin;
		r->csv_name = "stdin";
		r->next_file++;
	} else {
		r->csv_name = r->args[r->next_file++];
		r->csv_fp = fopen(r->csv_name, "r");
		CHECK(e, r->csv_fp, "%s: cannot open: %s", r->csv_name, strerror(errno));
	}
	return sora_csv_reader_open(&r->csv, r->csv_fp, r->csv_name, e);
fail:
	return -1;
}

static void close_csv_source(run *r)
{
	sora_csv_reader_close(r->csv);
	r->csv = NULL;
	if (r->csv_fp && r->csv_fp != stdin)
		fclose(r->csv_fp);
	r->csv_fp = NULL;
}

static int same_header(const sora_fields *a, const sora_fields *b)
{
	if (a->n != b->n)
		return 0;
	for (int i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return 0;
	return 1;
}

/* Next record of the CSV sources: 1, 0 at the end of all of them, <0 fatal. Files after the first
 * must have the same header; one that does not is an error (exit 1) and is skipped. */
static int next_csv_record(run *r, sora_fields *rec)
{
	sora_err e = {0};
	for (;;) {
		if (!r->csv) {
			if (r->next_file >= (r->nargs ? r->nargs : 1))
				return 0;
			if (open_csv_source(r, &e) < 0) {
				log_error("%s", e.msg);
				r->fatal = 1;
				continue;
			}
			sora_fields h = {0};
			int rc = sora_csv_read(r->csv, &h, &e);
			if (rc > 0 && !same_header(&h, &r->header)) {
				log_error("%s: its header differs from the first input's; file skipped",
					  r->csv_name);
				r->fatal = 1;
				rc = 0;
			}
			sora_fields_free(&h);
			if (rc <= 0) {
				if (rc < 0)
					log_error("%s", e.msg), r->fatal = 1;
				close_csv_source(r);
				continue;
			}
		}
		int rc = sora_csv_read(r->csv, rec, &e);
		if (rc > 0)
			return 1;
		if (rc < 0) {
			log_error("%s", e.msg);
			r->fatal = 1;
		}
		close_csv_source(r);
		if (rc < 0)
			return -1;
	}
}

static item *read_item(run *r)
{
	item *it = calloc(1, sizeof *it);
	if (!it)
		goto oom;
	if (r->walk) {
		char *path, *problem;
		if (!sora_walk_next(r->walk, &path, &problem)) {
			free(it);
			return NULL;
		}
		it->problem = problem;
		int ok = path && sora_fields_push(&it->in, path, strlen(path)) == 0;
		free(path);
		if (!ok)
			goto oom;
	} else {
		if (next_csv_record(r, &it->in) <= 0) {
			free(it);
			return NULL;
		}
		if (it->in.n != r->header.n) {
			char buf[128];
			snprintf(buf, sizeof buf, "malformed CSV row: %d fields, the header has %d", it->in.n,
				 r->header.n);
			if (!(it->problem = strdup(buf)) || sora_fields_resize(&it->in, r->header.n) < 0)
				goto oom;
		}
	}
	it->row = ++r->next_row;
	return it;
oom:
	log_error("out of memory while reading input");
	r->fatal = 1;
	if (it)
		item_free(it);
	return NULL;
}

static void *next_item(void *ctx)
{
	run *r = ctx;
	for (;;) {
		item *it = read_item(r);
		if (!it)
			return NULL;
		if ((it->row - 1) % r->c->shard_n == r->c->shard_i)
			return it;
		item_free(it);
	}
}

/* ---- work and output ---- */

static void work_item(void *ctx, int worker, void *p)
{
	run *r = ctx;
	item *it = p;
	it->out = (sora_out){.in = &it->in, .width = r->out_header.n, .col_pos = r->col_pos};
	if (atomic_load(&r->halt))
		return;
	if (it->problem) {
		it->rc = SORA_FAIL(&it->err, "%s", it->problem);
		return;
	}
	it->rc = r->spec->process(r->spec->ctx, worker, &it->in, &it->out, &it->err);
	if (it->rc == 0 && it->out.oom)
		it->rc = SORA_FAIL(&it->err, "out of memory");
}

static void write_reject(run *r, item *it)
{
	if (!r->rej)
		return;
	sora_err e = {0};
	int n = r->header.n, err_col = sora_fields_find(&r->header, "error");
	if (err_col < 0) {
		if (sora_fields_push(&it->in, it->err.msg, strlen(it->err.msg)) < 0)
			goto fail;
		n++;
	} else if (sora_fields_set(&it->in, err_col, it->err.msg) < 0) {
		goto fail;
	}
	TRY(sora_csv_write(r->rej, it->in.v, n, &e));
	return;
fail:
	log_error("%s: %s", r->c->rejects, e.msg[0] ? e.msg : "out of memory");
	r->fatal = 1;
	atomic_store(&r->halt, 1);
}

static int emit_item(void *ctx, void *p, int more)
{
	run *r = ctx;
	item *it = p;
	sora_err e = {0};
	if (atomic_load(&r->halt)) {
		/* Taken from the input before the stop but never worked on: not counted as in. */
		item_free(it);
		return 1;
	}
	r->in++;
	if (it->rc < 0) {
		r->rejected++;
		char label[64];
		const char *name =
		    r->path_col >= 0 && it->in.v[r->path_col][0] ? it->in.v[r->path_col] : NULL;
		if (!name)
			snprintf(label, sizeof label, "%s row %lld", r->walk ? "input" : "CSV",
				 (long long)it->row);
		sora_log_err(SORA_LOG_WARN, name ? name : label, &it->err);
		write_reject(r, it);
	} else if (it->out.n == 0) {
		r->filtered++;
	} else {
		for (int i = 0; i < it->out.n && !atomic_load(&r->halt); i++)
			if (sora_csv_write(r->out, it->out.rows[i].v, it->out.rows[i].n, &e) < 0) {
				log_error("%s: %s", r->c->output ? r->c->output : "stdout", e.msg);
				r->fatal = 1;
				atomic_store(&r->halt, 1);
			}
		r->out_rows += it->out.n;
	}
	item_free(it);
	if (!more) {
		fflush(r->out);
		if (r->rej)
			fflush(r->rej);
	}
	sora_progress_tick(&r->prog, r->in, r->rejected);
	if (r->c->max_rejects >= 0 && r->rejected > r->c->max_rejects && !r->stopped) {
		log_error("more than %lld rows rejected (--max-rejects); stopping",
			  (long long)r->c->max_rejects);
		r->stopped = 1;
		atomic_store(&r->halt, 1);
	}
	return atomic_load(&r->halt);
}

/* ---- set-up ---- */

static int read_header(run *r, sora_err *e)
{
	if (r->spec->input == SORA_INPUT_MEDIA && r->nargs > 0) {
		TRY(sora_walk_open(&r->walk, r->args, r->nargs, sora_video_exts, e));
		CHECK(e, sora_fields_push(&r->header, "path", 4) == 0, "out of memory");
		return 0;
	}
	if (r->nargs == 0 && isatty(0)) {
		r->usage = 1;
		return SORA_FAIL(
		    e, "no input: name files or directories, or pipe a CSV into stdin (see --help)");
	}
	while (r->next_file < (r->nargs ? r->nargs : 1)) {
		TRY(open_csv_source(r, e));
		int rc = sora_csv_read(r->csv, &r->header, e);
		if (rc > 0)
			return 0;
		close_csv_source(r);
		TRY(rc);
	}
	/* No input at all: a media program still knows its one input column. */
	if (r->spec->input == SORA_INPUT_MEDIA)
		CHECK(e, sora_fields_push(&r->header, "path", 4) == 0, "out of memory");
	return 0;
fail:
	return -1;
}

static int build_output_header(run *r, sora_err *e)
{
	int k = 0;
	while (r->spec->columns[k])
		k++;
	CHECK_ALLOC(e, r->col_pos = calloc((size_t)k + 1, sizeof *r->col_pos));
	for (int i = 0; i < r->header.n; i++)
		CHECK(e, sora_fields_push(&r->out_header, r->header.v[i], strlen(r->header.v[i])) == 0,
		      "out of memory");
	for (int i = 0; i < k; i++) {
		const char *name = r->spec->columns[i];
		int pos = sora_fields_find(&r->out_header, name);
		if (pos >= 0 && strcmp(name, "path") != 0)
			log_info("the input already has a '%s' column; replacing it", name);
		if (pos < 0) {
			pos = r->out_header.n;
			CHECK(e, sora_fields_push(&r->out_header, name, strlen(name)) == 0, "out of memory");
		}
		r->col_pos[i] = pos;
	}
	r->path_col = sora_fields_find(&r->header, "path");
	return 0;
fail:
	return -1;
}

static int open_outputs(run *r, sora_err *e)
{
	r->out = stdout;
	if (r->c->output)
		CHECK(e, r->out = fopen(r->c->output, "w"), "cannot write %s: %s", r->c->output,
		      strerror(errno));
	if (r->c->rejects) {
		CHECK(e, r->rej = fopen(r->c->rejects, "w"), "cannot write %s: %s", r->c->rejects,
		      strerror(errno));
		int n = r->header.n;
		CHECK(e,
		      sora_fields_find(&r->header, "error") >= 0 ||
			  sora_fields_push(&r->header, "error", 5) == 0,
		      "out of memory");
		int rc = sora_csv_write(r->rej, r->header.v, r->header.n, e);
		sora_fields_resize(&r->header, n); /* shrinking cannot fail */
		TRY(rc);
	}
	if (r->out_header.n > 0)
		TRY(sora_csv_write(r->out, r->out_header.v, r->out_header.n, e));
	fflush(r->out);
	return 0;
fail:
	return -1;
}

int sora_rowmap_run(const sora_rowmap_spec *spec, const sora_common_opts *c, int nargs, char **args)
{
	run r = {.spec = spec, .c = c, .args = args, .nargs = nargs, .path_col = -1};
	sora_err e = {0};
	int status = SORA_EXIT_FAIL;
	if (read_header(&r, &e) < 0) {
		log_error("%s", e.msg);
		status = r.usage ? SORA_EXIT_USAGE : SORA_EXIT_FAIL;
		goto done;
	}
	if (spec->prepare && spec->prepare(spec->ctx, &r.header, &e) < 0) {
		log_error("%s", e.msg);
		status = SORA_EXIT_USAGE;
		goto done;
	}
	if (build_output_header(&r, &e) < 0 || open_outputs(&r, &e) < 0) {
		log_error("%s", e.msg);
		goto done;
	}

	sora_progress_start(&r.prog, spec->unit, 0, sora_log_level() >= SORA_LOG_INFO);
	double t0 = sora_now();
	const sora_map_ops ops = {next_item, work_item, emit_item};
	if (sora_ordered_map(c->threads, 0, &ops, &r, &e) < 0) {
		log_error("%s", e.msg);
		r.fatal = 1;
	}
	sora_progress_end(&r.prog);
	if (fflush(r.out) != 0 || (r.rej && fflush(r.rej) != 0)) {
		log_error("cannot finish writing the output: %s", strerror(errno));
		r.fatal = 1;
	}
	if (r.walk && sora_walk_skipped(r.walk) > 0)
		log_info("%lld files in the directories were not videos by their extension and were skipped",
			 (long long)sora_walk_skipped(r.walk));
	log_info("%lld rows in, %lld out, %lld rejected, %lld filtered, %.1f s", (long long)r.in,
		 (long long)r.out_rows, (long long)r.rejected, (long long)r.filtered, sora_now() - t0);
	status = r.fatal ? SORA_EXIT_FAIL : r.stopped ? SORA_EXIT_MAX_REJECTS : SORA_EXIT_OK;
done:
	close_csv_source(&r);
	sora_walk_close(r.walk);
	if (r.out && r.out != stdout)
		fclose(r.out);
	if (r.rej)
		fclose(r.rej);
	sora_fields_free(&r.header);
	sora_fields_free(&r.out_header);
	free(r.col_pos);
	return status;
}
