#!/usr/bin/env bash
# sora-vae against the official outputs of vae_tiny_io.safetensors (encode, decode, tiled decode and
# encode through the command line), pixels in and out (a clip, a PNG, an MP4: each against the official
# decode, or against the tensor path fed the same pixels), the checkpoint check, and the bad-input
# contract (frame counts, sizes, missing files and tensors).
. "$(dirname "$0")/lib.sh"

FX=${SORA_FIXTURES:-$(cd "$(dirname "$0")/../.." && pwd)/../shared/fixtures}
IO=$FX/video/vae_tiny_io.safetensors
need_fixtures "vae" "$IO" "$FX/video/vae_tiny.safetensors" "$FX/video/vae_tiny_config.json"
VAE=(--vae "$FX/video/vae_tiny.safetensors" --vae-config "$FX/video/vae_tiny_config.json")

# close NAME GOT_FILE GOT_NAME REF_NAME: max |got − ref| ≤ 1e-4·max |ref| (the fixture README's bound)
close() {
	expect "$1" "$(python3 "$COMPARE" "$2" "$3" "$IO" "$4" --tol 1e-4 2>/dev/null)" ok
}

# px.py: pixels of PNGs, MP4s and 'video' tensors ([-1, 1] → 0..255, as sora-vae writes them).
cat >"$T/px.py" <<'PY'
import json, struct, subprocess, sys
import numpy as np
import compare

def pixels(path):
    """[frames, H, W, 3] floats; FILE.safetensors:NAME is a [1, 3, T, H, W] tensor in [-1, 1]"""
    if ".safetensors" in path:
        f, _, name = path.partition(":")
        v = compare.load(f)[name or "video"][0]
        return ((np.clip(v, -1, 1) + 1) * 127.5).transpose(1, 2, 3, 0)
    wh = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
                         "-of", "csv=p=0", path], capture_output=True, text=True).stdout.strip()
    if not wh:
        raise SystemExit("%s: not a readable image or video" % path)
    w, h = map(int, wh.split(",")[:2])
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3).astype(np.float64)

def cmd_same(got, want):
    """every pixel within 1 level of the tensor's (its 8-bit rounding)"""
    good, msg = compare.each(pixels(got), pixels(want), 1.0, 0.0)
    print(msg)
    return good

