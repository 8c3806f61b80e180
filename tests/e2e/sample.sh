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

# Replay: denoise3 (3 steps, i2v_head) from its stored inputs.
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

# Whole runs: the fixture MMDiT (txt 48, vec 32) and VAE, a T5 with d_model 48 and a CLIP text tower of
# width 32 from sora-mkmodel (their own tokenizers); 64×64 (--height/--width: the tables start at 256px).
sed 's/"d_model": 32/"d_model": 48/' "$CFG/t5.json" >"$T/t5.json"
sora-mkmodel -q --kind t5 --config "$T/t5.json" --out "$T/t5" || fail "make the tiny T5"
sora-mkmodel -q --kind clip-text --config "$CFG/clip_text.json" --out "$T/clip" || fail "make the tiny CLIP"
RUN=("${DIT[@]}" --vae "$V/vae_tiny.safetensors" --vae-config "$V/vae_tiny_config.json" --t5 "$T/t5" --clip "$T/clip"
	--height 64 --width 64 --num-steps 2 -q)
probe() { ffprobe -v error -count_frames -show_entries stream=codec_name,width,height,nb_read_frames,r_frame_rate -of csv=p=0 "$1"; }

sora-sample "${RUN[@]}" --prompt "a red fox runs in the snow" --num-frames 9 --seed 7 --save-dir "$T/a"
expect "t2v: exit 0" "$?" 0
expect "t2v: H.264, 64x64, 24 fps, 9 frames" "$(probe "$T/a/video_None/prompt_0000.mp4")" "h264,64,64,24/1,9"
expect "t2v: the prompt beside it" "$(cat "$T/a/video_None/prompt_0000.txt")" "a red fox runs in the snow. 24 FPS. 4 motion score."
sora-sample "${RUN[@]}" --prompt "a red fox runs in the snow" --num-frames 9 --seed 7 --save-dir "$T/b"
expect "same seed: identical bytes" "$(cmp "$T/a/video_None/prompt_0000.mp4" "$T/b/video_None/prompt_0000.mp4" && echo same)" same
sora-sample "${RUN[@]}" --prompt "a red fox runs in the snow" --num-frames 9 --seed 8 --save-dir "$T/c"
expect "another seed: another video" \
	"$(cmp -s "$T/a/video_None/prompt_0000.mp4" "$T/c/video_None/prompt_0000.mp4" || echo differ)" differ

sora-sample "${RUN[@]}" --prompt "waves" --num-frames 5 --fps-save 12 --motion-score 7 --save-dir "$T/d"
expect "--fps-save 12: 12 fps, 5 frames" "$(probe "$T/d/video_None/prompt_0000.mp4")" "h264,64,64,12/1,5"
expect "--fps-save and --motion-score in the prompt" "$(cat "$T/d/video_None/prompt_0000.txt")" "waves. 12 FPS. 7 motion score."

sora-sample "${RUN[@]}" --prompt "a cat" --num-frames 1 --width 96 --save-dir "$T/e"
expect "one frame: a 96x64 PNG" \
	"$(ffprobe -v error -show_entries stream=codec_name,width,height -of csv=p=0 "$T/e/image_None/prompt_0000.png")" "png,96,64"

printf 'text,name\n"a dog, running",dog\nrain on a window,\n' >"$T/p.csv"
sora-sample "${RUN[@]}" --csv "$T/p.csv" --num-frames 5 --num-sample 2 --save-dir "$T/f"
expect "--csv, --num-sample 2: names, fallback name, _k suffix" "$(cd "$T/f/video_None" && ls *.mp4 | tr '\n' ' ')" \
	"dog.mp4 dog_1.mp4 p_0001.mp4 p_0001_1.mp4 "
expect "--num-sample: seed + k gives another video" "$(cmp -s "$T/f/video_None/dog.mp4" "$T/f/video_None/dog_1.mp4" || echo differ)" differ

sora-sample "${RUN[@]}" --prompt "a fox" --num-frames 9 --seed 7 --cond-type i2v_head --ref "$V/e2e_ref_80x100.png" --save-dir "$T/g"
expect "i2v_head with an image: 9 frames" "$(probe "$T/g/video_None/prompt_0000.mp4")" "h264,64,64,24/1,9"
ff -i "$T/g/video_None/prompt_0000.mp4" -t 1 "$T/ref.mp4"
sora-sample "${RUN[@]}" --prompt "a fox" --num-frames 5 --cond-type i2v_tail --ref "$T/ref.mp4" --save-dir "$T/h"
expect "i2v_tail with a video: 5 frames" "$(probe "$T/h/video_None/prompt_0000.mp4")" "h264,64,64,24/1,5"

