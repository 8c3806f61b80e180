#include "shard_blob.h"

#include <cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	sora_dtype dtype;
} dtypes[] = {
    {"F32", SORA_F32}, {"BF16", SORA_BF16}, {"F16", SORA_F16}, {"I32", SORA_I32}, {"I64", SORA_I64}};

static const char *st_name(sora_dtype d)
{
	for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++)
		if (dtypes[i].dtype == d)
			return dtypes[i].name;
	return "?";
}

/* Larger elements first so every tensor stays aligned, then by name: the reference writer's order. */
static int before(const sora_tensor *t, const char *const *names, int i, int j)
{
	size_t si = sora_dtype_size(t[i].dtype), sj = sora_dtype_size(t[j].dtype);
	return si != sj ? si > sj : strcmp(names[i], names[j]) < 0;
}

/* A JSON number written as the exact integer (cJSON would print large ones through a double). */
static cJSON *json_u64(uint64_t v)
{
	char buf[24];
	snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
	return cJSON_CreateRaw(buf);
}

int sora_blob_encode(const char *const *names, const sora_tensor *tensors, int n, const char *const *meta_kv,
		     void **blob, size_t *size, sora_err *e)
{
	cJSON *head = cJSON_CreateObject(), *meta = NULL;
	int *order = malloc((size_t)(n > 0 ? n : 1) * sizeof *order);
	char *json = NULL;
	unsigned char *out = NULL;
	*blob = NULL;
	CHECK_ALLOC(e, head && order);
	if (meta_kv && meta_kv[0]) {
		CHECK_ALLOC(e, meta = cJSON_AddObjectToObject(head, "__metadata__"));
		for (int k = 0; meta_kv[k]; k += 2) {
			CHECK(e, meta_kv[k + 1], "metadata key '%s' has no value", meta_kv[k]);
			CHECK(e, !cJSON_GetObjectItemCaseSensitive(meta, meta_kv[k]),
			      "metadata key '%s' given twice", meta_kv[k]);
			CHECK_ALLOC(e, cJSON_AddStringToObject(meta, meta_kv[k], meta_kv[k + 1]));
		}
	}
	for (int i = 0; i < n; i++) {
		CHECK(e, tensors[i].device == SORA_CPU, "tensor '%s' is not on the CPU", names[i]);
		CHECK(e, strcmp(names[i], "__metadata__") != 0, "'__metadata__' is not a tensor name");
		for (int j = 0; j < i; j++)
			CHECK(e, strcmp(names[i], names[j]) != 0, "tensor '%s' given twice", names[i]);
		int k = i;
		for (; k > 0 && before(tensors, names, i, order[k - 1]); k--)
			order[k] = order[k - 1];
		order[k] = i;
	}
	uint64_t off = 0;
	for (int k = 0; k < n; k++) {
		const sora_tensor *t = &tensors[order[k]];
		cJSON *item = cJSON_AddObjectToObject(head, names[order[k]]), *shape, *offs;
		CHECK_ALLOC(e, item && cJSON_AddStringToObject(item, "dtype", st_name(t->dtype)));
		CHECK_ALLOC(e, shape = cJSON_AddArrayToObject(item, "shape"));
		for (int d = 0; d < t->ndim; d++)
			CHECK_ALLOC(e, cJSON_AddItemToArray(shape, json_u64((uint64_t)t->shape[d])));
		CHECK_ALLOC(e, offs = cJSON_AddArrayToObject(item, "data_offsets"));
		uint64_t end = off + sora_tensor_nbytes(t);
		CHECK_ALLOC(e, cJSON_AddItemToArray(offs, json_u64(off)) &&
				   cJSON_AddItemToArray(offs, json_u64(end)));
		off = end;
	}
	CHECK_ALLOC(e, json = cJSON_PrintUnformatted(head));
	size_t hn = strlen(json), padded = (hn + 7) / 8 * 8;
	CHECK(e, padded <= SORA_BLOB_MAX_HEADER, "record header of %zu bytes is too large", padded);
	*size = 8 + padded + (size_t)off;
	CHECK_ALLOC(e, out = malloc(*size));
	for (int i = 0; i < 8; i++)
		out[i] = (unsigned char)((uint64_t)padded >> (8 * i));
	memcpy(out + 8, json, hn);
	memset(out + 8 + hn, ' ', padded - hn);
	unsigned char *p = out + 8 + padded;
	for (int k = 0; k < n; k++) {
		size_t nb = sora_tensor_nbytes(&tensors[order[k]]);
		if (nb)
			memcpy(p, tensors[order[k]].data, nb);
		p += nb;
	}
	*blob = out;
	cJSON_free(json);
	cJSON_Delete(head);
	free(order);
	return 0;
fail:
	cJSON_free(json);
	cJSON_Delete(head);
	free(order);
	return -1;
}

