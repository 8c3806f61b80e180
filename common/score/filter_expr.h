/* sora-filter's expressions: compiled once, evaluated per row.
 *
 *     expr    := and ( "||" and )*
 *     and     := not ( "&&" not )*
 *     not     := "!" not | "(" expr ")" | compare
 *     compare := value ( "==" | "!=" | "<" | "<=" | ">" | ">=" ) value
 *     value   := number | string | column
 *
 * number: a decimal literal (-1, 4.5, 1e-3); string: "..." or '...' with \" \' \\ escapes; column: a
 * name [A-Za-z_][A-Za-z0-9_.]* or any name in backquotes (`my col`).
 *
 * A comparison with a number literal is numeric: the column's value must read as a number (see
 * number.h), else the row is rejected with the reason. A comparison with a string literal compares
 * bytes (strcmp order). Two columns compare as numbers when both values read as numbers, else as
 * strings. A number literal against a string literal is a compile error. */
#ifndef SORA_FILTER_EXPR_H
#define SORA_FILTER_EXPR_H

#include "util/csv.h"
#include "util/err.h"

typedef struct sora_filter_expr sora_filter_expr;

/* Parses src; a syntax error names the expression, the position and what was expected. */
int sora_filter_parse(sora_filter_expr **out, const char *src, sora_err *e);
/* Resolves column names against the header; an unknown one is an error naming it. */
int sora_filter_bind(sora_filter_expr *x, const sora_fields *header, sora_err *e);
/* 1 when the row (fields in header order) satisfies x, 0 when not, -1 (e filled) when a value needed as
 * a number is not one. */
int sora_filter_eval(const sora_filter_expr *x, char *const *row, sora_err *e);
void sora_filter_free(sora_filter_expr *x);

#endif
