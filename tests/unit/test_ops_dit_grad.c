/* The backward of the MMDiT ops (nn/ops_dit_grad.h) against central differences of a float64 forward
 * written here: for each op, a loss L = Σ g·y(inputs) with a random upstream gradient g, differenced in
 * double with respect to every input element, is the gradient the f32 backward must give. The gradient
 * buffers start at random non-zero values and the comparison is on got − start, so the accumulation (+=)
 * is checked with the values; the modulation gradients go into a whole [B, 6C] buffer, whose other rows
 * (a difference of exactly 0) must stay as they were.
 *
 * The bound, TOL_GRAD = 1e-5 of the largest reference gradient: each f32 gradient is a handful of f32
 * roundings (unit 2^-24 = 6e-8) of values at most a few times the scale, plus tanhf's 1-2 ulp, so its
 * error is ~1e-6 at most (measured: 2.4e-7 for gelu, 1e-7 for adaln, rope and gated_add); the central
 * differences add h²/6·|L'''| + 1e-16·|L|/h ~ 1e-10 at h = 1e-5 (1.2e-10 measured on add_cols, whose f32
 * result is exact). 1e-5 leaves a 40x margin over what was measured and refuses a dropped term (LayerNorm's
 * n·mean(g·n), gelu's second half), a sign, an = for a +=, or dshift's sum off by 1e-4. */
#include "expect.h"
#include "nn/ops_dit.h"
#include "nn/ops_dit_grad.h"

#include <math.h>
#include <omp.h>

#define TOL_GRAD 1e-5
#define FD_H     1e-5 /* the central-difference step (see above) */

/* One shape for the modulated ops: B items of L tokens of C channels, the modulation Linear's output
 * [B, 6C] holding shift, scale and gate at the offsets of a block's second triple. */
enum { B = 2, L = 3, C = 8, MS = 6 * C, NX = B * L * C, NM = B * MS };
enum { SHIFT = 3 * C, SCALE = 4 * C, GATE = 5 * C };
#define EPS 1e-6f
/* RoPE: H heads of D. */
enum { H = 2, D = 8, NR = B * L * H * D, NT = B * L * D / 2 };
/* The column ops: ROWS rows of COLS columns, inside rows of LDX (x), LDG (g) and LDD (dx) floats. */
enum { ROWS = 4, COLS = 5, LDX = 7, LDG = 6, LDD = 9 };
enum { NCX = ROWS * LDX, NCG = ROWS * LDG, NCD = ROWS * LDD }; /* the buffers x, g and dx */

/* n floats uniform in [lo, hi) from seed (an LCG: the same values on every run). */
static void fill(float *p, size_t n, float lo, float hi, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = lo + (hi - lo) * (float)((seed >> 8) & 0xffff) / 65536.0f;
	}
}

static void widen(double *d, const float *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		d[i] = s[i];
}

typedef double (*loss_fn)(const void *ctx);

/* grad[i] = (L(v[i] + h) − L(v[i] − h)) / 2h for each of the n inputs v, one of ctx's arrays. */
static void fd(double *grad, double *v, size_t n, loss_fn loss, const void *ctx)
{
	for (size_t i = 0; i < n; i++) {
		const double v0 = v[i];
		v[i] = v0 + FD_H;
		const double lp = loss(ctx);
		v[i] = v0 - FD_H;
		const double lm = loss(ctx);
		v[i] = v0;
		grad[i] = (lp - lm) / (2 * FD_H);
	}
}

/* What the op added, got − start (in f32: half an ulp of the difference), within TOL_GRAD of ref. */
static void expect_grad(const char *what, const float *got, const float *start, const double *ref, size_t n)
{
	float *d = malloc(n * sizeof *d);
	cr_assert(d);
	for (size_t i = 0; i < n; i++)
		d[i] = got[i] - start[i];
	expect_cmp(what, cmp_rel(cmp_f32(d, n), cmp_f64(ref, n), TOL_GRAD));
	free(d);
}

typedef struct adaln_case {
	double x[NX], mod[NM], g[NX];
} adaln_case;

/* Σ g·((1 + scale)·(x − mean)/sqrt(var + eps) + shift), all in double. */
static double adaln_loss(const void *ctx)
{
	const adaln_case *k = ctx;
	double sum = 0;
	for (int i = 0; i < B * L; i++) {
		const double *xi = k->x + (size_t)i * C, *m = k->mod + (size_t)(i / L) * MS; /* [C], [6C] */
		double mean = 0, var = 0;
		for (int j = 0; j < C; j++)
			mean += xi[j] / C;
		for (int j = 0; j < C; j++)
			var += (xi[j] - mean) * (xi[j] - mean) / C;
		const double r = 1 / sqrt(var + (double)EPS);
		for (int j = 0; j < C; j++)
			sum += k->g[(size_t)i * C + j] *
			       ((1 + m[SCALE + j]) * (xi[j] - mean) * r + m[SHIFT + j]);
	}
	return sum;
}

