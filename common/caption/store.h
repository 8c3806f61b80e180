/* Captions by key: the --cache JSONL (read at start, appended and flushed per caption, so a killed run
 * loses nothing and never pays twice for a request) and the --from import (JSONL or CSV).
 *
 * JSONL lines are {"id": KEY, "text": CAPTION} (an import may key by "path" instead of "id"); a line that
 * is not a complete JSON object (the last one of a killed run) is skipped and counted. */
#ifndef SORA_CAPTION_STORE_H
#define SORA_CAPTION_STORE_H

#include "../util/err.h"

#include <stdint.h>

typedef struct sora_caption_store sora_caption_store;

/* Reads path (JSONL, or CSV when it ends in .csv) if it exists. With append, opens it for appending
 * (creating it). Keys come from `id`, else `path`. */
int sora_caption_store_open(sora_caption_store **out, const char *path, int append, sora_err *e);
void sora_caption_store_close(sora_caption_store *s);

/* The caption stored for key, or NULL. The pointer stays valid until close. Thread-safe. */
const char *sora_caption_store_get(sora_caption_store *s, const char *key);

/* Remembers and appends one caption (one flushed line). Thread-safe. */
int sora_caption_store_put(sora_caption_store *s, const char *key, const char *caption, sora_err *e);

int64_t sora_caption_store_count(const sora_caption_store *s);
int64_t sora_caption_store_skipped(const sora_caption_store *s); /* unreadable lines at load */

#endif
