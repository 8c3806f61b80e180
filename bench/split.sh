#!/usr/bin/env bash
# sora-split (shot detection, no clips written) vs plain FFmpeg decoding of the same file
# (`ffmpeg -i X -f null -`) and vs FFmpeg's own scene score (`select='gt(scene,0.3)'`), on 720p and
# 1080p H.264, in one run. Each command runs 3 times; the fastest run counts. Prints frames per second,
# the ratios (above 1: sora-split is faster) and the CPU time of each (on a busy machine the CPU time
# is the steadier comparison).
set -euo pipefail
BIN=${SORA_BIN:-$(cd "$(dirname "$0")/.." && pwd)/bin}
D=${D:-10}
T=$(mktemp -d /tmp/sora-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }

# Two shots with a cut, grain added so the bit rate is that of real footage rather than of a clean
# synthetic pattern.
make_video() { # make_video WxH OUT
	local half
	half=$(echo "$D / 2" | bc -l)
	ff -f lavfi -i "testsrc2=s=$1:r=25:d=$half" -f lavfi -i "testsrc=s=$1:r=25:d=$half" \
		-filter_complex "[0][1]concat=n=2:v=1:a=0,noise=alls=4:allf=t" \
		-c:v libx264 -preset veryfast -crf 23 -pix_fmt yuv420p "$2"
}

best() { # best CMD...: "wall cpu" seconds of the fastest of 3 runs (cpu = user + system)
	local b="" c="" w u s
	for _ in 1 2 3; do
		/usr/bin/time -f "%e %U %S" -o "$T/time" "$@" >/dev/null 2>&1
		read -r w u s <"$T/time"
		if [ -z "$b" ] || [ "$(echo "$w < $b" | bc -l)" -eq 1 ]; then
			b=$w
			c=$(echo "$u + $s" | bc -l)
		fi
	done
	echo "$b $c"
}

echo "$(nproc) cores; sora-split -j 1 (one file: its decoder gets the threads), ffmpeg with its default threads"
for size in 1280x720 1920x1080; do
	v=$T/$size.mp4
	make_video "$size" "$v"
	n=$(ffprobe -v error -select_streams v:0 -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$v")
	read -r ours ours_cpu < <(best "$BIN/sora-split" -q -j 1 "$v")
	read -r plain plain_cpu < <(best ffmpeg -nostdin -v error -i "$v" -f null -)
	read -r scene scene_cpu < <(best ffmpeg -nostdin -v error -i "$v" -vf "select='gt(scene,0.3)'" -f null -)
	fps() { echo "$n / $1" | bc -l; }
	printf '%s H.264, %d frames: sora-split %.0f fps, ffmpeg decode %.0f fps, ffmpeg scene select %.0f fps\n' \
		"$size" "$n" "$(fps "$ours")" "$(fps "$plain")" "$(fps "$scene")"
	printf '%s: sora-split / ffmpeg decode = %.2fx, sora-split / ffmpeg scene select = %.2fx (wall)\n' "$size" \
		"$(echo "$plain / $ours" | bc -l)" "$(echo "$scene / $ours" | bc -l)"
	printf '%s: CPU s: sora-split %.2f, ffmpeg decode %.2f, ffmpeg scene select %.2f\n' "$size" \
		"$ours_cpu" "$plain_cpu" "$scene_cpu"
done
