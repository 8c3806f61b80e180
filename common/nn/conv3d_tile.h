/* The register tile shared by the CPU conv3d paths (conv3d_direct.c, conv3d_winograd.c): MR output channels ×
 * NR positions of an implicit GEMM whose B rows are plain offsets into a buffer. Internal to common/nn. */
#ifndef SORA_CONV3D_TILE_H
#define SORA_CONV3D_TILE_H

#include "ops_video.h"

#include <immintrin.h>
#include <stddef.h>

#define MR 8  /* output channels per micro-tile: one broadcast each */
#define NV 3  /* 16-float vectors of output positions per micro-tile */
#define NR 48 /* = 16·NV; (MR, NV) = (8, 3) measured best of (4, 6), (6, 4), (8, 3), (12, 2) */

/* c [MR, 16·nv] (row stride NR) += W · B (= W · B when fresh) over rows [r0, r1) of the implicit GEMM: W row
 * i is wr[i][r], B row r is the 16·nv floats at b + off[r]. The weights are broadcast from their checkpoint
 * layout: no packing. Inlined for each nv (a frame's last panel may be one or two vectors), so that the
 * accumulators stay in registers. */
__attribute__((target("avx512f"), always_inline)) static inline void
tile_body(float *c, const float *const wr[MR], const float *b, const int *off, int r0, int r1, const int nv,
	  const int fresh)
{
	__m512 acc[MR][NV];
#pragma GCC unroll 16
	for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
		for (int v = 0; v < nv; v++)
			acc[i][v] = fresh ? _mm512_setzero_ps()
					  : _mm512_loadu_ps(c + (ptrdiff_t)i * NR + (ptrdiff_t)16 * v);
	for (int r = r0; r < r1; r++) {
		const float *p = b + off[r];
		__m512 bv[NV];
#pragma GCC unroll 8
		for (int v = 0; v < nv; v++)
			bv[v] = _mm512_loadu_ps(p + (ptrdiff_t)16 * v);
#pragma GCC unroll 16
		for (int i = 0; i < MR; i++) {
			const __m512 ai = _mm512_set1_ps(wr[i][r]);
#pragma GCC unroll 8
			for (int v = 0; v < nv; v++)
				acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
		}
	}
#pragma GCC unroll 16
	for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
		for (int v = 0; v < nv; v++)
			_mm512_storeu_ps(c + (ptrdiff_t)i * NR + (ptrdiff_t)16 * v, acc[i][v]);
}

__attribute__((target("avx512f"))) static inline void micro_tile(float *c, const float *const wr[MR],
								 const float *b, const int *off, int r0,
								 int r1, int nv, int fresh)
{
	if (fresh) {
		if (nv == 3)
			tile_body(c, wr, b, off, r0, r1, 3, 1);
		else if (nv == 2)
			tile_body(c, wr, b, off, r0, r1, 2, 1);
		else
			tile_body(c, wr, b, off, r0, r1, 1, 1);
	} else if (nv == 3)
		tile_body(c, wr, b, off, r0, r1, 3, 0);
	else if (nv == 2)
		tile_body(c, wr, b, off, r0, r1, 2, 0);
	else
		tile_body(c, wr, b, off, r0, r1, 1, 0);
}

/* A pass's tasks: nft frame-panels × ngroup groups of gblk channel blocks (of nblk), at most gmax blocks a
 * group, and enough tasks for every thread to have several. The split follows the thread count; the order
 * in which a tile sums each output does not. */
static inline void split_tasks(int nft, int nblk, int gmax, int nthreads, int *ngroup, int *gblk)
{
	int n = (4 * nthreads + nft - 1) / nft;
	n = n < (nblk + gmax - 1) / gmax ? (nblk + gmax - 1) / gmax : n;
	n = n > nblk ? nblk : n;
	*gblk = (nblk + n - 1) / n;
	*ngroup = (nblk + *gblk - 1) / *gblk;
}

/* The 16-float vectors that panel p of n positions needs: NV but in the last panel. */
static inline int panel_vectors(int n, int p)
{
	const int v = (n - p * NR + 15) / 16;
	return v < NV ? v : NV;
}

static inline int clampi(int v, int hi)
{
	return v < 0 ? 0 : v > hi ? hi : v;
}

/* The input frame that tap kt of output frame t reads: the causal padding in front repeats frame 0. */
static inline int input_frame(const sora_conv3d_args *a, int t, int kt)
{
	return clampi(t * a->st + kt - (a->no_front_pad ? 0 : a->k - 1), a->T - 1);
}

/* The window's ring of nslot slots (input frame ti in slot ti % nslot, held[slot] the frame it holds, -1:
 * none): marks the frames that output frames t0 .. t0 + G − 1 read and the ring lacks as held, lists them
 * in fill and returns their count. */
static inline int frames_to_load(const sora_conv3d_args *a, int t0, int G, int nslot, int *held, int *fill)
{
	int nfill = 0;
	for (int t = t0; t < t0 + G; t++)
		for (int kt = 0; kt < a->k; kt++) {
			const int ti = input_frame(a, t, kt);
			if (held[ti % nslot] != ti)
				held[ti % nslot] = ti, fill[nfill++] = ti;
		}
	return nfill;
}

#endif
