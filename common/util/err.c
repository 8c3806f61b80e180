#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int sora_fail(sora_err *e, const char *file, int line, const char *call, const char *fmt, ...)
{
	if (!e)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	e->file = file;
	e->line = line;
	e->call = call;
	return -1;
}

void sora_err_prefix(sora_err *e, const char *fmt, ...)
{
	if (!e)
		return;
	char old[sizeof e->msg];
	memcpy(old, e->msg, sizeof old);
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof e->msg - 1)
		return;
	size_t keep = strnlen(old, sizeof e->msg - 1 - (size_t)n);
	memcpy(e->msg + n, old, keep);
	e->msg[(size_t)n + keep] = '\0';
}

void sora_err_clear(sora_err *e)
{
	if (e)
		memset(e, 0, sizeof *e);
}
