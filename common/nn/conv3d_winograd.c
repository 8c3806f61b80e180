/* The causal conv3d with k = 3 and unit strides by Winograd's F(2×2, 3×3) in space, with AVX-512.
 *
 * Each output frame is the sum over the three temporal taps of a 2-D 3×3 convolution of one input frame.
 * F(2×2, 3×3) computes a 2×2 block of outputs from the 4×4 input tile under it (tiles overlap by two): the
 * tile d goes to V = Bᵀ·d·B and each 3×3 kernel g to U = G·g·Gᵀ (both 4×4), the output block is
 * Aᵀ·(U ⊙ V)·A. Summed over input channels and taps, the 16 products U ⊙ V become 16 independent GEMMs,
 * M[ξ] [cout, tiles] = U[ξ] [cout, 3·cin] · V[ξ] [3·cin, tiles]: 16·3·cin multiply-adds per 4 outputs and
 * output channel instead of 4·27·cin (4/9). The transforms are additions only and touch each value a few
 * times.
 *
 * Input frames are transformed once into a window of slots (frame ti in slot ti mod nslot, as in
 * conv3d_direct.c), V [slot, ξ, cin, ldv] with the tiles of a frame row by row (the replicate padding is a
 * clamp of the rows and columns read). The output frames go in passes of as many as the window holds the
 * inputs of, each pass one parallel loop over tiles of NR frame tiles × MR·gblk output channels: for each
 * ξ, the register tile of conv3d_tile.h sums the GEMM (B rows are offsets into the window, the transformed
 * weights are read in place), then Aᵀ·M·A, plus the bias, goes to y. Each output is summed by one thread in
 * one order: the result does not depend on the thread count. It agrees with the direct path to rounding. */
#include "conv3d_winograd.h"

#include "../util/big_alloc.h"
#include "conv3d_tile.h"

#include <immintrin.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_ROWS    96                 /* GEMM rows per sweep over a tile: its B rows stay in L1 */
#define GBLK_MAX      16                 /* channel blocks per tile: its 16 GEMM tiles (384 KB) stay in L2 */
#define WINDOW_FLOATS ((size_t)32 << 20) /* 128 MB of transformed input frames: the window's budget */

int sora_conv3d_winograd_applies(const sora_conv3d_args *a)
{
	return __builtin_cpu_supports("avx512f") && a->k == 3 && a->st == 1 && a->sh == 1 && a->sw == 1 &&
	       a->cin % 16 == 0;
}

/* Tiles of a frame, and a transformed plane's row length: whole panels of NR. */
static int tiles_of(const sora_conv3d_args *a, int *tw)
{
	*tw = (a->W + 1) / 2;
	return (a->H + 1) / 2 * *tw;
}

static size_t plane_len(int ntile)
{
	return (size_t)(ntile + NR - 1) / NR * NR;
}

size_t sora_conv3d_winograd_frame_floats(const sora_conv3d_args *a)
{
	int tw;
	return 16 * (size_t)a->cin * plane_len(tiles_of(a, &tw));
}

/* U [16, cout, 3·cin] = G·g·Gᵀ of each kernel g = w[co, ci, kt] (3×3), row kt·cin + ci of the GEMM; 16
 * input channels at a time (cin is a multiple of 16). */
__attribute__((target("avx512f"))) static void transform_weights(float *u, const float *w, int cin, int cout)
{
	const size_t K3 = (size_t)3 * cin;
	const __m512 half = _mm512_set1_ps(0.5f);
	const __m512i lane27 = _mm512_mullo_epi32(
	    _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(27));
#pragma omp parallel for collapse(2) schedule(static)
	for (int co = 0; co < cout; co++)
		for (int kt = 0; kt < 3; kt++)
			for (int ci = 0; ci < cin; ci += 16) {
				const float *g0 = w + ((size_t)co * cin + ci) * 27 + (size_t)kt * 9;
				__m512 g[3][3], h[4][3];
				for (int kh = 0; kh < 3; kh++)
					for (int kw = 0; kw < 3; kw++)
						g[kh][kw] = _mm512_i32gather_ps(
						    lane27, g0 + (ptrdiff_t)kh * 3 + kw, 4);
				for (int kw = 0; kw < 3;
				     kw++) { /* G·g: rows g0, (g0+g1+g2)/2, (g0−g1+g2)/2, g2 */
					const __m512 s = _mm512_add_ps(g[0][kw], g[2][kw]);
					h[0][kw] = g[0][kw];
					h[1][kw] = _mm512_mul_ps(half, _mm512_add_ps(s, g[1][kw]));
					h[2][kw] = _mm512_mul_ps(half, _mm512_sub_ps(s, g[1][kw]));
					h[3][kw] = g[2][kw];
				}
				for (int r = 0; r < 4; r++) { /* (G·g)·Gᵀ, the same on the columns */
					const __m512 s = _mm512_add_ps(h[r][0], h[r][2]);
					const __m512 v[4] = {
					    h[r][0], _mm512_mul_ps(half, _mm512_add_ps(s, h[r][1])),
					    _mm512_mul_ps(half, _mm512_sub_ps(s, h[r][1])), h[r][2]};
					for (int c = 0; c < 4; c++)
						_mm512_storeu_ps(u + ((size_t)(r * 4 + c) * cout + co) * K3 +
								     (size_t)kt * cin + ci,
								 v[c]);
				}
			}
}

