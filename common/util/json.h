/* JSON configs on cJSON. Keys are dotted paths ("model.depth"); every error names the file and key. */
#ifndef SORA_JSON_H
#define SORA_JSON_H

#include "err.h"

#include <cJSON.h>
#include <stdint.h>

typedef struct sora_json {
	cJSON *root;
	char *path; /* the file, for messages */
} sora_json;

/* Reads and parses path. A syntax error names the line and column. */
int sora_json_load(sora_json *j, const char *path, sora_err *e);
void sora_json_free(sora_json *j);

/* The item at a dotted key path, or NULL. */
const cJSON *sora_json_find(const sora_json *j, const char *key);

/* Typed getters. With a default (the *_or forms) a missing key gives the default; a present key of
 * the wrong type or out of range is always an error. */
int sora_json_int(const sora_json *j, const char *key, int64_t lo, int64_t hi, int64_t *out, sora_err *e);
int sora_json_int_or(const sora_json *j, const char *key, int64_t lo, int64_t hi, int64_t dflt, int64_t *out,
		     sora_err *e);
int sora_json_double(const sora_json *j, const char *key, double *out, sora_err *e);
int sora_json_double_or(const sora_json *j, const char *key, double dflt, double *out, sora_err *e);
int sora_json_bool_or(const sora_json *j, const char *key, int dflt, int *out, sora_err *e);
/* The string stays owned by j. */
int sora_json_string(const sora_json *j, const char *key, const char **out, sora_err *e);

#endif