/* JSON numbers are doubles: an offset or a dim must be a whole number a double holds exactly. */
static int json_index(const cJSON *v, uint64_t *out)
{
	if (!cJSON_IsNumber(v))
		return -1;
	double d = v->valuedouble;
	if (!isfinite(d) || d < 0 || d > 9007199254740992.0 || d != floor(d))
		return -1;
	*out = (uint64_t)d;
	return 0;
}

/* One tensor entry of the header into r->t[k] (data still relative: filled in later). */
static int parse_tensor(sora_record *r, int k, const cJSON *item, size_t data_size, uint64_t range[2],
			const char *what, sora_err *e)
{
	const char *name = item->string;
	const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
	const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
	const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
	sora_tensor *t = &r->t[k];
	CHECK(e, cJSON_IsObject(item), "%s: tensor '%s' is not an object", what, name);
	CHECK(e, cJSON_IsString(dt), "%s: tensor '%s' has no dtype", what, name);
	size_t i = 0;
	for (; i < sizeof dtypes / sizeof *dtypes && strcmp(dtypes[i].name, dt->valuestring) != 0; i++)
		;
	CHECK(e, i < sizeof dtypes / sizeof *dtypes,
	      "%s: tensor '%s' has dtype %s (F32, BF16, F16, I32, I64 are read)", what, name,
	      dt->valuestring);
	t->dtype = dtypes[i].dtype;
	CHECK(e, cJSON_IsArray(shape) && cJSON_GetArraySize(shape) <= SORA_MAX_DIMS,
	      "%s: tensor '%s' has no shape of at most %d dims", what, name, SORA_MAX_DIMS);
	t->ndim = cJSON_GetArraySize(shape);
	uint64_t numel = 1, dim;
	for (int d = 0; d < t->ndim; d++) {
		CHECK(e, json_index(cJSON_GetArrayItem(shape, d), &dim) == 0 && dim < (1ull << 40),
		      "%s: tensor '%s' has a bad dim %d", what, name, d);
		t->shape[d] = (int64_t)dim;
		CHECK(e, dim == 0 || numel <= UINT64_MAX / 8 / dim, "%s: tensor '%s' is too large", what,
		      name);
		numel *= dim;
	}
	CHECK(e,
	      cJSON_IsArray(offs) && cJSON_GetArraySize(offs) == 2 &&
		  json_index(cJSON_GetArrayItem(offs, 0), &range[0]) == 0 &&
		  json_index(cJSON_GetArrayItem(offs, 1), &range[1]) == 0 && range[0] <= range[1],
	      "%s: tensor '%s' has bad data_offsets", what, name);
	size_t es = sora_dtype_size(t->dtype);
	CHECK(e, range[1] - range[0] == numel * es, "%s: tensor '%s': %llu bytes for shape × %s (%llu)", what,
	      name, (unsigned long long)(range[1] - range[0]), dt->valuestring,
	      (unsigned long long)(numel * es));
	CHECK(e, range[1] <= data_size, "%s: tensor '%s' lies past the end of the record", what, name);
	CHECK(e, range[0] % es == 0, "%s: tensor '%s' is not aligned to its element size", what, name);
	CHECK_ALLOC(e, r->names[k] = strdup(name));
	t->device = SORA_CPU;
	return 0;
fail:
	return -1;
}

