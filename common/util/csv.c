#include "csv.h"

#include <csv.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A quoted field that never closes would otherwise swallow the rest of the input into memory. */
#define MAX_FIELD_BYTES (64u << 20)
#define READ_CHUNK      65536

void sora_fields_free(sora_fields *f)
{
	for (int i = 0; i < f->n; i++)
		free(f->v[i]);
	free(f->v);
	f->v = NULL;
	f->n = f->cap = 0;
}

static int fields_reserve(sora_fields *f, int n)
{
	if (n <= f->cap)
		return 0;
	int cap = f->cap ? f->cap * 2 : 8;
	while (cap < n)
		cap *= 2;
	char **v = realloc(f->v, (size_t)cap * sizeof *v);
	if (!v)
		return -1;
	f->v = v;
	f->cap = cap;
	return 0;
}

int sora_fields_push(sora_fields *f, const char *s, size_t len)
{
	if (fields_reserve(f, f->n + 1) < 0)
		return -1;
	char *c = malloc(len + 1);
	if (!c)
		return -1;
	if (len)
		memcpy(c, s, len);
	c[len] = '\0';
	f->v[f->n++] = c;
	return 0;
}

int sora_fields_set(sora_fields *f, int i, const char *s)
{
	char *c = strdup(s);
	if (!c)
		return -1;
	free(f->v[i]);
	f->v[i] = c;
	return 0;
}

int sora_fields_resize(sora_fields *f, int n)
{
	while (f->n > n)
		free(f->v[--f->n]);
	while (f->n < n)
		if (sora_fields_push(f, "", 0) < 0)
			return -1;
	return 0;
}

int sora_fields_find(const sora_fields *f, const char *name)
{
	for (int i = 0; i < f->n; i++)
		if (strcmp(f->v[i], name) == 0)
			return i;
	return -1;
}

/* Records completed by the parser but not yet handed out: a FIFO, since one chunk of input can end
 * many records. Its size is bounded by the chunk size. */
struct sora_csv_reader {
	struct csv_parser p;
	FILE *fp;
	const char *name;
	sora_fields cur;
	sora_fields *done;
	size_t head, tail, cap;
	int oom, eof, first;
};

static int is_never_space(unsigned char c)
{
	(void)c;
	return 0;
}

static void on_field(void *s, size_t len, void *data)
{
	sora_csv_reader *r = data;
	if (sora_fields_push(&r->cur, s ? s : "", s ? len : 0) < 0)
		r->oom = 1;
}

static void on_record(int c, void *data)
{
	(void)c;
	sora_csv_reader *r = data;
	if (r->tail == r->cap) {
		if (r->head > 0) {
			memmove(r->done, r->done + r->head, (r->tail - r->head) * sizeof *r->done);
			r->tail -= r->head;
			r->head = 0;
		} else {
			size_t cap = r->cap ? r->cap * 2 : 64;
			sora_fields *d = realloc(r->done, cap * sizeof *d);
			if (!d) {
				r->oom = 1;
				sora_fields_free(&r->cur);
				return;
			}
			r->done = d;
			r->cap = cap;
		}
	}
	r->done[r->tail++] = r->cur;
	memset(&r->cur, 0, sizeof r->cur);
}

int sora_csv_reader_open(sora_csv_reader **out, FILE *fp, const char *name, sora_err *e)
{
	sora_csv_reader *r = calloc(1, sizeof *r);
	CHECK_ALLOC(e, r);
	CHECK(e, csv_init(&r->p, CSV_APPEND_NULL) == 0, "%s: cannot start the CSV parser", name);
	csv_set_space_func(&r->p, is_never_space);
	r->fp = fp;
	r->name = name;
	r->first = 1;
	*out = r;
	return 0;
fail:
	free(r);
	return -1;
}

