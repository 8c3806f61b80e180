#include "util/log.h"
#include "util/rowmap.h"

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A program over a CSV with columns id,text: `n` = the id times two; ids divisible by 5 are filtered,
 * by 7 rejected, by 11 give two rows. */
enum { C_N, C_TEXT };
static const char *const columns[] = {"n", "text", NULL};

static int id_col;

static int prepare(void *ctx, const sora_fields *header, sora_err *e)
{
	id_col = sora_fields_find(header, "id");
	return id_col < 0 ? SORA_FAIL(e, "no id column") : 0;
}

static int process(void *ctx, int worker, const sora_fields *in, sora_out *out, sora_err *e)
{
	long id = strtol(in->v[id_col], NULL, 10);
	if (id % 5 == 0)
		return 0;
	if (id % 7 == 0)
		return SORA_FAIL(e, "id %ld is a multiple of 7", id);
	for (int k = 0; k < (id % 11 == 0 ? 2 : 1); k++) {
		sora_out_add(out);
		sora_out_setf(out, C_N, "%ld", id * 2 + k);
	}
	return 0;
}

static const sora_rowmap_spec spec = {
    .input = SORA_INPUT_CSV, .columns = columns, .unit = "rows", .prepare = prepare, .process = process};

static char dir[] = "/tmp/sora-rowmap-XXXXXX";
static char in_path[64], out_path[64], rej_path[64];

static void setup(void)
{
	cr_assert(mkdtemp(dir));
	snprintf(in_path, sizeof in_path, "%s/in.csv", dir);
	snprintf(out_path, sizeof out_path, "%s/out.csv", dir);
	snprintf(rej_path, sizeof rej_path, "%s/rej.csv", dir);
	FILE *fp = fopen(in_path, "w");
	fputs("id,text,extra\n", fp);
	for (int i = 1; i <= 100; i++)
		fprintf(fp, "%d,\"caption %d, \"\"quoted\"\"\",x\n", i, i);
	fclose(fp);
	sora_log_init("test", SORA_LOG_ERROR);
}

static void teardown(void)
{
	unlink(in_path);
	unlink(out_path);
	unlink(rej_path);
	rmdir(dir);
}

TestSuite(rowmap, .init = setup, .fini = teardown);

static int run(int threads, int shard_i, int shard_n, int64_t max_rejects)
{
	sora_common_opts c = {.threads = threads,
			      .shard_i = shard_i,
			      .shard_n = shard_n,
			      .max_rejects = max_rejects,
			      .output = out_path,
			      .rejects = rej_path};
	char *args[] = {in_path};
	return sora_rowmap_run(&spec, &c, 1, args);
}

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	cr_assert(fp, "%s", path);
	char *buf = calloc(1, 1 << 20);
	size_t n = fread(buf, 1, (1 << 20) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

Test(rowmap, columns_filter_reject_expand_and_order)
{
	cr_assert_eq(run(4, 0, 1, -1), SORA_EXIT_OK);
	char *out = slurp(out_path), *rej = slurp(rej_path);
	/* "text" exists and stays in place (kept until the program sets it); "n" is appended; "extra"
	 * passes through. */
	cr_assert(strncmp(out, "id,text,extra,n\n1,\"caption 1, \"\"quoted\"\"\",x,2\n", 38) == 0, "%s", out);
	/* 100 ids: 20 filtered (x5), 12 rejected (x7 not x5: 14 - 2), 9 x11 not x5/x7 give 2 rows. */
	cr_assert_eq(count_lines(out), 1 + (100 - 20 - 12) + 7, "%s", out);
	cr_assert(strstr(out, "\"\"\",x,44\n22,\"caption 22, \"\"quoted\"\"\",x,45\n"), "%s", out);
	cr_assert(strncmp(rej,
			  "id,text,extra,error\n7,\"caption 7, \"\"quoted\"\"\",x,id 7 is a multiple of 7\n",
			  70) == 0,
		  "%s", rej);
	cr_assert_eq(count_lines(rej), 1 + 12);
	free(out);
	free(rej);
}

Test(rowmap, same_bytes_for_any_thread_count)
{
	cr_assert_eq(run(1, 0, 1, -1), SORA_EXIT_OK);
	char *a = slurp(out_path);
	cr_assert_eq(run(7, 0, 1, -1), SORA_EXIT_OK);
	char *b = slurp(out_path);
	cr_assert_str_eq(a, b);
	free(a);
	free(b);
}

Test(rowmap, shards_take_every_nth_row)
{
	cr_assert_eq(run(2, 1, 4, -1), SORA_EXIT_OK);
	char *out = slurp(out_path);
	/* Rows 2, 6, 10, ... (1-based) are ids 2, 6, 10, ...: 10 and 30, 50, 70, 90 filtered, 14, 42... */
	cr_assert(strstr(out, "\",x,4\n6,") && strstr(out, "\",x,12\n18,") && !strstr(out, ",x,8\n"), "%s",
		  out);
	free(out);
}

Test(rowmap, max_rejects_stops_with_status_3)
{
	cr_assert_eq(run(2, 0, 1, 3), SORA_EXIT_MAX_REJECTS);
	char *rej = slurp(rej_path);
	cr_assert_geq(count_lines(rej), 1 + 4);
	cr_assert_lt(count_lines(rej), 1 + 12);
	free(rej);
}

Test(rowmap, missing_column_is_a_usage_error)
{
	FILE *fp = fopen(in_path, "w");
	fputs("path,text\na,b\n", fp);
	fclose(fp);
	cr_assert_eq(run(2, 0, 1, -1), SORA_EXIT_USAGE);
}

Test(rowmap, missing_input_file_is_fatal_but_reported)
{
	sora_common_opts c = {.threads = 1, .shard_n = 1, .max_rejects = -1, .output = out_path};
	char *args[] = {in_path, "/nonexistent/in.csv"};
	cr_assert_eq(sora_rowmap_run(&spec, &c, 2, args), SORA_EXIT_FAIL);
	char *out = slurp(out_path);
	cr_assert_eq(count_lines(out), 1 + 75);
	free(out);
}
