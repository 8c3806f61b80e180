/* Every CPU op against values worked out independently: small cases by hand, and a float64 reference
 * written out here (plain loops, no BLAS) on random inputs. Every bf16 twin against its f32 op. */
#include "expect.h"
#include "nn/ops.h"
#include "nn/tensor.h"

#include <math.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static float frand(void) /* uniform in [-1, 1) */
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static float *rand_buf(size_t n, float scale)
{
	float *p = malloc(n * sizeof *p);
	for (size_t i = 0; i < n; i++)
		p[i] = frand() * scale;
	return p;
}

/* |got − want| ≤ tol·(1 + |want|) for every value: relative where the values are large, absolute near 0.
 * The references here are of order 1, so an all-zero output is far outside it. */
static void close_to(const float *got, const double *want, size_t n, double tol, const char *what)
{
	expect_cmp(what, cmp_each(cmp_f32(got, n), cmp_f64(want, n), tol, tol));
}

Test(ops, linear_by_hand)
{
	const float x[] = {1, 2}, w[] = {1, 0, 0, 1, 1, 1}, b[] = {0.5f, 0, -1};
	float y[3];
	sora_err e = {0};
	cr_assert_eq(sora_cpu_linear(y, x, w, b, 1, 2, 3, &e), 0);
	cr_assert(y[0] == 1.5f && y[1] == 2.0f && y[2] == 2.0f, "%g %g %g", y[0], y[1], y[2]);
	cr_assert_eq(sora_cpu_linear(y, x, w, NULL, 1, 2, 3, &e), 0);
	cr_assert(y[0] == 1.0f && y[1] == 2.0f && y[2] == 3.0f);
}

Test(ops, linear_against_float64)
{
	const int N = 37, in = 129, out = 65;
	float *x = rand_buf((size_t)N * in, 1), *w = rand_buf((size_t)out * in, 0.2f), *b = rand_buf(out, 1);
	float *y = malloc((size_t)N * out * sizeof *y);
	double *ref = malloc((size_t)N * out * sizeof *ref);
	for (int i = 0; i < N; i++)
		for (int o = 0; o < out; o++) {
			double s = b[o];
			for (int k = 0; k < in; k++)
				s += (double)x[i * in + k] * w[o * in + k];
			ref[i * out + o] = s;
		}
	sora_err e = {0};
	cr_assert_eq(sora_cpu_linear(y, x, w, b, N, in, out, &e), 0);
	close_to(y, ref, (size_t)N * out, 1e-5, "linear");
	free(x), free(w), free(b), free(y), free(ref);
}

Test(ops, linear_bf16_rounds_the_f32_result)
{
	const int N = 5, in = 64, out = 9;
	uint16_t x[5 * 64], w[9 * 64], b[9], y[5 * 9];
	float fx[5 * 64], fw[9 * 64], fb[9];
	for (int i = 0; i < N * in; i++)
		x[i] = sora_f32_to_bf16(frand()), fx[i] = sora_bf16_to_f32(x[i]);
	for (int i = 0; i < out * in; i++)
		w[i] = sora_f32_to_bf16(frand()), fw[i] = sora_bf16_to_f32(w[i]);
	for (int i = 0; i < out; i++)
		b[i] = sora_f32_to_bf16(frand()), fb[i] = sora_bf16_to_f32(b[i]);
	float got[5 * 9];
	double ref[5 * 9];
	sora_err e = {0};
	cr_assert_eq(sora_cpu_linear_bf16(y, x, w, b, N, in, out, &e), 0, "%s", e.msg);
	for (int i = 0; i < N; i++)
		for (int o = 0; o < out; o++) {
			double s = fb[o];
			for (int k = 0; k < in; k++)
				s += (double)fx[i * in + k] * fw[o * in + k];
			ref[i * out + o] = s;
			got[i * out + o] = sora_bf16_to_f32(y[i * out + o]);
		}
	/* within one bf16 step (2^-8 relative) of the exact value */
	expect_cmp("linear_bf16",
		   cmp_each(cmp_f32(got, (size_t)5 * 9), cmp_f64(ref, (size_t)5 * 9), 1e-6, 1.0 / 256));
}

