#include "file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *sora_read_file(const char *path, size_t max, const char *what, size_t *len, sora_err *e)
{
	char *text = NULL;
	FILE *fp = fopen(path, "rb");
	CHECK(e, fp, "%s: cannot open: %s", path, strerror(errno));
	CHECK_SYS(e, fseek(fp, 0, SEEK_END), path);
	long size = ftell(fp);
	CHECK(e, size >= 0 && (size_t)size <= max, "%s: not a %s (%ld bytes, at most %zu expected)", path,
	      what, size, max);
	rewind(fp);
	CHECK_ALLOC(e, text = malloc((size_t)size + 1));
	CHECK(e, fread(text, 1, (size_t)size, fp) == (size_t)size, "%s: read error", path);
	text[size] = '\0';
	fclose(fp);
	if (len)
		*len = (size_t)size;
	return text;
fail:
	free(text);
	if (fp)
		fclose(fp);
	return NULL;
}
