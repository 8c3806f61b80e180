#!/usr/bin/env bash
# sora-split on videos with known truth made here with lavfi sources: hard cuts at exact frames (also
# VFR, 10-bit, rotated), no cut inside single shots with strong motion, fades and dissolves reported
# and excluded, clip filters, stable ids, written clips frame-exact, and the bad-input contract. The
# written-clip and reason checks are also fed no rows and an empty reason, and must say "not ok".
. "$(dirname "$0")/lib.sh"

V=$T/v
mkdir -p "$V"
# Keyframes every 48 frames and no scenecut keyframes: the cuts at 65 and 130 are not keyframes.
X=(-c:v libx264 -g 48 -sc_threshold 0)
three="[2]trim=end_frame=65,setpts=PTS-STARTPTS[m];[0][1][m]concat=n=3:v=1:a=0"
src3=(-f lavfi -i testsrc2=s=320x180:r=25:d=2.6 -f lavfi -i smptebars=s=320x180:r=25:d=2.6 -f lavfi -i mandelbrot=s=320x180:r=25)
ff "${src3[@]}" -filter_complex "$three" "${X[@]}" -pix_fmt yuv420p "$V/cuts.mp4"
ff "${src3[@]}" -filter_complex "$three" "${X[@]}" -pix_fmt yuv420p10le "$V/tenbit.mp4"
# Frames 0-39 last 2/25 s, the rest 1/25 s: frame N starts at (N + min(N, 40)) / 25 s.
ff -i "$V/cuts.mp4" -vf "setpts='if(lt(N,40),N*2,40+N)/25/TB'" -fps_mode vfr "${X[@]}" -pix_fmt yuv420p "$V/vfr.mp4"
ff -i "$V/cuts.mp4" -c copy -metadata:s:v:0 rotate=90 "$V/rotated.mp4"
ff -f lavfi -i testsrc2=s=320x180:r=25:d=3 -f lavfi -i smptebars=s=320x180:r=25:d=3 \
	-filter_complex "[0]fade=t=out:st=2:d=0.6[a];[1]fade=t=in:st=0:d=0.6[b];[a][b]concat=n=2:v=1:a=0" \
	"${X[@]}" -pix_fmt yuv420p "$V/fade.mp4"
ff -f lavfi -i testsrc2=s=320x180:r=25:d=3 -f lavfi -i smptebars=s=320x180:r=25:d=3 \
	-filter_complex "[0][1]xfade=transition=fade:duration=1:offset=2" "${X[@]}" -pix_fmt yuv420p "$V/dissolve.mp4"
ff -f lavfi -i mandelbrot=s=320x180:r=25 -frames:v 150 "${X[@]}" -pix_fmt yuv420p "$V/mandelbrot.mp4"
ff -f lavfi -i testsrc2=s=320x180:r=25:d=4 "${X[@]}" -pix_fmt yuv420p "$V/testsrc2.mp4"
ff -f lavfi -i mandelbrot=s=640x360:r=25 -vf "crop=320:180:x='min(t*100,319)':y='min(t*40,179)'" -frames:v 100 \
	"${X[@]}" -pix_fmt yuv420p "$V/pan.mp4"

# clips FILE: one line per clip "start_frame-end_frame:before:after"
clips() { python3 - "$1" <<'PY'
import csv, sys
print(' '.join(f"{r['start_frame']}-{r['end_frame']}:{r['transition_before']}:{r['transition_after']}"
               for r in csv.DictReader(open(sys.argv[1], newline=''))))
PY
}
# col FILE COLUMN: that column of every row, space separated
col() { python3 -c "import csv,sys; print(' '.join(r[sys.argv[2]] for r in csv.DictReader(open(sys.argv[1], newline=''))))" "$1" "$2"; }

run() { # run NAME ARGS...: sora-split into $T/NAME.csv, stderr in $T/NAME.err
	local name=$1
	shift
	sora-split "$@" >"$T/$name.csv" 2>"$T/$name.err" || fail "$name: exit status" "$(cat "$T/$name.err")"
}

three_shots="0-65:none:cut 65-130:cut:cut 130-195:cut:none"
for f in cuts tenbit rotated vfr; do
	run "$f" --min-sec 0 "$V/$f.mp4"
	expect "$f: every hard cut at the exact frame (adaptive)" "$(clips "$T/$f.csv")" "$three_shots"
