/* The backward ops (nn/ops_grad.h) against central differences of a float64 forward written out here.
 * For each op, L = Σ g·y(inputs) with a random upstream gradient g (the backward's dy); ∂L/∂(every element
 * of every input) is taken by central differences in double, and the f32 backward's gradients, accumulated
 * into buffers that start at random values, are compared (less those values) with them. Each case also
 * checks that the library's f32 forward is the float64 forward here, so that a backward of some other
 * forward cannot pass against a reference that made the same mistake. */
#include "expect.h"
#include "nn/ops.h"
#include "nn/ops_grad.h"

#include <float.h>
#include <math.h>

/* The bound on a gradient, relative to its largest magnitude (cmp_rel). The differences are good to about
 * 1e-9 of the scale: truncation h²/6·|L'''| with h = 1e-5 is ~1e-11, and L's rounding (a sum of at most 200
 * terms of order 1, ≲ 200·2^-53 ≈ 2e-14) over the step 2h = 2e-5 is ~1e-9. The f32 backward is the larger
 * error: f32 products summed over at most 16 terms (the longest sum in these shapes), attention's
 * probabilities recomputed in f32 and passed through two more products, a libm call or two in the
 * activations, and the accumulator's own rounding (got = (start + g) − start with |start| ~ |g|): a few
 * times 2^-24 each, measured at most 2.9e-7 (attention's dk, causal). 3e-6 leaves 10x for other BLAS
 * kernels and libms, and is far below what a wrong backward leaves: a dropped δ in the softmax's backward,
 * a dropped r³ term in rmsnorm's, a missing scale in dk, P in place of dS in dq, a 10% error in one term of
 * gelu_tanh' moved a gradient by 0.02 to 1.8 of its scale when tried. */
#define GRAD_TOL 3e-6

/* The f32 forward against the float64 one: the ops' own accuracy (tests/unit/test_ops.c holds them to
 * 1e-6 element-wise); relative to the output's scale here. */
#define FWD_TOL 1e-6

static uint64_t rng = 0x853c49e6748fea9bull;

static float frand(void) /* uniform in [-1, 1) */
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static float *rand_buf(size_t n, float scale)
{
	float *p = malloc(n * sizeof *p + 1);
	cr_assert(p, "out of memory");
	for (size_t i = 0; i < n; i++)
		p[i] = frand() * scale;
	return p;
}

enum { MAX_IN = 3 };

/* An op under test: its inputs in f32 (what the ops get) and in double (what the differences move), the
 * upstream gradient g [ny] (dy for the backward; exact in double too), and the op's float64 forward, which
 * reads its shape from the fields after it. */
typedef struct grad_case grad_case;
struct grad_case {
	const char *name;
	int nin;
	const char *in_name[MAX_IN];
	float *f[MAX_IN];
	double *d[MAX_IN];
	size_t n[MAX_IN];
	float *g;
	double *y;
	size_t ny;
	void (*forward)(double *y, const grad_case *c);
	int N, in, out, C; /* linear, rmsnorm */
	float eps;
	sora_attn_args a;
};

/* Adds an input of n values uniform in [−scale, scale). */
static void add_input(grad_case *c, const char *name, size_t n, float scale)
{
	cr_assert(c->nin < MAX_IN);
	c->in_name[c->nin] = name;
	c->f[c->nin] = rand_buf(n, scale);
	c->d[c->nin] = malloc(n * sizeof(double) + 1);
	cr_assert(c->d[c->nin], "out of memory");
	for (size_t i = 0; i < n; i++)
		c->d[c->nin][i] = c->f[c->nin][i];
	c->n[c->nin++] = n;
}

/* The output: ny values, and a random upstream gradient for them. */
static void set_output(grad_case *c, size_t ny)
{
	c->ny = ny;
	c->g = rand_buf(ny, 1);
	c->y = malloc(ny * sizeof *c->y + 1);
	cr_assert(c->y, "out of memory");
}

static void case_free(grad_case *c)
{
	for (int a = 0; a < c->nin; a++)
		free(c->f[a]), free(c->d[a]);
	free(c->g), free(c->y);
}

/* L = Σ g·y(the double inputs). */
static double loss(const grad_case *c)
{
	double l = 0;
	c->forward(c->y, c);
	for (size_t i = 0; i < c->ny; i++)
		l += c->g[i] * c->y[i];
	return l;
}

