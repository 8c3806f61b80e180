#!/usr/bin/env bash
# sora-sample: --replay of the official 3- and 12-step sampling runs (flow_io.safetensors) with the real
# tiny MMDiT, every step's model input and prediction and the final latent within 1e-5·max|ref| (the
# fixture README's bound); then whole runs with tiny models (the MMDiT and VAE fixtures, a T5 and a CLIP
# text tower from sora-mkmodel): MP4 frames, size and fps, seeds, what a reference does to the output
# (against sora-vae's decode of the reference latent, drawn here as sora-sample draws it), and the
# bad-input contract.
. "$(dirname "$0")/lib.sh"

FX=${SORA_FIXTURES:-$(cd "$(dirname "$0")/../.." && pwd)/../shared/fixtures}
CFG=$(cd "$(dirname "$0")/../.." && pwd)/configs/tiny
V=$FX/video
need_fixtures "sample" "$V/flow_io.safetensors" "$V/mmdit_tiny.safetensors" "$V/mmdit_tiny_flux.safetensors" \
	"$V/vae_tiny.safetensors" "$V/vae_tiny_config.json" "$V/e2e_ref_64x64.png" "$V/e2e_ref_80x100.png"
echo '{"axes_dim": [8, 12, 12]}' >"$T/mmdit.json"
DIT=(--model "$V/mmdit_tiny.safetensors" --model-config "$T/mmdit.json")

# replay_check NAME GOT PREFIX COUNT: every tensor of GOT against PREFIX+name in flow_io, 1e-5·max|ref|
replay_check() {
	expect "$1" "$(python3 "$COMPARE" --all "$2" "$V/flow_io.safetensors" "$3" --tol 1e-5 2>/dev/null)" "ok $4"
}

# Replay: denoise3 (3 steps, i2v_head) from its stored inputs.
sora-sample -q --replay "$V/flow_io.safetensors" --prefix denoise3. "${DIT[@]}" --cond-type i2v_head \
	--out "$T/d3.safetensors"
expect "replay denoise3: exit 0" "$?" 0
replay_check "replay denoise3: step0..2 x_in/pred and x_final" "$T/d3.safetensors" denoise3. 7

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
replay_check "replay denoise12 (oscillation on steps 10, 11): steps 10, 11 and x_final" "$T/d12.safetensors" \
	denoise12. 5
# The replay check fails on another run's output, and on one NaN (the old max() loop dropped it).
must_fail "replay check: the 12-step output against the 3-step reference fails" replay_check x "$T/d12.safetensors" \
	denoise3. 7
python3 - "$T/d3.safetensors" "$T/d3nan.safetensors" <<'PY'
import json, struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", b[:8])[0]
at = 8 + n + json.loads(b[8:8 + n])["x_final"]["data_offsets"][0]
b[at:at + 4] = struct.pack("<f", float("nan"))
open(sys.argv[2], "wb").write(b)
PY
must_fail "replay check: one NaN in x_final fails" replay_check x "$T/d3nan.safetensors" denoise3. 7

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
expect_same "same seed: identical bytes" "$T/a/video_None/prompt_0000.mp4" "$T/b/video_None/prompt_0000.mp4"
sora-sample "${RUN[@]}" --prompt "a red fox runs in the snow" --num-frames 9 --seed 8 --save-dir "$T/c"
expect_differ "another seed: another video" "$T/a/video_None/prompt_0000.mp4" "$T/c/video_None/prompt_0000.mp4"

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
expect_differ "--num-sample: seed + k gives another video" "$T/f/video_None/dog.mp4" "$T/f/video_None/dog_1.mp4"

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

# ---- What a reference does to the output ----
# The mask semantics: after denoising, i2v_head puts the reference latent into latent frame 0, i2v_tail
# into the last, i2v_loop both (v2v_* only conditions the model). The reference latent is the VAE's
# posterior *sample*: scale·(mean + std·eps), eps the next torch.randn draw of the generator seeded with
# --seed. px.py draws the same eps (mt19937 and normal_fill's Box–Muller, in Python) over sora-vae
# encode's mean and logvar, and sora-vae decodes it: an expectation made without sora-sample. The random
# tiny VAE does not reproduce images (the decoded reference looks nothing like it), so "closer to the
# reference" means closer to this decode of the reference latent.
cat >"$T/px.py" <<'PY'
import json, random, struct, subprocess, sys
import numpy as np
import compare

