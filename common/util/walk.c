#include "walk.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

const char *const sora_video_exts[] = {"mp4", "m4v", "mov",  "mkv", "webm", "avi",  "flv",
				       "wmv", "mpg", "mpeg", "ts",  "mts",  "m2ts", "3gp",
				       "ogv", "mxf", "vob",  "y4m", NULL};

typedef struct level {
	char *dir;
	char **names;
	size_t n, next;
} level;

struct sora_walk {
	char *const *args;
	int nargs, next_arg;
	const char *const *exts;
	level *stack;
	size_t depth, cap;
	int64_t skipped;
};

int sora_walk_open(sora_walk **out, char *const *paths, int n, const char *const *exts, sora_err *e)
{
	sora_walk *w = calloc(1, sizeof *w);
	CHECK_ALLOC(e, w);
	w->args = paths;
	w->nargs = n;
	w->exts = exts;
	*out = w;
	return 0;
fail:
	return -1;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_level(level *l)
{
	for (size_t i = l->next; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	free(l->dir);
}

/* Reads and sorts one directory. Returns NULL in *problem on success. */
static int push_dir(sora_walk *w, const char *dir, char **problem)
{
	DIR *d = opendir(dir);
	level l = {0};
	size_t cap = 0;
	if (!d) {
		char buf[256];
		snprintf(buf, sizeof buf, "cannot read directory: %s", strerror(errno));
		*problem = strdup(buf);
		return -1;
	}
	for (struct dirent *de; (de = readdir(d));) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (l.n == cap) {
			cap = cap ? cap * 2 : 64;
			char **names = realloc(l.names, cap * sizeof *names);
			if (!names)
				goto oom;
			l.names = names;
		}
		if (!(l.names[l.n] = strdup(de->d_name)))
			goto oom;
		l.n++;
	}
	closedir(d);
	d = NULL;
	if (l.n)
		qsort(l.names, l.n, sizeof *l.names, cmp_names);
	if (w->depth == w->cap) {
		size_t c = w->cap ? w->cap * 2 : 8;
		level *s = realloc(w->stack, c * sizeof *s);
		if (!s)
			goto oom;
		w->stack = s;
		w->cap = c;
	}
	if (!(l.dir = strdup(dir)))
		goto oom;
	w->stack[w->depth++] = l;
	return 0;
oom:
	if (d)
		closedir(d);
	free_level(&l);
	*problem = strdup("out of memory");
	return -1;
}

static int has_ext(const char *name, const char *const *exts)
{
	const char *dot = strrchr(name, '.');
	if (!dot)
		return 0;
	for (const char *const *x = exts; *x; x++)
		if (strcasecmp(dot + 1, *x) == 0)
			return 1;
	return 0;
}

static char *join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	int slash = a > 0 && dir[a - 1] != '/';
	char *p = malloc(a + (size_t)slash + b + 1);
	if (!p)
		return NULL;
	memcpy(p, dir, a);
	if (slash)
		p[a] = '/';
	memcpy(p + a + slash, name, b + 1);
	return p;
}

/* The next file inside the directories being walked; 0 when they are exhausted. */
static int next_in_dirs(sora_walk *w, char **path, char **problem)
{
	struct stat st;
	while (w->depth > 0) {
		level *l = &w->stack[w->depth - 1];
		if (l->next == l->n) {
			free_level(l);
			w->depth--;
			continue;
		}
		char *name = l->names[l->next++];
		char *full = join(l->dir, name);
		free(name);
		if (!full) {
			*path = strdup(l->dir);
			*problem = strdup("out of memory");
			return 1;
		}
		/* Symlinked directories are not followed (no loops), like find(1) without -L. */
		if (lstat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (push_dir(w, full, problem) < 0) {
				*path = full;
				return 1;
			}
			free(full);
			continue;
		}
		if (has_ext(full, w->exts)) {
			*path = full;
			return 1;
		}
		w->skipped++;
		free(full);
	}
	return 0;
}

int sora_walk_next(sora_walk *w, char **path, char **problem)
{
	*problem = NULL;
	for (;;) {
		if (next_in_dirs(w, path, problem))
			return 1;
		if (w->next_arg == w->nargs)
			return 0;
		const char *arg = w->args[w->next_arg++];
		struct stat st;
		if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (push_dir(w, arg, problem) == 0)
				continue;
		}
		*path = strdup(arg);
		return 1;
	}
}

int64_t sora_walk_skipped(const sora_walk *w)
{
	return w->skipped;
}

void sora_walk_close(sora_walk *w)
{
	if (!w)
		return;
	while (w->depth > 0)
		free_level(&w->stack[--w->depth]);
	free(w->stack);
	free(w);
}
