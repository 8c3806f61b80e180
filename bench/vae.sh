#!/usr/bin/env bash
# The HunyuanVideo VAE on the CPU at the released channel widths (128, 256, 512, 512; random weights):
# conv3d GFLOP/s on five layer shapes and the whole encoder's seconds per clip, sora.c (the AVX-512 direct and
# Winograd convolutions of nn/conv3d_direct.c and nn/conv3d_winograd.c, OpenMP; im2col + OpenBLAS sgemm
# without AVX-512) next to PyTorch on the CPU (Debian's python3-torch: oneDNN convolutions) running the same
# layers, same threads, in the same run. GFLOP/s count a direct convolution's 2·cout·cin·k³ per output on
# both sides (Winograd does 4/9 of those multiply-adds): the ratios compare times. The two sides alternate
# for ROUNDS rounds (default 2) and each keeps its best, so that load from elsewhere does not favour one
# side. Then the peak RSS of a round trip (encode + decode) of one clip through a random VAE of the released
# shape.
# Env: SORA_LIB (default build/libsora.a), THREADS (default: all cores), ENC (encoder clips "T H W", comma
# separated, default "9 64 64,9 128 128"), RT (round-trip clip "T H W", default "33 256 256": minutes on
# 2 cores).
# OPENBLAS_CORETYPE=SkylakeX on AVX-512 CPUs (see below) and OMP_WAIT_POLICY=passive for both sides (both use libgomp): spinning OpenMP workers would otherwise
# compete with the BLAS threads on a loaded machine.
set -eu
cd "$(dirname "$0")/.."
LIB=${SORA_LIB:-build/libsora.a}
THREADS=${THREADS:-$(nproc)}
ENC=${ENC:-9 64 64,9 128 128}
RT=${RT:-33 256 256}
ROUNDS=${ROUNDS:-2}
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
# OpenBLAS 0.3.21 runs its Haswell (AVX2) kernels on AMD Zen 4 although the CPU has AVX-512, where
# oneDNN uses AVX-512: name the core so that both sides use the CPU's widest vectors.
# (An OPENBLAS_CORETYPE already set is replaced; VAE_BENCH_CORETYPE chooses another.)
if grep -qw avx512f /proc/cpuinfo; then
	echo "OPENBLAS_CORETYPE=${VAE_BENCH_CORETYPE:-SkylakeX} (was ${OPENBLAS_CORETYPE:-unset})" >&2
	export OPENBLAS_CORETYPE=${VAE_BENCH_CORETYPE:-SkylakeX}
fi
# Both sides keep freed memory in glibc's heap (no mmap per buffer, no trimming): a fresh buffer faults on
# every first touch of a page, 16 us per 4 KiB on the VM we bench on, and PyTorch's activations above glibc's
# 32 MiB dynamic threshold would otherwise be mapped afresh on every call (2.5x its time at 9x128x128).
# sora.c sets the same in-process (util/big_alloc.c), up to the 32 MiB that mallopt allows.
export GLIBC_TUNABLES=${GLIBC_TUNABLES:-glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=17179869184}
echo "GLIBC_TUNABLES=$GLIBC_TUNABLES" >&2
PY=${PYTHON:-/usr/bin/python3} # Debian's python3-torch lives in the system Python
T=$(mktemp -d /tmp/sora-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT

# shellcheck disable=SC2046
cc -O2 -std=gnu11 -Icommon -fopenmp bench/vae_bench.c "$LIB" $(pkg-config --cflags --libs openblas libcjson) -lm \
	-o "$T/vae_bench"
cc -O2 tests/tools/peak_rss.c -o "$T/peak_rss"

IFS=, read -ra CLIPS <<<"$ENC"
# shellcheck disable=SC2086
for r in $(seq "$ROUNDS"); do
	{
		"$T/vae_bench" conv
		for c in "${CLIPS[@]}"; do "$T/vae_bench" encoder $c; done
	} >"$T/sora.$r" 2>"$T/err.sora"
	{
		"$PY" bench/vae_peer_torch.py "$THREADS" conv
		for c in "${CLIPS[@]}"; do "$PY" bench/vae_peer_torch.py "$THREADS" encoder $c; done
	} >"$T/torch.$r" 2>"$T/err.torch"
done
sort -u "$T/err.sora" "$T/err.torch" >&2
# Best round of each side: the highest GFLOP/s, the lowest seconds.
best() { cat "$T/$1".* | awk '!($1 in m) { order[n++] = $1; m[$1] = $2 }
	($1 ~ /^encoder/ && $2 < m[$1]) || ($1 !~ /^encoder/ && $2 > m[$1]) { m[$1] = $2 }
	END { for (i = 0; i < n; i++) print order[i], m[order[i]] }'; }
best sora >"$T/sora"
best torch >"$T/torch"

printf '%-32s %12s %12s %14s\n' case sora torch "sora / torch"
paste -d' ' "$T/sora" "$T/torch" | awk '{
	if ($1 ~ /^encoder/) printf "%-32s %10.2f s %10.2f s %13.2fx\n", $1, $2, $4, $4 / $2;
	else printf "%-32s %7.2f GF/s %7.2f GF/s %13.2fx\n", $1, $2, $4, $2 / $4 }'

# shellcheck disable=SC2086
"$T/peak_rss" "$T/vae_bench" roundtrip $RT 2>"$T/rss" || { cat "$T/rss" >&2; exit 1; }
grep roundtrip "$T/rss"
echo "peak RSS of the round trip ($RT): $(($(awk '/^peak_rss_kib/ { print $2 }' "$T/rss") / 1024)) MiB"
