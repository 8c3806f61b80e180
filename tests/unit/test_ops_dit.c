/* The MMDiT ops: timestep embeddings and RoPE tables against the official functions (flow_io.safetensors
 * timestep.*, ids.*rope*), and each op against its defining formula. Fixtures from $SORA_FIXTURES
 * (default ../shared/fixtures); without them those cases skip (fail under CI=true). */
#include "expect.h"
#include "io/safetensors.h"
#include "nn/ops.h"
#include "nn/ops_dit.h"
#include "nn/tensor.h"

#include <math.h>

static sora_safetensors *open_flow(void)
{
	char p[1024];
	sora_safetensors *st = NULL;
	sora_err e = {0};
	cr_assert_eq(sora_st_open(&st, fixture_path(p, sizeof p, "video/flow_io.safetensors"), &e), 0, "%s",
		     e.msg);
	return st;
}

static const sora_st_tensor *get(const sora_safetensors *st, const char *name)
{
	const sora_st_tensor *t = sora_st_find(st, name);
	cr_assert(t, "fixture tensor %s missing", name);
	return t;
}

/* Bit for bit: these ops move values, or compute them the same way on both sides. */
static void expect_same(const char *what, const float *got, const float *want, size_t n)
{
	expect_cmp(what, cmp_exact(cmp_f32(got, n), cmp_f32(want, n)));
}

/* max|got − ref| ≤ tol, logged. */
static void expect_close(const char *what, const float *got, const float *ref, size_t n, double tol)
{
	expect_cmp(what, cmp_each(cmp_f32(got, n), cmp_f32(ref, n), tol, 0));
}

Test(ops_dit, timestep_embedding_fixture)
{
	sora_safetensors *st = open_flow();
	sora_err e = {0};
	const sora_st_tensor *t = get(st, "timestep.t");
	const int B = (int)t->shape[0];
	float emb[9 * SORA_DIT_TIME_DIM], tb[9];
	cr_assert_eq(B, 9);
	/* f32 t: the function as the fixtures' f32 model runs it. */
	cr_assert_eq(sora_cpu_timestep_embedding(emb, t->data, B, 0, &e), 0, "%s", e.msg);
	expect_close("timestep.emb_f32", emb, get(st, "timestep.emb_f32")->data, (size_t)B * 256, 1e-6);
	/* t rounded to bf16 first, the rest in f32 (what the compiled bf16 kernel computes). */
	cr_assert_eq(sora_cpu_timestep_embedding(emb, t->data, B, 1, &e), 0, "%s", e.msg);
	expect_close("timestep.emb_f32_of_bf16_t", emb, get(st, "timestep.emb_f32_of_bf16_t")->data,
		     (size_t)B * 256, 1e-6);
	/* Our bf16 rounding of t is the reference's. */
	cr_assert_eq(sora_to_f32(tb, get(st, "timestep.t_bf16")->data, SORA_BF16, 9, &e), 0);
	for (int i = 0; i < B; i++)
		cr_expect_eq(sora_bf16_to_f32(sora_f32_to_bf16(((const float *)t->data)[i])), tb[i], "t[%d]",
			     i);
	sora_st_close(st);
}

/* ids = cat(txt_ids, img_ids) of the fixture, [1, 77, 3]. */
static float *fixture_ids(const sora_safetensors *st, int *L)
{
	const sora_st_tensor *ti = get(st, "ids.txt_ids"), *ii = get(st, "ids.img_ids");
	int Lt = (int)ti->shape[1], Li = (int)ii->shape[1];
	float *ids = malloc((size_t)(Lt + Li) * 3 * sizeof *ids);
	cr_assert(ids);
	memcpy(ids, ti->data, ti->nbytes);
	memcpy(ids + (size_t)Lt * 3, ii->data, ii->nbytes);
	*L = Lt + Li;
	return ids;
}