/* grad = ∂L/∂(input a) by central differences, h = 1e-5·max(1, |x|): relative to x where x is large,
 * absolute near 0, where a relative step would drown in rounding. The step actually taken, (x + h) −
 * (x − h) in double, is the divisor. */
static void fd_grad(double *grad, grad_case *c, int a)
{
	double *x = c->d[a];
	for (size_t i = 0; i < c->n[a]; i++) {
		const double x0 = x[i], h = 1e-5 * fmax(1.0, fabs(x0)), xp = x0 + h, xm = x0 - h;
		x[i] = xp;
		const double lp = loss(c);
		x[i] = xm;
		const double lm = loss(c);
		x[i] = x0;
		grad[i] = (lp - lm) / (xp - xm);
	}
}

/* The gradient buffers of a case: one per input, each starting at random values (start) that the
 * backward must add to (buf). */
typedef struct grads {
	float *start[MAX_IN], *buf[MAX_IN];
} grads;

static grads grads_new(const grad_case *c)
{
	grads gr = {{NULL}, {NULL}};
	for (int a = 0; a < c->nin; a++) {
		gr.start[a] = rand_buf(c->n[a], 1);
		gr.buf[a] = malloc(c->n[a] * sizeof(float) + 1);
		cr_assert(gr.buf[a], "out of memory");
		memcpy(gr.buf[a], gr.start[a], c->n[a] * sizeof(float));
	}
	return gr;
}

/* Gradient buffers that start where from's start. */
static grads grads_twin(const grad_case *c, const grads *from)
{
	grads gr = grads_new(c);
	for (int a = 0; a < c->nin; a++) {
		memcpy(gr.start[a], from->start[a], c->n[a] * sizeof(float));
		memcpy(gr.buf[a], from->start[a], c->n[a] * sizeof(float));
	}
	return gr;
}

static void grads_free(grads *gr)
{
	for (int a = 0; a < MAX_IN; a++)
		free(gr->start[a]), free(gr->buf[a]);
}

/* Every input's accumulated gradient (buf − start) against the differences. */
static void expect_grads(grad_case *c, const grads *gr)
{
	for (int a = 0; a < c->nin; a++) {
		const size_t n = c->n[a];
		double *fd = malloc(n * sizeof *fd + 1), *got = malloc(n * sizeof *got + 1);
		char what[160];
		cr_assert(fd && got, "out of memory");
		fd_grad(fd, c, a);
		for (size_t i = 0; i < n; i++)
			got[i] = (double)gr->buf[a][i] - gr->start[a][i];
		snprintf(what, sizeof what, "%s: d%s against central differences", c->name, c->in_name[a]);
		expect_cmp(what, cmp_rel(cmp_f64(got, n), cmp_f64(fd, n), GRAD_TOL));
		free(fd), free(got);
	}
}

/* The library's f32 forward y32 against the float64 forward the differences are taken of. */
static void expect_forward(const grad_case *c, const float *y32)
{
	char what[160];
	c->forward(c->y, c);
	snprintf(what, sizeof what, "%s: f32 forward = float64 forward", c->name);
	expect_cmp(what, cmp_rel(cmp_f32(y32, c->ny), cmp_f64(c->y, c->ny), FWD_TOL));
}

static void expect_same(const char *what, const float *got, const float *want, size_t n)
{
	expect_cmp(what, cmp_exact(cmp_f32(got, n), cmp_f32(want, n)));
}

/* ---- linear ---- */

/* y [N, out] = x [N, in] · w [out, in]ᵀ + b [out] (inputs x, w and, when there are three, b). */
static void linear64(double *y, const grad_case *c)
{
	const double *x = c->d[0], *w = c->d[1], *b = c->nin > 2 ? c->d[2] : NULL;
	for (int i = 0; i < c->N; i++)
		for (int o = 0; o < c->out; o++) {
			double s = b ? b[o] : 0;
			for (int k = 0; k < c->in; k++)
				s += x[(size_t)i * c->in + k] * w[(size_t)o * c->in + k];
			y[(size_t)i * c->out + o] = s;
		}
}

static grad_case linear_case(const char *name, int N, int in, int out, int bias)
{
	grad_case c = {.name = name, .forward = linear64, .N = N, .in = in, .out = out};
	add_input(&c, "x", (size_t)N * in, 1);
	add_input(&c, "w", (size_t)out * in, 0.5f);
	if (bias)
		add_input(&c, "b", (size_t)out, 1);
	set_output(&c, (size_t)N * out);
	return c;
}