Test(ops_dit_grad, adaln)
{
	static adaln_case k;
	float x[NX], mod[NM], g[NX], dx0[NX], dmod0[NM], dx[NX], dmod[NM];
	double rx[NX], rmod[NM];
	sora_err e = {0};
	fill(x, NX, -2, 2, 1), fill(mod, NM, -1, 1, 2), fill(g, NX, -1, 1, 3);
	fill(dx0, NX, -1, 1, 4), fill(dmod0, NM, -1, 1, 5);
	widen(k.x, x, NX), widen(k.mod, mod, NM), widen(k.g, g, NX);
	fd(rx, k.x, NX, adaln_loss, &k);
	fd(rmod, k.mod, NM, adaln_loss, &k);

	memcpy(dx, dx0, sizeof dx), memcpy(dmod, dmod0, sizeof dmod);
	cr_assert_eq(
	    sora_cpu_adaln_backward(dx, dmod + SHIFT, dmod + SCALE, g, x, mod + SCALE, B, L, C, MS, EPS, &e),
	    0, "%s", e.msg);
	expect_grad("adaln dx", dx, dx0, rx, NX);
	expect_grad("adaln dmod (dshift, dscale rows; the rest unchanged)", dmod, dmod0, rmod, NM);

	/* dx alone: the path without the modulation sums. */
	memcpy(dx, dx0, sizeof dx);
	cr_assert_eq(sora_cpu_adaln_backward(dx, NULL, NULL, g, x, mod + SCALE, B, L, C, MS, EPS, &e), 0,
		     "%s", e.msg);
	expect_grad("adaln dx alone", dx, dx0, rx, NX);
	/* dscale alone: dx and dshift skipped, so the shift rows keep their start values. */
	memcpy(dmod, dmod0, sizeof dmod);
	for (int b = 0; b < B; b++)
		for (int j = 0; j < C; j++)
			rmod[b * MS + SHIFT + j] = 0;
	cr_assert_eq(
	    sora_cpu_adaln_backward(NULL, NULL, dmod + SCALE, g, x, mod + SCALE, B, L, C, MS, EPS, &e), 0,
	    "%s", e.msg);
	expect_grad("adaln dscale alone", dmod, dmod0, rmod, NM);
}

typedef struct gated_case {
	double y0[NX], x[NX], mod[NM], g[NX];
} gated_case;

/* Σ g·(y0 + gate·x): the whole in-place update y += gate·x. */
static double gated_loss(const void *ctx)
{
	const gated_case *k = ctx;
	double sum = 0;
	for (int i = 0; i < NX; i++)
		sum += k->g[i] * (k->y0[i] + k->mod[(size_t)(i / (L * C)) * MS + GATE + i % C] * k->x[i]);
	return sum;
}

Test(ops_dit_grad, gated_add)
{
	static gated_case k;
	float y0[NX], x[NX], mod[NM], g[NX], dx0[NX], dmod0[NM], dx[NX], dmod[NM];
	double ry0[NX], rx[NX], rmod[NM];
	sora_err e = {0};
	fill(y0, NX, -1, 1, 11), fill(x, NX, -2, 2, 12), fill(mod, NM, -1, 1, 13), fill(g, NX, -1, 1, 14);
	fill(dx0, NX, -1, 1, 15), fill(dmod0, NM, -1, 1, 16);
	widen(k.y0, y0, NX), widen(k.x, x, NX), widen(k.mod, mod, NM), widen(k.g, g, NX);
	fd(ry0, k.y0, NX, gated_loss, &k);
	fd(rx, k.x, NX, gated_loss, &k);
	fd(rmod, k.mod, NM, gated_loss, &k);
	/* y's own gradient is dy unchanged, which the caller keeps (the op has no output for it). */
	expect_cmp("gated_add dy0 = dy", cmp_rel(cmp_f32(g, NX), cmp_f64(ry0, NX), TOL_GRAD));

	memcpy(dx, dx0, sizeof dx), memcpy(dmod, dmod0, sizeof dmod);
	cr_assert_eq(sora_cpu_gated_add_backward(dx, dmod + GATE, g, x, mod + GATE, B, L, C, MS, &e), 0, "%s",
		     e.msg);
	expect_grad("gated_add dx", dx, dx0, rx, NX);
	expect_grad("gated_add dmod (dgate rows; the rest unchanged)", dmod, dmod0, rmod, NM);

	/* Each output alone. */
	memcpy(dx, dx0, sizeof dx), memcpy(dmod, dmod0, sizeof dmod);
	cr_assert_eq(sora_cpu_gated_add_backward(dx, NULL, g, x, mod + GATE, B, L, C, MS, &e), 0, "%s",
		     e.msg);
	cr_assert_eq(sora_cpu_gated_add_backward(NULL, dmod + GATE, g, x, mod + GATE, B, L, C, MS, &e), 0,
		     "%s", e.msg);
	expect_grad("gated_add dx alone", dx, dx0, rx, NX);
	expect_grad("gated_add dgate alone", dmod, dmod0, rmod, NM);
}