Test(ops, norms_by_hand)
{
	float x[] = {1, 2, 3}, y[3], w[] = {2, 2, 2}, bb[] = {1, 1, 1};
	sora_err e = {0};
	cr_assert_eq(sora_cpu_layernorm(y, x, NULL, NULL, 1, 3, 0.0f, &e), 0);
	/* mean 2, variance 2/3 */
	cr_assert_float_eq(y[0], -1.22474487f, 1e-6);
	cr_assert_float_eq(y[1], 0.0f, 1e-7);
	cr_assert_float_eq(y[2], 1.22474487f, 1e-6);
	cr_assert_eq(sora_cpu_layernorm(y, x, w, bb, 1, 3, 0.0f, &e), 0);
	cr_assert_float_eq(y[2], 3.44948974f, 1e-6);
	float r[] = {3, 4}, ry[2];
	cr_assert_eq(sora_cpu_rmsnorm(ry, r, NULL, 1, 2, 0.0f, &e), 0);
	/* rms = sqrt((9 + 16) / 2) */
	cr_assert_float_eq(ry[0], 0.848528137f, 1e-6);
	cr_assert_float_eq(ry[1], 1.131370850f, 1e-6);
	float l[2];
	cr_assert_eq(sora_cpu_l2_normalize(l, r, 1, 2, 1e-12f, &e), 0);
	cr_assert_float_eq(l[0], 0.6f, 1e-7);
	cr_assert_float_eq(l[1], 0.8f, 1e-7);
}

Test(ops, norms_against_float64)
{
	const int N = 9, C = 300;
	float *x = rand_buf((size_t)N * C, 3), *w = rand_buf(C, 1), *b = rand_buf(C, 1);
	float *y = malloc((size_t)N * C * sizeof *y);
	double *ln = malloc((size_t)N * C * sizeof *ln), *rms = malloc((size_t)N * C * sizeof *rms),
	       *l2 = malloc((size_t)N * C * sizeof *l2);
	for (int i = 0; i < N; i++) {
		double m = 0, v = 0, ss = 0;
		for (int j = 0; j < C; j++)
			m += x[i * C + j], ss += (double)x[i * C + j] * x[i * C + j];
		m /= C;
		for (int j = 0; j < C; j++)
			v += (x[i * C + j] - m) * (x[i * C + j] - m);
		v /= C;
		for (int j = 0; j < C; j++) {
			ln[i * C + j] = (x[i * C + j] - m) / sqrt(v + 1e-5) * w[j] + b[j];
			rms[i * C + j] = x[i * C + j] / sqrt(ss / C + 1e-6) * w[j];
			l2[i * C + j] = x[i * C + j] / sqrt(ss);
		}
	}
	sora_err e = {0};
	cr_assert_eq(sora_cpu_layernorm(y, x, w, b, N, C, 1e-5f, &e), 0);
	close_to(y, ln, (size_t)N * C, 1e-6, "layernorm");
	cr_assert_eq(sora_cpu_rmsnorm(y, x, w, N, C, 1e-6f, &e), 0);
	close_to(y, rms, (size_t)N * C, 1e-6, "rmsnorm");
	cr_assert_eq(sora_cpu_l2_normalize(y, x, N, C, 1e-12f, &e), 0);
	close_to(y, l2, (size_t)N * C, 1e-6, "l2_normalize");
	free(x), free(w), free(b), free(y), free(ln), free(rms), free(l2);
}

