#!/usr/bin/env bash
# sora-vae against the official outputs of vae_tiny_io.safetensors (encode, decode, tiled decode and
# encode through the command line), pixels in and out (a clip, a PNG, an MP4), the checkpoint check,
# and the bad-input contract (frame counts, sizes, missing files and tensors).
. "$(dirname "$0")/lib.sh"

FX=${SORA_FIXTURES:-$(cd "$(dirname "$0")/../.." && pwd)/../shared/fixtures}
IO=$FX/video/vae_tiny_io.safetensors
if [ ! -r "$IO" ]; then
	skip "vae" "fixtures not found ($IO): set SORA_FIXTURES"
	exit 0
fi
VAE=(--vae "$FX/video/vae_tiny.safetensors" --vae-config "$FX/video/vae_tiny_config.json")

# close GOT_FILE GOT_NAME REF_NAME: max |got − ref| / max |ref| ≤ 1e-4 (the fixture README's bound)
close() {
	python3 - "$1" "$2" "$IO" "$3" <<'PY'
import array, json, struct, sys
def load(path, name):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
        t = h[name]
        b, e = t["data_offsets"]
        f.seek(8 + n + b)
        a = array.array("f")
        a.frombytes(f.read(e - b))
        return t["shape"], a
gs, g = load(sys.argv[1], sys.argv[2])
rs, r = load(sys.argv[3], sys.argv[4])
if gs != rs:
    print("shape %s, want %s" % (gs, rs)); sys.exit(0)
err = max(abs(x - y) for x, y in zip(g, r)) / max(abs(y) for y in r)
print("ok" if err <= 1e-4 else "rel err %.3g" % err)
print("# %s vs %s: rel err %.3g" % (sys.argv[2], sys.argv[4], err), file=sys.stderr)
PY
}

out=$(sora-vae check "${VAE[@]}")
expect "check: the tiny VAE's parameters" "$out" "$FX/video/vae_tiny.safetensors: 1008123 parameters"

sora-vae encode "${VAE[@]}" --in "$IO" --tensor a.x -o "$T/a.safetensors" -q
expect "encode a.x: exit 0" "$?" 0
expect "encode: moments" "$(close "$T/a.safetensors" moments a.moments)" ok
expect "encode: z = 0.476986 mean" "$(close "$T/a.safetensors" z a.z_mean_scaled)" ok
expect "encode: logvar (clamped)" "$(close "$T/a.safetensors" logvar a.logvar)" ok

sora-vae decode "${VAE[@]}" --in "$IO" --tensor b.z -o "$T/b.safetensors" -q
expect "decode b.z: video" "$(close "$T/b.safetensors" video b.video)" ok

sora-vae decode "${VAE[@]}" --spatial-tiling on --tile-size 64 --in "$IO" --tensor d.z -o "$T/d64.safetensors" -q
expect "tiled decode (64 px tiles)" "$(close "$T/d64.safetensors" video d64.video)" ok
sora-vae encode "${VAE[@]}" --spatial-tiling on --tile-size 32 --in "$IO" --tensor d.x -o "$T/d32.safetensors" -q
expect "tiled encode (32 px tiles)" "$(close "$T/d32.safetensors" moments d32.moments)" ok
sora-vae decode "${VAE[@]}" --temporal-tiling on --temporal-tile 32 --in "$IO" --tensor e.z -o "$T/e.safetensors" -q
expect "temporal tiled decode" "$(close "$T/e.safetensors" video e.video)" ok

# Pixels: an MP4 and a PNG out, a clip and an image in.
sora-vae decode "${VAE[@]}" --in "$IO" --tensor b.z -o "$T/b.mp4" -q
expect "decode to MP4: 9 frames 64x64" \
	"$(ffprobe -v error -count_frames -show_entries stream=width,height,nb_read_frames -of csv=p=0 "$T/b.mp4")" "64,64,9"
sora-vae decode "${VAE[@]}" --stream --in "$IO" --tensor b.z -o "$T/bs.mp4" -q
expect "streamed decode to MP4: 9 frames 64x64" \
	"$(ffprobe -v error -count_frames -show_entries stream=width,height,nb_read_frames -of csv=p=0 "$T/bs.mp4")" "64,64,9"
sora-vae decode "${VAE[@]}" --in "$IO" --tensor c.z_mean_scaled -o "$T/c.png" -q
expect "decode an image latent to PNG" "$(ffprobe -v error -show_entries stream=width,height -of csv=p=0 "$T/c.png")" "64,64"
sora-vae encode "${VAE[@]}" -o "$T/img.safetensors" -q "$T/c.png"
expect "encode a PNG: exit 0" "$?" 0
ff -f lavfi -i testsrc=size=64x48:rate=24 -frames:v 10 -pix_fmt yuv420p "$T/clip.mp4"
sora-vae encode "${VAE[@]}" --frames 9 --vae-sample --seed 3 -o "$T/clip.safetensors" -q "$T/clip.mp4"
expect "encode 9 frames of a clip: exit 0" "$?" 0
shape=$(python3 -c 'import json,struct,sys; f=open(sys.argv[1],"rb"); n=struct.unpack("<Q",f.read(8))[0]; print(json.loads(f.read(n))["z"]["shape"])' "$T/clip.safetensors")
expect "clip latent shape" "$shape" "[1, 16, 3, 6, 8]"
sora-vae decode "${VAE[@]}" --in "$T/clip.safetensors" -o "$T/frame_%02d.png" -q
expect "decode to a PNG pattern: 9 files" "$(find "$T" -name 'frame_*.png' | wc -l)" 9

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