static void check_linear(const char *name, int N, int in, int out, int bias)
{
	grad_case c = linear_case(name, N, in, out, bias);
	grads gr = grads_new(&c);
	float *y = malloc(c.ny * sizeof *y);
	sora_err e = {0};
	cr_assert_eq(
	    sora_cpu_linear_backward(gr.buf[0], gr.buf[1], gr.buf[2], c.g, c.f[0], c.f[1], N, in, out, &e), 0,
	    "%s", e.msg);
	expect_grads(&c, &gr);
	cr_assert_eq(sora_cpu_linear(y, c.f[0], c.f[1], bias ? c.f[2] : NULL, N, in, out, &e), 0, "%s",
		     e.msg);
	expect_forward(&c, y);
	free(y);
	grads_free(&gr);
	case_free(&c);
}

Test(ops_grad, linear)
{
	check_linear("linear [5, 7] -> 6 with bias", 5, 7, 6, 1);
	check_linear("linear [5, 7] -> 6 without bias", 5, 7, 6, 0);
	check_linear("linear one row [1, 9] -> 4", 1, 9, 4, 1);
}

/* ---- rmsnorm ---- */

static void rmsnorm64(double *y, const grad_case *c)
{
	const double *x = c->d[0], *w = c->d[1];
	for (int i = 0; i < c->N; i++) {
		const double *xi = x + (size_t)i * c->C;
		double ss = 0;
		for (int j = 0; j < c->C; j++)
			ss += xi[j] * xi[j];
		const double r = 1 / sqrt(ss / c->C + c->eps);
		for (int j = 0; j < c->C; j++)
			y[(size_t)i * c->C + j] = xi[j] * r * w[j];
	}
}

static grad_case rmsnorm_case(int N, int C, float eps)
{
	grad_case c = {.name = "rmsnorm [4, 16]", .forward = rmsnorm64, .N = N, .C = C, .eps = eps};
	add_input(&c, "x", (size_t)N * C, 2);
	add_input(&c, "w", (size_t)C, 1);
	set_output(&c, (size_t)N * C);
	return c;
}

Test(ops_grad, rmsnorm)
{
	/* eps large enough to matter in r, as a T5 row of small values meets it */
	grad_case c = rmsnorm_case(4, 16, 1e-2f);
	grads gr = grads_new(&c);
	float *y = malloc(c.ny * sizeof *y);
	sora_err e = {0};
	cr_assert_eq(
	    sora_cpu_rmsnorm_backward(gr.buf[0], gr.buf[1], c.g, c.f[0], c.f[1], c.N, c.C, c.eps, &e), 0,
	    "%s", e.msg);
	expect_grads(&c, &gr);
	cr_assert_eq(sora_cpu_rmsnorm(y, c.f[0], c.f[1], c.N, c.C, c.eps, &e), 0, "%s", e.msg);
	expect_forward(&c, y);
	free(y);
	grads_free(&gr);
	case_free(&c);
}

Test(ops_grad, rmsnorm_without_weight)
{
	/* w NULL is a weight of ones, as in the forward: the same dx bit for bit (· 1 is exact). */
	grad_case c = rmsnorm_case(3, 10, 1e-6f);
	float *ones = malloc(10 * sizeof *ones), *dx = calloc(c.n[0], sizeof *dx),
	      *dx1 = calloc(c.n[0], sizeof *dx1), dw[10] = {0};
	sora_err e = {0};
	for (int j = 0; j < 10; j++)
		ones[j] = 1;
	cr_assert_eq(sora_cpu_rmsnorm_backward(dx, NULL, c.g, c.f[0], NULL, 3, 10, 1e-6f, &e), 0, "%s",
		     e.msg);
	cr_assert_eq(sora_cpu_rmsnorm_backward(dx1, NULL, c.g, c.f[0], ones, 3, 10, 1e-6f, &e), 0, "%s",
		     e.msg);
	expect_same("rmsnorm without weight = with ones", dx, dx1, c.n[0]);
	cr_assert_lt(sora_cpu_rmsnorm_backward(dx, dw, c.g, c.f[0], NULL, 3, 10, 1e-6f, &e), 0);
	cr_assert(strstr(e.msg, "without a weight"), "%s", e.msg);
	free(ones), free(dx), free(dx1);
	case_free(&c);
}