Test(ops, activations)
{
	const float x[] = {1, -2, 0, 3.5f, -0.25f};
	float y[5];
	double ge[5], g[5], q[5], s[5];
	for (int i = 0; i < 5; i++) {
		double v = x[i];
		ge[i] = 0.5 * v * (1 + erf(v / sqrt(2)));
		g[i] = 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
		q[i] = v / (1 + exp(-1.702 * v));
		s[i] = v / (1 + exp(-v));
	}
	sora_err e = {0};
	cr_assert_eq(sora_cpu_gelu(y, x, 5, &e), 0);
	cr_assert_float_eq(y[0], 0.841345f, 1e-6); /* by hand: Φ(1) = 0.841345 */
	close_to(y, ge, 5, 1e-6, "gelu (erf)");
	cr_assert_eq(sora_cpu_gelu_tanh(y, x, 5, &e), 0);
	cr_assert_float_eq(y[0], 0.841192f, 1e-6); /* by hand */
	close_to(y, g, 5, 1e-6, "gelu_tanh");
	cr_assert_eq(sora_cpu_quick_gelu(y, x, 5, &e), 0);
	cr_assert_float_eq(y[0], 0.845796f, 1e-6);
	close_to(y, q, 5, 1e-6, "quick_gelu");
	cr_assert_eq(sora_cpu_silu(y, x, 5, &e), 0);
	cr_assert_float_eq(y[0], 0.731059f, 1e-6);
	close_to(y, s, 5, 1e-6, "silu");
}

Test(ops, gelu_against_float64)
{
	/* The erf form over the range where the tanh approximation departs from it most (|x| ~ 2..3). */
	const size_t n = 2001;
	float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), *t = malloc(n * sizeof *t);
	double *ref = malloc(n * sizeof *ref), *tref = malloc(n * sizeof *tref);
	for (size_t i = 0; i < n; i++) {
		const double v = x[i] = -8.0f + 16.0f * (float)i / (float)(n - 1);
		ref[i] = 0.5 * v * (1 + erf(v / sqrt(2)));
		tref[i] = 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
	}
	sora_err e = {0};
	cr_assert_eq(sora_cpu_gelu(y, x, n, &e), 0);
	close_to(y, ref, n, 1e-6, "gelu (erf) on [-8, 8]");
	cr_assert_eq(sora_cpu_gelu_tanh(t, x, n, &e), 0);
	close_to(t, tref, n, 1e-6, "gelu_tanh on [-8, 8]");
	/* Each output matches its own form within 1e-6, so forms this far apart tell the two ops apart. */
	cmp_report apart = cmp_rel(cmp_f64(tref, n), cmp_f64(ref, n), 0);
	cr_log_info("gelu vs gelu_tanh: max difference %.3g", apart.max_abs);
	cr_assert(apart.max_abs > 1e-4, "gelu must be the erf form, not the tanh approximation");
	free(x), free(y), free(t), free(ref), free(tref);
}

Test(ops, softmax)
{
	const float x[] = {1, 2, 3, 1000, 1000, -1000};
	float y[6];
	sora_err e = {0};
	cr_assert_eq(sora_cpu_softmax(y, x, 2, 3, &e), 0);
	cr_assert_float_eq(y[0], 0.0900305732f, 1e-7);
	cr_assert_float_eq(y[1], 0.244728471f, 1e-7);
	cr_assert_float_eq(y[2], 0.665240956f, 1e-7);
	cr_assert_float_eq(y[3], 0.5f, 1e-7); /* large values: no overflow */
	cr_assert_float_eq(y[5], 0.0f, 1e-7);
}

/* The float64 attention, written the obvious way. */
static void attention_ref(double *out, const float *q, const float *k, const float *v,
			  const sora_attn_args *a)
{
	int HD = a->H * a->D;
	double *s = malloc((size_t)a->Tk * sizeof *s);
	for (int b = 0; b < a->B; b++)
		for (int h = 0; h < a->H; h++)
			for (int i = 0; i < a->Tq; i++) {
				double mx = -INFINITY, sum = 0;
				for (int j = 0; j < a->Tk; j++) {
					double d = 0;
					for (int c = 0; c < a->D; c++)
						d += (double)q[(b * a->Tq + i) * HD + h * a->D + c] *
						     k[(b * a->Tk + j) * HD + h * a->D + c];
					d *= a->scale;
					if (a->bias)
						d += a->bias[(h * a->Tq + i) * a->Tk + j];
					int hidden = (a->causal && j > i) ||
						     (a->key_mask && !a->key_mask[b * a->Tk + j]);
					s[j] = hidden ? -INFINITY : d;
					mx = s[j] > mx ? s[j] : mx;
				}
				for (int j = 0; j < a->Tk; j++)
					sum += s[j] = exp(s[j] - mx);
				for (int c = 0; c < a->D; c++) {
					double o = 0;
					for (int j = 0; j < a->Tk; j++)
						o += s[j] / sum * v[(b * a->Tk + j) * HD + h * a->D + c];
					out[(b * a->Tq + i) * HD + h * a->D + c] = o;
				}
			}
	free(s);
}