typedef struct rope_case {
	double x[NR], g[NR];
	const float *c, *s; /* the tables [B, L, D/2], constants of the loss */
	int inter;
} rope_case;

/* Σ g·rope(x), the rotation in double with the f32 tables' values. */
static double rope_loss(const void *ctx)
{
	const rope_case *k = ctx;
	double sum = 0;
	for (int r = 0; r < B * L * H; r++) {
		const float *c = k->c + (size_t)(r / H) * (D / 2), *s = k->s + (size_t)(r / H) * (D / 2);
		for (int j = 0; j < D / 2; j++) {
			const int i0 = r * D + (k->inter ? 2 * j : j),
				  i1 = r * D + (k->inter ? 2 * j + 1 : j + D / 2);
			sum += k->g[i0] * (k->x[i0] * c[j] - k->x[i1] * s[j]) +
			       k->g[i1] * (k->x[i1] * c[j] + k->x[i0] * s[j]);
		}
	}
	return sum;
}

/* The tables of random angles: any (cos θ, sin θ) pairs, f32 as rope_table writes them. */
static void rope_tables(float *c, float *s)
{
	float ang[NT];
	fill(ang, NT, -4, 4, 21);
	for (int i = 0; i < NT; i++)
		c[i] = cosf(ang[i]), s[i] = sinf(ang[i]);
}

Test(ops_dit_grad, rope_apply)
{
	static rope_case k;
	float c[NT], s[NT], x[NR], g[NR], dx[NR], y[NR];
	double rx[NR];
	sora_err e = {0};
	rope_tables(c, s);
	fill(x, NR, -1, 1, 22), fill(g, NR, -1, 1, 23);
	widen(k.x, x, NR), widen(k.g, g, NR);
	k.c = c, k.s = s;
	for (int inter = 0; inter < 2; inter++) {
		const char *lay = inter ? "interleaved" : "half-split";
		char what[64];
		k.inter = inter;
		fd(rx, k.x, NR, rope_loss, &k);
		/* In place: dx holds dy and becomes the gradient (no accumulation in this op). */
		memcpy(dx, g, sizeof dx);
		cr_assert_eq(sora_cpu_rope_apply_backward(dx, c, s, B, L, H, D, inter, &e), 0, "%s", e.msg);
		snprintf(what, sizeof what, "rope_apply %s dx", lay);
		expect_cmp(what, cmp_rel(cmp_f32(dx, NR), cmp_f64(rx, NR), TOL_GRAD));
		/* backward(forward(x)) = x: a rotation's transpose is its inverse. Each pass rounds each
		 * value once or twice (2^-24 of the scale each) and the f32 tables make c² + s² = 1 only
		 * within ~2^-23: 1e-6 of max|x| admits the ~4 ulp this sums to, and refuses a pass with the
		 * forward's signs (which rotates by 2θ) or a swapped pair. */
		memcpy(y, x, sizeof y);
		cr_assert_eq(sora_cpu_rope_apply(y, c, s, B, L, H, D, inter, &e), 0, "%s", e.msg);
		cr_assert_eq(sora_cpu_rope_apply_backward(y, c, s, B, L, H, D, inter, &e), 0, "%s", e.msg);
		snprintf(what, sizeof what, "rope_apply %s backward(forward(x)) = x", lay);
		expect_cmp(what, cmp_rel(cmp_f32(y, NR), cmp_f64(k.x, NR), 1e-6));
	}
}

typedef struct cols_case {
	double x[NCX], g[NCG];
	int gelu; /* y = gelu_tanh(x) (gelu_tanh_cols), else y = x (copy_cols) */
} cols_case;

/* Σ g·y over the ROWS × COLS block, in double. */
static double cols_loss(const void *ctx)
{
	const cols_case *k = ctx;
	const double kk = sqrt(2 / M_PI);
	double sum = 0;
	for (int r = 0; r < ROWS; r++)
		for (int j = 0; j < COLS; j++) {
			const double v = k->x[r * LDX + j];
			const double y = k->gelu ? 0.5 * v * (1 + tanh(kk * (v + 0.044715 * v * v * v))) : v;
			sum += k->g[r * LDG + j] * y;
		}
	return sum;
}

/* The column ops: gelu_tanh_cols_backward, and add_cols as copy_cols' backward. The gradient with respect
 * to x [ROWS, LDX] lands in dx [ROWS, LDD]: its columns past COLS must keep their start values. */
