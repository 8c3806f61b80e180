/* The causal conv3d as a direct convolution with AVX-512: no im2col matrix.
 *
 * Each input frame is copied once into a window of slots (frame ti in slot ti mod nslot), its planes padded
 * by replicating their edges (Hp = H + 2p, Wp = W + 2p). The output frames go in passes of as many as the
 * window (64 MB) holds the inputs of, all of a small layer's frames in one pass: a pass is one parallel loop,
 * and the threads wait for each other at its end (per frame, small layers lost 5-10 % waiting so).
 * Output positions are counted in padded coordinates too, n = h·Wp + w, so that the input under tap (kh, kw)
 * of output n is slot_plane[n + kh·Wp + kw]: for every tap, consecutive n read consecutive floats, and the
 * k³·cin rows of the implicit GEMM are plain offsets into the window. The 2p columns w ≥ W of each row are
 * computed and dropped (3 % at W = 64). A spatial stride s splits each padded plane into s·s phase planes
 * (row % s, column % s), which makes a strided tap's reads consecutive as well.
 *
 * A micro-tile is MR output channels × NR positions: 24 accumulators in registers, three vector loads of the
 * window and MR broadcasts of the weights (read in place, checkpoint layout) per tap. Input channels go in
 * chunks so that the window rows a tile reads stay in L2 while every channel block of the tile passes over
 * them. Threads (OpenMP) share out the tiles of a pass; a pass with few tiles is split by output channels
 * too. Each tile is summed by one thread in one order, so the output does not depend on the thread count;
 * summation order differs from the im2col path, so the two agree to rounding, not bit for bit. */
#include "conv3d_direct.h"

#include "../util/big_alloc.h"
#include "conv3d_tile.h"

#include <immintrin.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define CI_CHUNK      64                 /* input channels per sweep over a tile */
#define WINDOW_FLOATS ((size_t)16 << 20) /* 64 MB of padded input frames: the window's budget */

int sora_conv3d_direct_applies(const sora_conv3d_args *a)
{
	return __builtin_cpu_supports("avx512f") && a->sh == a->sw;
}

/* Where a frame's padded planes go in the window: with spatial stride s, the padded plane (Hp × Wp) is
 * split into s·s phase planes (row % s, column % s) of Hq × Wq, so that a strided tap reads consecutive
 * floats too. */
typedef struct geom {
	int k, s, p, Hp, Wp, Hq, Wq;
	size_t planeq; /* floats in one phase plane */
	int nslot;     /* frames the window holds */
} geom;

/* The window holds nslot padded input frames, win [nslot, cin, s·s, Hq, Wq], input frame ti in slot
 * ti % nslot. A group of G output frames from t0 reads a run of at most (G − 1)·st + k consecutive input
 * frames (frame 0 repeated in front), so with nslot that long no two share a slot, and a frame is padded once
 * however many output frames read it. held[slot] is the frame a slot holds (-1: none). Loads the frames
 * that output frames t0 .. t0 + G − 1 read, then points off [G, K] (row (ci, kt, kh, kw) of the implicit
 * GEMM, for output n = 0 of each frame) at them. fill [nslot] is scratch. */