printf 'text,ref\na,%s\nb,\n' "$V/e2e_ref_64x64.png;$T/ref.mp4" >"$T/refs.csv"
out=$(sora-sample "${RUN[@]}" --csv "$T/refs.csv" --cond-type i2v_loop --num-frames 5 --save-dir "$T/refs" 2>&1)
expect "i2v_loop over a CSV ('a.png;b.mp4' refs): exit 0, a row without a reference warned and sampled as t2v" \
	"$?/$(echo "$out" | grep -c 'prompt 1 has no reference: sampled as t2v')/$(ls "$T/refs/video_None" | grep -c mp4)" "0/1/2"
expect "the .txt holds the prompt as the reference writes it (no newline)" "$(tail -c 7 "$T/refs/video_None/refs_0000.txt" | od -An -c | tr -d ' ')" "score."

ff -f lavfi -i testsrc=size=80x64:rate=24 -frames:v 40 -pix_fmt yuv420p "$T/v40.mp4"
sora-sample "${RUN[@]}" --prompt "a clock" --num-frames 37 --cond-type v2v_tail --ref "$T/v40.mp4" --save-dir "$T/v2v"
expect "v2v_tail with a 40-frame video: 37 frames" "$(probe "$T/v2v/video_None/prompt_0000.mp4")" "h264,64,64,24/1,37"

# Bad input: one clear error each, exit status 1 (usage: 2).
bad() { # bad NAME WANTED_STATUS GREP ARGS...
	local name=$1 st=$2 pat=$3
	shift 3
	out=$(sora-sample "${RUN[@]}" --prompt "x" --save-dir "$T/bad" "$@" 2>&1)
	local rc=$?
	expect "$name: exit $st" "$rc" "$st"
	expect "$name: one line naming it" "$(echo "$out" | grep -c "$pat")/$(echo "$out" | wc -l)" "1/1"
}
echo "not an image" >"$T/notes.txt"
bad "reference not an image" 1 "notes.txt: not an image" --cond-type i2v_head --ref "$T/notes.txt" --num-frames 5
cp "$T/notes.txt" "$T/fake.png"
bad "reference .png that is no image" 1 "fake.png is not a readable image" --cond-type i2v_head --ref "$T/fake.png" --num-frames 5
bad "i2v without a reference" 1 "needs a reference" --cond-type i2v_head --num-frames 5
bad "missing reference file" 1 "reference $T/nope.png: No such file" --cond-type i2v_head --ref "$T/nope.png" --num-frames 5
bad "v2v with an image" 1 "a v2v reference must be a video" --cond-type v2v_head --ref "$V/e2e_ref_64x64.png" --num-frames 37
bad "v2v_head_easy with a 40-frame video (9 latent frames, 17 needed)" 1 "needs 17 reference and latent frames, got 9" \
	--cond-type v2v_head_easy --ref "$T/v40.mp4" --num-frames 69
bad "frames not 4k+1" 2 "num-frames 8: must be 4k+1" --num-frames 8
out=$(sora-sample "${DIT[@]}" --vae "$V/vae_tiny.safetensors" --t5 "$T/t5" --clip "$T/clip" --prompt x --aspect-ratio 5:7 2>&1)
expect "unknown aspect ratio: exit 2" "$?" 2
expect "unknown aspect ratio: named" "$(echo "$out" | grep -c '5:7')" 1
echo '{"axes_dim": [8, 12, 12], "fused_qkv": false}' >"$T/flux.json"
out=$(sora-sample "${RUN[@]}" --model "$V/mmdit_tiny_flux.safetensors" --model-config "$T/flux.json" --prompt x --num-frames 5 2>&1)
expect "checkpoint of the other layout than the config says: exit 1" "$?" 1
expect "checkpoint of the other layout: named" "$(echo "$out" | grep -c 'fused_qkv')" 1
bad "unknown condition type" 2 "i2v_middle" --cond-type i2v_middle --num-frames 5
printf 'prompt\nx\n' >"$T/nocol.csv"
out=$(sora-sample "${RUN[@]}" --csv "$T/nocol.csv" --save-dir "$T/bad" 2>&1)
expect "CSV without a text column: exit 1, named" "$?/$(echo "$out" | grep -c 'no column named text')" "1/1"
out=$(sora-sample "${RUN[@]}" --prompt x --t5 "$T/nowhere" --save-dir "$T/bad" 2>&1)
expect "missing T5 folder: exit 1, named" "$?/$(echo "$out" | grep -c "T5 $T/nowhere")" "1/1"
out=$(sora-sample "${RUN[@]}" --prompt x --t5 "$T/clip" --clip "$T/t5" --save-dir "$T/bad" 2>&1)
expect "T5 and CLIP folders swapped: exit 1" "$?" 1
sora-mkmodel -q --kind t5 --config "$CFG/t5.json" --out "$T/t5_32"
out=$(sora-sample "${RUN[@]}" --prompt x --t5 "$T/t5_32" --save-dir "$T/bad" 2>&1)
expect "T5 of another width than the MMDiT's text input: exit 1, named" "$?/$(echo "$out" | grep -c '32-wide states, the MMDiT .* takes 48')" "1/1"

[ "$FAILS" -eq 0 ]