def pixels(path):
    """[frames, H, W, 3] as floats: a sora-vae 'video' tensor mapped to 0..255, or an MP4's / PNG's frames"""
    if path.endswith(".safetensors"):
        v = compare.load(path)["video"][0]
        return ((np.clip(v, -1, 1) + 1) * 127.5).transpose(1, 2, 3, 0)
    wh = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
                         "-of", "csv=p=0", path], capture_output=True, text=True).stdout.strip()
    if not wh:
        raise SystemExit("%s: not a readable image or video" % path)
    w, h = map(int, wh.split(",")[:2])
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3).astype(np.float64)

def randn(gen, n):
    """torch.randn(n) for n a multiple of 16: 24-bit uniforms, then normal_fill's Box–Muller over each 16"""
    if n % 16:
        raise SystemExit("randn: %d is not a multiple of 16" % n)
    u = np.array([(gen.getrandbits(32) & 0xFFFFFF) / 16777216.0 for _ in range(n)]).reshape(-1, 16)
    r, th = np.sqrt(-2.0 * np.log(1.0 - u[:, :8])), 2.0 * np.pi * u[:, 8:]
    return np.concatenate([r * np.cos(th), r * np.sin(th)], axis=1).ravel()

def cmd_latent(out, seed, *encoded):
    """z [1, C, len(encoded), h, w]: frame k from the k-th sora-vae encode, with the k-th eps draw"""
    mt = [int(seed) & 0xFFFFFFFF]  # torch.manual_seed: mt19937's init_genrand
    for i in range(1, 624):
        mt.append((1812433253 * (mt[-1] ^ (mt[-1] >> 30)) + i) & 0xFFFFFFFF)
    gen = random.Random()
    gen.setstate((3, tuple(mt) + (624,), None))
    zs = []
    for path in encoded:
        t = compare.load(path)
        mean, logvar = t["mean"], np.clip(t["logvar"], -30, 20)
        zs.append(0.476986 * (mean + np.exp(0.5 * logvar) * randn(gen, mean.size).reshape(mean.shape)))
    z = np.concatenate(zs, axis=2).astype("<f4")
    b = z.tobytes()
    h = json.dumps({"z": {"dtype": "F32", "shape": list(z.shape), "data_offsets": [0, len(b)]}}).encode()
    open(out, "wb").write(struct.pack("<Q", len(h)) + h + b)

def cmd_same(got, want):
    """every pixel within 1 level (the 8-bit rounding, eps in float64 here and float32 there)"""
    good, msg = compare.each(pixels(got), pixels(want), 1.0, 0.0)
    print(msg)
    return good