Test(ops, attention_by_hand)
{
	/* One query, two keys scoring the same: the output is the mean of the values. */
	const float q[] = {1, 0}, k[] = {1, 5, 1, -5}, v[] = {2, 4, 6, 8};
	float out[2];
	sora_attn_args a = {.B = 1, .H = 1, .Tq = 1, .Tk = 2, .D = 2, .scale = 1};
	sora_err e = {0};
	cr_assert_eq(sora_cpu_attention(out, q, k, v, &a, &e), 0);
	cr_assert_float_eq(out[0], 4.0f, 1e-6);
	cr_assert_float_eq(out[1], 6.0f, 1e-6);
	/* Masking the second key leaves the first value. */
	const uint8_t mask[] = {1, 0};
	a.key_mask = mask;
	cr_assert_eq(sora_cpu_attention(out, q, k, v, &a, &e), 0);
	cr_assert_float_eq(out[0], 2.0f, 1e-6);
	cr_assert_float_eq(out[1], 4.0f, 1e-6);
}

Test(ops, attention_against_float64)
{
	const int B = 2, H = 3, Tq = 7, Tk = 7, D = 8, HD = H * D;
	float *q = rand_buf((size_t)B * Tq * HD, 1), *k = rand_buf((size_t)B * Tk * HD, 1),
	      *v = rand_buf((size_t)B * Tk * HD, 1), *bias = rand_buf((size_t)H * Tq * Tk, 2);
	float *out = malloc((size_t)B * Tq * HD * sizeof *out);
	double *ref = malloc((size_t)B * Tq * HD * sizeof *ref);
	uint8_t mask[2 * 7] = {1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1};
	sora_err e = {0};
	const struct {
		const char *name;
		sora_attn_args a;
	} cases[] = {
	    {"attention plain, scale 1/sqrt(D)", {B, H, Tq, Tk, D, 0.35355339f, 0, NULL, NULL}},
	    {"attention T5 (bias, no scale)", {B, H, Tq, Tk, D, 1.0f, 0, bias, NULL}},
	    {"attention CLIP (causal)", {B, H, Tq, Tk, D, 0.35355339f, 1, NULL, NULL}},
	    {"attention key mask + bias", {B, H, Tq, Tk, D, 0.5f, 0, bias, mask}},
	    {"attention causal + key mask", {B, H, Tq, Tk, D, 0.5f, 1, NULL, mask}},
	};
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		attention_ref(ref, q, k, v, &cases[c].a);
		cr_assert_eq(sora_cpu_attention(out, q, k, v, &cases[c].a, &e), 0, "%s", e.msg);
		close_to(out, ref, (size_t)B * Tq * HD, 1e-6, cases[c].name);
	}
	free(q), free(k), free(v), free(bias), free(out), free(ref);
}

Test(ops, embedding)
{
	const float table[] = {0, 1, 10, 11, 20, 21};
	const int32_t ids[] = {2, 0, 2}, bad[] = {3};
	float y[6];
	sora_err e = {0};
	cr_assert_eq(sora_cpu_embedding(y, table, ids, 3, 2, 3, &e), 0);
	cr_assert(y[0] == 20 && y[1] == 21 && y[2] == 0 && y[5] == 21);
	cr_assert_lt(sora_cpu_embedding(y, table, bad, 1, 2, 3, &e), 0);
	cr_assert(strstr(e.msg, "id 3"), "%s", e.msg);
}

