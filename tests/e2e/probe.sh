#!/usr/bin/env bash
# sora-probe against ffprobe on videos made here with lavfi sources: integers exact, fps to 1e-3. The
# per-file check is also fed a row that is not there and a file ffprobe cannot read, and must say "not ok".
. "$(dirname "$0")/lib.sh"

V=$T/videos
mkdir -p "$V/sub"
ff -f lavfi -i testsrc2=s=320x180:r=25:d=2 -f lavfi -i sine=d=2 -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest "$V/cfr_16x9_audio.mp4"
ff -f lavfi -i smptebars=s=320x240:r=30000/1001:d=1 -c:v libx264 -pix_fmt yuv420p "$V/ntsc_4x3.mp4"
ff -f lavfi -i mandelbrot=s=180x320:r=24 -frames:v 20 -c:v libx264 -pix_fmt yuv420p "$V/sub/portrait_9x16.mp4"
ff -f lavfi -i testsrc2=s=160x90:r=25:d=1 -c:v libx264 -pix_fmt yuv420p10le "$V/sub/tenbit.mp4"
ff -f lavfi -i testsrc2=s=160x90:r=25:d=2 -vf "setpts='if(lt(N,25),N*2,50+(N-25))/25/TB'" -fps_mode vfr -c:v libx264 "$V/vfr.mp4"
# FFmpeg 5.1 turns the legacy rotate tag into a display matrix only when stream-copying; it displays
# this one turned 90 degrees counter-clockwise (ffprobe: rotation=90), i.e. 270 clockwise.
ff -f lavfi -i testsrc2=s=160x96:r=25:d=1 -c:v libx264 "$T/unrotated.mp4"
ff -i "$T/unrotated.mp4" -c copy -metadata:s:v:0 rotate=90 "$V/rotated.mp4"
ff -f lavfi -i testsrc2=s=128x72:r=15:d=1 -c:v libvpx-vp9 "$V/vp9.webm"
echo "not a video" >"$V/sub/readme.txt"

# ffprobe's view of one file as shell variables: width height afr nb_frames codec pix_fmt rotation ...
ffp() {
	ffprobe -v error -select_streams v:0 -show_entries \
		stream=width,height,avg_frame_rate,nb_frames,codec_name,pix_fmt,bit_rate:stream_side_data=rotation \
		-of default=nw=1 "$1"
}

# Python's csv module reads our output: a row per video as "key=value" lines.
rows() { python3 - "$1" <<'PY'
import csv, sys
for r in csv.DictReader(open(sys.argv[1], newline='')):
    print(r['path'], *(f"{k}={v}" for k, v in r.items() if k != 'path'))
PY
}

out=$T/probe.csv
if sora-probe -j 2 "$V" >"$out" 2>"$T/err"; then ok "exit 0 on a directory"; else fail "exit status" "$(cat "$T/err")"; fi
expect "header" "$(head -1 "$out")" \
	"path,num_frames,height,width,aspect_ratio,resolution,fps,duration_sec,codec,pix_fmt,bit_depth,rotation,vfr,has_audio,bit_rate"
expect "one row per video, text file skipped" "$(($(python3 -c 'import csv,sys; print(sum(1 for _ in csv.reader(open(sys.argv[1]))))' "$out") - 1))" 7
grep -q "1 files in the directories were not videos" "$T/err" && ok "skipped file counted" || fail "skipped file counted" "$(cat "$T/err")"
grep -q "7 rows in, 7 out, 0 rejected, 0 filtered" "$T/err" && ok "summary" || fail "summary" "$(cat "$T/err")"

