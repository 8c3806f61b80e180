/* Tensor sizes, dtype conversions (against values worked out by hand) and the arena. */
#include "nn/tensor.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

Test(tensor, alloc_and_shape)
{
	sora_tensor t;
	sora_err e = {0};
	cr_assert_eq(sora_tensor_alloc(&t, SORA_BF16, 3, (int64_t[]){2, 3, 4}, &e), 0);
	cr_assert_eq(sora_tensor_numel(&t), 24);
	cr_assert_eq(sora_tensor_nbytes(&t), 48);
	cr_assert_eq((uintptr_t)t.data % 64, 0);
	char buf[64];
	cr_assert_str_eq(sora_shape_str(buf, sizeof buf, t.ndim, t.shape), "[2, 3, 4]");
	sora_tensor_free(&t);
	cr_assert_lt(sora_tensor_alloc(&t, SORA_F32, 6, (int64_t[]){1, 1, 1, 1, 1, 1}, &e), 0);
	cr_assert_lt(sora_tensor_alloc(&t, SORA_F32, 2, (int64_t[]){INT64_MAX / 2, 3}, &e), 0);
	cr_assert_lt(sora_tensor_alloc(&t, SORA_F32, 1, (int64_t[]){-1}, &e), 0);
}

Test(tensor, bf16_rounds_to_nearest_even)
{
	cr_assert_eq(sora_f32_to_bf16(1.0f), 0x3f80);
	cr_assert_eq(sora_f32_to_bf16(-2.0f), 0xc000);
	/* 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0). */
	cr_assert_eq(sora_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80);
	/* 1 + 3·2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6: goes up. */
	cr_assert_eq(sora_f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82);
	cr_assert_eq(sora_f32_to_bf16(INFINITY), 0x7f80);
	cr_assert(isnan(sora_bf16_to_f32(sora_f32_to_bf16(NAN))));
	cr_assert_float_eq(sora_bf16_to_f32(0x4049), 3.140625f, 0);
}

Test(tensor, f16_conversions)
{
	cr_assert_eq(sora_f32_to_f16(1.0f), 0x3c00);
	cr_assert_eq(sora_f32_to_f16(-2.0f), 0xc000);
	cr_assert_eq(sora_f32_to_f16(65504.0f), 0x7bff);
	cr_assert_eq(sora_f32_to_f16(65520.0f), 0x7c00);
	cr_assert_eq(sora_f32_to_f16(0x1p-24f), 0x0001); /* smallest subnormal */
	cr_assert_eq(sora_f32_to_f16(0x1p-26f), 0x0000);
	cr_assert_eq(sora_f32_to_f16(1.0f + 0x1p-11f), 0x3c00); /* tie to even */
	cr_assert_eq(sora_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);
	cr_assert_float_eq(sora_f16_to_f32(0x3555), 0.333251953125f, 0);
	cr_assert_float_eq(sora_f16_to_f32(0x0001), 0x1p-24f, 0);
	cr_assert_float_eq(sora_f16_to_f32(0x8400), -0x1p-14f, 0);
	cr_assert(isinf(sora_f16_to_f32(0x7c00)));
	for (uint32_t h = 0; h < 0x7c00; h++) /* every finite f16 survives a round trip */
		cr_assert_eq(sora_f32_to_f16(sora_f16_to_f32((uint16_t)h)), h, "%x", h);
}

Test(tensor, arena_aligns_and_refuses_overflow)
{
	sora_arena a;
	sora_err e = {0};
	sora_tensor x, y;
	cr_assert_eq(sora_arena_init(&a, 256, &e), 0);
	cr_assert_eq(sora_arena_tensor(&a, &x, SORA_F32, 1, (int64_t[]){3}, &e), 0);
	cr_assert_eq(sora_arena_tensor(&a, &y, SORA_F32, 1, (int64_t[]){3}, &e), 0);
	cr_assert_eq((char *)y.data - (char *)x.data, 64);
	cr_assert_lt(sora_arena_tensor(&a, &y, SORA_F32, 1, (int64_t[]){64}, &e), 0);
	cr_assert(strstr(e.msg, "arena full"), "%s", e.msg);
	sora_arena_reset(&a);
	cr_assert_eq(sora_arena_tensor(&a, &y, SORA_F32, 1, (int64_t[]){64}, &e), 0);
	cr_assert_eq(a.peak, 256);
	sora_arena_free(&a);
}