/* ---- activations ---- */

static void gelu_tanh64(double *y, const grad_case *c)
{
	for (size_t i = 0; i < c->ny; i++) {
		const double v = c->d[0][i];
		y[i] = 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
	}
}

static void silu64(double *y, const grad_case *c)
{
	for (size_t i = 0; i < c->ny; i++)
		y[i] = c->d[0][i] / (1 + exp(-c->d[0][i]));
}

typedef int (*act_fwd)(float *y, const float *x, size_t n, sora_err *e);
typedef int (*act_bwd)(float *dx, const float *dy, const float *x, size_t n, sora_err *e);

/* x over [−6, 6): the curved middle and the flat ends, where both derivatives tend to 0 and 1. */
static void check_activation(const char *name, void (*f64)(double *, const grad_case *), act_fwd fwd,
			     act_bwd bwd)
{
	const size_t n = 200;
	grad_case c = {.name = name, .forward = f64};
	add_input(&c, "x", n, 6);
	set_output(&c, n);
	grads gr = grads_new(&c);
	float *y = malloc(n * sizeof *y);
	sora_err e = {0};
	cr_assert_eq(bwd(gr.buf[0], c.g, c.f[0], n, &e), 0, "%s", e.msg);
	expect_grads(&c, &gr);
	cr_assert_eq(fwd(y, c.f[0], n, &e), 0, "%s", e.msg);
	expect_forward(&c, y);
	cr_assert_eq(bwd(NULL, c.g, c.f[0], n, &e), 0, "%s: NULL dx is skipped", name);
	free(y);
	grads_free(&gr);
	case_free(&c);
}

Test(ops_grad, gelu_tanh)
{
	check_activation("gelu_tanh", gelu_tanh64, sora_cpu_gelu_tanh, sora_cpu_gelu_tanh_backward);
}

Test(ops_grad, silu)
{
	check_activation("silu", silu64, sora_cpu_silu, sora_cpu_silu_backward);
}

Test(ops_grad, activations_far_out)
{
	/* Where tanh and σ saturate (x³ and exp overflow f32) the derivatives are exactly 0 and 1, not NaN.
	 */
	const float x[] = {-1e30f, -200, 200, 1e30f}, dy[] = {1, 1, 1, 1};
	const float want[] = {0, 0, 1, 1};
	float dx[4] = {0}, ds[4] = {0};
	sora_err e = {0};
	cr_assert_eq(sora_cpu_gelu_tanh_backward(dx, dy, x, 4, &e), 0);
	expect_same("gelu_tanh' far out", dx, want, 4);
	cr_assert_eq(sora_cpu_silu_backward(ds, dy, x, 4, &e), 0);
	expect_same("silu' far out", ds, want, 4);
}

/* ---- attention ---- */

/* ops.h's attention on the double q, k, v; a hidden key gets −FLT_MAX added, as the op does. */
static void attention64(double *y, const grad_case *c)
{
	const sora_attn_args *a = &c->a;
	const size_t HD = (size_t)a->H * a->D;
	double s[64];
	cr_assert(a->Tk <= 64);
	for (int b = 0; b < a->B; b++)
		for (int h = 0; h < a->H; h++)
			for (int i = 0; i < a->Tq; i++) {
				const double *qi = c->d[0] + ((size_t)b * a->Tq + i) * HD + (size_t)h * a->D;
				double mx = -INFINITY, sum = 0;
				for (int j = 0; j < a->Tk; j++) {
					const double *kj =
					    c->d[1] + ((size_t)b * a->Tk + j) * HD + (size_t)h * a->D;
					double d = 0;
					for (int k = 0; k < a->D; k++)
						d += qi[k] * kj[k];
					s[j] = d * a->scale +
					       (a->bias ? a->bias[((size_t)h * a->Tq + i) * a->Tk + j] : 0);
					if ((a->causal && j > i) ||
					    (a->key_mask && !a->key_mask[(size_t)b * a->Tk + j]))
						s[j] += -FLT_MAX;
					mx = fmax(mx, s[j]);
				}
				for (int j = 0; j < a->Tk; j++)
					sum += s[j] = exp(s[j] - mx);
				for (int k = 0; k < a->D; k++) {
					double o = 0;
					for (int j = 0; j < a->Tk; j++)
						o += s[j] / sum *
						     c->d[2][((size_t)b * a->Tk + j) * HD + (size_t)h * a->D +
							     k];
					y[((size_t)b * a->Tq + i) * HD + (size_t)h * a->D + k] = o;
				}
			}
}