done
run content --detector content --min-sec 0 "$V/cuts.mp4"
expect "content detector: same cuts" "$(clips "$T/content.csv")" "$three_shots"
expect "CFR: start_sec and end_sec" "$(col "$T/cuts.csv" start_sec) / $(col "$T/cuts.csv" end_sec)" "0 2.6 5.2 / 2.6 5.2 7.8"
expect "VFR: start_sec and end_sec from timestamps" "$(col "$T/vfr.csv" start_sec) / $(col "$T/vfr.csv" end_sec)" \
	"0 4.2 6.8 / 4.2 6.8 9.4"
expect "rotated: displayed size" "$(col "$T/rotated.csv" width) $(col "$T/rotated.csv" height)" "180 180 180 320 320 320"
expect "columns" "$(head -1 "$T/cuts.csv")" \
	"path,id,source,start_sec,end_sec,start_frame,end_frame,num_frames,fps,height,width,aspect_ratio,resolution,transition_before,transition_after"
expect "num_frames, fps of clips" "$(col "$T/cuts.csv" num_frames) $(col "$T/cuts.csv" fps)" "65 65 65 25 25 25"

for f in mandelbrot testsrc2 pan; do
	run "$f" "$V/$f.mp4"
	n=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$V/$f.mp4")
	expect "$f: one shot, no cut inside" "$(clips "$T/$f.csv")" "0-$n:none:none"
done

# Fade: frames 51-64 darken, 65-75 are black, 76-89 brighten (ffmpeg's fade: frame 50 and 90 are whole).
run fade --min-sec 0 "$V/fade.mp4"
got=$(python3 - "$T/fade.csv" <<'PY'
import csv, sys
r = list(csv.DictReader(open(sys.argv[1], newline='')))
a, b = (int(r[0]['end_frame']), int(r[1]['start_frame'])) if len(r) == 2 else (-1, -1)
print(len(r) == 2 and 40 <= a <= 51 and 90 <= b <= 100 and r[0]['transition_after'] == 'fade' == r[1]['transition_before'])
PY
)
expect "fade to black: reported and excluded ($(clips "$T/fade.csv"))" "$got" True
# Dissolve: xfade blends frames 51-74.
run dissolve --min-sec 0 "$V/dissolve.mp4"
got=$(python3 - "$T/dissolve.csv" <<'PY'
import csv, sys
r = list(csv.DictReader(open(sys.argv[1], newline='')))
a, b = (int(r[0]['end_frame']), int(r[1]['start_frame'])) if len(r) == 2 else (-1, -1)
print(len(r) == 2 and 44 <= a <= 51 and 75 <= b <= 82 and r[0]['transition_after'] == 'dissolve' == r[1]['transition_before'])
PY
)
expect "dissolve: reported and excluded ($(clips "$T/dissolve.csv"))" "$got" True
run keep --keep-transitions --min-sec 0 "$V/fade.mp4" "$V/dissolve.mp4"
got=$(python3 - "$T/keep.csv" <<'PY'
import csv, sys
r = list(csv.DictReader(open(sys.argv[1], newline='')))
ok = len(r) == 4 and r[0]['start_frame'] == '0' and r[1]['end_frame'] == '150' and r[3]['end_frame'] == '125'
ok = ok and r[0]['end_frame'] == r[1]['start_frame'] and r[2]['end_frame'] == r[3]['start_frame']
ok = ok and 65 <= int(r[0]['end_frame']) <= 76 and 50 <= int(r[2]['end_frame']) <= 75
print(ok and [x['transition_after'] for x in r] == ['fade', 'none', 'dissolve', 'none'])
PY
)
expect "--keep-transitions: one cut inside each transition ($(clips "$T/keep.csv"))" "$got" True

# Clip filters.
run maxsec --max-sec 1.5 --min-sec 1 "$V/testsrc2.mp4"
expect "--max-sec splits a long shot" "$(clips "$T/maxsec.csv")" "0-37:none:none 37-74:none:none 74-100:none:none"
run trim --trim-sec 0.2 "$V/cuts.mp4"
expect "--trim-sec drops 0.2 s at both ends" "$(clips "$T/trim.csv")" "5-60:none:cut 70-125:cut:cut 135-190:cut:none"
run minsec --min-sec 3 "$V/cuts.mp4"
grep -q "1 rows in, 0 out, 0 rejected, 1 filtered" "$T/minsec.err" && ok "a video whose clips are all too short is filtered" ||
	fail "--min-sec filtered" "$(cat "$T/minsec.err")"