static void fill_window(float *win, int *held, int *fill, int *off, const float *x, const sora_conv3d_args *a,
			const geom *g, int t0, int G)
{
	const int k = g->k, s = g->s, W = a->W, cin = a->cin, ns = g->nslot;
	const size_t frame_n = (size_t)s * s * g->planeq, slot_n = (size_t)cin * frame_n;
	const int nfill = frames_to_load(a, t0, G, ns, held, fill);
#pragma omp parallel for collapse(2) schedule(static)
	for (int f = 0; f < nfill; f++)
		for (int ci = 0; ci < cin; ci++) {
			const int ti = fill[f];
			float *frame = win + (size_t)(ti % ns) * slot_n + (size_t)ci * frame_n;
			for (int hp = 0; hp < g->Hp; hp++) {
				const float *src =
				    x + (((size_t)ci * a->T + ti) * a->H + clampi(hp - g->p, a->H - 1)) * W;
				for (int ph = 0; ph < s; ph++) {
					float *dst = frame + (size_t)((hp % s) * s + ph) * g->planeq +
						     (size_t)(hp / s) * g->Wq;
					/* Column wq of phase ph is padded column wq·s + ph, input column wq·s
					 * + ph − p: clamped at the edges, a plain (strided) copy between. */
					const int n = (g->Wp - ph + s - 1) / s, lo = (g->p - ph + s - 1) / s;
					const int hi =
					    (W - 1 + g->p - ph) / s + 1 < n ? (W - 1 + g->p - ph) / s + 1 : n;
					for (int wq = 0; wq < lo; wq++)
						dst[wq] = src[0];
					if (s == 1)
						memcpy(dst + lo, src + lo - g->p,
						       (size_t)(hi - lo) * sizeof *dst);
					else
						for (int wq = lo; wq < hi; wq++)
							dst[wq] = src[wq * s + ph - g->p];
					for (int wq = hi; wq < n; wq++)
						dst[wq] = src[W - 1];
				}
			}
		}
	const int K = cin * k * k * k;
	for (int t = t0; t < t0 + G; t++)
		for (int r = 0; r < K; r++) {
			const int kw = r % k, kh = r / k % k, kt = r / (k * k) % k, ci = r / (k * k * k);
			const int ti = input_frame(a, t, kt);
			const size_t phase = (size_t)(kh % s) * s + kw % s;
			off[(size_t)(t - t0) * K + r] =
			    (int)((size_t)(ti % ns) * slot_n + (size_t)ci * frame_n + phase * g->planeq +
				  (size_t)(kh / s) * g->Wq + kw / s);
		}
}

int sora_conv3d_direct(float *y, const float *x, const float *w, const float *b, const sora_conv3d_args *a,
		       sora_err *e)
{
	return sora_conv3d_direct_window(y, x, w, b, a, WINDOW_FLOATS, e);
}