def cmd_lossy(got, want, bound):
    """an H.264 file: the mean square error of 4x4 means (the codec's error is mostly finer) is at most
    BOUND times the variance of the reference's 4x4 means"""
    g, w = pixels(got), pixels(want)
    good, why = compare.each(g, w, np.inf, 0.0)  # compare.py's guards: shapes, nothing there, NaN
    if not good:
        print(why)
        return False
    b = lambda a: a.reshape(a.shape[0], a.shape[1] // 4, 4, a.shape[2] // 4, 4, 3).mean(axis=(2, 4))
    err, var = float(((b(g) - b(w)) ** 2).mean()), float(b(w).var())
    print("mean square error of 4x4 means %.4g, %.3g of their variance %.4g (bound %s)" % (err, err / var, var, bound))
    return var > 0 and err <= float(bound) * var

def cmd_tensor(out, first, count, scale, *paths):
    """frames FIRST..FIRST+COUNT-1 of the pictures in PATHS as x [1, 3, T, H, W] = SCALE·p/255·2 − SCALE"""
    p = np.concatenate([pixels(q) for q in paths])[int(first):int(first) + int(count)]
    x = (float(scale) * (p / 127.5 - 1.0)).transpose(3, 0, 1, 2)[None].astype("<f4")
    b = x.tobytes()
    h = json.dumps({"x": {"dtype": "F32", "shape": list(x.shape), "data_offsets": [0, len(b)]}}).encode()
    open(out, "wb").write(struct.pack("<Q", len(h)) + h + b)

sys.exit(0 if globals()["cmd_" + sys.argv[1]](*sys.argv[2:]) in (None, True) else 1)
PY
# px NAME CMD ARGS...: one check of px.py, its figures in the ok line or the reason in the failure
px() {
	local name=$1 msg
	shift
	if msg=$(python3 "$T/px.py" "$@" 2>&1); then ok "$name ($msg)"; else fail "$name" "$msg"; fi
}
# same_z NAME A B: the z of two encodes within 1e-5 of each other (one float32 rounding of the pixels)
same_z() {
	expect "$1" "$(python3 "$COMPARE" "$2" z "$3" z --tol 1e-5 2>/dev/null)" ok
}

out=$(sora-vae check "${VAE[@]}")
expect "check: the tiny VAE's parameters" "$out" "$FX/video/vae_tiny.safetensors: 1008123 parameters"

sora-vae encode "${VAE[@]}" --in "$IO" --tensor a.x -o "$T/a.safetensors" -q
expect "encode a.x: exit 0" "$?" 0
close "encode: moments" "$T/a.safetensors" moments a.moments
close "encode: z = 0.476986 mean" "$T/a.safetensors" z a.z_mean_scaled
close "encode: logvar (clamped)" "$T/a.safetensors" logvar a.logvar
# The check fails on a wrong output (the posterior sample instead of the mean) and on one NaN.
must_fail "close check: the posterior sample against the mean fails" close x "$T/a.safetensors" z a.z_sample_scaled
python3 - "$T/a.safetensors" "$T/anan.safetensors" <<'PY'
import json, struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", b[:8])[0]
at = 8 + n + json.loads(b[8:8 + n])["z"]["data_offsets"][0]
b[at:at + 4] = struct.pack("<f", float("nan"))
open(sys.argv[2], "wb").write(b)
PY
must_fail "close check: one NaN in z fails" close x "$T/anan.safetensors" z a.z_mean_scaled

sora-vae decode "${VAE[@]}" --in "$IO" --tensor b.z -o "$T/b.safetensors" -q
close "decode b.z: video" "$T/b.safetensors" video b.video

sora-vae decode "${VAE[@]}" --spatial-tiling on --tile-size 64 --in "$IO" --tensor d.z -o "$T/d64.safetensors" -q
close "tiled decode (64 px tiles)" "$T/d64.safetensors" video d64.video
sora-vae encode "${VAE[@]}" --spatial-tiling on --tile-size 32 --in "$IO" --tensor d.x -o "$T/d32.safetensors" -q
close "tiled encode (32 px tiles)" "$T/d32.safetensors" moments d32.moments
sora-vae decode "${VAE[@]}" --temporal-tiling on --temporal-tile 32 --in "$IO" --tensor e.z -o "$T/e.safetensors" -q
close "temporal tiled decode" "$T/e.safetensors" video e.video

# Pixels out: an MP4 (H.264 at CRF 18: its 4x4 means within 0.021 of the signal's variance, measured), a
# PNG and a PNG pattern (lossless: within one level of the official decode).
sora-vae decode "${VAE[@]}" --in "$IO" --tensor b.z -o "$T/b.mp4" -q
expect "decode to MP4: 9 frames 64x64" \
	"$(ffprobe -v error -count_frames -show_entries stream=width,height,nb_read_frames -of csv=p=0 "$T/b.mp4")" "64,64,9"
px "decode to MP4: the official decode, within H.264's error" lossy "$T/b.mp4" "$IO:b.video" 0.1
must_fail "MP4 check: another video of the same size (case a's input) fails" px x lossy "$T/b.mp4" "$IO:a.x" 0.1
sora-vae decode "${VAE[@]}" --stream --in "$IO" --tensor b.z -o "$T/bs.mp4" -q
expect_same "streamed decode to MP4: the same file as the whole decode" "$T/bs.mp4" "$T/b.mp4"
sora-vae decode "${VAE[@]}" --in "$IO" --tensor c.z_mean_scaled -o "$T/c.png" -q
expect "decode an image latent to PNG" "$(ffprobe -v error -show_entries stream=width,height -of csv=p=0 "$T/c.png")" "64,64"
px "decode to PNG: the official image decode" same "$T/c.png" "$IO:c.video"
must_fail "PNG check: another image of the same size (case c's input) fails" px x same "$T/c.png" "$IO:c.x"
sora-vae decode "${VAE[@]}" --in "$IO" --tensor b.z -o "$T/frame_%02d.png" -q
expect "decode to a PNG pattern: 9 files" "$(find "$T" -name 'frame_*.png' | wc -l)" 9
px "decode to a PNG pattern: the official frames, in order" same "$T/frame_%02d.png" "$IO:b.video"

# Pixels in: the encode of a PNG and of a lossless clip equal the tensor path's (checked above against
# the official encode) on the same pixels, x = p/127.5 − 1.
sora-vae encode "${VAE[@]}" -o "$T/img.safetensors" -q "$T/c.png"
expect "encode a PNG: exit 0" "$?" 0
python3 "$T/px.py" tensor "$T/img_x.safetensors" 0 1 1 "$T/c.png"
sora-vae encode "${VAE[@]}" --in "$T/img_x.safetensors" -o "$T/img_t.safetensors" -q
same_z "encode a PNG: the tensor path's z on its pixels" "$T/img.safetensors" "$T/img_t.safetensors"
python3 "$T/px.py" tensor "$T/img_x2.safetensors" 0 1 0.5 "$T/c.png"
sora-vae encode "${VAE[@]}" --in "$T/img_x2.safetensors" -o "$T/img_t2.safetensors" -q
must_fail "z check: pixels mapped to [-0.5, 0.5] fail" same_z x "$T/img.safetensors" "$T/img_t2.safetensors"
ff -f lavfi -i testsrc=size=64x48:rate=24 -frames:v 10 -pix_fmt yuv420p "$T/clip.mp4"
ff -f lavfi -i testsrc=size=64x48:rate=24 -frames:v 10 -c:v ffv1 -pix_fmt bgr0 "$T/clip.mkv"
sora-vae encode "${VAE[@]}" --frames 9 --vae-sample --seed 3 -o "$T/clip.safetensors" -q "$T/clip.mkv"
expect "encode 9 frames of a clip: exit 0" "$?" 0
shape=$(python3 -c 'import json,struct,sys; f=open(sys.argv[1],"rb"); n=struct.unpack("<Q",f.read(8))[0]; print(json.loads(f.read(n))["z"]["shape"])' "$T/clip.safetensors")
expect "clip latent shape" "$shape" "[1, 16, 3, 6, 8]"
for f in 0 1; do
	python3 "$T/px.py" tensor "$T/clip_x$f.safetensors" $f 9 1 "$T/clip.mkv"
	sora-vae encode "${VAE[@]}" --vae-sample --seed 3 --in "$T/clip_x$f.safetensors" -o "$T/clip_t$f.safetensors" -q
done
same_z "encode 9 frames of a clip: the tensor path's z on its first 9 frames" "$T/clip.safetensors" "$T/clip_t0.safetensors"
must_fail "z check: frames 1-9 fail" same_z x "$T/clip.safetensors" "$T/clip_t1.safetensors"

# The rules, named.
sora-vae encode "${VAE[@]}" -o "$T/x.safetensors" "$T/clip.mp4" 2>"$T/err"
expect "10 frames: exit 1" "$?" 1
expect "10 frames: the 4k+1 rule" "$(grep -c '4k+1' "$T/err")" 1
ff -f lavfi -i testsrc=size=60x48:rate=24 -frames:v 5 -pix_fmt yuv420p "$T/odd.mp4"
sora-vae encode "${VAE[@]}" -o "$T/x.safetensors" "$T/odd.mp4" 2>"$T/err"
expect "width 60: exit 1" "$?" 1
expect "width 60: the multiple-of-8 rule" "$(grep -c 'multiples of 8' "$T/err")" 1
sora-vae decode --vae "$T/none.safetensors" --in "$IO" -o "$T/x.mp4" 2>"$T/err"
expect "missing checkpoint: exit 1" "$?" 1
expect "missing checkpoint: named" "$(grep -c 'none.safetensors' "$T/err")" 1
sora-vae decode "${VAE[@]}" --in "$IO" --tensor nope -o "$T/x.mp4" 2>"$T/err"
expect "missing tensor: named" "$(grep -c "no tensor 'nope'" "$T/err")" 1
sora-vae decode "${VAE[@]}" --in "$IO" --tensor b.z -o "$T/x.png" 2>"$T/err"
expect "9 frames into one PNG: refused" "$(grep -c 'a PNG holds one frame' "$T/err")" 1
sora-vae frobnicate "${VAE[@]}" 2>/dev/null
expect "unknown subcommand: exit 2" "$?" 2

[ "$FAILS" -eq 0 ]
