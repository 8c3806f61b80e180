/* Input files from the command line: files as given, directories walked recursively in byte order of
 * names (deterministic, so --shard i/n splits the same way on every node). Lazy: one directory's
 * listing is held at a time per level, so a tree of millions of files costs little memory. */
#ifndef SORA_WALK_H
#define SORA_WALK_H

#include "err.h"

#include <stdint.h>

typedef struct sora_walk sora_walk;

/* exts: NULL-terminated lowercase extensions (without the dot) that a file inside a directory must
 * have to be listed; files named on the command line are always listed. */
int sora_walk_open(sora_walk **out, char *const *paths, int n, const char *const *exts, sora_err *e);

/* Next path: returns 1 with *path set (caller frees), 0 at the end. A directory that cannot be read
 * is returned as a path too, with *problem set (caller frees) so it becomes a reject row. */
int sora_walk_next(sora_walk *w, char **path, char **problem);

/* Files inside directories left out because of their extension. */
int64_t sora_walk_skipped(const sora_walk *w);

void sora_walk_close(sora_walk *w);

/* The video extensions sora.c lists by default. */
extern const char *const sora_video_exts[];

#endif
