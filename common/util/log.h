/* Logging to stderr. stdout carries data only.
 * Levels: -q shows errors and warnings only (a rejected row is a warning), the default adds info
 * (summary, notices), -v adds debug (where an error was raised), -vv lets FFmpeg speak too. */
#ifndef SORA_LOG_H
#define SORA_LOG_H

#include "err.h"

enum { SORA_LOG_ERROR = 0, SORA_LOG_WARN = 1, SORA_LOG_INFO = 2, SORA_LOG_DEBUG = 3, SORA_LOG_TRACE = 4 };

/* Program name used as the prefix of every line ("sora-probe: ..."). */
void sora_log_init(const char *prog, int level);
int sora_log_level(void);
const char *sora_log_prog(void);

void sora_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_error(...) sora_log(SORA_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  sora_log(SORA_LOG_WARN, __VA_ARGS__)
#define log_info(...)  sora_log(SORA_LOG_INFO, __VA_ARGS__)
#define log_debug(...) sora_log(SORA_LOG_DEBUG, __VA_ARGS__)

/* One line "<what>: <reason>" at `level`, then, at debug level, where it was raised. */
void sora_log_err(int level, const char *what, const sora_err *e);

/* For the progress bar: it draws under the same lock, and while it is on screen every log line first
 * erases it (the bar is redrawn on its next tick). */
void sora_log_lock(void);
void sora_log_unlock(void);
void sora_log_set_bar(int on);

#endif