static grad_case attention_case(const char *name, const sora_attn_args *a)
{
	const size_t HD = (size_t)a->H * a->D;
	grad_case c = {.name = name, .forward = attention64, .a = *a};
	add_input(&c, "q", (size_t)a->B * a->Tq * HD, 1);
	add_input(&c, "k", (size_t)a->B * a->Tk * HD, 1);
	add_input(&c, "v", (size_t)a->B * a->Tk * HD, 1);
	set_output(&c, (size_t)a->B * a->Tq * HD);
	return c;
}

static void check_attention(const char *name, const sora_attn_args *a)
{
	grad_case c = attention_case(name, a);
	grads gr = grads_new(&c);
	float *out = malloc(c.ny * sizeof *out);
	sora_err e = {0};
	cr_assert_eq(sora_cpu_attention(out, c.f[0], c.f[1], c.f[2], a, &e), 0, "%s", e.msg);
	expect_forward(&c, out);
	cr_assert_eq(sora_cpu_attention_backward(gr.buf[0], gr.buf[1], gr.buf[2], c.g, c.f[0], c.f[1], c.f[2],
						 out, a, &e),
		     0, "%s", e.msg);
	expect_grads(&c, &gr);
	free(out);
	grads_free(&gr);
	case_free(&c);
}

/* B = 2, H = 2, D = 8; Tq ≠ Tk but where causal needs them equal. */
Test(ops_grad, attention_plain)
{
	const sora_attn_args a = {.B = 2, .H = 2, .Tq = 3, .Tk = 5, .D = 8, .scale = 0.35355339f};
	check_attention("attention plain [2, 3 / 5, 2 x 8]", &a);
}

Test(ops_grad, attention_causal)
{
	const sora_attn_args a = {
	    .B = 2, .H = 2, .Tq = 4, .Tk = 4, .D = 8, .scale = 0.35355339f, .causal = 1};
	check_attention("attention causal [2, 4 / 4, 2 x 8]", &a);
}

Test(ops_grad, attention_key_mask)
{
	/* Every query keeps at least one key: a fully hidden row is flat in f32 and f64 alike. */
	const uint8_t mask[2 * 5] = {1, 0, 1, 1, 0, 0, 1, 1, 1, 1};
	const sora_attn_args a = {.B = 2, .H = 2, .Tq = 3, .Tk = 5, .D = 8, .scale = 0.5f, .key_mask = mask};
	check_attention("attention key mask [2, 3 / 5, 2 x 8]", &a);
}

Test(ops_grad, attention_bias)
{
	/* T5's form: a position bias [H, Tq, Tk], no scale. */
	float *bias = rand_buf((size_t)2 * 3 * 5, 2);
	const sora_attn_args a = {.B = 2, .H = 2, .Tq = 3, .Tk = 5, .D = 8, .scale = 1, .bias = bias};
	check_attention("attention bias, scale 1 [2, 3 / 5, 2 x 8]", &a);
	free(bias);
}

/* ---- NULL outputs and bad arguments ---- */

/* Each output alone equals it computed with all the others, bit for bit: skipping one changes nothing
 * else, and does not crash. */