static void rope_case(const sora_safetensors *st, const char *which, const int *axes)
{
	char name[96];
	int L;
	sora_err e = {0};
	float *ids = fixture_ids(st, &L);
	const int D = axes[0] + axes[1] + axes[2], half = D / 2;
	float *c = calloc((size_t)L * half, sizeof *c), *s = calloc((size_t)L * half, sizeof *s);
	float *want = calloc((size_t)L * D * 2, sizeof *want);
	cr_assert(c && s && want);
	/* Liger: f32 angles, [cos(half), cos(half)] per token. */
	cr_assert_eq(sora_cpu_rope_table(c, s, ids, 1, L, axes, 3, 10000.0f, 0, &e), 0, "%s", e.msg);
	for (int k = 0; k < 2; k++) {
		const float *tab = k ? s : c;
		for (int l = 0; l < L; l++)
			for (int j = 0; j < D; j++)
				want[(size_t)l * D + j] = tab[(size_t)l * half + j % half];
		snprintf(name, sizeof name, "ids.liger_rope_%s.%s", which, k ? "sin" : "cos");
		expect_close(name, want, get(st, name)->data, (size_t)L * D, 1e-6);
	}
	/* EmbedND: f64 angles, [[cos, −sin], [sin, cos]] per frequency. */
	cr_assert_eq(sora_cpu_rope_table(c, s, ids, 1, L, axes, 3, 10000.0f, 1, &e), 0, "%s", e.msg);
	for (size_t i = 0; i < (size_t)L * half; i++) {
		want[4 * i] = c[i], want[4 * i + 1] = -s[i];
		want[4 * i + 2] = s[i], want[4 * i + 3] = c[i];
	}
	snprintf(name, sizeof name, "ids.interleaved_rope_%s.freqs_cis", which);
	expect_close(name, want, get(st, name)->data, (size_t)L * half * 4, 1e-7);
	free(ids), free(c), free(s), free(want);
}

Test(ops_dit, rope_tables_fixture)
{
	sora_safetensors *st = open_flow();
	rope_case(st, "tiny", (const int[]){8, 12, 12});
	rope_case(st, "released", (const int[]){16, 56, 56});
	sora_st_close(st);
}

static float *rnd(size_t n, unsigned seed)
{
	float *p = malloc(n * sizeof *p);
	cr_assert(p);
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
	}
	return p;
}

Test(ops_dit, adaln_and_gated_add)
{
	const int B = 2, L = 5, C = 24, ms = 3 * C;
	sora_err e = {0};
	float *x = rnd((size_t)B * L * C, 1), *mod = rnd((size_t)B * ms, 2),
	      *y = calloc((size_t)B * L * C, 4), *ln = calloc((size_t)B * L * C, 4),
	      *want = calloc((size_t)B * L * C, 4);
	cr_assert(y && ln && want);
	cr_assert_eq(sora_cpu_adaln(y, x, mod, mod + C, B, L, C, ms, 1e-6f, &e), 0);
	cr_assert_eq(sora_cpu_layernorm(ln, x, NULL, NULL, B * L, C, 1e-6f, &e), 0);
	for (int b = 0; b < B; b++)
		for (int i = 0; i < L * C; i++) {
			const float *m = mod + (size_t)b * ms;
			want[b * L * C + i] = (1 + m[C + i % C]) * ln[b * L * C + i] + m[i % C];
		}
	expect_close("adaln", y, want, (size_t)B * L * C, 1e-6);
	memcpy(want, x, (size_t)B * L * C * 4);
	for (int b = 0; b < B; b++)
		for (int i = 0; i < L * C; i++)
			want[b * L * C + i] +=
			    mod[(size_t)b * ms + (size_t)2 * C + i % C] * ln[b * L * C + i];
	cr_assert_eq(sora_cpu_gated_add(x, ln, mod + (size_t)2 * C, B, L, C, ms, &e), 0);
	expect_close("gated_add", x, want, (size_t)B * L * C, 0);
	free(x), free(mod), free(y), free(ln), free(want);
}

/* The two RoPE layouts are one rotation seen through the head-dim permutation 2j → j, 2j+1 → D/2 + j
 * (math.rearrange_tensor), which is how Open-Sora converted FLUX's q/k weights. */
