/* The CPU video ops against hand-worked cases and float64 references written out loop by loop from the
 * PyTorch definitions (F.pad replicate + Conv3d, GroupNorm, interpolate nearest, masked softmax). */
#include "expect.h"
#include "nn/conv3d_direct.h"
#include "nn/conv3d_winograd.h"
#include "nn/ops_video.h"

#include <math.h>
#include <omp.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static float *rand_buf(size_t n)
{
	float *p = malloc(n * sizeof *p);
	cr_assert(p);
	for (size_t i = 0; i < n; i++) {
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		p[i] = (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
	}
	return p;
}

static int clampi(int v, int hi)
{
	return v < 0 ? 0 : v > hi ? hi : v;
}

/* One output value of the causal conv3d in float64: pad by clamping the input index, then the sum. */
static double conv_at(const sora_conv3d_args *a, const float *x, const float *w, const float *b, int co,
		      int to, int ho, int wo)
{
	const int k = a->k, p = k / 2;
	double s = b[co];
	for (int ci = 0; ci < a->cin; ci++)
		for (int kt = 0; kt < k; kt++)
			for (int kh = 0; kh < k; kh++)
				for (int kw = 0; kw < k; kw++) {
					const int ti =
					    clampi(to * a->st + kt - (a->no_front_pad ? 0 : k - 1), a->T - 1);
					const int hi = clampi(ho * a->sh + kh - p, a->H - 1);
					const int wi = clampi(wo * a->sw + kw - p, a->W - 1);
					const size_t wk =
					    ((((size_t)co * a->cin + ci) * k + kt) * k + kh) * k + kw;
					s += (double)w[wk] *
					     x[(((size_t)ci * a->T + ti) * a->H + hi) * a->W + wi];
				}
	return s;
}

typedef int conv_fn(float *y, const float *x, const float *w, const float *b, const sora_conv3d_args *a,
		    sora_err *e);

static void conv_case_with(conv_fn *conv, sora_conv3d_args a)
{
	sora_err e = {0};
	int To, Ho, Wo;
	cr_assert_eq(sora_conv3d_out_size(&a, &To, &Ho, &Wo, &e), 0, "%s", e.msg);
	const int k = a.k;
	const size_t nx = (size_t)a.cin * a.T * a.H * a.W, nw = (size_t)a.cout * a.cin * k * k * k;
	const size_t ny = (size_t)a.cout * To * Ho * Wo;
	float *x = rand_buf(nx), *w = rand_buf(nw), *b = rand_buf((size_t)a.cout),
	      *y = malloc(ny * sizeof *y);
	double *ref = malloc(ny * sizeof *ref);
	cr_assert(y && ref);
	for (int co = 0; co < a.cout; co++)
		for (int to = 0; to < To; to++)
			for (int ho = 0; ho < Ho; ho++)
				for (int wo = 0; wo < Wo; wo++)
					ref[(((size_t)co * To + to) * Ho + ho) * Wo + wo] =
					    conv_at(&a, x, w, b, co, to, ho, wo);
	cr_assert_eq(conv(y, x, w, b, &a, &e), 0, "%s", e.msg);
	char what[128];
	snprintf(what, sizeof what, "conv3d cin %d cout %d %dx%dx%d k %d strides %d,%d,%d", a.cin, a.cout,
		 a.T, a.H, a.W, k, a.st, a.sh, a.sw);
	expect_cmp(what, cmp_rel(cmp_f32(y, ny), cmp_f64(ref, ny), 1e-5));
	free(x), free(w), free(b), free(y), free(ref);
}

static void conv_case(sora_conv3d_args a)
{
	conv_case_with(sora_cpu_causal_conv3d, a);
}

Test(ops_video, conv3d_vs_f64)
{
	conv_case((sora_conv3d_args){
	    .cin = 5, .cout = 7, .T = 5, .H = 6, .W = 7, .k = 3, .st = 1, .sh = 1, .sw = 1});
	conv_case((sora_conv3d_args){
	    .cin = 4, .cout = 3, .T = 9, .H = 8, .W = 10, .k = 3, .st = 1, .sh = 2, .sw = 2});
	conv_case((sora_conv3d_args){
	    .cin = 3, .cout = 4, .T = 9, .H = 9, .W = 7, .k = 3, .st = 2, .sh = 2, .sw = 2});
	conv_case((sora_conv3d_args){
	    .cin = 6, .cout = 5, .T = 3, .H = 4, .W = 5, .k = 1, .st = 1, .sh = 1, .sw = 1});
	conv_case((sora_conv3d_args){
	    .cin = 2, .cout = 3, .T = 1, .H = 1, .W = 1, .k = 3, .st = 1, .sh = 1, .sw = 1});
	/* Unequal spatial strides take the im2col + sgemm path on every CPU; large enough for several bands.
	 */
	conv_case((sora_conv3d_args){
	    .cin = 64, .cout = 4, .T = 3, .H = 128, .W = 64, .k = 3, .st = 1, .sh = 2, .sw = 1});
	conv_case((sora_conv3d_args){
	    .cin = 3, .cout = 5, .T = 5, .H = 7, .W = 10, .k = 3, .st = 2, .sh = 1, .sw = 2});
}

static void skip_without_direct_path(void)
{
	const sora_conv3d_args probe = {.k = 3, .sh = 1, .sw = 1};
	if (!sora_conv3d_direct_applies(&probe))
		cr_skip_test("no AVX-512 on this CPU: the direct conv3d path is not used here");
}

/* The AVX-512 direct path on the shapes that stress its edges: output channels not a multiple of its 8, input
 * channels over its chunk of 64, frames narrower than one 48-position tile, odd sizes, spatial stride 2
 * (phase planes), temporal stride 2, no front padding (streamed chunks), k 1 and k 5, and the VAE's widths
 * (multiples of 16), strided and not. */
Test(ops_video, conv3d_direct_vs_f64)
{
	skip_without_direct_path();
	const sora_conv3d_args cases[] = {
	    {.cin = 5, .cout = 7, .T = 5, .H = 6, .W = 7, .k = 3, .st = 1, .sh = 1, .sw = 1},
	    {.cin = 70, .cout = 13, .T = 3, .H = 9, .W = 11, .k = 3, .st = 1, .sh = 1, .sw = 1},
	    {.cin = 3, .cout = 17, .T = 2, .H = 1, .W = 1, .k = 3, .st = 1, .sh = 1, .sw = 1},
	    {.cin = 4, .cout = 9, .T = 9, .H = 8, .W = 10, .k = 3, .st = 1, .sh = 2, .sw = 2},
	    {.cin = 3, .cout = 8, .T = 9, .H = 9, .W = 7, .k = 3, .st = 2, .sh = 2, .sw = 2},
	    {.cin = 6, .cout = 5, .T = 7, .H = 5, .W = 6, .k = 3, .st = 2, .sh = 1, .sw = 1},
	    {.cin = 4,
	     .cout = 6,
	     .T = 6,
	     .H = 5,
	     .W = 9,
	     .k = 3,
	     .st = 1,
	     .sh = 1,
	     .sw = 1,
	     .no_front_pad = 1},
	    {.cin = 6, .cout = 11, .T = 3, .H = 4, .W = 5, .k = 1, .st = 1, .sh = 1, .sw = 1},
	    {.cin = 6, .cout = 11, .T = 3, .H = 7, .W = 5, .k = 1, .st = 1, .sh = 2, .sw = 2},
	    {.cin = 2, .cout = 3, .T = 4, .H = 7, .W = 6, .k = 5, .st = 1, .sh = 1, .sw = 1},
	    {.cin = 16, .cout = 24, .T = 2, .H = 40, .W = 50, .k = 3, .st = 1, .sh = 1, .sw = 1},
	    {.cin = 5, .cout = 9, .T = 3, .H = 4, .W = 32, .k = 3, .st = 1, .sh = 1, .sw = 1},
	    {.cin = 7, .cout = 16, .T = 2, .H = 7, .W = 16, .k = 3, .st = 1, .sh = 1, .sw = 1},
	    {.cin = 3, .cout = 10, .T = 5, .H = 6, .W = 32, .k = 3, .st = 2, .sh = 2, .sw = 2},
	    {.cin = 66, .cout = 8, .T = 3, .H = 5, .W = 48, .k = 3, .st = 1, .sh = 1, .sw = 1},
	    {.cin = 4, .cout = 5, .T = 2, .H = 3, .W = 16, .k = 1, .st = 1, .sh = 1, .sw = 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		conv_case_with(sora_conv3d_direct, cases[i]);
}

static size_t test_window; /* floats */

static int direct_small_window(float *y, const float *x, const float *w, const float *b,
			       const sora_conv3d_args *a, sora_err *e)
{
	return sora_conv3d_direct_window(y, x, w, b, a, test_window, e);
}

/* Runs small_window (a path with test_window floats of window) on a with windows of 1, 2 and 3 output frames'
 * input frames of slot floats each, so that the passes wrap around the window's slots. */
static void in_passes(conv_fn *small_window, const sora_conv3d_args *a, size_t slot)
{
	for (int G = 1; G <= 3; G++) {
		test_window = ((size_t)(G - 1) * a->st + 3) * slot;
		conv_case_with(small_window, *a);
	}
}

/* Windows too small for the whole clip: passes of 1, 2 and 3 output frames whose input frames wrap around
 * the window's slots, with temporal strides 1 and 2 and without front padding. */
Test(ops_video, conv3d_direct_in_passes)
{
	skip_without_direct_path();
	const sora_conv3d_args cases[] = {
	    {.cin = 5, .cout = 9, .T = 11, .H = 6, .W = 7, .k = 3, .st = 1, .sh = 1, .sw = 1},
	    {.cin = 4, .cout = 8, .T = 13, .H = 9, .W = 8, .k = 3, .st = 2, .sh = 2, .sw = 2},
	    {.cin = 3,
	     .cout = 7,
	     .T = 10,
	     .H = 5,
	     .W = 6,
	     .k = 3,
	     .st = 1,
	     .sh = 1,
	     .sw = 1,
	     .no_front_pad = 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const sora_conv3d_args *a = &cases[i];
		const int s = a->sh; /* a padded frame: s·s phase planes of ⌈(H + 2)/s⌉ × ⌈(W + 2)/s⌉ */
		in_passes(direct_small_window, a,
			  (size_t)a->cin * s * s * ((a->H + 1 + s) / s) * ((a->W + 1 + s) / s));
	}
}

/* Each tile is summed by one thread in one order: the output does not depend on the thread count. */
Test(ops_video, conv3d_thread_count_invariant)
{
	sora_conv3d_args a = {
	    .cin = 20, .cout = 19, .T = 5, .H = 12, .W = 21, .k = 3, .st = 1, .sh = 1, .sw = 1};
	sora_err e = {0};
	const size_t nx = (size_t)a.cin * a.T * a.H * a.W, nw = (size_t)a.cout * a.cin * 27;
	const size_t ny = (size_t)a.cout * a.T * a.H * a.W;
	float *x = rand_buf(nx), *w = rand_buf(nw), *b = rand_buf((size_t)a.cout),
	      *y1 = malloc(ny * sizeof *y1), *y4 = malloc(ny * sizeof *y4);
	cr_assert(y1 && y4);
	const int saved = omp_get_max_threads();
	omp_set_num_threads(1);
	cr_assert_eq(sora_cpu_causal_conv3d(y1, x, w, b, &a, &e), 0, "%s", e.msg);
	omp_set_num_threads(4);
	cr_assert_eq(sora_cpu_causal_conv3d(y4, x, w, b, &a, &e), 0, "%s", e.msg);
	omp_set_num_threads(saved);
	expect_cmp("4 threads vs 1", cmp_exact(cmp_f32(y4, ny), cmp_f32(y1, ny)));
	free(x), free(w), free(b), free(y1), free(y4);
}

/* One tap at the front corner of the kernel reads x[t−2, h−1, w−1], clamped: replicate padding. */
Test(ops_video, conv3d_replicate_padding)
{
	sora_err e = {0};
	sora_conv3d_args a = {.cin = 1, .cout = 1, .T = 3, .H = 3, .W = 3, .k = 3, .st = 1, .sh = 1, .sw = 1};
	float x[27], w[27] = {1}, y[27];
	for (int i = 0; i < 27; i++)
		x[i] = (float)i;
	cr_assert_eq(sora_cpu_causal_conv3d(y, x, w, NULL, &a, &e), 0, "%s", e.msg);
	for (int t = 0; t < 3; t++)
		for (int h = 0; h < 3; h++)
			for (int v = 0; v < 3; v++)
				cr_expect_eq(
				    y[t * 9 + h * 3 + v],
				    x[clampi(t - 2, 2) * 9 + clampi(h - 1, 2) * 3 + clampi(v - 1, 2)],
				    "y[%d,%d,%d]", t, h, v);
	a.k = 4;
	cr_expect_eq(sora_cpu_causal_conv3d(y, x, w, NULL, &a, &e), -1);
	cr_expect(strstr(e.msg, "conv3d"), "%s", e.msg);
}

Test(ops_video, group_norm_vs_f64)
{
	sora_err e = {0};
	const int C = 12, G = 3;
	const int64_t S = 70;
	const size_t n = (size_t)C * S;
	float *x = rand_buf(n), *w = rand_buf(C), *b = rand_buf(C), *y = malloc(n * sizeof *y);
	double *ref = malloc(n * sizeof *ref);
	for (size_t i = 0; i < n; i++)
		x[i] = x[i] * 3 + 5; /* an offset mean: the two-pass variance matters */
	for (int silu = 0; silu < 2; silu++) {
		for (int g = 0; g < G; g++) {
			const size_t cnt = (size_t)(C / G) * S, off = (size_t)g * cnt;
			double m = 0, v = 0;
			for (size_t i = 0; i < cnt; i++)
				m += x[off + i];
			m /= cnt;
			for (size_t i = 0; i < cnt; i++)
				v += (x[off + i] - m) * (x[off + i] - m);
			v /= cnt;
			for (size_t i = 0; i < cnt; i++) {
				int c = (int)((off + i) / S);
				double r = (x[off + i] - m) / sqrt(v + 1e-6) * w[c] + b[c];
				ref[off + i] = silu ? r / (1 + exp(-r)) : r;
			}
		}
		cr_assert_eq(sora_cpu_group_norm(y, x, w, b, C, G, S, 1e-6f, silu, &e), 0, "%s", e.msg);
		expect_cmp(silu ? "group_norm + silu" : "group_norm",
			   cmp_rel(cmp_f32(y, n), cmp_f64(ref, n), 1e-5));
	}
	cr_expect_eq(sora_cpu_group_norm(y, x, w, b, C, 5, S, 1e-6f, 0, &e), -1);
	cr_expect(strstr(e.msg, "groups"), "%s", e.msg);
	free(x), free(w), free(b), free(y), free(ref);
}

Test(ops_video, group_norm_constant_gives_bias)
{
	sora_err e = {0};
	float x[8] = {3, 3, 3, 3, 3, 3, 3, 3}, w[2] = {2, 2}, b[2] = {0.5f, -1}, y[8];
	cr_assert_eq(sora_cpu_group_norm(y, x, w, b, 2, 1, 4, 1e-6f, 0, &e), 0, "%s", e.msg);
	for (int i = 0; i < 8; i++)
		cr_expect_float_eq(y[i], b[i / 4], 1e-6, "y[%d] = %g", i, y[i]);
}

/* Frames [a, b] with factors (2, 2, 2) become [a, b, b], each pixel a 2×2 block. */
Test(ops_video, upsample_first_frame_spatial_only)
{
	sora_err e = {0};
	float x[2 * 2 * 1] = {1, 2, 3, 4}; /* C 1, T 2, H 2, W 1 */
	float y[3 * 4 * 2];
	cr_assert_eq(sora_cpu_upsample_causal(y, x, 1, 2, 2, 1, 2, 2, 2, &e), 0, "%s", e.msg);
	static const float want[24] = {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3,
				       4, 4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4};
	for (int i = 0; i < 24; i++)
		cr_expect_eq(y[i], want[i], "y[%d] = %g, want %g", i, y[i], want[i]);
	float z[1 * 1 * 4 * 2];
	cr_assert_eq(sora_cpu_upsample_causal(z, x, 1, 1, 2, 1, 2, 2, 2, &e), 0, "%s", e.msg); /* one frame */
	for (int i = 0; i < 8; i++)
		cr_expect_eq(z[i], i < 4 ? 1 : 2);
}

Test(ops_video, transpose)
{
	sora_err e = {0};
	const size_t n = 1665; /* 37 × 45 */
	float *x = rand_buf(n), *y = malloc(n * sizeof *y);
	cr_assert_eq(sora_cpu_transpose(y, x, 37, 45, &e), 0, "%s", e.msg);
	for (int i = 0; i < 37; i++)
		for (int j = 0; j < 45; j++)
			cr_expect_eq(y[j * 37 + i], x[i * 45 + j]);
	free(x), free(y);
}

Test(ops_video, frame_causal_attention_vs_f64)
{
	sora_err e = {0};
	const int F = 3, HW = 4, D = 8, L = F * HW;
	const float scale = 1.0f / sqrtf((float)D);
	float *q = rand_buf((size_t)L * D), *k = rand_buf((size_t)L * D), *v = rand_buf((size_t)L * D);
	float *o = malloc((size_t)L * D * sizeof *o);
	double ref[12 * 8], s[12];
	for (int i = 0; i < L; i++) {
		const int nk = (i / HW + 1) * HW; /* keys of frames 0..f(i) */
		double mx = -1e300, sum = 0;
		for (int j = 0; j < nk; j++) {
			s[j] = 0;
			for (int d = 0; d < D; d++)
				s[j] += (double)q[i * D + d] * k[j * D + d];
			s[j] *= scale;
			mx = s[j] > mx ? s[j] : mx;
		}
		for (int j = 0; j < nk; j++)
			sum += s[j] = exp(s[j] - mx);
		for (int d = 0; d < D; d++) {
			double a = 0;
			for (int j = 0; j < nk; j++)
				a += s[j] / sum * v[j * D + d];
			ref[i * D + d] = a;
		}
	}
	cr_assert_eq(sora_cpu_frame_causal_attention(o, q, k, v, F, HW, D, scale, &e), 0, "%s", e.msg);
	expect_cmp("frame_causal_attention",
		   cmp_rel(cmp_f32(o, (size_t)L * D), cmp_f64(ref, (size_t)L * D), 1e-5));
	/* one token per frame: the first frame sees only itself */
	cr_assert_eq(sora_cpu_frame_causal_attention(o, q, k, v, 2, 1, D, scale, &e), 0, "%s", e.msg);
	for (int d = 0; d < D; d++)
		cr_expect_float_eq(o[d], v[d], 1e-6);
	free(q), free(k), free(v), free(o);
}

static void skip_without_winograd_path(void)
{
	const sora_conv3d_args probe = {.cin = 16, .k = 3, .st = 1, .sh = 1, .sw = 1};
	if (!sora_conv3d_winograd_applies(&probe))
		cr_skip_test("no AVX-512 on this CPU: the Winograd conv3d path is not used here");
}

/* The Winograd path on the shapes that stress its edges: odd heights and widths (2×2 blocks cut by the
 * frame), tile rows not a multiple of its 16-tile vectors, one tile, output channels not a multiple of 8 and
 * more than a tile's 8 blocks of them, input channels over a sweep's 64 rows, no front padding, and the VAE's
 * widths. */
Test(ops_video, conv3d_winograd_vs_f64)
{
	skip_without_winograd_path();
	const sora_conv3d_args cases[] = {
	    {.cin = 16, .cout = 7, .T = 5, .H = 6, .W = 7, .k = 3, .st = 1, .sh = 1, .sw = 1},
	    {.cin = 32, .cout = 13, .T = 3, .H = 9, .W = 11, .k = 3, .st = 1, .sh = 1, .sw = 1},
	    {.cin = 16, .cout = 9, .T = 2, .H = 1, .W = 1, .k = 3, .st = 1, .sh = 1, .sw = 1},
	    {.cin = 16, .cout = 70, .T = 2, .H = 2, .W = 3, .k = 3, .st = 1, .sh = 1, .sw = 1},
	    {.cin = 48, .cout = 24, .T = 2, .H = 40, .W = 50, .k = 3, .st = 1, .sh = 1, .sw = 1},
	    {.cin = 16, .cout = 8, .T = 3, .H = 8, .W = 64, .k = 3, .st = 1, .sh = 1, .sw = 1},
	    {.cin = 32, .cout = 16, .T = 3, .H = 33, .W = 32, .k = 3, .st = 1, .sh = 1, .sw = 1},
	    {.cin = 16,
	     .cout = 6,
	     .T = 6,
	     .H = 5,
	     .W = 9,
	     .k = 3,
	     .st = 1,
	     .sh = 1,
	     .sw = 1,
	     .no_front_pad = 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		conv_case_with(sora_conv3d_winograd, cases[i]);
}

static int winograd_small_window(float *y, const float *x, const float *w, const float *b,
				 const sora_conv3d_args *a, sora_err *e)
{
	return sora_conv3d_winograd_window(y, x, w, b, a, test_window, e);
}

/* Windows too small for the whole clip: passes of 1, 2 and 3 output frames whose transformed input frames
 * wrap around the window's slots, with and without front padding. */
Test(ops_video, conv3d_winograd_in_passes)
{
	skip_without_winograd_path();
	const sora_conv3d_args cases[] = {
	    {.cin = 16, .cout = 9, .T = 11, .H = 6, .W = 7, .k = 3, .st = 1, .sh = 1, .sw = 1},
	    {.cin = 16,
	     .cout = 7,
	     .T = 10,
	     .H = 5,
	     .W = 6,
	     .k = 3,
	     .st = 1,
	     .sh = 1,
	     .sw = 1,
	     .no_front_pad = 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		in_passes(winograd_small_window, &cases[i], sora_conv3d_winograd_frame_floats(&cases[i]));
}