Test(ops, binary_broadcasting)
{
	/* a [2, 1, 3] + b [4, 1] → [2, 4, 3]: y[i, j, l] = a[i, 0, l] + b[j, 0] */
	const float a[] = {1, 2, 3, 4, 5, 6}, b[] = {10, 20, 30, 40};
	float y[24];
	sora_err e = {0};
	cr_assert_eq(
	    sora_cpu_binary(y, SORA_BIN_ADD, a, 3, (int64_t[]){2, 1, 3}, b, 2, (int64_t[]){4, 1}, &e), 0);
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 4; j++)
			for (int l = 0; l < 3; l++)
				cr_assert_eq(y[(i * 4 + j) * 3 + l], a[i * 3 + l] + b[j]);
	cr_assert_eq(sora_cpu_binary(y, SORA_BIN_MUL, a, 2, (int64_t[]){2, 3}, b, 0, NULL, &e), 0);
	cr_assert_eq(y[5], 60);
	cr_assert_eq(sora_cpu_binary(y, SORA_BIN_DIV, a, 1, (int64_t[]){6}, a, 1, (int64_t[]){6}, &e), 0);
	cr_assert_eq(y[3], 1);
	cr_assert_lt(sora_cpu_binary(y, SORA_BIN_SUB, a, 1, (int64_t[]){6}, b, 1, (int64_t[]){4}, &e), 0);
	cr_assert(strstr(e.msg, "do not match"), "%s", e.msg);
}

/* ---- the bf16 twins ----
 * A twin is its f32 op on widened bf16 inputs, rounded once to nearest even. Each test checks both
 * halves of that: the output is exactly the rounding of the f32 op run on the widened inputs, and it is
 * within BF16_TOL of the f32 op on the original, unrounded inputs: each input carries a bf16 rounding
 * (≤ 2^-8 relative) that the op passes on with a gain of about one at these ranges, plus the output's
 * own rounding (≤ 2^-8), so four roundings (2^-6) bound it in the |got − want| / (1 + |want|) metric. */
#define BF16_TOL (1.0 / 64)

/* One tensor argument in three forms: the f32 values, their bf16 bits, and those bits widened back. */
typedef struct bf16_arg {
	float *f, *w;
	uint16_t *h;
	size_t n;
} bf16_arg;

static bf16_arg bf16_rand(size_t n, float scale)
{
	bf16_arg a = {rand_buf(n, scale), malloc(n * sizeof(float)), malloc(n * sizeof(uint16_t)), n};
	for (size_t i = 0; i < n; i++)
		a.h[i] = sora_f32_to_bf16(a.f[i]), a.w[i] = sora_bf16_to_f32(a.h[i]);
	return a;
}

static void bf16_free(bf16_arg *a)
{
	free(a->f), free(a->w), free(a->h);
}

/* got: the twin's output; on_widened and on_f32: the f32 op's output on the widened and the original
 * inputs. */
static void bf16_matches(const uint16_t *got, const float *on_widened, const float *on_f32, size_t n,
			 const char *what)
{
	char rounded[128];
	float *g = malloc(n * sizeof *g), *r = malloc(n * sizeof *r);
	cr_assert(g && r);
	/* Widening is exact and one to one, so equal widened values are equal bf16 bits. */
	for (size_t i = 0; i < n; i++)
		g[i] = sora_bf16_to_f32(got[i]), r[i] = sora_bf16_to_f32(sora_f32_to_bf16(on_widened[i]));
	snprintf(rounded, sizeof rounded, "%s = the rounding of the f32 op", what);
	expect_cmp(rounded, cmp_exact(cmp_f32(g, n), cmp_f32(r, n)));
	expect_cmp(what, cmp_each(cmp_f32(g, n), cmp_f32(on_f32, n), BF16_TOL, BF16_TOL));
	free(g), free(r);
}

