#!/usr/bin/env bash
# sora-sample: --replay of the official 3- and 12-step sampling runs (flow_io.safetensors) with the real
# tiny MMDiT, every step's model input and prediction and the final latent within 1e-5·max|ref| (the
# fixture README's bound); then whole runs with tiny models (the MMDiT and VAE fixtures, a T5 and a CLIP
# text tower from sora-mkmodel): MP4 frames, size and fps, seeds, i2v, and the bad-input contract.
. "$(dirname "$0")/lib.sh"

FX=${SORA_FIXTURES:-$(cd "$(dirname "$0")/../.." && pwd)/../shared/fixtures}
CFG=$(cd "$(dirname "$0")/../.." && pwd)/configs/tiny
V=$FX/video
if [ ! -r "$V/flow_io.safetensors" ] || [ ! -r "$V/mmdit_tiny.safetensors" ]; then
	skip "sample" "fixtures not found ($V): set SORA_FIXTURES"
	exit 0
fi
echo '{"axes_dim": [8, 12, 12]}' >"$T/mmdit.json"
DIT=(--model "$V/mmdit_tiny.safetensors" --model-config "$T/mmdit.json")

# close GOT REF PREFIX: every tensor of GOT against PREFIX+name in REF (those REF holds), ≤ 1e-5·max|ref|
close() {
	python3 - "$1" "$2" "$3" <<'PY'
import array, json, struct, sys
def load(p):
    f = open(p, "rb")
    n = struct.unpack("<Q", f.read(8))[0]
    h = json.loads(f.read(n))
    def get(k):
        t = h[k]; b, e = t["data_offsets"]; f.seek(8 + n + b)
        a = array.array("f"); a.frombytes(f.read(e - b)); return t["shape"], a
    return h, get
gh, g = load(sys.argv[1]); rh, r = load(sys.argv[2]); pre = sys.argv[3]
worst, bad, seen = 0.0, [], 0
for k in sorted(x for x in gh if x != "__metadata__" and sys.argv[3] + x in rh):
    gs, ga = g(k); rs, ra = r(pre + k); seen += 1
    if gs != rs:
        bad.append("%s shape %s, want %s" % (k, gs, rs)); continue
    err = max(abs(x - y) for x, y in zip(ga, ra)) / max(abs(y) for y in ra)
    worst = max(worst, err)
    if err > 1e-5:
        bad.append("%s rel err %.3g" % (k, err))
print(" ".join(bad) if bad else "ok %d" % seen)
print("# %s: %d tensors, worst rel err %.3g" % (pre, seen, worst), file=sys.stderr)
PY
}

# 1. Replay: denoise3 (3 steps, i2v_head) from its stored inputs.
sora-sample -q --replay "$V/flow_io.safetensors" --prefix denoise3. "${DIT[@]}" --cond-type i2v_head \
	--out "$T/d3.safetensors"
expect "replay denoise3: exit 0" "$?" 0
expect "replay denoise3: step0..2 x_in/pred and x_final" "$(close "$T/d3.safetensors" "$V/flow_io.safetensors" denoise3.)" "ok 7"

# denoise12 stores only its timesteps and the last steps: its inputs are denoise3's.
python3 - "$V/flow_io.safetensors" "$T/in12.safetensors" <<'PY'
import json, struct, sys
f = open(sys.argv[1], "rb")
n = struct.unpack("<Q", f.read(8))[0]
h = json.loads(f.read(n))
names = {"denoise3." + k: "d12." + k for k in ["noise", "masks", "masked_ref", "txt", "y_vec"]}
names["denoise12.timesteps"] = "d12.timesteps"
hdr, blobs, off = {}, [], 0
for s, d in names.items():
    t = h[s]; b, e = t["data_offsets"]; f.seek(8 + n + b); data = f.read(e - b)
    hdr[d] = {"dtype": t["dtype"], "shape": t["shape"], "data_offsets": [off, off + len(data)]}
    off += len(data); blobs.append(data)
j = json.dumps(hdr).encode()
j += b" " * ((8 - len(j) % 8) % 8)
with open(sys.argv[2], "wb") as o:
    o.write(struct.pack("<Q", len(j))); o.write(j)
    for b in blobs:
        o.write(b)
PY
sora-sample -q --replay "$T/in12.safetensors" --prefix d12. "${DIT[@]}" --cond-type i2v_head --out "$T/d12.safetensors"
expect "replay denoise12 (oscillation on steps 10, 11): steps 10, 11 and x_final" \
	"$(close "$T/d12.safetensors" "$V/flow_io.safetensors" denoise12.)" "ok 5"

out=$(sora-sample -q --replay "$V/flow_io.safetensors" --prefix nothere. "${DIT[@]}" --out "$T/x.safetensors" 2>&1)
expect "replay: a missing input tensor is named" "$(echo "$out" | grep -c 'nothere.noise missing')" 1
out=$(sora-sample -q --replay "$V/flow_io.safetensors" --prefix denoise3. --model "$V/mmdit_tiny.safetensors" --out "$T/x.safetensors" 2>&1)
expect "replay: a model config that does not fit the weights is named" "$(echo "$out" | grep -c 'axes_dim')" 1