int sora_record_parse(sora_record *r, const void *blob, size_t size, const char *what, sora_err *e)
{
	const unsigned char *b = blob;
	cJSON *head = NULL;
	uint64_t(*ranges)[2] = NULL;
	memset(r, 0, sizeof *r);
	CHECK(e, size >= 8, "%s: record of %zu bytes is too short for a safetensors blob", what, size);
	uint64_t hn = 0;
	for (int i = 0; i < 8; i++)
		hn |= (uint64_t)b[i] << (8 * i);
	CHECK(e, hn <= SORA_BLOB_MAX_HEADER && hn <= size - 8,
	      "%s: header length %llu does not fit the record (%zu bytes)", what, (unsigned long long)hn,
	      size);
	head = cJSON_ParseWithLength((const char *)b + 8, (size_t)hn);
	CHECK(e, cJSON_IsObject(head), "%s: the header is not a JSON object", what);
	const size_t data_size = size - 8 - (size_t)hn;
	int n = 0;
	const cJSON *item;
	cJSON_ArrayForEach(item, head)
	{
		if (strcmp(item->string, "__metadata__") != 0) {
			n++;
			continue;
		}
		CHECK(e, cJSON_IsObject(item), "%s: __metadata__ is not an object", what);
		const cJSON *kv;
		cJSON_ArrayForEach(kv, item)
		    CHECK(e, cJSON_IsString(kv), "%s: metadata '%s' is not a string", what, kv->string);
		r->nmeta = cJSON_GetArraySize(item);
	}
	CHECK_ALLOC(e, r->names = calloc((size_t)n + 1, sizeof *r->names));
	CHECK_ALLOC(e, r->t = calloc((size_t)n + 1, sizeof *r->t));
	CHECK_ALLOC(e, ranges = calloc((size_t)n + 1, sizeof *ranges));
	CHECK_ALLOC(e, r->keys = calloc((size_t)r->nmeta + 1, sizeof *r->keys));
	CHECK_ALLOC(e, r->vals = calloc((size_t)r->nmeta + 1, sizeof *r->vals));
	int m = 0;
	cJSON_ArrayForEach(item, head)
	{
		if (strcmp(item->string, "__metadata__") == 0) {
			const cJSON *kv;
			cJSON_ArrayForEach(kv, item)
			{
				CHECK_ALLOC(e, r->keys[m] = strdup(kv->string));
				CHECK_ALLOC(e, r->vals[m++] = strdup(kv->valuestring));
			}
			continue;
		}
		for (int j = 0; j < r->n; j++)
			CHECK(e, strcmp(r->names[j], item->string) != 0, "%s: tensor '%s' appears twice",
			      what, item->string);
		TRY(parse_tensor(r, r->n, item, data_size, ranges[r->n], what, e));
		for (int j = 0; j < r->n; j++)
			CHECK(e,
			      ranges[r->n][0] == ranges[r->n][1] || ranges[j][0] == ranges[j][1] ||
				  ranges[r->n][1] <= ranges[j][0] || ranges[j][1] <= ranges[r->n][0],
			      "%s: tensors '%s' and '%s' overlap", what, r->names[j], r->names[r->n]);
		r->n++;
	}
	CHECK_ALLOC(e, r->data = aligned_alloc(64, (data_size + 63) / 64 * 64 + 64));
	if (data_size)
		memcpy(r->data, b + 8 + hn, data_size);
	for (int k = 0; k < r->n; k++)
		r->t[k].data = (char *)r->data + ranges[k][0];
	free(ranges);
	cJSON_Delete(head);
	return 0;
fail:
	free(ranges);
	cJSON_Delete(head);
	sora_record_free(r);
	return -1;
}

const sora_tensor *sora_record_tensor(const sora_record *r, const char *name)
{
	for (int k = 0; k < r->n; k++)
		if (!strcmp(r->names[k], name))
			return &r->t[k];
	return NULL;
}

const char *sora_record_meta(const sora_record *r, const char *key)
{
	for (int k = 0; k < r->nmeta; k++)
		if (!strcmp(r->keys[k], key))
			return r->vals[k];
	return NULL;
}

void sora_record_free(sora_record *r)
{
	for (int k = 0; r->names && k < r->n + 1; k++)
		free(r->names[k]);
	for (int k = 0; r->keys && k < r->nmeta; k++) {
		free(r->keys[k]);
		if (r->vals)
			free(r->vals[k]);
	}
	free(r->names);
	free(r->t);
	free(r->keys);
	free(r->vals);
	free(r->data);
	free(r->id);
	memset(r, 0, sizeof *r);
}
