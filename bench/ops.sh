#!/usr/bin/env bash
# CPU linear and attention GFLOP/s at the shapes of T5-XXL (4096 wide, 512 tokens) and CLIP-L (768 wide,
# 77 tokens), sora.c (OpenBLAS sgemm + OpenMP) next to PyTorch on the CPU (Debian's python3-torch) on the
# same shapes and the same number of threads, in the same run. Both: median of 7 runs after a warm-up;
# the two sides alternate for ROUNDS rounds (default 2) and each keeps its best round, so that load from
# elsewhere on the machine does not favour whichever side ran at a quieter moment.
# Env: SORA_LIB (libsora.a, default build/libsora.a), THREADS (default: all cores).
set -eu
cd "$(dirname "$0")/.."
LIB=${SORA_LIB:-build/libsora.a}
THREADS=${THREADS:-$(nproc)}
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
T=$(mktemp -d /tmp/sora-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT

# shellcheck disable=SC2046
cc -O2 -std=gnu11 -Icommon -fopenmp bench/ops_bench.c "$LIB" $(pkg-config --cflags --libs openblas) -lm -o "$T/ops_bench"
ROUNDS=${ROUNDS:-2}

cat >"$T/peer_torch.py" <<'PY'
import statistics, sys, time
import torch
n = int(sys.argv[1])
torch.set_num_threads(n)
blas = sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l and ".so" in l})
print("torch %s, %d threads, BLAS: %s" % (torch.__version__, torch.get_num_threads(), " ".join(blas)), file=sys.stderr)
torch.manual_seed(0)

def timed(f):
    f()
    ts = []
    for _ in range(7):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)

def linear(name, N, i, o):
    x, w, b = torch.randn(N, i), torch.randn(o, i), torch.randn(o)
    with torch.no_grad():
        t = timed(lambda: torch.nn.functional.linear(x, w, b))
    print(name, "%.2f" % (2 * N * i * o / t / 1e9))

def attention(name, H, T, D, scale, causal, bias):
    q, k, v = (torch.randn(1, H, T, D) for _ in range(3))
    pb = torch.randn(1, H, T, T) if bias else torch.zeros(1, H, T, T)
    if causal:
        pb = pb + torch.triu(torch.full((T, T), torch.finfo(torch.float32).min), 1)
    def f():
        s = torch.matmul(q, k.transpose(-1, -2)) * scale + pb
        return torch.matmul(torch.softmax(s, dim=-1), v)
    with torch.no_grad():
        t = timed(f)
    print(name, "%.2f" % (4 * H * T * T * D / t / 1e9))

linear("t5_linear_512x4096x4096", 512, 4096, 4096)
linear("t5_ffn_512x4096x10240", 512, 4096, 10240)
attention("t5_attention_64h_512t_64d", 64, 512, 64, 1.0, False, True)
linear("clip_linear_77x768x768", 77, 768, 768)
linear("clip_mlp_77x768x3072", 77, 768, 3072)
attention("clip_attention_12h_77t_64d", 12, 77, 64, 0.125, True, False)
PY

for r in $(seq "$ROUNDS"); do
	"$T/ops_bench" >"$T/sora.$r" 2>"$T/err.sora"
	# Debian's python3-torch lives in the system Python.
	"${PYTHON:-/usr/bin/python3}" "$T/peer_torch.py" "$THREADS" >"$T/torch.$r" 2>"$T/err.torch"
done
cat "$T/err.sora" "$T/err.torch" >&2
# The best round of each side, in the order the ops were run.
best() { cat "$T/$1".* | awk '!($1 in m) { order[n++] = $1 } $2 > m[$1] { m[$1] = $2 } END { for (i = 0; i < n; i++) print order[i], m[order[i]] }'; }
best sora >"$T/sora"
best torch >"$T/torch"

printf '%-30s %12s %12s %8s\n' op "sora GFLOP/s" "torch GFLOP/s" ratio
# Same order on both sides.
paste -d' ' "$T/sora" "$T/torch" | awk '{ printf "%-30s %12.2f %12.2f %7.2fx\n", $1, $2, $4, $2 / $4 }'