check_file() {
	local f=$1 line
	line=$(rows "$out" | grep -F "$f ")
	# ffprobe's fields, empty unless it gives them (never the previous file's)
	local F_width= F_height= F_avg_frame_rate= F_nb_frames= F_codec_name= F_pix_fmt= F_bit_rate= F_rotation=
	eval "$(ffp "$f" 2>/dev/null | sed 's/^\([a-z_]*\)=/F_\1=/')"
	local name=${f##*/} got
	if [ -z "$F_width" ] || [ -z "$F_height" ]; then fail "$name: ffprobe's view" "ffprobe read no size from $f"; return; fi
	local rot=${F_rotation:-0} w=$F_width h=$F_height
	rot=$(((360 - rot) % 360))
	[ $((rot % 180)) -eq 90 ] && { w=$F_height; h=$F_width; }
	get() { printf '%s\n' "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
	expect "$name width" "$(get width)" "$w"
	expect "$name height" "$(get height)" "$h"
	expect "$name resolution" "$(get resolution)" "$((w * h))"
	expect "$name aspect_ratio" "$(python3 -c "print(abs(float('$(get aspect_ratio)') - $h/$w) < 1e-12)")" True
	expect "$name rotation" "$(get rotation)" "$rot"
	expect_ref "$name codec" "$(get codec)" "$F_codec_name"
	expect_ref "$name pix_fmt" "$(get pix_fmt)" "$F_pix_fmt"
	got=$(python3 -c "from fractions import Fraction as F; print(abs(float('$(get fps)') - float(F('$F_avg_frame_rate'))) <= 1e-3)")
	expect "$name fps within 1e-3 of ffprobe ($F_avg_frame_rate)" "$got" True
	if [ "$F_nb_frames" != "N/A" ]; then expect_ref "$name num_frames" "$(get num_frames)" "$F_nb_frames"; fi
	if [ "$F_bit_rate" != "N/A" ]; then expect_ref "$name bit_rate" "$(get bit_rate)" "$F_bit_rate"; fi
}
for f in "$V"/*.mp4 "$V"/sub/*.mp4 "$V"/*.webm; do check_file "$f"; done
must_fail "per-file check: a video missing from the output fails" check_file "$T/unrotated.mp4"
must_fail "per-file check: a file ffprobe cannot read fails" check_file "$V/sub/readme.txt"
must_fail "per-file check: an empty reference fails" expect_ref x "" ""

get_col() { rows "$out" | grep -F "$1 " | tr ' ' '\n' | sed -n "s/^$2=//p"; }
expect "audio detected" "$(get_col "$V/cfr_16x9_audio.mp4" has_audio)" 1
expect "no audio" "$(get_col "$V/ntsc_4x3.mp4" has_audio)" 0
expect "10-bit depth" "$(get_col "$V/sub/tenbit.mp4" bit_depth)" 10
expect "8-bit depth" "$(get_col "$V/ntsc_4x3.mp4" bit_depth)" 8
expect "cfr is not vfr" "$(get_col "$V/cfr_16x9_audio.mp4" vfr)" 0
expect "rotated video has rotation 270 (clockwise)" "$(get_col "$V/rotated.mp4" rotation)" 270

# --count-frames decodes: compare with ffprobe -count_frames on every file (webm has no nb_frames).
sora-probe --count-frames "$V" >"$T/counted.csv" 2>/dev/null
for f in "$V"/*.mp4 "$V"/sub/*.mp4 "$V"/*.webm; do
	want=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of default=nw=1:nk=1 "$f" | head -1)
	got=$(rows "$T/counted.csv" | grep -F "$f " | tr ' ' '\n' | sed -n 's/^num_frames=//p')
	expect_ref "--count-frames ${f##*/}" "$got" "$want"
done
expect "vfr detected when frames are counted" \
	"$(rows "$T/counted.csv" | grep -F "$V/vfr.mp4 " | tr ' ' '\n' | sed -n 's/^vfr=//p')" 1

# -j 1 and -j 4 give the same bytes: the program against itself, so both must hold every video.
sora-probe -q -j 1 "$V" >"$T/j1.csv"
sora-probe -q -j 4 "$V" >"$T/j4.csv"
expect "-j 1: a row per video" "$(($(wc -l <"$T/j1.csv") - 1))" 7
expect_same "-j 1 and -j 4 give identical output" "$T/j1.csv" "$T/j4.csv"

# A CSV on stdin keeps its columns and order; captions with commas, quotes, newlines, emoji, CJK survive.
python3 - "$V" >"$T/in.csv" <<'PY'
import csv, sys
w = csv.writer(sys.stdout, lineterminator='\n')
w.writerow(['id', 'path', 'text', 'fps'])
w.writerow(['a', sys.argv[1] + '/ntsc_4x3.mp4', 'A cat, a "dog"\nand 雨が降る 🌧️', 'old'])
w.writerow(['b', sys.argv[1] + '/vfr.mp4', '  spaces kept  ', ''])
PY
sora-probe <"$T/in.csv" >"$T/piped.csv" 2>"$T/err"
got=$(python3 - "$T/in.csv" "$T/piped.csv" <<'PY'
import csv, sys
a = list(csv.DictReader(open(sys.argv[1], newline='')))
b = list(csv.DictReader(open(sys.argv[2], newline='')))
hdr = next(csv.reader(open(sys.argv[2], newline='')))
ok = hdr[:4] == ['id', 'path', 'text', 'fps'] and len(a) == len(b)
ok = ok and all(x['text'] == y['text'] and x['id'] == y['id'] for x, y in zip(a, b))
ok = ok and abs(float(b[0]['fps']) - 30000 / 1001) < 1e-3
print(ok)
PY
)
expect "stdin CSV: columns kept, fps replaced, captions intact" "$got" True
grep -q "already has a 'fps' column; replacing it" "$T/err" && ok "replacing a column is said" || fail "replace notice" "$(cat "$T/err")"

# Streaming: a row goes out as soon as it is done, while the input is still open (pipes overlap).
f="$V/ntsc_4x3.mp4"
(
	printf 'path\n%s\n' "$f"
	sleep 5
	printf '%s\n' "$f"
) | sora-probe -q >"$T/stream.csv" &
sleep 2.5
early=$(wc -l <"$T/stream.csv")
wait
expect "streaming: the first row is out before the input ends" "$early" 2
expect "streaming: all rows out at the end" "$(wc -l <"$T/stream.csv")" 3

# Usage errors and help.
printf 'id,text\n1,x\n' | sora-probe >/dev/null 2>&1
expect "CSV without path column is a usage error" "$?" 2
sora-probe --bogus >/dev/null 2>&1
expect "unknown option is a usage error" "$?" 2
sora-probe --shard 3/3 "$V" >/dev/null 2>&1
expect "bad --shard is a usage error" "$?" 2
help=$(sora-probe --help)
for flag in --count-frames --threads --shard --rejects --max-rejects --quiet --verbose --output --version; do
	case "$help" in *"$flag"*) ok "--help lists $flag" ;; *) fail "--help lists $flag" ;; esac
done
case "$help" in *"(default: "*) ok "--help shows defaults" ;; *) fail "--help shows defaults" ;; esac
sora-probe --version | grep -q "sora-probe (sora.c)" && ok "--version" || fail "--version"
sora-probe -o /nonexistent/dir/out.csv "$V" 2>/dev/null
expect "unwritable output exits 1" "$?" 1

# --shard i/n: the shards partition the rows (all 7 of them, checked above: a row in two shards or in
# none makes the sorted union differ).
for i in 0 1 2; do sora-probe -q --shard $i/3 "$V" | tail -n +2; done | sort >"$T/shards.csv"
tail -n +2 "$T/j1.csv" | sort >"$T/all.csv"
expect_same "--shard 0/3..2/3 partition the rows" "$T/shards.csv" "$T/all.csv"

exit $((FAILS > 0))
