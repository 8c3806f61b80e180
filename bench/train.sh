#!/usr/bin/env bash
# Seconds per MMDiT training step on the CPU, on bench/sample.sh's model (3072 wide, 24 heads of 128, MLP
# 12288, one double and one single block, random weights in the Open-Sora 2.0 layout) and inputs (256 image
# + 512 text tokens and the image condition), against a velocity target: forward, MSE loss, backward (every
# parameter's gradient), global-norm clipping to 1.0 and one AdamW step (lr 1e-5, betas 0.9/0.999, eps
# 1e-15, no weight decay: Open-Sora 2.0's), all f32. sora.c (bench/train_bench.c) beside the same step in
# PyTorch on the CPU (Debian's python3-torch, bench/train_torch.py: autograd, clip_grad_norm_, AdamW) on
# the same weights, inputs, target and threads, in the same run. Each side: the median of STEPS steps
# (default 3) after a first step, which both sides compare: loss, gradient norm and one tensor's update.
# GFLOP per step: the forward's (the linears' and attention's multiply-adds ×2) ×3 for forward + backward,
# the usual estimate; it also counts the input gradients of img_in, cond_in and txt_in that neither side
# computes (~2 % over), and leaves out the elementwise ops and the optimizer (~10 flops a parameter, <1 %).
# Memory: weights, gradients and AdamW's two moments are 4 × 2.1 GB; each side's peak RSS is printed.
# Env: SORA_LIB (libsora.a, default build/libsora.a), THREADS (default: all cores), STEPS, PYTHON,
# TORCH_FOREACH=1 (torch's multi-tensor AdamW; the per-tensor loop is the default, see train_torch.py).
set -eu
cd "$(dirname "$0")/.."
LIB=${SORA_LIB:-build/libsora.a}
THREADS=${THREADS:-$(nproc)}
STEPS=${STEPS:-3}
PY=${PYTHON:-/usr/bin/python3} # Debian's python3-torch lives in the system Python
# Both sides' OpenMP threads sleep when idle instead of spinning: spinning threads would take the cores
# from OpenBLAS's own threads between the OpenMP loops (the same setting for both, so neither gains).
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS OMP_WAIT_POLICY=passive
T=$(mktemp -d /tmp/sora-bench-train.XXXXXX)
trap 'rm -rf "$T"' EXIT

for b in mmdit_bench train_bench; do
	# shellcheck disable=SC2046
	cc -O2 -std=gnu11 -Icommon -fopenmp "bench/$b.c" "$LIB" $(pkg-config --cflags --libs openblas libcjson) -lm \
		-o "$T/$b"
done
echo "writing a 2.1 GB f32 model (1 double + 1 single block, 3072 wide) to $T" >&2
"$T/mmdit_bench" make "$T"
"$T/train_bench" run "$T" "$STEPS" >"$T/sora" 2>"$T/err.sora" || {
	cat "$T/err.sora" >&2
	exit 1
}
cat "$T/err.sora" >&2
have_torch=0
if "$PY" -c 'import torch' 2>/dev/null; then
	have_torch=1
	# No bench/__pycache__ left in the tree from train_torch.py's import of mmdit_torch.
	PYTHONDONTWRITEBYTECODE=1 "$PY" bench/train_torch.py "$T" "$STEPS" "$THREADS" >"$T/torch" 2>"$T/err.torch" || {
		cat "$T/err.torch" >&2
		exit 1
	}
	cat "$T/err.torch" >&2
fi

val() { awk -v k="$1" -v i="$2" '$1 == k { print $i }' "$3"; }
gflop=$(val gflop 2 "$T/sora")
printf 'MMDiT training step, 256 image + 512 text tokens, 3072 wide, 1 double + 1 single block, %s parameters, f32\n' \
	"$(val params 2 "$T/sora")"
printf 'forward %.1f GFLOP, step %.1f GFLOP (forward x3); median of %s steps after a first, %s threads\n' \
	"$gflop" "$(awk -v g="$gflop" 'BEGIN { print 3 * g }')" "$STEPS" "$THREADS"
printf '%-6s %9s %9s %9s %11s %9s %10s\n' side "s/step" forward backward "clip+AdamW" "GFLOP/s" "peak RSS"
row() { # side, its output file
	awk -v s="$1" -v g="$gflop" '$1 == s { t = $2; f = $3; b = $4; o = $5 } $1 == "peak_kib" { k = $2 }
		END { printf "%-6s %9.2f %9.2f %9.2f %11.2f %9.1f %7.2f GiB\n", s, t, f, b, o, 3 * g / t, k / 1048576 }' "$2"
}
row sora "$T/sora"
if [ "$have_torch" = 0 ]; then
	echo "torch: not installed (Debian: python3-torch) — ratio not measured"
	exit 0
fi
row torch "$T/torch"
awk '$1 == "sora" { s = $2 } $1 == "torch" { t = $2 } END { printf "ratio (torch s / sora s): %.2fx\n", t / s }' \
	"$T/sora" "$T/torch"
# The gradient norms compared are both summed in double (torch's clip_grad_norm_ sums in f32: shown too).
awk 'function abs(v) { return v < 0 ? -v : v }
	$1 == "first" && FILENAME ~ /sora$/ { sl = $2; sn = $3 }
	$1 == "first" && FILENAME ~ /torch$/ { tl = $2; tc = $3; tn = $4 }
	END {
		printf "first step: loss sora %.9g torch %.9g (|diff| %.2g)\n", sl, tl, abs(sl - tl)
		printf "first step: gradient norm sora %.9g torch %.9g (rel. diff %.2g; clip_grad_norm_ in f32: %.9g)\n",
			sn, tn, abs(sn - tn) / tn, tc
	}' "$T/sora" "$T/torch"
# With eps 1e-15 AdamW's first step moves every weight by lr·sign(g): a weight 2·lr apart is a gradient
# near 0 whose sign the two sides' roundings decide differently.
awk '$1 == "wdiff" { printf "first step: double_blocks.0.img_attn.q_proj.weight after AdamW: max |sora - torch| %.3g (lr 1e-5), %d of %d elements apart by more than lr/2\n", $2, $3, $4 }' \
	"$T/torch"
