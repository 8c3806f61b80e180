#include "clean.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Open-Sora tools/datasets/datautil.py LLAVA_PREFIX, in its order. */
static const char *const prefixes[] = {
    "The video shows",    "The video captures", "The video features", "The video depicts",
    "The video presents", "The video is ",      "In the video,",      "The image shows",
    "The image captures", "The image features", "The image depicts",  "The image presents",
    "The image is ",      "The image portrays", "In the image,",      NULL,
};

static void collapse_spaces(char *s)
{
	char *w = s;
	int space = 1; /* drops leading whitespace */
	for (const char *r = s; *r; r++) {
		if (isspace((unsigned char)*r)) {
			if (!space)
				*w++ = ' ';
			space = 1;
		} else {
			*w++ = *r;
			space = 0;
		}
	}
	if (w > s && w[-1] == ' ')
		w--;
	*w = '\0';
}

static int strip_pair(char *s, const char *open, const char *close)
{
	size_t n = strlen(s), a = strlen(open), b = strlen(close);
	if (n < a + b || strncmp(s, open, a) != 0 || strcmp(s + n - b, close) != 0)
		return 0;
	memmove(s, s + a, n - a - b);
	s[n - a - b] = '\0';
	return 1;
}

/* The prefix as written, or entirely lower-cased (Python's prefix.lower()). */
static size_t prefix_len(const char *s, const char *p)
{
	size_t n = strlen(p);
	if (strncmp(s, p, n) == 0)
		return n;
	for (size_t i = 0; i < n; i++)
		if (s[i] != tolower((unsigned char)p[i]))
			return 0;
	return n;
}

char *sora_caption_clean(const char *in)
{
	char *s = strdup(in);
	if (!s)
		return NULL;
	collapse_spaces(s);
	if (strip_pair(s, "\"", "\"") || strip_pair(s, "'", "'") || strip_pair(s, "\u201c", "\u201d"))
		collapse_spaces(s);
	for (const char *const *p = prefixes; *p; p++) {
		size_t n = prefix_len(s, *p);
		if (!n)
			continue;
		memmove(s, s + n, strlen(s + n) + 1);
		collapse_spaces(s);
		s[0] = (char)toupper((unsigned char)s[0]);
		break;
	}
	return s;
}
