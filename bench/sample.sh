#!/usr/bin/env bash
# Seconds per MMDiT call on the CPU at the released width (3072 wide, 24 heads of 128, MLP 12288) with one
# double and one single block (random weights, Open-Sora 2.0 layout), at 256 image + 512 text tokens (a
# 256px 1:1 image), sora.c (bench/mmdit_bench.c) beside the same blocks in PyTorch on the CPU (Debian's
# python3-torch, bench/mmdit_torch.py) on the same weights, inputs and number of threads, in the same run.
# Each side: the median of CALLS calls (default 3) after a warm-up; the sides alternate for ROUNDS rounds
# (default 1) and each keeps its best. Also prints both outputs' largest difference.
# Env: SORA_LIB (libsora.a, default build/libsora.a), THREADS (default: all cores), CALLS, ROUNDS.
set -eu
cd "$(dirname "$0")/.."
LIB=${SORA_LIB:-build/libsora.a}
THREADS=${THREADS:-$(nproc)}
CALLS=${CALLS:-3}
ROUNDS=${ROUNDS:-1}
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
T=$(mktemp -d /tmp/sora-bench-sample.XXXXXX)
trap 'rm -rf "$T"' EXIT

# shellcheck disable=SC2046
cc -O2 -std=gnu11 -Icommon -fopenmp bench/mmdit_bench.c "$LIB" $(pkg-config --cflags --libs openblas libcjson) -lm \
	-o "$T/mmdit_bench"
echo "writing a 2.1 GB f32 model (1 double + 1 single block, 3072 wide) to $T" >&2
"$T/mmdit_bench" make "$T"
for r in $(seq "$ROUNDS"); do
	"$T/mmdit_bench" run "$T" "$CALLS" >"$T/sora.$r" 2>"$T/err.sora"
	# Debian's python3-torch lives in the system Python.
	"${PYTHON:-/usr/bin/python3}" bench/mmdit_torch.py "$T" "$CALLS" "$THREADS" >"$T/torch.$r" 2>"$T/err.torch"
done
cat "$T/err.sora" "$T/err.torch" >&2
sora=$(awk '$1 == "sora" { print $2 }' "$T"/sora.* | sort -g | head -1)
gflop=$(awk '$1 == "sora" { print $3 }' "$T/sora.1")
torch=$(awk '$1 == "torch" { print $2 }' "$T"/torch.* | sort -g | head -1)
diff=$(awk '$1 == "diff" { print $2 }' "$T/torch.1")

printf 'MMDiT call, 256 image + 512 text tokens, 3072 wide, 1 double + 1 single block: %.1f GFLOP\n' "$gflop"
printf '%-8s %12s %10s\n' side "s/call" "GFLOP/s"
awk -v s="$sora" -v t="$torch" -v g="$gflop" 'BEGIN {
	printf "%-8s %12.3f %10.2f\n", "sora", s, g / s
	printf "%-8s %12.3f %10.2f\n", "torch", t, g / t
	printf "ratio (torch s / sora s): %.2fx\n", t / s
}'
echo "outputs differ by at most $diff of max|torch|"
