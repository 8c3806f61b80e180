/* Whole small files (configs, vocabularies, indexes, prompts) read into memory. */
#ifndef SORA_FILE_H
#define SORA_FILE_H

#include "err.h"

#include <stddef.h>

/* The contents of path, NUL-terminated (malloc'd; *len may be NULL). A file larger than max bytes is an
 * error naming `what` ("config", "vocabulary", ...), so that a wrong path fails fast. */
char *sora_read_file(const char *path, size_t max, const char *what, size_t *len, sora_err *e);

#endif
