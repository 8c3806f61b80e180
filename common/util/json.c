#include "json.h"

#include "file.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Configs are small; anything larger is not a config. */
#define MAX_CONFIG_BYTES (16 << 20)

static void line_col(const char *text, const char *at, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (const char *p = text; p < at && *p; p++) {
		if (*p == '\n')
			++*line, *col = 1;
		else
			++*col;
	}
}

int sora_json_load(sora_json *j, const char *path, sora_err *e)
{
	memset(j, 0, sizeof *j);
	char *text = sora_read_file(path, MAX_CONFIG_BYTES, "config file", NULL, e);
	if (!text)
		return -1;
	j->root = cJSON_ParseWithOpts(text, NULL, 1);
	if (!j->root) {
		int line, col;
		const char *at = cJSON_GetErrorPtr();
		line_col(text, at ? at : text, &line, &col);
		SORA_FAIL(e, "%s:%d:%d: JSON syntax error", path, line, col);
		goto fail;
	}
	CHECK_ALLOC(e, j->path = strdup(path));
	free(text);
	return 0;
fail:
	free(text);
	sora_json_free(j);
	return -1;
}

void sora_json_free(sora_json *j)
{
	cJSON_Delete(j->root);
	free(j->path);
	j->root = NULL;
	j->path = NULL;
}

const cJSON *sora_json_find(const sora_json *j, const char *key)
{
	const cJSON *node = j->root;
	char part[128];
	while (node && *key) {
		size_t n = strcspn(key, ".");
		if (n >= sizeof part)
			return NULL;
		memcpy(part, key, n);
		part[n] = '\0';
		node = cJSON_IsObject(node) ? cJSON_GetObjectItemCaseSensitive(node, part) : NULL;
		key += n + (key[n] == '.');
	}
	return node;
}

int sora_json_int(const sora_json *j, const char *key, int64_t lo, int64_t hi, int64_t *out, sora_err *e)
{
	const cJSON *it = sora_json_find(j, key);
	CHECK(e, it, "%s: missing key '%s'", j->path, key);
	double v = it->valuedouble;
	CHECK(e, cJSON_IsNumber(it) && v == floor(v), "%s: key '%s': expected an integer", j->path, key);
	CHECK(e, v >= (double)lo && v <= (double)hi, "%s: key '%s': %.17g is outside [%lld, %lld]", j->path,
	      key, v, (long long)lo, (long long)hi);
	*out = (int64_t)v;
	return 0;
fail:
	return -1;
}

int sora_json_int_or(const sora_json *j, const char *key, int64_t lo, int64_t hi, int64_t dflt, int64_t *out,
		     sora_err *e)
{
	if (!sora_json_find(j, key)) {
		*out = dflt;
		return 0;
	}
	return sora_json_int(j, key, lo, hi, out, e);
}

int sora_json_double(const sora_json *j, const char *key, double *out, sora_err *e)
{
	const cJSON *it = sora_json_find(j, key);
	CHECK(e, it, "%s: missing key '%s'", j->path, key);
	CHECK(e, cJSON_IsNumber(it), "%s: key '%s': expected a number", j->path, key);
	*out = it->valuedouble;
	return 0;
fail:
	return -1;
}

int sora_json_double_or(const sora_json *j, const char *key, double dflt, double *out, sora_err *e)
{
	if (!sora_json_find(j, key)) {
		*out = dflt;
		return 0;
	}
	return sora_json_double(j, key, out, e);
}

int sora_json_bool_or(const sora_json *j, const char *key, int dflt, int *out, sora_err *e)
{
	const cJSON *it = sora_json_find(j, key);
	*out = dflt;
	if (!it)
		return 0;
	CHECK(e, cJSON_IsBool(it), "%s: key '%s': expected true or false", j->path, key);
	*out = cJSON_IsTrue(it);
	return 0;
fail:
	return -1;
}

int sora_json_string(const sora_json *j, const char *key, const char **out, sora_err *e)
{
	const cJSON *it = sora_json_find(j, key);
	CHECK(e, it, "%s: missing key '%s'", j->path, key);
	CHECK(e, cJSON_IsString(it), "%s: key '%s': expected a string", j->path, key);
	*out = it->valuestring;
	return 0;
fail:
	return -1;
}
