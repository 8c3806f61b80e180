/* What identifies an encoder model in a dataset's index.json: 64-bit FNV-1a hashes (16 hex digits) of
 * its config.json and of its weights' header (the safetensors header: names, dtypes, shapes and
 * offsets; for a sharded checkpoint its .safetensors.index.json). The folder's path is not part of it,
 * so a moved model still matches; weights changed in place with the same header do not show. */
#ifndef SORA_MODEL_ID_H
#define SORA_MODEL_ID_H

#include "../util/err.h"

#include <cJSON.h>

/* Adds "config_fnv1a64" and "weights_header_fnv1a64" of model folder dir to obj. */
int sora_model_id(const char *dir, cJSON *obj, sora_err *e);
/* The same from the files themselves (a single-file checkpoint such as the VAE's); config may be NULL (no
 * config file: only the weights' hash). */
int sora_model_id_files(const char *config, const char *weights, cJSON *obj, sora_err *e);

#endif