def blocks(a):
    """means over 4x4 pixels: H.264's error is mostly finer detail than a latent cell (8x8 pixels) holds"""
    f, h, w, c = a.shape
    return a.reshape(f, h // 4, 4, w // 4, 4, c).mean(axis=(2, 4))

def msd(a, b):
    good, why = compare.each(a, b, np.inf, 0.0)  # compare.py's guards: shapes, nothing there, NaN
    if not good:
        raise SystemExit(why)
    return float(((blocks(a) - blocks(b)) ** 2).mean())

def cmd_closer(got, want, other, ratio, frames="all"):
    """GOT is closer to WANT than OTHER is: msd(GOT, WANT) <= RATIO·msd(OTHER, WANT) over 4x4 means;
    frames "first": the first frame of GOT and OTHER only"""
    g, w, o = pixels(got), pixels(want), pixels(other)
    if frames == "first":
        g, o = g[:1], o[:1]
    dg, do = msd(g, w), msd(o, w)
    print("mean square error of 4x4 means %.4g, the other's %.4g: ratio %.3g, bound %s" % (
        dg, do, dg / do if do > 0 else float("inf"), ratio))
    return do > 0 and dg <= float(ratio) * do

sys.exit(0 if globals()["cmd_" + sys.argv[1]](*sys.argv[2:]) in (None, True) else 1)
PY
# px NAME CMD ARGS...: one check of px.py, its figures in the ok line or the reason in the failure
px() {
	local name=$1 msg
	shift
	if msg=$(python3 "$T/px.py" "$@" 2>&1); then ok "$name ($msg)"; else fail "$name" "$msg"; fi
}
VAE=(--vae "$V/vae_tiny.safetensors" --vae-config "$V/vae_tiny_config.json")
# expect_decode OUT SEED IMAGE...: sora-vae's decode of the latent whose frame k is IMAGE k's posterior sample
# with the k-th eps draw of SEED: what sora-sample must restore, made without it
expect_decode() {
	local out=$1 seed=$2 img enc=()
	shift 2
	for img in "$@"; do
		sora-vae encode "${VAE[@]}" -q -o "$T/c/$(basename "$img").enc.safetensors" "$img"
		enc+=("$T/c/$(basename "$img").enc.safetensors")
	done
	python3 "$T/px.py" latent "$T/c/z.safetensors" "$seed" "${enc[@]}" &&
		sora-vae decode "${VAE[@]}" -q --in "$T/c/z.safetensors" -o "$out"
}
mkdir -p "$T/c"
A=$V/e2e_ref_64x64.png # 64x64: resize_crop keeps it as it is, so sora-vae encodes the same pixels
# B: a lossless 9-frame clip; B7 differs from it in frame 7 only, B8 in frame 8 (the last) only.
for k in "" 7 8; do
	box=null
	[ -n "$k" ] && box="drawbox=x=8:y=8:w=40:h=40:color=red:t=fill:enable='eq(n,$k)'"
	ff -f lavfi -i testsrc2=size=64x64:rate=24 -frames:v 9 -vf "$box" -c:v ffv1 -pix_fmt bgr0 "$T/c/B$k.mkv"
done
ff -i "$T/c/B.mkv" -vf 'select=eq(n\,8)' -frames:v 1 "$T/c/B_last.png"
ff -i "$T/c/B.mkv" -vf 'select=eq(n\,0)' -frames:v 1 "$T/c/B_first.png"
expect_decode "$T/c/E_head.safetensors" 7 "$A"
expect_decode "$T/c/E_tail.safetensors" 7 "$T/c/B_last.png"
expect_decode "$T/c/E_tail_first.safetensors" 7 "$T/c/B_first.png"
expect_decode "$T/c/E_loop.safetensors" 7 "$A" "$T/c/B_last.png"
cs() { # cs NAME FRAMES [sora-sample options]: seed 7, "a fox"
	local name=$1 n=$2
	shift 2
	sora-sample "${RUN[@]}" --prompt "a fox" --seed 7 --num-frames "$n" --save-dir "$T/c/$name" "$@" ||
		fail "sample $name"
}
for r in "t2v1 1" "head1 1 --cond-type i2v_head --ref $A" "tail1 1 --cond-type i2v_tail --ref $T/c/B.mkv" \
	"t2v5 5" "head5 5 --cond-type i2v_head --ref $A" "tail5 5 --cond-type i2v_tail --ref $T/c/B.mkv" \
	"tail5_7 5 --cond-type i2v_tail --ref $T/c/B7.mkv" "tail5_8 5 --cond-type i2v_tail --ref $T/c/B8.mkv" \
	"loop5 5 --cond-type i2v_loop --ref $A;$T/c/B.mkv"; do
	# shellcheck disable=SC2086 # word splitting wanted: name, frames, options (no spaces in $T)
	cs $r
done
IMG=image_None/prompt_0000.png
MP4=video_None/prompt_0000.mp4

# One frame: the latent is the restored reference alone, so the image is its decode, pixel for pixel.
px "i2v_head, one frame: the decode of the reference's posterior sample (eps from --seed)" \
	same "$T/c/head1/$IMG" "$T/c/E_head.safetensors"
px "i2v_tail, one frame: the decode of the last frame of the reference video" \
	same "$T/c/tail1/$IMG" "$T/c/E_tail.safetensors"
must_fail "pixel check: the t2v image against the reference's decode fails" \
	px x same "$T/c/t2v1/$IMG" "$T/c/E_head.safetensors"
must_fail "pixel check: the decode of the video's first frame fails against i2v_tail's image" \
	px x same "$T/c/tail1/$IMG" "$T/c/E_tail_first.safetensors"

# Five frames (two latent frames): each conditioned run differs from t2v of the same seed.
for c in head5 tail5 loop5; do
	expect_differ "$c: not the t2v video of the same seed" "$T/c/$c/$MP4" "$T/c/t2v5/$MP4"
done
# i2v_head: the first frame is near the reference's decode (the rest of the latent still moves it a
# little: the VAE's GroupNorm spans every frame); measured 4x4-mean error 0.08-0.12 of t2v's, seeds 1-7.
px "i2v_head: the first frame is the reference's, far closer to its decode than t2v's" \
	closer "$T/c/head5/$MP4" "$T/c/E_head.safetensors" "$T/c/t2v5/$MP4" 0.25 first
must_fail "closer check: t2v's first frame fails against i2v_head's" \
	px x closer "$T/c/t2v5/$MP4" "$T/c/E_head.safetensors" "$T/c/head5/$MP4" 0.25 first
# i2v_loop with two latent frames: both are references, so the whole video is sora-vae's decode of them
# (within H.264's error). Measured, seeds 1-7: 0.025-0.036 of t2v's error, and 0.25-0.38 of the i2v_head
# video's (head right, last latent frame left as denoised): the tail is put back too.
px "i2v_loop: the video is the decode of both references (vs t2v)" \
	closer "$T/c/loop5/$MP4" "$T/c/E_loop.safetensors" "$T/c/t2v5/$MP4" 0.1
px "i2v_loop: the last latent frame is the tail reference (vs the i2v_head video)" \
	closer "$T/c/loop5/$MP4" "$T/c/E_loop.safetensors" "$T/c/head5/$MP4" 0.6
must_fail "closer check: a video with the head reference but not the tail fails as i2v_loop" \
	px x closer "$T/c/head5/$MP4" "$T/c/E_loop.safetensors" "$T/c/loop5/$MP4" 0.6
# i2v_tail: the last latent frame moves the random VAE's decode below H.264's error (the causal convs'
# padding repeats frame 0 into every frame: swapping latent frame 2 of 3 moves the last frame by 0.02
# rms, latent frame 0 every frame by 0.37), so it is shown by which reference frame counts: the
# one-frame check above, and a change in the video's frame 7 of 9 leaves the bytes alone, in frame 8
# not.
expect_same "i2v_tail: the reference's frame before the last does not count" "$T/c/tail5/$MP4" "$T/c/tail5_7/$MP4"
expect_differ "i2v_tail: its last frame does" "$T/c/tail5/$MP4" "$T/c/tail5_8/$MP4"

# v2v_tail: the last 33 frames of a 40-frame reference, so frame 6 must not count and frame 7 must. 33
# frames out (9 latent frames, all conditioned). Past ~25 frames the MP4s are not byte-for-byte
# repeatable: libx264's MB-tree reads uninitialised heap memory at this size (the same frames through the
# ffmpeg CLI change with MALLOC_PERTURB_, and not with mbtree=0), and sora-sample's threads leave other
# heap contents each run; so outputs are compared by error. Measured, 5 runs each (4x4 means): two runs
# of one command up to 2.9, frame 6 changed up to 2.9, frame 7 changed at least 29, t2v at least 282.
for k in "" 6 7; do
	box=null
	[ -n "$k" ] && box="drawbox=x=20:y=12:w=40:h=40:color=red:t=fill:enable='eq(n,$k)'"
	ff -f lavfi -i testsrc=size=80x64:rate=24 -frames:v 40 -vf "$box" -c:v ffv1 -pix_fmt bgr0 "$T/c/v40$k.mkv"
done
cs t2v33 33
for k in "" 6 7; do cs "v2v$k" 33 --cond-type v2v_tail --ref "$T/c/v40$k.mkv"; done
px "v2v_tail: frame 6 of 40 does not count, frame 7 does (the last 33)" \
	closer "$T/c/v2v6/$MP4" "$T/c/v2v/$MP4" "$T/c/v2v7/$MP4" 0.4
px "v2v_tail: not t2v (two runs on the same last 33 frames, against t2v of the same seed)" \
	closer "$T/c/v2v6/$MP4" "$T/c/v2v/$MP4" "$T/c/t2v33/$MP4" 0.4
must_fail "closer check: swapping frame 6 and frame 7's runs fails" \
	px x closer "$T/c/v2v7/$MP4" "$T/c/v2v/$MP4" "$T/c/v2v6/$MP4" 0.4
cs v2v37 37 --cond-type v2v_tail --ref "$T/c/v40.mkv"
expect "v2v_tail with a 40-frame video: 37 frames" "$(probe "$T/c/v2v37/$MP4")" "h264,64,64,24/1,37"

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
	--cond-type v2v_head_easy --ref "$T/c/v40.mkv" --num-frames 69
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