run minh --min-height 200 "$V/cuts.mp4" "$V/rotated.mp4"
expect "--min-height" "$(clips "$T/minh.csv")" "$three_shots"
run some --min-sec 2.5 "$V/fade.mp4" "$V/cuts.mp4"
grep -q "2 rows in, 3 out, 0 rejected, 1 filtered" "$T/some.err" && grep -q "2 clips filtered" "$T/some.err" &&
	ok "filtered clips counted in the summary" || fail "filtered clips counted" "$(cat "$T/some.err")"

# Ids: stem-hash-index, the hash FNV-1a 64 of the source's real path (low 32 bits), computed here in
# Python; stable across runs and working directories, unique, safe as file names.
want=$(python3 -c "
import os, sys
h = 1469598103934665603
for ch in os.path.realpath(sys.argv[1]).encode():
    h = ((h ^ ch) * 1099511628211) % 2 ** 64
print(' '.join('cuts-%08x-%04d' % (h % 2 ** 32, i) for i in range(3)))" "$V/cuts.mp4")
expect "id = stem-<FNV-1a of the real path>-index, as Python computes it" "$(col "$T/cuts.csv" id)" "$want"
(cd / && sora-split -q --min-sec 0 "$V/cuts.mp4") >"$T/again.csv"
# (one id a line, so that no ids make an empty file)
col "$T/again.csv" id | tr ' ' '\n' | sed '/^$/d' >"$T/again.ids"
col "$T/cuts.csv" id | tr ' ' '\n' | sed '/^$/d' >"$T/cuts.ids"
expect_same "id stable across runs and working directories" "$T/again.ids" "$T/cuts.ids"
expect "ids unique" "$(col "$T/cuts.csv" id | tr ' ' '\n' | sort -u | wc -l)" 3
# Determinism across workers: the program against itself, so both must hold every clip of the folder
# (3 each from cuts, tenbit, vfr, rotated; 2 each from fade, dissolve; 1 each from the single shots).
sora-split -q -j 1 --min-sec 0 "$V" >"$T/j1.csv"
sora-split -q -j 3 --min-sec 0 "$V" >"$T/j3.csv"
expect "-j 1: a row per clip" "$(($(wc -l <"$T/j1.csv") - 1))" 19
expect_same "-j 1 and -j 3 give identical output" "$T/j1.csv" "$T/j3.csv"

# Written clips: frame count, and first and last frames against the source's start_frame and
# end_frame - 1, both decoded by ffmpeg (luma PSNR >= 40 dB; the frame before the last, shown for
# scale, scores far lower where the picture moves). At --crf 12: at the default 22 libx264 itself
# leaves the last frames of these busy 320x180 patterns at 35-40 dB.
frames() { # frames FILE OUT N...: decoded frames N... as gray bytes (every decoded frame counts)
	local f=$1 out=$2 sel
	shift 2
	sel=$(printf '+eq(n\\,%s)' "$@")
	ff -i "$f" -vf "select=${sel#+}" -fps_mode passthrough -f rawvideo -pix_fmt gray "$out"
}
cmp_frames() { # cmp_frames SRC CLIP W H: "count first last neighbour": frames in CLIP, and the PSNR of
	# SRC's 2 frames against CLIP's first, last, and the one before the last
	python3 - "$@" <<'PY'
import math, sys
a, b = open(sys.argv[1], 'rb').read(), open(sys.argv[2], 'rb').read()
n = int(sys.argv[3]) * int(sys.argv[4])
def psnr(x, y):
    mse = sum((p - q) ** 2 for p, q in zip(x, y)) / n if len(x) == len(y) == n else 1e9
    return 99 if mse == 0 else round(10 * math.log10(255 ** 2 / mse), 1)
k = len(b) // n
f = lambda buf, i: buf[i * n:(i + 1) * n]
print(k, psnr(f(a, 0), f(b, 0)), psnr(f(a, 1), f(b, k - 1)), psnr(f(a, 1), f(b, k - 2)))
PY
}
check_written() { # check_written CSV NAME ROWS: each of the ROWS clips of CSV, and no fewer
	local i=0 id p src s e n w h cnt first last neighbour
	while IFS=, read -r p id src s e w h; do
		n=$((e - s))
		frames "$src" "$T/a.gray" "$s" "$((e - 1))"
		ff -i "$p" -fps_mode passthrough -f rawvideo -pix_fmt gray "$T/b.gray"
		read -r cnt first last neighbour < <(cmp_frames "$T/a.gray" "$T/b.gray" "$w" "$h")
		expect "$2 clip $i: decoded frames = num_frames = end - start" "$cnt $(sed -n "$((i + 2))p" "$1" | cut -d, -f8)" "$n $n"
		expect "$2 clip $i: first and last frames match (PSNR $first, $last dB; last vs its neighbour $neighbour dB)" \
			"$(python3 -c "print($first >= 40 and $last >= 40)")" True
		i=$((i + 1))
	done < <(python3 -c "
import csv, sys
for r in csv.DictReader(open(sys.argv[1], newline='')):
    print(r['path'], r['id'], r['source'], r['start_frame'], r['end_frame'], r['width'], r['height'], sep=',')" "$1")
	[ "$i" = "$3" ] || fail "$2: clips checked" "$i of $3: $(cat "$1")"
}
C=$T/clips
run cut --min-sec 0 --crf 12 --cut-dir "$C" "$V/cuts.mp4" "$V/vfr.mp4"
check_written "$T/cut.csv" "written" 6
head -1 "$T/cut.csv" >"$T/cut_none.csv"
must_fail "written-clip check: no rows fail" check_written "$T/cut_none.csv" x 6
expect "written clips named <id>.mp4, no temporary left" "$(ls -A "$C" | wc -l): $(ls -A "$C" | sort | tr '\n' ' ')" \
	"6: $(for i in $(col "$T/cut.csv" id); do echo "$i.mp4"; done | sort | tr '\n' ' ')"
touch -d '2001-01-01' "$C"/*.mp4
run cut2 --min-sec 0 --crf 12 --cut-dir "$C" "$V/cuts.mp4" "$V/vfr.mp4"
expect "re-run: complete clips are kept, not rewritten" \
	"$(find "$C" -type f | wc -l) files, $(find "$C" -type f -newermt 2002-01-01 | wc -l) rewritten" "6 files, 0 rewritten"
expect_same "re-run: same rows" "$T/cut.csv" "$T/cut2.csv"
run small --resize-short 90 --fps 10 --cut-dir "$T/small" "$V/rotated.mp4"
p=$(col "$T/small.csv" path | cut -d' ' -f1)
expect "--resize-short 90 --fps 10 on a rotated source: size and rate of the rows" \
	"$(col "$T/small.csv" width) $(col "$T/small.csv" height) $(col "$T/small.csv" fps)" "90 90 90 160 160 160 10 10 10"
expect "--resize-short, --fps: the file agrees (rotation applied)" \
	"$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=width,height,avg_frame_rate,nb_read_frames -of csv=p=0 "$p")" \
	"90,160,10/1,$(col "$T/small.csv" num_frames | cut -d' ' -f1)"
expect "--fps 10: 2.6 s clips hold 26 frames" "$(col "$T/small.csv" num_frames)" "26 26 26"

# Audio: dropped by default, kept (copied) with --audio keep; --copy stream-copies from a keyframe.
ff -i "$V/cuts.mp4" -f lavfi -i sine=f=440:d=7.8 -c:v copy -c:a aac -shortest "$T/audio.mp4"
streams() { ffprobe -v error -show_entries stream=codec_type -of csv=p=0 "$1" | sort | tr '\n' ' '; }
run drop --min-sec 0 --cut-dir "$T/drop" "$T/audio.mp4"
expect "--audio drop (default): video only" "$(streams "$(col "$T/drop.csv" path | cut -d' ' -f2)")" "video "
run keepa --min-sec 0 --audio keep --cut-dir "$T/keepa" "$T/audio.mp4"
p=$(col "$T/keepa.csv" path | cut -d' ' -f2)
expect "--audio keep: audio and video" "$(streams "$p")" "audio video "
got=$(ffprobe -v error -select_streams a:0 -show_entries stream=duration -of csv=p=0 "$p")
expect "--audio keep: the clip's 2.6 s of audio ($got s)" "$(python3 -c "print(abs($got - 2.6) < 0.05)")" True
expect "--audio keep: frames still exact" "$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$p")" 65
run copy --min-sec 0 --copy --audio keep --cut-dir "$T/copy" "$T/audio.mp4"
grep -q "inexact" "$T/copy.err" && ok "--copy says it is inexact" || fail "--copy notice" "$(cat "$T/copy.err")"
got=$(python3 - "$T/copy.csv" <<'PY'
import csv, subprocess, sys
rows = list(csv.DictReader(open(sys.argv[1], newline='')))
ok = len(rows) == 3
for r in rows:
    n = subprocess.run(['ffprobe', '-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries',
                        'stream=nb_read_frames', '-of', 'csv=p=0', r['path']], capture_output=True, text=True).stdout.strip()
    ok = ok and n == r['num_frames'] and int(n) >= int(r['end_frame']) - int(r['start_frame'])
print(ok)
PY
)
expect "--copy: every frame of the shot, from the keyframe before ($(col "$T/copy.csv" num_frames) frames)" "$got" True
expect "--copy --audio keep: audio and video" "$(streams "$(col "$T/copy.csv" path | cut -d' ' -f1)")" "audio video "

# Bad input: every hostile kind is a reject with its reason, the run goes on.
H=$T/hostile
mkdir -p "$H"
: >"$H/empty.mp4"
head -c 20000 "$V/cuts.mp4" >"$H/truncated.mp4"
# Seeded, not /dev/urandom: now and then random bytes probe as some container and the reason changes.
python3 -c "import random, sys; random.seed(1); sys.stdout.buffer.write(random.randbytes(65536))" >"$H/random.mp4"
ff -f lavfi -i sine=d=1 -c:a aac "$H/audio_only.mp4"
ff -f lavfi -i testsrc2=s=64x64 -frames:v 1 "$T/still.png"
cp "$T/still.png" "$H/still.mp4"
ln -s "$T/nothing.mp4" "$H/dangling.mp4"
mkfifo "$H/fifo.mp4"
timeout 60 sora-split -j 2 --rejects "$T/rej.csv" "$H" "$V/cuts.mp4" >"$T/h.csv" 2>"$T/h.err"
expect "hostile inputs: exit 0, no hang" "$?" 0
declare -A reason=([empty.mp4]="empty" [random.mp4]="Invalid data" [audio_only.mp4]="no video stream"
	[still.mp4]="image" [dangling.mp4]="No such file" [fifo.mp4]="not a regular file")
# check_reject NAME WANT: the reject row of NAME names WANT, which is not empty.
check_reject() {
	expect_contains "$1 rejected: $2" "$(python3 -c "
import csv, sys
for r in csv.DictReader(open(sys.argv[1], newline='')):
    if r['path'].endswith('/' + sys.argv[2]): print(r['error'])" "$T/rej.csv" "$1" 2>/dev/null)" "$2"
}
for name in "${!reason[@]}"; do
	check_reject "$name" "${reason[$name]}"
	[ "$(grep -c "$name:" "$T/h.err")" -eq 1 ] && ok "$name: one stderr line" || fail "$name: one stderr line" "$(cat "$T/h.err")"
done
must_fail "reject check: an empty reason fails" check_reject random.mp4 ""
must_fail "reject check: another reason fails" check_reject random.mp4 "No such file"
must_fail "reject check: a file not rejected fails" check_reject cuts.mp4 "Invalid data"
out=$(grep -c "^$V/cuts.mp4," "$T/h.csv")
rej=$(($(python3 -c "import csv,sys; print(sum(1 for _ in csv.DictReader(open(sys.argv[1], newline=''))))" "$T/rej.csv")))
filt=$(sed -n 's/.* rejected, \([0-9]*\) filtered.*/\1/p' "$T/h.err")
expect "hostile: the good video still split" "$out" 3
# The truncated file is a reject, or a row, or filtered (its first frames are too short a clip).
[ $((rej + filt + 1)) -eq 8 ] && grep -q "8 rows in, " "$T/h.err" && ok "hostile: rows in = videos out + rejected + filtered" ||
	fail "hostile summary" "$(tail -2 "$T/h.err")"

# Usage errors.
sora-split --detector nope "$V/cuts.mp4" >/dev/null 2>&1
expect "unknown detector is a usage error" "$?" 2
sora-split --fps 10 "$V/cuts.mp4" >/dev/null 2>&1
expect "--fps without --cut-dir is a usage error" "$?" 2
sora-split --copy --resize-short 90 --cut-dir "$T/x" "$V/cuts.mp4" >/dev/null 2>&1
expect "--copy with --resize-short is a usage error" "$?" 2
printf 'id\n1\n' | sora-split >/dev/null 2>&1
expect "CSV without path is a usage error" "$?" 2
# A CSV from sora-probe on stdin: its columns pass through, split's replace theirs.
sora-probe -q "$V/cuts.mp4" | sora-split -q --min-sec 0 >"$T/piped.csv"
expect "from sora-probe: clips" "$(clips "$T/piped.csv")" "$three_shots"
expect "from sora-probe: probe's columns kept" "$(head -1 "$T/piped.csv" | cut -d, -f1-8)" \
	"path,num_frames,height,width,aspect_ratio,resolution,fps,duration_sec"

exit $((FAILS > 0))
