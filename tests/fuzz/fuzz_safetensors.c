/* libFuzzer harness for the safetensors reader (make fuzz): any bytes as a file; the reader must either
 * refuse it with a message or hand out tensors whose every byte is inside the mapping. */
#include "io/safetensors.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	if (!path[0])
		snprintf(path, sizeof path, "/tmp/sora-fuzz-st-%d.safetensors", (int)getpid());
	FILE *fp = fopen(path, "wb");
	if (!fp)
		return 0;
	fwrite(data, 1, size, fp);
	fclose(fp);
	sora_safetensors *st;
	sora_err e = {0};
	if (sora_st_open(&st, path, &e) == 0) {
		volatile unsigned sum = 0;
		for (int i = 0; i < sora_st_count(st); i++) {
			const sora_st_tensor *t = sora_st_get(st, i);
			const unsigned char *p = t->data;
			for (size_t k = 0; k < t->nbytes; k++) /* ASan catches a byte outside the file */
				sum += p[k];
			if (sora_st_find(st, t->name) != t)
				__builtin_trap();
		}
		sora_st_close(st);
	} else if (!e.msg[0] || !strstr(e.msg, path)) {
		__builtin_trap(); /* every refusal names the file */
	}
	return 0;
}
