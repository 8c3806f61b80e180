#include "err.h"

#include <libavutil/error.h>

int sora_fail_av(sora_err *e, const char *file, int line, const char *call, int averr, const char *hint)
{
	char buf[AV_ERROR_MAX_STRING_SIZE];
	av_strerror(averr, buf, sizeof buf);
	return sora_fail(e, file, line, call, "%s: %s", hint, buf);
}