/* V = Bᵀ·d·B of every tile of one channel of one input frame into its 16 planes (plane ξ at dst + ξ·pstride,
 * tile i·tw + j), 16 tiles of a tile row at a time. The four padded rows under tile row i are copied first
 * (padded column q is input column q − 1, clamped), so that tile j reads columns 2j .. 2j + 3 of each: the
 * even and odd ones of two vectors. scratch: 4·(2·tw + 32) floats. */
__attribute__((target("avx512f"))) static void transform_frame(float *dst, size_t pstride, const float *x,
							       int H, int W, int tw, int ntile, size_t ldv,
							       float *scratch)
{
	const int th = (H + 1) / 2, stride = 2 * tw + 32;
	const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30),
		      odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
	for (int i = 0; i < th; i++) {
		for (int r = 0; r < 4; r++) {
			const float *row = x + (size_t)clampi(2 * i - 1 + r, H - 1) * W;
			float *rp = scratch + (size_t)r * stride;
			rp[0] = row[0];
			memcpy(rp + 1, row, (size_t)W * sizeof *rp);
			for (int q = W + 1; q < stride; q++)
				rp[q] = row[W - 1];
		}
		for (int j = 0; j < tw; j += 16) {
			const __mmask16 m =
			    tw - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (tw - j)) - 1);
			__m512 t[4][4];
			for (int r = 0; r < 4;
			     r++) { /* d·B on each row: d0 − d2, d1 + d2, d2 − d1, d1 − d3 */
				const float *rp = scratch + (size_t)r * stride + (ptrdiff_t)2 * j;
				const __m512 a0 = _mm512_loadu_ps(rp), a1 = _mm512_loadu_ps(rp + 16),
					     b0 = _mm512_loadu_ps(rp + 2), b1 = _mm512_loadu_ps(rp + 18);
				const __m512 d0 = _mm512_permutex2var_ps(a0, even, a1),
					     d1 = _mm512_permutex2var_ps(a0, odd, a1),
					     d2 = _mm512_permutex2var_ps(b0, even, b1),
					     d3 = _mm512_permutex2var_ps(b0, odd, b1);
				t[r][0] = _mm512_sub_ps(d0, d2);
				t[r][1] = _mm512_add_ps(d1, d2);
				t[r][2] = _mm512_sub_ps(d2, d1);
				t[r][3] = _mm512_sub_ps(d1, d3);
			}
			float *out = dst + (size_t)i * tw + j;
			for (int c = 0; c < 4; c++) { /* Bᵀ· on each column, the same */
				_mm512_mask_storeu_ps(out + (0 * 4 + c) * pstride, m,
						      _mm512_sub_ps(t[0][c], t[2][c]));
				_mm512_mask_storeu_ps(out + (1 * 4 + c) * pstride, m,
						      _mm512_add_ps(t[1][c], t[2][c]));
				_mm512_mask_storeu_ps(out + (2 * 4 + c) * pstride, m,
						      _mm512_sub_ps(t[2][c], t[1][c]));
				_mm512_mask_storeu_ps(out + (3 * 4 + c) * pstride, m,
						      _mm512_sub_ps(t[1][c], t[3][c]));
			}
		}
	}
	/* The last panel reads up to its last whole vector: zeros there, not stale floats. */
	for (int xi = 0; xi < 16; xi++)
		memset(dst + xi * pstride + ntile, 0, (ldv - (size_t)ntile) * sizeof *dst);
}