Test(ops_grad, null_outputs_are_skipped)
{
	const uint8_t mask[2 * 5] = {1, 1, 0, 1, 1, 1, 1, 1, 1, 0};
	const sora_attn_args a = {.B = 2, .H = 2, .Tq = 3, .Tk = 5, .D = 8, .scale = 0.5f, .key_mask = mask};
	grad_case at = attention_case("attention", &a), li = linear_case("linear", 4, 6, 5, 1),
		  rm = rmsnorm_case(4, 16, 1e-6f);
	grads all = grads_new(&at), one = grads_twin(&at, &all);
	float *out = malloc(at.ny * sizeof *out);
	sora_err e = {0};
	cr_assert_eq(sora_cpu_attention(out, at.f[0], at.f[1], at.f[2], &a, &e), 0, "%s", e.msg);
	cr_assert_eq(sora_cpu_attention_backward(all.buf[0], all.buf[1], all.buf[2], at.g, at.f[0], at.f[1],
						 at.f[2], out, &a, &e),
		     0, "%s", e.msg);
	for (int o = 0; o < 3; o++) {
		float *d[3] = {NULL, NULL, NULL};
		d[o] = one.buf[o];
		cr_assert_eq(sora_cpu_attention_backward(d[0], d[1], d[2], at.g, at.f[0], at.f[1], at.f[2],
							 out, &a, &e),
			     0, "%s", e.msg);
		expect_same(o == 0   ? "attention dq alone"
			    : o == 1 ? "attention dk alone"
				     : "attention dv alone",
			    one.buf[o], all.buf[o], at.n[o]);
	}
	cr_assert_eq(
	    sora_cpu_attention_backward(NULL, NULL, NULL, at.g, at.f[0], at.f[1], at.f[2], out, &a, &e), 0);

	grads lall = grads_new(&li), lone = grads_twin(&li, &lall);
	cr_assert_eq(sora_cpu_linear_backward(lall.buf[0], lall.buf[1], lall.buf[2], li.g, li.f[0], li.f[1],
					      4, 6, 5, &e),
		     0);
	cr_assert_eq(sora_cpu_linear_backward(NULL, lone.buf[1], NULL, li.g, li.f[0], li.f[1], 4, 6, 5, &e),
		     0);
	cr_assert_eq(
	    sora_cpu_linear_backward(lone.buf[0], NULL, lone.buf[2], li.g, li.f[0], li.f[1], 4, 6, 5, &e), 0);
	expect_same("linear dx without dw", lone.buf[0], lall.buf[0], li.n[0]);
	expect_same("linear dw alone", lone.buf[1], lall.buf[1], li.n[1]);
	expect_same("linear db without dw", lone.buf[2], lall.buf[2], li.n[2]);

	grads rall = grads_new(&rm), rone = grads_twin(&rm, &rall);
	cr_assert_eq(
	    sora_cpu_rmsnorm_backward(rall.buf[0], rall.buf[1], rm.g, rm.f[0], rm.f[1], 4, 16, 1e-6f, &e), 0);
	cr_assert_eq(sora_cpu_rmsnorm_backward(rone.buf[0], NULL, rm.g, rm.f[0], rm.f[1], 4, 16, 1e-6f, &e),
		     0);
	cr_assert_eq(sora_cpu_rmsnorm_backward(NULL, rone.buf[1], rm.g, rm.f[0], rm.f[1], 4, 16, 1e-6f, &e),
		     0);
	expect_same("rmsnorm dx alone", rone.buf[0], rall.buf[0], rm.n[0]);
	expect_same("rmsnorm dw alone", rone.buf[1], rall.buf[1], rm.n[1]);

	free(out);
	grads_free(&all), grads_free(&one), grads_free(&lall), grads_free(&lone), grads_free(&rall),
	    grads_free(&rone);
	case_free(&at), case_free(&li), case_free(&rm);
}

Test(ops_grad, bad_arguments)
{
	float buf[64] = {0};
	sora_err e = {0};
	const sora_attn_args a = {.B = 1, .H = 1, .Tq = 2, .Tk = 2, .D = 0, .scale = 1};
	cr_assert_lt(sora_cpu_linear_backward(buf, buf, buf, buf, buf, buf, -1, 2, 2, &e), 0);
	cr_assert(strstr(e.msg, "linear_backward: negative size"), "%s", e.msg);
	cr_assert_lt(sora_cpu_rmsnorm_backward(buf, buf, buf, buf, buf, 2, 0, 1e-6f, &e), 0);
	cr_assert(strstr(e.msg, "rmsnorm_backward: bad shape"), "%s", e.msg);
	cr_assert_lt(sora_cpu_attention_backward(buf, buf, buf, buf, buf, buf, buf, buf, &a, &e), 0);
	cr_assert(strstr(e.msg, "attention_backward: bad sizes"), "%s", e.msg);
	/* Empty shapes are fine and add nothing. */
	cr_assert_eq(sora_cpu_linear_backward(buf, buf, buf, buf, buf, buf, 0, 2, 2, &e), 0);
	cr_assert_eq(sora_cpu_rmsnorm_backward(buf, buf, buf, buf, buf, 0, 4, 1e-6f, &e), 0);
	for (int i = 0; i < 64; i++)
		cr_assert_eq(buf[i], 0.0f);
}