Test(ops_bf16, row_ops)
{
	const int N = 9, C = 300;
	const size_t n = (size_t)N * C;
	bf16_arg x = bf16_rand(n, 3), w = bf16_rand(C, 1), b = bf16_rand(C, 1);
	float *yw = malloc(n * sizeof *yw), *yf = malloc(n * sizeof *yf);
	uint16_t *y = malloc(n * sizeof *y);
	sora_err e = {0};

	cr_assert_eq(sora_cpu_layernorm_bf16(y, x.h, w.h, b.h, N, C, 1e-5f, &e), 0, "%s", e.msg);
	sora_cpu_layernorm(yw, x.w, w.w, b.w, N, C, 1e-5f, &e);
	sora_cpu_layernorm(yf, x.f, w.f, b.f, N, C, 1e-5f, &e);
	bf16_matches(y, yw, yf, n, "layernorm_bf16");
	cr_assert_eq(sora_cpu_layernorm_bf16(y, x.h, NULL, NULL, N, C, 1e-5f, &e), 0, "%s", e.msg);
	sora_cpu_layernorm(yw, x.w, NULL, NULL, N, C, 1e-5f, &e);
	sora_cpu_layernorm(yf, x.f, NULL, NULL, N, C, 1e-5f, &e);
	bf16_matches(y, yw, yf, n, "layernorm_bf16 without affine");
	cr_assert_eq(sora_cpu_rmsnorm_bf16(y, x.h, w.h, N, C, 1e-6f, &e), 0, "%s", e.msg);
	sora_cpu_rmsnorm(yw, x.w, w.w, N, C, 1e-6f, &e);
	sora_cpu_rmsnorm(yf, x.f, w.f, N, C, 1e-6f, &e);
	bf16_matches(y, yw, yf, n, "rmsnorm_bf16");
	cr_assert_eq(sora_cpu_softmax_bf16(y, x.h, N, C, &e), 0, "%s", e.msg);
	sora_cpu_softmax(yw, x.w, N, C, &e);
	sora_cpu_softmax(yf, x.f, N, C, &e);
	bf16_matches(y, yw, yf, n, "softmax_bf16");
	cr_assert_eq(sora_cpu_l2_normalize_bf16(y, x.h, N, C, 1e-12f, &e), 0, "%s", e.msg);
	sora_cpu_l2_normalize(yw, x.w, N, C, 1e-12f, &e);
	sora_cpu_l2_normalize(yf, x.f, N, C, 1e-12f, &e);
	bf16_matches(y, yw, yf, n, "l2_normalize_bf16");

	cr_assert_lt(sora_cpu_rmsnorm_bf16(y, x.h, w.h, -1, C, 1e-6f, &e), 0);
	cr_assert(strstr(e.msg, "rmsnorm: bad shape"), "%s", e.msg);
	bf16_free(&x), bf16_free(&w), bf16_free(&b);
	free(yw), free(yf), free(y);
}

Test(ops_bf16, activations)
{
	typedef int (*f32_op)(float *, const float *, size_t, sora_err *);
	typedef int (*bf16_op)(uint16_t *, const uint16_t *, size_t, sora_err *);
	const struct {
		const char *name;
		f32_op f;
		bf16_op h;
	} ops[] = {
	    {"gelu_bf16", sora_cpu_gelu, sora_cpu_gelu_bf16},
	    {"gelu_tanh_bf16", sora_cpu_gelu_tanh, sora_cpu_gelu_tanh_bf16},
	    {"quick_gelu_bf16", sora_cpu_quick_gelu, sora_cpu_quick_gelu_bf16},
	    {"silu_bf16", sora_cpu_silu, sora_cpu_silu_bf16},
	};
	const size_t n = 1000;
	bf16_arg x = bf16_rand(n, 6);
	float *yw = malloc(n * sizeof *yw), *yf = malloc(n * sizeof *yf);
	uint16_t *y = malloc(n * sizeof *y);
	sora_err e = {0};
	for (size_t o = 0; o < sizeof ops / sizeof *ops; o++) {
		cr_assert_eq(ops[o].h(y, x.h, n, &e), 0, "%s: %s", ops[o].name, e.msg);
		ops[o].f(yw, x.w, n, &e);
		ops[o].f(yf, x.f, n, &e);
		bf16_matches(y, yw, yf, n, ops[o].name);
	}
	cr_assert_eq(sora_cpu_silu_bf16(y, x.h, 0, &e), 0, "no elements is fine");
	bf16_free(&x);
	free(yw), free(yf), free(y);
}