/* Y = Aᵀ·M·A for 16 consecutive tiles n0 .. n0 + 15 (fewer past ntile) of output channel plane yc [Ho, Wo],
 * M[ξ] = m[ξ·mstride], plus the bias. Aᵀ = [1 1 1 0; 0 1 −1 −1]. */
__attribute__((target("avx512f"))) static void untransform16(float *yc, const float *m, size_t mstride,
							     float bias, int n0, int ntile, int tw, int Ho,
							     int Wo)
{
	__m512 s0[4], s1[4];
	for (int r = 0; r < 4; r++) {
		const __m512 m0 = _mm512_loadu_ps(m + (size_t)(r * 4) * mstride),
			     m1 = _mm512_loadu_ps(m + (size_t)(r * 4 + 1) * mstride),
			     m2 = _mm512_loadu_ps(m + (size_t)(r * 4 + 2) * mstride),
			     m3 = _mm512_loadu_ps(m + (size_t)(r * 4 + 3) * mstride);
		s0[r] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
		s1[r] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
	}
	const __m512 vb = _mm512_set1_ps(bias);
	const __m512 y00 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s0[0], s0[1]), s0[2]), vb),
		     y01 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s1[0], s1[1]), s1[2]), vb),
		     y10 = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s0[1], s0[2]), s0[3]), vb),
		     y11 = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s1[1], s1[2]), s1[3]), vb);
	const int i = n0 / tw, j = n0 % tw;
	if (j + 16 <= tw &&
	    2 * tw == Wo) { /* one tile row, whole 2×2 blocks: interleave into rows 2i, 2i+1 */
		const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23),
			      hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15,
						     31);
		float *row = yc + (size_t)(2 * i) * Wo + (ptrdiff_t)2 * j;
		_mm512_storeu_ps(row, _mm512_permutex2var_ps(y00, lo, y01));
		_mm512_storeu_ps(row + 16, _mm512_permutex2var_ps(y00, hi, y01));
		if (2 * i + 1 < Ho) {
			_mm512_storeu_ps(row + Wo, _mm512_permutex2var_ps(y10, lo, y11));
			_mm512_storeu_ps(row + Wo + 16, _mm512_permutex2var_ps(y10, hi, y11));
		}
		return;
	}
	float v[4][16];
	_mm512_storeu_ps(v[0], y00), _mm512_storeu_ps(v[1], y01);
	_mm512_storeu_ps(v[2], y10), _mm512_storeu_ps(v[3], y11);
	for (int l = 0; l < 16 && n0 + l < ntile; l++) {
		const int h = (n0 + l) / tw * 2, c = (n0 + l) % tw * 2;
		for (int dh = 0; dh < 2 && h + dh < Ho; dh++)
			for (int dc = 0; dc < 2 && c + dc < Wo; dc++)
				yc[(size_t)(h + dh) * Wo + c + dc] = v[dh * 2 + dc][l];
	}
}

int sora_conv3d_winograd(float *y, const float *x, const float *w, const float *b, const sora_conv3d_args *a,
			 sora_err *e)
{
	return sora_conv3d_winograd_window(y, x, w, b, a, WINDOW_FLOATS, e);
}

