#include "util/csv.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* Parses text and returns the records (caller frees). */
static int parse(const char *text, size_t len, sora_fields *recs, int max)
{
	FILE *fp = fmemopen((void *)text, len, "r");
	cr_assert(fp);
	sora_csv_reader *r;
	sora_err e = {0};
	cr_assert_eq(sora_csv_reader_open(&r, fp, "mem", &e), 0);
	int n = 0, rc;
	while ((rc = sora_csv_read(r, &recs[n], &e)) == 1)
		cr_assert_lt(++n, max);
	cr_assert_eq(rc, 0, "%s", e.msg);
	sora_csv_reader_close(r);
	fclose(fp);
	return n;
}

static char *write_rows(char *const *rows[], const int *widths, int n, size_t *len)
{
	char *buf = NULL;
	FILE *fp = open_memstream(&buf, len);
	sora_err e = {0};
	for (int i = 0; i < n; i++)
		cr_assert_eq(sora_csv_write(fp, rows[i], widths[i], &e), 0);
	fclose(fp);
	return buf;
}

Test(csv, round_trip_of_hostile_captions)
{
	char *header[] = {"path", "text", "aes"};
	char *r1[] = {"a b/c,d.mp4", "A cat, a \"dog\"\nand a newline\r\nand CRLF", "4.5"};
	char *r2[] = {"emoji.mp4", "🌊 rain falling on the sea 🌧️, 雨が海に降る, 下雨了", ""};
	char *r3[] = {"  leading and trailing spaces  ", "\"", ",,,"};
	char *r4[] = {"", "", ""};
	char *const *rows[] = {header, r1, r2, r3, r4};
	int widths[] = {3, 3, 3, 3, 3};
	size_t len;
	char *text = write_rows(rows, widths, 5, &len);
	sora_fields recs[8] = {0};
	cr_assert_eq(parse(text, len, recs, 8), 5);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(recs[i].n, 3);
		for (int k = 0; k < 3; k++)
			cr_assert_str_eq(recs[i].v[k], rows[i][k]);
		sora_fields_free(&recs[i]);
	}
	free(text);
}

Test(csv, quoting_is_minimal_like_python)
{
	char *row[] = {"plain", "with,comma", "with \"quote\"", "with\nnewline", "unicode é"};
	char *const *rows[] = {row};
	int width = 5;
	size_t len;
	char *text = write_rows(rows, &width, 1, &len);
	cr_assert_str_eq(text, "plain,\"with,comma\",\"with \"\"quote\"\"\",\"with\nnewline\",unicode é\n");
	free(text);
}

Test(csv, single_empty_field_is_not_a_blank_line)
{
	char *h[] = {"path"}, *r[] = {""};
	char *const *rows[] = {h, r};
	int widths[] = {1, 1};
	size_t len;
	char *text = write_rows(rows, widths, 2, &len);
	cr_assert_str_eq(text, "path\n\"\"\n");
	sora_fields recs[4] = {0};
	cr_assert_eq(parse(text, len, recs, 4), 2);
	cr_assert_eq(recs[1].n, 1);
	cr_assert_str_eq(recs[1].v[0], "");
	sora_fields_free(&recs[0]);
	sora_fields_free(&recs[1]);
	free(text);
}

Test(csv, bom_crlf_blank_lines_and_unterminated_last_line)
{
	const char text[] = "\xEF\xBB\xBFpath,fps\r\n\r\na.mp4,25\r\n\nb.mp4,30";
	sora_fields recs[8] = {0};
	cr_assert_eq(parse(text, sizeof text - 1, recs, 8), 3);
	cr_assert_str_eq(recs[0].v[0], "path");
	cr_assert_str_eq(recs[1].v[1], "25");
	cr_assert_str_eq(recs[2].v[0], "b.mp4");
	cr_assert_str_eq(recs[2].v[1], "30");
	for (int i = 0; i < 3; i++)
		sora_fields_free(&recs[i]);
}

Test(csv, unbalanced_quote_ends_at_eof_without_crash)
{
	const char text[] = "path,text\na.mp4,\"never closed, runs\nto the end";
	sora_fields recs[8] = {0};
	cr_assert_eq(parse(text, sizeof text - 1, recs, 8), 2);
	cr_assert_eq(recs[1].n, 2);
	cr_assert_str_eq(recs[1].v[1], "never closed, runs\nto the end");
	sora_fields_free(&recs[0]);
	sora_fields_free(&recs[1]);
}

Test(csv, many_records_in_one_chunk_and_across_chunks)
{
	size_t cap = 1 << 21, len = 0;
	char *text = malloc(cap);
	len += (size_t)sprintf(text, "id,text\n");
	for (int i = 0; i < 50000; i++)
		len += (size_t)sprintf(text + len, "%d,\"row, %d\"\n", i, i);
	FILE *fp = fmemopen(text, len, "r");
	sora_csv_reader *r;
	sora_err e = {0};
	cr_assert_eq(sora_csv_reader_open(&r, fp, "mem", &e), 0);
	sora_fields f = {0};
	cr_assert_eq(sora_csv_read(r, &f, &e), 1);
	sora_fields_free(&f);
	char want[32];
	for (int i = 0; i < 50000; i++) {
		cr_assert_eq(sora_csv_read(r, &f, &e), 1);
		snprintf(want, sizeof want, "row, %d", i);
		cr_assert_str_eq(f.v[1], want);
		sora_fields_free(&f);
	}
	cr_assert_eq(sora_csv_read(r, &f, &e), 0);
	sora_csv_reader_close(r);
	fclose(fp);
	free(text);
}

Test(csv, shortest_round_trip_doubles)
{
	char buf[32];
	cr_assert_str_eq(sora_fmt_double(buf, 0.5625), "0.5625");
	cr_assert_str_eq(sora_fmt_double(buf, 25.0), "25");
	cr_assert_str_eq(sora_fmt_double(buf, 29.97), "29.97");
	cr_assert_str_eq(sora_fmt_double(buf, 0.1 + 0.2), "0.30000000000000004");
	cr_assert_str_eq(sora_fmt_double(buf, 1.0 / 3.0), "0.3333333333333333");
	cr_assert_str_eq(sora_fmt_double(buf, 30.0), "30");
	cr_assert_str_eq(sora_fmt_double(buf, 1280.0 * 720.0), "921600");
	cr_assert_str_eq(sora_fmt_double(buf, 1e-5), "1e-05");
	cr_assert_str_eq(sora_fmt_double(buf, 0.0001), "0.0001");
	cr_assert_str_eq(sora_fmt_double(buf, 1e16), "1e+16");
	cr_assert_str_eq(sora_fmt_double(buf, -2.5), "-2.5");
	cr_assert_str_eq(sora_fmt_double(buf, 0.0), "0");
}