static int feed(sora_csv_reader *r, sora_err *e)
{
	char buf[READ_CHUNK];
	char *p = buf;
	size_t n;
	/* fread would wait for a whole chunk; read(2) returns what the pipe has, so a row from the
	 * program before us in the pipe is parsed (and worked on) as soon as it arrives. A stream
	 * without a descriptor (fmemopen) can only be read through stdio. */
	int fd = fileno(r->fp);
	if (fd >= 0) {
		ssize_t got;
		do
			got = read(fd, buf, sizeof buf);
		while (got < 0 && errno == EINTR);
		CHECK(e, got >= 0, "%s: read error: %s", r->name, strerror(errno));
		n = (size_t)got;
	} else {
		n = fread(buf, 1, sizeof buf, r->fp);
		CHECK(e, !ferror(r->fp), "%s: read error: %s", r->name, strerror(errno));
	}
	if (n == 0) {
		csv_fini(&r->p, on_field, on_record, r);
		r->eof = 1;
		return 0;
	}
	if (r->first) {
		r->first = 0;
		if (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
			p += 3, n -= 3;
	}
	CHECK(e, csv_parse(&r->p, p, n, on_field, on_record, r) == n, "%s: CSV parse error: %s", r->name,
	      csv_strerror(csv_error(&r->p)));
	CHECK(e, r->p.entry_pos <= MAX_FIELD_BYTES, "%s: a field is longer than %u MiB (unbalanced quote?)",
	      r->name, MAX_FIELD_BYTES >> 20);
	return 0;
fail:
	return -1;
}

int sora_csv_read(sora_csv_reader *r, sora_fields *rec, sora_err *e)
{
	while (r->head == r->tail) {
		if (r->eof)
			return 0;
		TRY(feed(r, e));
		CHECK(e, !r->oom, "%s: out of memory", r->name);
	}
	*rec = r->done[r->head++];
	return 1;
fail:
	return -1;
}

void sora_csv_reader_close(sora_csv_reader *r)
{
	if (!r)
		return;
	csv_free(&r->p);
	sora_fields_free(&r->cur);
	for (size_t i = r->head; i < r->tail; i++)
		sora_fields_free(&r->done[i]);
	free(r->done);
	free(r);
}

static int needs_quotes(const char *s)
{
	return strpbrk(s, ",\"\r\n") != NULL;
}

static void put_field(FILE *fp, const char *s)
{
	if (!needs_quotes(s)) {
		fputs(s, fp);
		return;
	}
	fputc('"', fp);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', fp);
		fputc(*s, fp);
	}
	fputc('"', fp);
}

int sora_csv_write(FILE *fp, char *const *v, int n, sora_err *e)
{
	if (n == 1 && v[0][0] == '\0')
		fputs("\"\"", fp);
	else
		for (int i = 0; i < n; i++) {
			if (i)
				fputc(',', fp);
			put_field(fp, v[i]);
		}
	fputc('\n', fp);
	CHECK(e, !ferror(fp), "write error: %s", strerror(errno));
	return 0;
fail:
	return -1;
}

const char *sora_fmt_double(char *buf, double x)
{
	if (!isfinite(x)) {
		strcpy(buf, isnan(x) ? "nan" : x > 0 ? "inf" : "-inf");
		return buf;
	}
	/* The fewest significant digits that read back exactly, then Python's layout: positional for
	 * exponents in [-4, 16), scientific beyond. */
	int digits = 1;
	for (; digits < 17; digits++) {
		snprintf(buf, 32, "%.*e", digits - 1, x);
		if (strtod(buf, NULL) == x)
			break;
	}
	snprintf(buf, 32, "%.*e", digits - 1, x);
	int exp10 = atoi(strchr(buf, 'e') + 1);
	if (exp10 < -4 || exp10 >= 16)
		return buf;
	int decimals = digits - 1 - exp10;
	snprintf(buf, 32, "%.*f", decimals > 0 ? decimals : 0, x);
	return buf;
}