Test(ops_dit, rope_layouts_agree)
{
	const int B = 2, L = 7, H = 3, D = 16, half = D / 2;
	const int axes[3] = {4, 6, 6};
	sora_err e = {0};
	float *ids = rnd((size_t)B * L * 3, 3), *c = malloc((size_t)B * L * half * 4),
	      *s = malloc((size_t)B * L * half * 4);
	float *x = rnd((size_t)B * L * H * D, 4), *perm = malloc((size_t)B * L * H * D * 4);
	cr_assert(c && s && perm);
	for (int i = 0; i < B * L * 3; i++)
		ids[i] = floorf(ids[i] * 20);
	cr_assert_eq(sora_cpu_rope_table(c, s, ids, B, L, axes, 3, 10000.0f, 0, &e), 0, "%s", e.msg);
	for (int r = 0; r < B * L * H; r++)
		for (int j = 0; j < half; j++) {
			perm[r * D + j] = x[r * D + 2 * j];
			perm[r * D + half + j] = x[r * D + 2 * j + 1];
		}
	cr_assert_eq(sora_cpu_rope_apply(x, c, s, B, L, H, D, 1, &e), 0);
	cr_assert_eq(sora_cpu_rope_apply(perm, c, s, B, L, H, D, 0, &e), 0);
	/* perm back to the interleaved layout: the same rotation gives the same bits */
	float *back = malloc((size_t)B * L * H * D * 4);
	cr_assert(back);
	for (int r = 0; r < B * L * H; r++)
		for (int j = 0; j < half; j++) {
			back[r * D + 2 * j] = perm[r * D + j];
			back[r * D + 2 * j + 1] = perm[r * D + half + j];
		}
	expect_same("rope half-split vs interleaved", back, x, (size_t)B * L * H * D);
	free(back);
	/* Position 0 (text tokens) is the identity. */
	const int zero_axes[3] = {4, 6, 6};
	float zid[3] = {0, 0, 0}, zc[8], zs[8], v[16], v0[16];
	memcpy(v, x, sizeof v);
	memcpy(v0, x, sizeof v0);
	cr_assert_eq(sora_cpu_rope_table(zc, zs, zid, 1, 1, zero_axes, 3, 10000.0f, 0, &e), 0);
	cr_assert_eq(sora_cpu_rope_apply(v, zc, zs, 1, 1, 1, 16, 0, &e), 0);
	expect_same("rope at position 0", v, v0, 16);
	/* An odd axis is refused. */
	cr_expect_eq(sora_cpu_rope_table(zc, zs, zid, 1, 1, (const int[]){5, 6, 5}, 3, 10000.0f, 0, &e), -1);
	cr_expect(strstr(e.msg, "odd"), "%s", e.msg);
	free(ids), free(c), free(s), free(x), free(perm);
}

Test(ops_dit, tokens_and_columns)
{
	const int B = 3, La = 2, Lb = 4, C = 5;
	sora_err e = {0};
	float *a = rnd((size_t)B * La * C, 5), *b = rnd((size_t)B * Lb * C, 6),
	      *y = malloc((size_t)B * (La + Lb) * C * 4);
	float *a2 = malloc((size_t)B * La * C * 4), *b2 = malloc((size_t)B * Lb * C * 4);
	cr_assert(y && a2 && b2);
	cr_assert_eq(sora_cpu_cat_tokens(y, a, b, B, La, Lb, C, &e), 0);
	expect_same("cat_tokens item 1, a", y + (size_t)(La + Lb) * C, a + (size_t)La * C, (size_t)La * C);
	expect_same("cat_tokens item 1, b", y + (size_t)(2 * La + Lb) * C, b + (size_t)Lb * C,
		    (size_t)Lb * C);
	cr_assert_eq(sora_cpu_split_tokens(a2, b2, y, B, La, Lb, C, &e), 0);
	expect_same("split_tokens a", a2, a, (size_t)B * La * C);
	expect_same("split_tokens b", b2, b, (size_t)B * Lb * C);
	/* copy_cols / gelu_tanh_cols: columns 3..7 of a [6, 10] matrix. */
	float *m = rnd(60, 7), cols[30], g[30], want[30];
	cr_assert_eq(sora_cpu_copy_cols(cols, 5, m + 3, 10, 6, 5, &e), 0);
	for (int r = 0; r < 6; r++) {
		char what[32];
		snprintf(what, sizeof what, "copy_cols row %d", r);
		expect_same(what, cols + (size_t)r * 5, m + (size_t)r * 10 + 3, 5);
	}
	cr_assert_eq(sora_cpu_gelu_tanh_cols(g, 5, m + 3, 10, 6, 5, &e), 0);
	cr_assert_eq(sora_cpu_gelu_tanh(want, cols, 30, &e), 0);
	expect_same("gelu_tanh_cols", g, want, 30);
	cr_expect_eq(sora_cpu_copy_cols(cols, 4, m, 10, 6, 5, &e), -1);
	free(a), free(b), free(y), free(a2), free(b2), free(m);
}