Test(ops_bf16, attention)
{
	const int B = 2, H = 3, Tq = 7, Tk = 7, D = 8, HD = H * D;
	const size_t n = (size_t)B * Tq * HD;
	bf16_arg q = bf16_rand(n, 1), k = bf16_rand(n, 1), v = bf16_rand(n, 1);
	float *bias = rand_buf((size_t)H * Tq * Tk, 2), *yw = malloc(n * sizeof *yw),
	      *yf = malloc(n * sizeof *yf);
	uint16_t *y = malloc(n * sizeof *y);
	uint8_t mask[2 * 7] = {1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1};
	sora_err e = {0};
	const struct {
		const char *name;
		sora_attn_args a;
	} cases[] = {
	    {"attention_bf16 CLIP (causal)", {B, H, Tq, Tk, D, 0.35355339f, 1, NULL, NULL}},
	    {"attention_bf16 T5 (f32 bias, key mask, no scale)", {B, H, Tq, Tk, D, 1.0f, 0, bias, mask}},
	    {"attention_bf16 causal + key mask", {B, H, Tq, Tk, D, 0.5f, 1, NULL, mask}},
	};
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		cr_assert_eq(sora_cpu_attention_bf16(y, q.h, k.h, v.h, &cases[c].a, &e), 0, "%s", e.msg);
		sora_cpu_attention(yw, q.w, k.w, v.w, &cases[c].a, &e);
		sora_cpu_attention(yf, q.f, k.f, v.f, &cases[c].a, &e);
		bf16_matches(y, yw, yf, n, cases[c].name);
	}
	sora_attn_args bad = cases[0].a;
	bad.D = 0;
	cr_assert_lt(sora_cpu_attention_bf16(y, q.h, k.h, v.h, &bad, &e), 0);
	cr_assert(strstr(e.msg, "attention: bad sizes"), "%s", e.msg);
	bf16_free(&q), bf16_free(&k), bf16_free(&v);
	free(bias), free(yw), free(yf), free(y);
}

Test(ops_bf16, binary)
{
	/* a [2, 1, 3] op b [4, 1] → [2, 4, 3]; b kept away from 0 so that the division is well conditioned */
	const int64_t as[] = {2, 1, 3}, bs[] = {4, 1};
	bf16_arg a = bf16_rand(6, 2), b = bf16_rand(4, 0.5f);
	for (int i = 0; i < 4; i++) {
		b.f[i] += b.f[i] < 0 ? -1.0f : 1.0f;
		b.h[i] = sora_f32_to_bf16(b.f[i]), b.w[i] = sora_bf16_to_f32(b.h[i]);
	}
	const char *names[] = {"binary_bf16 add", "binary_bf16 sub", "binary_bf16 mul", "binary_bf16 div"};
	float yw[24], yf[24];
	uint16_t y[24];
	sora_err e = {0};
	for (int op = SORA_BIN_ADD; op <= SORA_BIN_DIV; op++) {
		cr_assert_eq(sora_cpu_binary_bf16(y, (sora_binop)op, a.h, 3, as, b.h, 2, bs, &e), 0, "%s",
			     e.msg);
		sora_cpu_binary(yw, (sora_binop)op, a.w, 3, as, b.w, 2, bs, &e);
		sora_cpu_binary(yf, (sora_binop)op, a.f, 3, as, b.f, 2, bs, &e);
		bf16_matches(y, yw, yf, 24, names[op]);
	}
	cr_assert_lt(
	    sora_cpu_binary_bf16(y, SORA_BIN_ADD, a.h, 1, (int64_t[]){6}, b.h, 1, (int64_t[]){4}, &e), 0);
	cr_assert(strstr(e.msg, "do not match"), "%s", e.msg);
	bf16_free(&a), bf16_free(&b);
}

Test(ops_bf16, embedding)
{
	/* Rows are moved, not computed: the bits come out unchanged. */
	const uint16_t table[] = {0x3f80, 0x4000, 0xc040, 0x7fc0, 0x0001, 0xff80};
	const int32_t ids[] = {2, 0, 1}, bad[] = {-1};
	uint16_t y[6];
	sora_err e = {0};
	cr_assert_eq(sora_cpu_embedding_bf16(y, table, ids, 3, 2, 3, &e), 0, "%s", e.msg);
	cr_assert(y[0] == 0x0001 && y[1] == 0xff80 && y[2] == 0x3f80 && y[5] == 0x7fc0);
	cr_assert_lt(sora_cpu_embedding_bf16(y, table, bad, 1, 2, 3, &e), 0);
	cr_assert(strstr(e.msg, "id -1"), "%s", e.msg);
}
