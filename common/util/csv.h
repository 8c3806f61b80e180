/* The CSV stream: RFC 4180 rows in (libcsv, streaming) and out (minimal quoting, as Python's csv
 * module and pandas write it), with the header read as the first record. */
#ifndef SORA_CSV_H
#define SORA_CSV_H

#include "err.h"

#include <stdint.h>
#include <stdio.h>

/* A record: n fields, each NUL-terminated (an embedded NUL ends the field early). */
typedef struct sora_fields {
	char **v;
	int n, cap;
} sora_fields;

void sora_fields_free(sora_fields *f);
/* Appends a copy of s[0..len). */
int sora_fields_push(sora_fields *f, const char *s, size_t len);
/* Replaces field i (which must exist) with a copy of s. */
int sora_fields_set(sora_fields *f, int i, const char *s);
/* Resizes to n fields, new ones empty. */
int sora_fields_resize(sora_fields *f, int n);
int sora_fields_find(const sora_fields *f, const char *name);

typedef struct sora_csv_reader sora_csv_reader;

/* Reads from fp (not closed by the reader; read through its descriptor when it has one, so nothing may
 * have been read from it through stdio before); name is used in messages ("stdin", a path). */
int sora_csv_reader_open(sora_csv_reader **out, FILE *fp, const char *name, sora_err *e);
/* Next record: 1 with *rec filled (ownership passes to the caller, who frees it), 0 at end of input,
 * <0 on a read error. Blank lines are skipped; a UTF-8 BOM at the start is dropped; unquoted fields
 * keep their spaces. */
int sora_csv_read(sora_csv_reader *r, sora_fields *rec, sora_err *e);
void sora_csv_reader_close(sora_csv_reader *r);

/* Writes one record with minimal quoting (fields holding a comma, quote, CR or LF are quoted, quotes
 * doubled) and a "\n" terminator. A record of one empty field is written as "" so it is not a blank
 * line. Returns <0 (e filled) when the stream reports an error. */
int sora_csv_write(FILE *fp, char *const *v, int n, sora_err *e);

/* The shortest decimal that reads back as exactly x (as Python's repr writes floats), so numbers
 * survive a trip through the CSV. buf needs 32 bytes. */
const char *sora_fmt_double(char *buf, double x);

#endif
