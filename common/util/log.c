#include "log.h"

#include <libavutil/log.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

static const char *g_prog = "sora";
static int g_level = SORA_LOG_INFO;
static int g_bar;
/* Lines from worker threads must not interleave with each other or with the progress bar. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

void sora_log_init(const char *prog, int level)
{
	g_prog = prog;
	g_level = level;
	/* FFmpeg prints its own complaints about corrupt input; we report one line per file instead. */
	av_log_set_level(level >= SORA_LOG_TRACE ? AV_LOG_WARNING : AV_LOG_QUIET);
}

int sora_log_level(void)
{
	return g_level;
}

const char *sora_log_prog(void)
{
	return g_prog;
}

void sora_log_lock(void)
{
	pthread_mutex_lock(&g_lock);
}

void sora_log_unlock(void)
{
	pthread_mutex_unlock(&g_lock);
}

void sora_log_set_bar(int on)
{
	g_bar = on;
}

/* One write per line: stderr is unbuffered, and a run can reject millions of rows. */
static void vlog(int level, const char *fmt, va_list ap)
{
	char line[2048];
	int n = snprintf(line, sizeof line, "%s: %s", g_prog, level == SORA_LOG_ERROR ? "error: " : "");
	if (n < 0 || (size_t)n >= sizeof line)
		n = 0;
	int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	size_t len = m < 0 ? (size_t)n : (size_t)n + (size_t)m;
	if (len > sizeof line - 2)
		len = sizeof line - 2;
	line[len++] = '\n';
	pthread_mutex_lock(&g_lock);
	if (g_bar)
		fputs("\r\033[K", stderr);
	fwrite(line, 1, len, stderr);
	pthread_mutex_unlock(&g_lock);
}

void sora_log(int level, const char *fmt, ...)
{
	if (level > g_level)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

void sora_log_err(int level, const char *what, const sora_err *e)
{
	sora_log(level, "%s: %s", what, e->msg);
	if (e->file)
		sora_log(SORA_LOG_DEBUG, "  raised at %s:%d%s%s", e->file, e->line, e->call ? " by " : "",
			 e->call ? e->call : "");
}
