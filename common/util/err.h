/* Errors: library code returns them, only main() exits.
 *
 * A failing call fills a sora_err with a one-line human reason (what we were doing and the library's
 * own error string) plus where it happened, then jumps to the function's `fail:` label. Programs print
 * the reason (and, with -v, the place and the call) and put the reason in the rejects CSV.
 *
 *     CHECK_AV(e, avformat_open_input(&fmt, path, NULL, NULL), "cannot open as a video");
 *     CHECK_SYS(e, stat(path, &st), "cannot stat");
 *     CHECK(e, n > 0, "no video stream");
 *     ...
 *   fail:
 *     cleanup...; return -1;
 */
#ifndef SORA_ERR_H
#define SORA_ERR_H

#include <errno.h>
#include <stddef.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sora_err {
	char msg[512];    /* human reason, one line, no trailing newline */
	const char *file; /* where it was raised */
	int line;
	const char *call; /* the failing call as written, or NULL */
} sora_err;

/* Formats the reason into e (when e is not NULL); returns -1 so callers can `return sora_fail(...)`. */
int sora_fail(sora_err *e, const char *file, int line, const char *call, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Prefixes the existing reason with context ("decode frame 12: " + old reason). */
void sora_err_prefix(sora_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void sora_err_clear(sora_err *e);

#define SORA_FAIL(e, ...) sora_fail((e), __FILE__, __LINE__, NULL, __VA_ARGS__)

/* Generic condition. */
#define CHECK(e, cond, ...)                                                                                  \
	do {                                                                                                 \
		if (!(cond)) {                                                                               \
			sora_fail((e), __FILE__, __LINE__, #cond, __VA_ARGS__);                              \
			goto fail;                                                                           \
		}                                                                                            \
	} while (0)

/* A call returning < 0 on failure and setting errno (POSIX). */
#define CHECK_SYS(e, call, hint)                                                                             \
	do {                                                                                                 \
		if ((call) < 0) {                                                                            \
			sora_fail((e), __FILE__, __LINE__, #call, "%s: %s", (hint), strerror(errno));        \
			goto fail;                                                                           \
		}                                                                                            \
	} while (0)

/* An allocation returning NULL. */
#define CHECK_ALLOC(e, ptr)                                                                                  \
	do {                                                                                                 \
		if (!(ptr)) {                                                                                \
			sora_fail((e), __FILE__, __LINE__, #ptr, "out of memory");                           \
			goto fail;                                                                           \
		}                                                                                            \
	} while (0)

/* FFmpeg: negative AVERROR codes, explained by av_strerror. */
#define CHECK_AV(e, call, hint)                                                                              \
	do {                                                                                                 \
		int av_rc_ = (call);                                                                         \
		if (av_rc_ < 0) {                                                                            \
			sora_fail_av((e), __FILE__, __LINE__, #call, av_rc_, (hint));                        \
			goto fail;                                                                           \
		}                                                                                            \
	} while (0)

/* Defined in err_av.c so that err.h does not pull in libavutil for every user. */
int sora_fail_av(sora_err *e, const char *file, int line, const char *call, int averr, const char *hint);

#ifdef __cplusplus
}
#endif

/* Propagate a failure of one of our own functions (which already filled e). */
#define TRY(call)                                                                                            \
	do {                                                                                                 \
		if ((call) < 0)                                                                              \
			goto fail;                                                                           \
	} while (0)

#endif
