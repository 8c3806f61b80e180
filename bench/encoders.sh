#!/usr/bin/env bash
# Whole encoder forwards on the CPU at published widths, random weights made on the fly: T5 at
# t5-v1_1-xxl width (d_model 4096, d_ff 10240, 64 heads, 2 of its 24 blocks, 512 tokens, no mask),
# CLIP-L/14's text tower (8 prompts × 77 tokens) and vision tower (2 images, 224 px). sora.c
# (bench/encoders_bench.c: checkpoints written as safetensors, loaded by the models' loaders) next to the
# same layer shapes in PyTorch (bench/encoders_torch.py, Debian's python3-torch) in the same run, with
# the same threads. Items (tokens or images) per second and achieved GFLOP/s (matrix products only, the
# same count on both sides); each side keeps its best of ROUNDS rounds (default 1), alternating.
# Env: SORA_LIB (default build/libsora.a), THREADS (default: all cores), RUNS (timed passes, median;
# default 3), ROUNDS, MODELS (some of: t5 clip_text clip_vision; default all).
set -eu
cd "$(dirname "$0")/.."
LIB=${SORA_LIB:-build/libsora.a}
THREADS=${THREADS:-$(nproc)}
RUNS=${RUNS:-3}
ROUNDS=${ROUNDS:-1}
MODELS=${MODELS:-t5 clip_text clip_vision}
# Idle OpenMP workers sleep instead of spinning (both sides use libgomp): spinning ones steal the cores
# from the OpenBLAS threads of the next matmul (CLIP vision ran at half speed here with the default).
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
T=$(mktemp -d /tmp/sora-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT

# shellcheck disable=SC2046
cc -O2 -std=gnu11 -Icommon -fopenmp -pthread bench/encoders_bench.c "$LIB" \
	$(pkg-config --cflags --libs openblas libcjson) -lm -o "$T/encoders_bench"

for r in $(seq "$ROUNDS"); do
	# shellcheck disable=SC2086
	"$T/encoders_bench" "$T" "$RUNS" $MODELS >"$T/sora.$r" 2>"$T/err.sora"
	# Debian's python3-torch lives in the system Python.
	# shellcheck disable=SC2086
	"${PYTHON:-/usr/bin/python3}" bench/encoders_torch.py "$THREADS" "$RUNS" $MODELS >"$T/torch.$r" 2>"$T/err.torch"
done
cat "$T/err.sora" "$T/err.torch" >&2
# The best round of each side (by items/s), in the order the models were run.
best() { cat "$T/$1".* | awk '!($1 in m) { order[n++] = $1 } $2 > m[$1] { m[$1] = $2; g[$1] = $3 } END { for (i = 0; i < n; i++) print order[i], m[order[i]], g[order[i]] }'; }
best sora >"$T/sora"
best torch >"$T/torch"

printf '%-34s %14s %14s %10s %10s %7s\n' model "sora items/s" "torch items/s" "sora GF/s" "torch GF/s" ratio
paste -d' ' "$T/sora" "$T/torch" |
	awk '{ printf "%-34s %14.2f %14.2f %10.2f %10.2f %6.2fx\n", $1, $2, $5, $3, $6, $2 / $5 }'