int sora_conv3d_winograd_window(float *y, const float *x, const float *w, const float *b,
				const sora_conv3d_args *a, size_t window_floats, sora_err *e)
{
	float *win = NULL, *u = NULL, *ct = NULL, *scratch = NULL;
	int *off = NULL, To, Ho, Wo, tw;
	TRY(sora_conv3d_out_size(a, &To, &Ho, &Wo, e));
	CHECK(e, sora_conv3d_winograd_applies(a),
	      "conv3d: the Winograd path needs AVX-512, k = 3, unit strides and input channels in 16s");
	const int cin = a->cin, cout = a->cout, K3 = 3 * cin, ntile = tiles_of(a, &tw);
	const size_t ldv = plane_len(ntile), pstride = (size_t)cin * ldv, slot_n = 16 * pstride;
	const int nblk = (cout + MR - 1) / MR, npanel = (int)(ldv / NR);
	const int nthreads = omp_get_max_threads();
	int G = 1; /* output frames per pass, as in conv3d_direct.c */
	while (G < To && (size_t)(G + 3) * slot_n <= window_floats)
		G++;
	const int nslot = G + 2, nft = G * npanel;
	int ngroup, gblk;
	split_tasks(nft, nblk, GBLK_MAX, nthreads, &ngroup, &gblk);

	CHECK(e, (size_t)nslot * slot_n < (size_t)1 << 31,
	      "conv3d: %d channels of %dx%d frames: too large for one Winograd window", cin, a->H, a->W);
	CHECK_ALLOC(e, win = sora_big_alloc((size_t)nslot * slot_n * sizeof *win));
	CHECK_ALLOC(e, u = sora_big_alloc((size_t)16 * cout * K3 * sizeof *u));
	/* off [G, 3·cin], held [nslot], fill [nslot] */
	CHECK_ALLOC(e, off = malloc(((size_t)G * K3 + 2 * (size_t)nslot) * sizeof *off));
	int *held = off + (size_t)G * K3, *fill = held + nslot;
	for (int i = 0; i < nslot; i++)
		held[i] = -1;
	const size_t ct_n = (size_t)16 * gblk * MR * NR, scratch_n = (size_t)4 * (2 * tw + 32);
	CHECK_ALLOC(e, ct = malloc((size_t)nthreads * ct_n * sizeof *ct));
	CHECK_ALLOC(e, scratch = calloc((size_t)nthreads * scratch_n, sizeof *scratch));
	transform_weights(u, w, cin, cout);
	const int chunk = CHUNK_ROWS;

	for (int t0 = 0; t0 < To; t0 += G) {
		const int Gc = G < To - t0 ? G : To - t0;
		const int nfill = frames_to_load(a, t0, Gc, nslot, held, fill);
		for (int t = t0; t < t0 + Gc; t++)
			for (int kt = 0; kt < 3; kt++) {
				const int ti = input_frame(a, t, kt);
				for (int ci = 0; ci < cin; ci++)
					off[(size_t)(t - t0) * K3 + (size_t)kt * cin + ci] =
					    (int)((size_t)(ti % nslot) * slot_n + (size_t)ci * ldv);
			}
#pragma omp parallel for collapse(2) schedule(static)
		for (int f = 0; f < nfill; f++)
			for (int ci = 0; ci < cin; ci++)
				transform_frame(win + (size_t)(fill[f] % nslot) * slot_n + (size_t)ci * ldv,
						pstride, x + ((size_t)ci * a->T + fill[f]) * a->H * a->W,
						a->H, a->W, tw, ntile, ldv,
						scratch + (size_t)omp_get_thread_num() * scratch_n);
#pragma omp parallel for schedule(dynamic)
		for (int tile = 0; tile < Gc * npanel * ngroup; tile++) {
			const int ft = tile / ngroup, gi = tile % ngroup, p = ft % npanel,
				  t = t0 + ft / npanel;
			const int *toff = off + (size_t)(ft / npanel) * K3;
			const int nv = panel_vectors(ntile, p);
			const int b0 = gi * gblk, b1 = b0 + gblk < nblk ? b0 + gblk : nblk;
			const size_t mstride = (size_t)gblk * MR * NR; /* c [16, gblk·MR, NR] */
			float *c = ct + (size_t)omp_get_thread_num() * ct_n;
			for (int xi = 0; xi < 16; xi++) {
				const float *bx = win + xi * pstride + (size_t)p * NR,
					    *ux = u + (size_t)xi * cout * K3;
				for (int r0 = 0; r0 < K3; r0 += chunk)
					for (int blk = b0; blk < b1; blk++) {
						const float *wr[MR];
						for (int i = 0; i < MR;
						     i++) /* rows past cout repeat the last: dropped */
							wr[i] =
							    ux + (size_t)(blk * MR + i < cout ? blk * MR + i
											      : cout - 1) *
								     K3;
						micro_tile(c + xi * mstride + (size_t)(blk - b0) * MR * NR,
							   wr, bx, toff, r0,
							   r0 + chunk < K3 ? r0 + chunk : K3, nv, r0 == 0);
					}
			}
			for (int co = b0 * MR; co < b1 * MR && co < cout; co++)
				for (int v = 0; v < nv; v++)
					untransform16(y + ((size_t)co * To + t) * Ho * Wo,
						      c + (size_t)(co - b0 * MR) * NR + (ptrdiff_t)16 * v,
						      mstride, b ? b[co] : 0.0f, p * NR + 16 * v, ntile, tw,
						      Ho, Wo);
		}
	}
	free(win), free(u), free(off), free(ct), free(scratch);
	return 0;
fail:
	free(win), free(u), free(off), free(ct), free(scratch);
	return -1;
}
