#!/usr/bin/env bash
# make demo: the pipeline end to end on sample videos made here with FFmpeg's lavfi sources.
# Today the pipeline is its first stage, sora-probe; each new program joins this script.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${SORA_BIN:-$PWD/bin}
D=demo
mkdir -p "$D/videos/phone"
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }

echo "demo: making sample videos in $D/videos" >&2
[ -f "$D/videos/bars_16x9.mp4" ] || ff -f lavfi -i testsrc2=s=640x360:r=25:d=4 -f lavfi -i sine=d=4 \
	-c:v libx264 -pix_fmt yuv420p -c:a aac -shortest "$D/videos/bars_16x9.mp4"
[ -f "$D/videos/fractal_4x3.mp4" ] || ff -f lavfi -i mandelbrot=s=320x240:r=30000/1001 -frames:v 60 \
	-c:v libx264 -pix_fmt yuv420p "$D/videos/fractal_4x3.mp4"
[ -f "$D/videos/phone/portrait.mp4" ] || ff -f lavfi -i smptebars=s=180x320:r=30:d=2 -c:v libx264 \
	-pix_fmt yuv420p10le "$D/videos/phone/portrait.mp4"
[ -f "$D/videos/broken.mp4" ] || head -c 5000 "$D/videos/bars_16x9.mp4" >"$D/videos/broken.mp4"

echo "demo: sora-probe $D/videos > $D/meta.csv" >&2
"$BIN/sora-probe" --rejects "$D/rejects.csv" "$D/videos" >"$D/meta.csv"
echo "== $D/meta.csv"
cat "$D/meta.csv"
echo "== $D/rejects.csv"
cat "$D/rejects.csv"