Test(ops_dit_grad, column_ops)
{
	static cols_case k;
	float x[NCX], g[NCG], dx0[NCD], dx[NCD];
	double rx[NCX], ref[NCD];
	sora_err e = {0};
	/* [-4, 4): GELU's curved middle and both tails, where tanh saturates. */
	fill(x, NCX, -4, 4, 31), fill(g, NCG, -1, 1, 32), fill(dx0, NCD, -1, 1, 33);
	widen(k.x, x, NCX), widen(k.g, g, NCG);
	for (int gelu = 0; gelu < 2; gelu++) {
		k.gelu = gelu;
		fd(rx, k.x, NCX, cols_loss, &k);
		for (int r = 0; r < ROWS; r++)
			for (int j = 0; j < LDD; j++)
				ref[r * LDD + j] = j < COLS ? rx[r * LDX + j] : 0;
		memcpy(dx, dx0, sizeof dx);
		if (gelu)
			cr_assert_eq(
			    sora_cpu_gelu_tanh_cols_backward(dx, LDD, g, LDG, x, LDX, ROWS, COLS, &e), 0,
			    "%s", e.msg);
		else
			cr_assert_eq(sora_cpu_add_cols(dx, LDD, g, LDG, ROWS, COLS, &e), 0, "%s", e.msg);
		expect_grad(gelu ? "gelu_tanh_cols dx" : "add_cols (copy_cols backward) dx", dx, dx0, ref,
			    NCD);
	}
}

/* Training must be bit-reproducible: at a shape past the OpenMP thresholds, one thread and many give the
 * same bits (the modulation sums are split over channels, never over tokens). */
Test(ops_dit_grad, same_bits_on_any_thread_count)
{
	const int b = 2, l = 64, c = 1024, ms = 2 * c;
	const size_t n = (size_t)b * l * c, nm = (size_t)b * ms;
	float *x = malloc(n * 4), *g = malloc(n * 4), *mod = malloc(nm * 4);
	float *dx[2] = {calloc(n, 4), calloc(n, 4)}, *dmod[2] = {calloc(nm, 4), calloc(nm, 4)};
	const int threads = omp_get_max_threads() > 1 ? omp_get_max_threads() : 4,
		  saved = omp_get_max_threads();
	sora_err e = {0};
	cr_assert(x && g && mod && dx[0] && dx[1] && dmod[0] && dmod[1]);
	fill(x, n, -2, 2, 41), fill(g, n, -1, 1, 42), fill(mod, nm, -1, 1, 43);
	for (int t = 0; t < 2; t++) {
		omp_set_num_threads(t ? threads : 1);
		cr_assert_eq(
		    sora_cpu_adaln_backward(dx[t], dmod[t], dmod[t] + c, g, x, mod + c, b, l, c, ms, EPS, &e),
		    0, "%s", e.msg);
		cr_assert_eq(sora_cpu_gated_add_backward(dx[t], dmod[t], g, x, mod, b, l, c, ms, &e), 0, "%s",
			     e.msg);
	}
	omp_set_num_threads(saved);
	cr_log_info("1 thread against %d", threads);
	expect_cmp("adaln + gated_add dx", cmp_exact(cmp_f32(dx[1], n), cmp_f32(dx[0], n)));
	expect_cmp("adaln + gated_add dmod", cmp_exact(cmp_f32(dmod[1], nm), cmp_f32(dmod[0], nm)));
	free(x), free(g), free(mod), free(dx[0]), free(dx[1]), free(dmod[0]), free(dmod[1]);
}

Test(ops_dit_grad, bad_arguments)
{
	float v[64] = {0};
	sora_err e = {0};
	cr_expect_eq(sora_cpu_adaln_backward(v, v, v, v, v, v, 1, 1, 0, 0, EPS, &e), -1);
	cr_expect(strstr(e.msg, "bad shape"), "%s", e.msg);
	/* Overlapping modulation rows would have two batch items add into one sum. */
	cr_expect_eq(sora_cpu_adaln_backward(v, v, v, v, v, v, 2, 1, 8, 4, EPS, &e), -1);
	cr_expect(strstr(e.msg, "stride"), "%s", e.msg);
	cr_expect_eq(sora_cpu_gated_add_backward(v, v, v, v, v, 2, 1, 8, 4, &e), -1);
	cr_expect_eq(sora_cpu_rope_apply_backward(v, v, v, 1, 1, 1, 7, 0, &e), -1);
	cr_expect_eq(sora_cpu_gelu_tanh_cols_backward(v, 4, v, 8, v, 8, 2, 5, &e), -1);
	cr_expect_eq(sora_cpu_add_cols(v, 8, v, 4, 2, 5, &e), -1);
}
