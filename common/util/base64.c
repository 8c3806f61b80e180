#include "base64.h"

static const char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t sora_base64_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

void sora_base64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t i = 0;
	for (; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*out++ = table[v >> 18];
		*out++ = table[v >> 12 & 63];
		*out++ = table[v >> 6 & 63];
		*out++ = table[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
		*out++ = table[v >> 18];
		*out++ = table[v >> 12 & 63];
		*out++ = i + 1 < n ? table[v >> 6 & 63] : '=';
		*out++ = '=';
	}
	*out = '\0';
}
