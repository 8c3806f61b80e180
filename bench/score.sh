#!/usr/bin/env bash
# sora-score --scores vmafmotion vs ffmpeg -vf vmafmotion (what Open-Sora runs per clip) on the same clips,
# in one run, with the same parallelism: J clips at once, one decoder thread each. Prints clips per second
# for each and the ratio.
set -euo pipefail
BIN=${SORA_BIN:-$(cd "$(dirname "$0")/.." && pwd)/bin}
N=${N:-48}
J=${J:-$(nproc)}
T=$(mktemp -d /tmp/sora-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
ff -f lavfi -i testsrc2=s=640x360:r=25:d=4 -c:v libx264 -preset veryfast "$T/a.mp4"
ff -f lavfi -i mandelbrot=s=640x360:r=25 -frames:v 100 -c:v libx264 -preset veryfast "$T/b.mp4"
mkdir "$T/v"
for i in $(seq 1 "$N"); do ln "$T/$([ $((i % 2)) -eq 0 ] && echo a || echo b).mp4" "$T/v/$i.mp4"; done

secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
echo "clips: $N (100 frames of 640x360 H.264 each), parallelism: $J on $(nproc) cores"

ours=$(secs "$BIN/sora-score" -q -j "$J" --scores vmafmotion "$T/v")
peer=$(secs sh -c "ls '$T'/v/*.mp4 | xargs -P $J -I{} ffmpeg -nostdin -v error -threads 1 -i {} -vf vmafmotion -f null -")
printf 'vmafmotion:  sora-score %.2f clips/s (%.3f s), ffmpeg %.2f clips/s (%.3f s), sora-score/ffmpeg = %.2fx\n' \
	"$(echo "$N / $ours" | bc -l)" "$ours" "$(echo "$N / $peer" | bc -l)" "$peer" "$(echo "$peer / $ours" | bc -l)"
