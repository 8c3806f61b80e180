/* make test-cuda: every CUDA op against its CPU twin. Without a device it says so and passes. */
#include "nn/cuda_device.h"
#include "ops_dit_parity.h"
#include "ops_parity.h"
#include "ops_video_parity.h"

#include <stdio.h>

int main(void)
{
	int n = sora_cuda_device_count();
	if (n == 0) {
		printf("no CUDA device\n");
		return 0;
	}
	int passed = 0, failed = 0;
	for (int d = 0; d < n; d++) {
		char desc[256];
		sora_err e = {0};
		if (sora_cuda_describe(d, desc, sizeof desc, &e) == 0)
			printf("device %d: %s\n", d, desc);
		if (sora_cuda_selftest(d, (size_t)1 << 24, &e) == 0) {
			printf("ok - device %d: saxpy matches the CPU\n", d);
			passed++;
		} else {
			printf("not ok - device %d: %s\n", d, e.msg);
			failed++;
		}
		if (d == 0) {
			sora_ops_parity(&passed, &failed);
			sora_ops_dit_parity(&passed, &failed);
			sora_ops_video_parity(&passed, &failed);
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