int sora_conv3d_direct_window(float *y, const float *x, const float *w, const float *b,
			      const sora_conv3d_args *a, size_t window_floats, sora_err *e)
{
	float *win = NULL, *ct = NULL;
	int *off = NULL, To, Ho, Wo;
	TRY(sora_conv3d_out_size(a, &To, &Ho, &Wo, e));
	CHECK(e, sora_conv3d_direct_applies(a),
	      "conv3d: the direct path needs AVX-512 and equal spatial strides");
	geom g = {.k = a->k, .s = a->sh, .p = a->k / 2};
	g.Hp = a->H + 2 * g.p, g.Wp = a->W + 2 * g.p;
	g.Hq = (g.Hp + g.s - 1) / g.s, g.Wq = (g.Wp + g.s - 1) / g.s;
	g.planeq = (size_t)g.Hq * g.Wq;
	const int k = g.k, s = g.s, cin = a->cin, cout = a->cout, K = cin * k * k * k;
	const int nblk = (cout + MR - 1) / MR, N = Ho * g.Wq, npanel = (N + NR - 1) / NR;
	const int nthreads = omp_get_max_threads();
	/* Output frames per pass: as many as a window of window_floats holds the inputs of, one at least. One
	 * pass is one parallel loop over its tiles, so that the threads wait for each other once per pass. */
	const size_t slot_n = (size_t)cin * s * s * g.planeq;
	int G = 1;
	while (G < To && ((size_t)G * a->st + k) * slot_n <= window_floats)
		G++;
	g.nslot = (G - 1) * a->st + k;
	/* Enough tiles for every thread to have several: split the channel blocks into groups if need be. */
	const int nft = G * npanel; /* frame-panels in a whole pass */
	int ngroup, gblk;
	split_tasks(nft, nblk, nblk, nthreads, &ngroup, &gblk);

	/* The window, plus the floats that the last panel reads past its end (for dropped outputs). */
	const size_t nwin_used = (size_t)g.nslot * slot_n, nwin = nwin_used + NR + g.Wq + k;
	CHECK(e, nwin < (size_t)1 << 31, "conv3d: %d channels of %dx%d frames: too large for one window", cin,
	      a->H, a->W);
	CHECK_ALLOC(e, win = sora_big_alloc(nwin * sizeof *win));
	memset(win + nwin_used, 0, (nwin - nwin_used) * sizeof *win);
	/* off [G, K], held [nslot], fill [nslot] */
	CHECK_ALLOC(e, off = malloc(((size_t)G * K + 2 * (size_t)g.nslot) * sizeof *off));
	int *held = off + (size_t)G * K, *fill = held + g.nslot;
	for (int i = 0; i < g.nslot; i++)
		held[i] = -1;
	const size_t ct_n = (size_t)gblk * MR * NR;
	CHECK_ALLOC(e, ct = malloc((size_t)nthreads * ct_n * sizeof *ct));
	const int chunk = CI_CHUNK * k * k * k; /* rows per sweep */

	for (int t0 = 0; t0 < To; t0 += G) {
		const int Gc = G < To - t0 ? G : To - t0;
		fill_window(win, held, fill, off, x, a, &g, t0, Gc);
#pragma omp parallel for schedule(dynamic)
		for (int tile = 0; tile < Gc * npanel * ngroup; tile++) {
			const int ft = tile / ngroup, gi = tile % ngroup, p = ft % npanel,
				  t = t0 + ft / npanel;
			const int *toff = off + (size_t)(ft / npanel) * K;
			const int nv = panel_vectors(N, p);
			const int b0 = gi * gblk, b1 = b0 + gblk < nblk ? b0 + gblk : nblk;
			float *c = ct + (size_t)omp_get_thread_num() * ct_n;
			for (int i = 0; i < (b1 - b0) * MR; i++) {
				const int co = b0 * MR + i;
				const float v = b && co < cout ? b[co] : 0.0f;
				for (int j = 0; j < NR; j++)
					c[(size_t)i * NR + j] = v;
			}
			for (int r0 = 0; r0 < K; r0 += chunk)
				for (int blk = b0; blk < b1; blk++) {
					const float *wr[MR];
					for (int i = 0; i < MR;
					     i++) /* rows past cout repeat the last: dropped */
						wr[i] = w + (size_t)(blk * MR + i < cout ? blk * MR + i
											 : cout - 1) *
								K;
					micro_tile(c + (size_t)(blk - b0) * MR * NR, wr, win + (size_t)p * NR,
						   toff, r0, r0 + chunk < K ? r0 + chunk : K, nv, 0);
				}
			/* Keep the positions inside the frame: n = h·Wq + w with w < Wo. */
			const int n0 = p * NR, n1 = n0 + NR < N ? n0 + NR : N;
			for (int co = b0 * MR; co < b1 * MR && co < cout; co++) {
				const float *src = c + (size_t)(co - b0 * MR) * NR;
				float *dst = y + ((size_t)co * To + t) * Ho * Wo;
				/* row by row: the run of the tile inside row h, less its dropped columns */
				for (int n = n0; n < n1;) {
					const int h = n / g.Wq, wc = n % g.Wq,
						  end = (h + 1) * g.Wq < n1 ? (h + 1) * g.Wq : n1;
					if (wc < Wo)
						memcpy(dst + (size_t)h * Wo + wc, src + (n - n0),
						       (size_t)((end - n < Wo - wc ? end - n : Wo - wc)) *
							   sizeof *dst);
					n = end;
				}
			}
		}
	}
	free(win);
	free(off);
	free(ct);
	return 0;
fail:
	free(win);
	free(off);
	free(ct);
	return -1;
}
