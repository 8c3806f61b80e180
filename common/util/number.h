/* A CSV field read as a number, strictly: what the decimal forms Python and pandas write look like,
 * nothing else (no hex, inf or nan, no trailing text), so a column's numbers mean the same to every
 * program. */
#ifndef SORA_NUMBER_H
#define SORA_NUMBER_H

/* 1 with *x set when s (surrounding spaces allowed) is a finite decimal number, else 0. */
int sora_parse_number(const char *s, double *x);

#endif
