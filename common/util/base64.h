/* Base64 (RFC 4648, with padding), for data: URLs. */
#ifndef SORA_BASE64_H
#define SORA_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Encoded length of n bytes, without the terminator. */
size_t sora_base64_len(size_t n);
/* Writes sora_base64_len(n) characters and a NUL to out. */
void sora_base64_encode(const uint8_t *in, size_t n, char *out);

#endif
