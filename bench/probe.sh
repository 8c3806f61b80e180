#!/usr/bin/env bash
# sora-probe vs ffprobe (the peer every curation tool shells out to for metadata) on the same files, in
# one run, both with the same parallelism. Prints each side's time and the ratio.
set -euo pipefail
BIN=${SORA_BIN:-$(cd "$(dirname "$0")/.." && pwd)/bin}
N=${N:-400}
J=${J:-$(nproc)}
T=$(mktemp -d /tmp/sora-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
ff -f lavfi -i testsrc2=s=640x360:r=25:d=10 -c:v libx264 -preset veryfast "$T/a.mp4"
ff -f lavfi -i mandelbrot=s=320x240:r=30 -frames:v 300 -c:v libx264 -preset veryfast "$T/b.mp4"
mkdir "$T/v"
for i in $(seq 1 "$N"); do ln "$T/$([ $((i % 2)) -eq 0 ] && echo a || echo b).mp4" "$T/v/$i.mp4"; done

secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
echo "files: $N (10 s 640x360 and 300-frame 320x240 H.264), parallelism: $J on $(nproc) cores"

ours=$(secs "$BIN/sora-probe" -q -j "$J" "$T/v")
peer=$(secs sh -c "ls '$T'/v/*.mp4 | xargs -P $J -n 1 ffprobe -v error -show_streams -show_format")
printf 'metadata:      sora-probe %.3f s, ffprobe %.3f s, ffprobe/sora-probe = %.2fx\n' "$ours" "$peer" "$(echo "$peer / $ours" | bc -l)"

ours=$(secs "$BIN/sora-probe" -q -j "$J" --count-frames "$T/v")
peer=$(secs sh -c "ls '$T'/v/*.mp4 | xargs -P $J -n 1 ffprobe -v error -count_frames -threads 1 -select_streams v:0 -show_entries stream=nb_read_frames")
printf 'count frames:  sora-probe %.3f s, ffprobe %.3f s, ffprobe/sora-probe = %.2fx\n' "$ours" "$peer" "$(echo "$peer / $ours" | bc -l)"
