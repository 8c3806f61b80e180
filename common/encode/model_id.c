#include "model_id.h"

#include "../models/weights.h"
#include "../util/file.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fnv1a_hex(char out[17], const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* The first 8 + N bytes of a safetensors file: its length field and header. */
static unsigned char *st_header(const char *path, size_t *n, sora_err *e)
{
	unsigned char len[8], *buf = NULL;
	FILE *fp = fopen(path, "rb");
	CHECK(e, fp, "%s: cannot open: %s", path, strerror(errno));
	CHECK(e, fread(len, 1, 8, fp) == 8, "%s: too short for safetensors", path);
	uint64_t hn = 0;
	for (int i = 0; i < 8; i++)
		hn |= (uint64_t)len[i] << (8 * i);
	CHECK(e, hn <= 100000000, "%s: header length %llu is not plausible", path, (unsigned long long)hn);
	CHECK_ALLOC(e, buf = malloc(8 + (size_t)hn));
	memcpy(buf, len, 8);
	CHECK(e, fread(buf + 8, 1, (size_t)hn, fp) == hn, "%s: truncated header", path);
	fclose(fp);
	*n = 8 + (size_t)hn;
	return buf;
fail:
	free(buf);
	if (fp)
		fclose(fp);
	return NULL;
}

int sora_model_id(const char *dir, cJSON *obj, sora_err *e)
{
	char config[4096], weights[4096];
	sora_model_files(dir, config, sizeof config, weights, sizeof weights);
	return sora_model_id_files(config, weights, obj, e);
}

int sora_model_id_files(const char *config, const char *weights, cJSON *obj, sora_err *e)
{
	char hex[17];
	size_t n = 0, wl;
	unsigned char *buf;
	if (config) {
		buf = (unsigned char *)sora_read_file(config, 16 << 20, "model config", &n, e);
		if (!buf)
			return -1;
		fnv1a_hex(hex, buf, n);
		free(buf);
		CHECK_ALLOC(e, cJSON_AddStringToObject(obj, "config_fnv1a64", hex));
	}
	wl = strlen(weights);
	if (wl > 11 && !strcmp(weights + wl - 11, ".index.json"))
		buf = (unsigned char *)sora_read_file(weights, 64 << 20, "checkpoint index", &n, e);
	else
		buf = st_header(weights, &n, e);
	if (!buf)
		return -1;
	fnv1a_hex(hex, buf, n);
	free(buf);
	CHECK_ALLOC(e, cJSON_AddStringToObject(obj, "weights_header_fnv1a64", hex));
	return 0;
fail:
	return -1;
}
