#!/usr/bin/env bash
# sora-score against FFmpeg on clips made here: vmafmotion to 1e-4 on the same frames (whole files and
# ranges, 8 and 10 bits), flow of a known pan, blur against a numpy Laplacian and ordered by gblur sigma,
# brightness against signalstats, black and freeze ratios against blackdetect and freezedetect on clips
# built with black and still segments, bad input, -j 1 = -j 4; aes (with the fixture CLIP tower and the
# published predictor) against a numpy golden and the frames FFmpeg extracts, the .pth converter.
# Each local check is also fed wrong output (empty, NaN, an empty reason) and must say "not ok".
. "$(dirname "$0")/lib.sh"

V=$T/v
mkdir -p "$V"
ff -f lavfi -i testsrc2=s=160x90:r=25:d=2 -c:v libx264 -pix_fmt yuv420p "$V/c8.mp4"
ff -f lavfi -i mandelbrot=s=160x90:r=25 -frames:v 50 -c:v libx264 -pix_fmt yuv420p10le "$V/c10.mp4"

# The golden: FFmpeg's vmafmotion loops, run in Python on the luma FFmpeg decodes, at full precision
# (FFmpeg prints m to 2 decimals only); each golden frame must print as FFmpeg's stats file does.
golden() { # FILE BYTES_PER_SAMPLE -> one m per line
	ffmpeg -nostdin -loglevel error -i "$1" -f rawvideo - | python3 -c '
import sys
w, h, bps = 160, 90, int(sys.argv[1])
depth = 8 if bps == 1 else 10
f = [1785, 8002, 13193, 8002, 1785]
def mir(i, n):
    i = abs(i)
    return n - (i - n + 1) if i >= n else i
rows = [[mir(i - 2 + k, h) for k in range(5)] for i in range(h)]
cols = [mir(j, w) for j in range(-2, w + 2)]
frame = (w * h + 2 * (w // 2) * (h // 2)) * bps
data = sys.stdin.buffer.read()
prev = None
for t in range(len(data) // frame):
    y = data[t * frame:t * frame + w * h * bps]
    Y = [list(y[i * w:(i + 1) * w]) if bps == 1 else
         [int.from_bytes(y[2 * (i * w + j):2 * (i * w + j) + 2], "little") for j in range(w)] for i in range(h)]
    blur = []
    for i in range(h):
        a, b, c, d, e = (Y[r] for r in rows[i])
        tmp = [(f[0] * (p + s) + f[1] * (q + u) + f[2] * v) >> depth for p, q, v, u, s in zip(a, b, c, d, e)]
        x = [tmp[j] for j in cols]
        blur.append([(f[0] * (x[j] + x[j + 4]) + f[1] * (x[j + 1] + x[j + 3]) + f[2] * x[j + 2]) >> 15 for j in range(w)])
    m = 0.0 if prev is None else sum(abs(p - q) for r1, r2 in zip(blur, prev) for p, q in zip(r1, r2)) * 1.0 / (w * h << 7)
    print(repr(m))
    prev = blur
' "$2"
}
golden "$V/c8.mp4" 1 >"$T/g8"
golden "$V/c10.mp4" 2 >"$T/g10"

# ffmpeg's own numbers on frames [A, B) of FILE: the stats file's m per frame and the printed average.
ffmpeg_vmaf() { # FILE A B OUT
	ffmpeg -nostdin -hide_banner -i "$1" -vf "trim=start_frame=$2:end_frame=$3,vmafmotion=stats_file=$4.stats" \
		-f null - 2>&1 | sed -n 's/.*VMAF Motion avg: //p' >"$4.avg"
}

# Clip rows: whole files, and ranges at 25 fps: [0.4, 1.2) is frames 10..29, [1.0, 2.0) frames 25..49.
{
	echo "path,start_sec,end_sec,note"
	echo "$V/c8.mp4,,,whole"
	echo "$V/c8.mp4,0.4,1.2,range"
	echo "$V/c8.mp4,1,,tail"
	echo "$V/c10.mp4,,,whole"
	echo "$V/c10.mp4,0.4,1.2,range"
	echo "$V/c10.mp4,1.0,2.0,tail"
} >"$T/clips.csv"
sora-score -j 2 --scores vmafmotion <"$T/clips.csv" >"$T/vm.csv" 2>"$T/err"
expect "vmafmotion: exit 0" "$?" 0
expect "vmafmotion: header" "$(head -1 "$T/vm.csv")" "path,start_sec,end_sec,note,score_vmafmotion,vmafmotion_avg"

check_vmaf() { # CSV ROW GOLDEN A B NAME
	local res
	ffmpeg_vmaf "$(csv_col "$1" "$2" path)" "$4" "$5" "$T/ff"
	res=$(python3 - "$3" "$4" "$5" "$T/ff.stats" "$(cat "$T/ff.avg")" "$(csv_col "$1" "$2" score_vmafmotion)" \
		"$(csv_col "$1" "$2" vmafmotion_avg)" <<'PY'
import sys
import compare
g, a, b, stats, ffavg, score, avg = sys.argv[1:]
m = [float(x) for x in open(g)][int(a):int(b)]
if len(m) != int(b) - int(a):
    print('bad: the golden has %d frames in [%s, %s)' % (len(m), a, b)); sys.exit()
m[0] = 0.0  # the first frame of a clip has no previous frame
ff = [l.split('motion:')[1].strip() for l in open(stats)]
if ff != ['%0.2f' % x for x in m]:
    print('bad: golden frames differ from ffmpeg stats'); sys.exit()
m2 = [min(m[t], m[t + 1]) for t in range(len(m) - 1)] + [m[-1]]
want_avg = sum(m) / len(m)
want = (want_avg + sum(m2) / len(m2)) / 2
good, msg = compare.each([compare.num(score), compare.num(avg)], [want, want_avg], 1e-4, 0)
good2, msg2 = compare.each([compare.num(avg)], [compare.num(ffavg)], 5e-4 + 1e-12, 0)
print('ok' if good and good2 else 'bad', '%d frames, score %.6f avg %.6f: %s; ffmpeg prints avg %s: %s' % (
    len(m), want, want_avg, msg, ffavg, msg2))
PY
	)
	case "$res" in "ok "*) ok "$6: vmafmotion within 1e-4 of the golden on ffmpeg's frames (${res#ok })" ;;
	*) fail "$6: vmafmotion" "$res" ;; esac
}
check_vmaf "$T/vm.csv" 1 "$T/g8" 0 50 "8-bit whole file"
check_vmaf "$T/vm.csv" 2 "$T/g8" 10 30 "8-bit range [0.4, 1.2)"
check_vmaf "$T/vm.csv" 3 "$T/g8" 25 50 "8-bit range [1, end)"
check_vmaf "$T/vm.csv" 4 "$T/g10" 0 50 "10-bit whole file"
check_vmaf "$T/vm.csv" 5 "$T/g10" 10 30 "10-bit range [0.4, 1.2)"
check_vmaf "$T/vm.csv" 6 "$T/g10" 25 50 "10-bit range [1, 2)"
# set_field CSV ROW COLUMN VALUE: CSV with one field replaced, on stdout (wrong output for must_fail)
set_field() {
	python3 - "$@" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline='')))
rows[int(sys.argv[2])][rows[0].index(sys.argv[3])] = sys.argv[4]
csv.writer(sys.stdout, lineterminator='\n').writerows(rows)
PY
}
set_field "$T/vm.csv" 1 score_vmafmotion nan >"$T/vm_nan.csv"
set_field "$T/vm.csv" 1 vmafmotion_avg "" >"$T/vm_empty.csv"
must_fail "vmafmotion check: a NaN score fails" check_vmaf "$T/vm_nan.csv" 1 "$T/g8" 0 50 x
must_fail "vmafmotion check: an empty average fails" check_vmaf "$T/vm_empty.csv" 1 "$T/g8" 0 50 x
must_fail "vmafmotion check: another file's frames fail" check_vmaf "$T/vm.csv" 4 "$T/g8" 0 50 x

# Determinism across workers: a comparison of the program with itself, so both runs must hold every row.
sora-score -q -j 1 --scores vmafmotion,flow,blur,brightness,black,freeze <"$T/clips.csv" >"$T/j1.csv"
sora-score -q -j 4 --scores vmafmotion,flow,blur,brightness,black,freeze <"$T/clips.csv" >"$T/j4.csv"
expect "-j 1: a row per clip" "$(wc -l <"$T/j1.csv")" 7
expect_same "-j 1 and -j 4 give identical output" "$T/j1.csv" "$T/j4.csv"

# flow: a textured still panned 2 px a frame at 10 fps, 256 px high (the scoring size): samples 0.5 s
# apart are 10 px apart. The still itself scores 0.
ff -f lavfi -i "nullsrc=s=640x256,geq=lum='random(1)*255':cb=128:cr=128,gblur=sigma=3" -frames:v 1 "$T/tex.png"
# The same pan at half size: flow frames are enlarged to 256 px, so the speed at that size is still 10 px.
ff -loop 1 -framerate 10 -i "$T/tex.png" -filter_complex \
	"[0]split[a][b];[a]crop=456:256:x='2*n':y=0,format=yuv420p,split[p][q];[q]scale=228:128[s];[b]crop=456:256:x=0:y=0,format=yuv420p[st]" \
	-map "[p]" -frames:v 30 -c:v libx264 -crf 10 "$V/pan.mp4" -map "[s]" -frames:v 30 -c:v libx264 -crf 10 "$V/pan_small.mp4" \
	-map "[st]" -frames:v 30 -c:v libx264 "$V/still.mp4"
sora-score -q --scores flow "$V/pan.mp4" "$V/still.mp4" "$V/pan_small.mp4" >"$T/flow.csv"
for row in 1 3; do
	got=$(csv_col "$T/flow.csv" $row flow)
	expect_near "flow of a 10 px pan ($(basename "$(csv_col "$T/flow.csv" $row path)")): $got" "$got" 10 1
done
expect "flow of a still is 0" "$(csv_col "$T/flow.csv" 2 flow)" 0

# blur: one testsrc2 picture under gblur of growing sigma, held 1 s, lossless (every decoded frame the
# same, so which frames blur samples does not matter): each against the variance of OpenCV's Laplacian
# computed in numpy on the luma FFmpeg decodes, and sharper input scoring higher, strictly.
ff -f lavfi -i testsrc2=s=160x90 -frames:v 1 "$T/ts.png"
ff -loop 1 -framerate 25 -i "$T/ts.png" -filter_complex \
	"format=yuv420p,split=4[a][b][c][d];[a]gblur=sigma=0.5[A];[b]gblur=sigma=1[B];[c]gblur=sigma=2[C];[d]gblur=sigma=4[D]" \
	-map "[A]" -frames:v 25 -c:v libx264 -qp 0 "$V/gblur_0.5.mp4" -map "[B]" -frames:v 25 -c:v libx264 -qp 0 "$V/gblur_1.mp4" \
	-map "[C]" -frames:v 25 -c:v libx264 -qp 0 "$V/gblur_2.mp4" -map "[D]" -frames:v 25 -c:v libx264 -qp 0 "$V/gblur_4.mp4"
sora-score -q --scores blur,brightness "$V"/gblur_0.5.mp4 "$V"/gblur_1.mp4 "$V"/gblur_2.mp4 "$V"/gblur_4.mp4 >"$T/blur.csv"
# lapvar FILE W H: cv2.Laplacian(gray, CV_64F).var() (aperture [0 1 0; 1 -4 1; 0 1 0], reflect-101
# borders) of FILE's first frame's luma; nothing when FFmpeg decodes no frame.
lapvar() {
	ffmpeg -nostdin -loglevel error -i "$1" -frames:v 1 -f rawvideo -pix_fmt yuv420p - 2>/dev/null | python3 -c '
import sys
import numpy as np
w, h = int(sys.argv[1]), int(sys.argv[2])
b = sys.stdin.buffer.read()
if len(b) >= w * h:
    y = np.frombuffer(b[:w * h], np.uint8).reshape(h, w).astype(np.float64)
    p = np.pad(y, 1, mode="reflect")
    print(repr((p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * y).var()))' "$2" "$3"
}
for r in 1 2 3 4; do
	f=$(csv_col "$T/blur.csv" $r path)
	want=$(lapvar "$f" 160 90)
	expect_near "blur of $(basename "$f") = numpy's Laplacian variance $want" "$(csv_col "$T/blur.csv" $r blur)" "$want" 1e-6
done
: >"$T/empty.mp4"
must_fail "blur check: no frame decoded, no reference: fails" expect_near x 100 "$(lapvar "$T/empty.mp4" 160 90)" 1e-6
# blur_order NAME VALUES...: four finite values, strictly decreasing.
blur_order() {
	local name=$1
	shift
	if python3 -c "
import math, sys
v = [float(x) for x in sys.argv[1:]]
sys.exit(not (len(v) == 4 and all(map(math.isfinite, v)) and all(a > b for a, b in zip(v, v[1:]))))" "$@" 2>/dev/null
	then ok "$name: $*"; else fail "$name" "got: $*"; fi
}
blur_order "blur decreases with gblur sigma 0.5 1 2 4" $(for r in 1 2 3 4; do csv_col "$T/blur.csv" $r blur; done)
must_fail "blur order: no values fail" blur_order x
must_fail "blur order: three values fail" blur_order x 3 2 1
must_fail "blur order: NaN fails" blur_order x 4 nan 2 1
must_fail "blur order: an increase fails" blur_order x 4 3 3.5 1

# brightness: FFmpeg signalstats YAVG averaged over the frames (10 bits: divided by 4 to 0-255); YAVG is
# printed to 6 significant digits, so each frame's is within 5e-4.
yavg() { ffmpeg -nostdin -hide_banner -i "$1" -vf signalstats,metadata=print:key=lavfi.signalstats.YAVG -f null - 2>&1 |
	sed -n 's/.*YAVG=//p' | awk -v d="$2" '{ s += $1; n++ } END { printf "%.6f", s / n / d }'; }
sora-score -q --scores brightness "$V/c8.mp4" "$V/c10.mp4" "$V/gblur_1.mp4" >"$T/bright.csv"
for row in 1 2 3; do
	f=$(csv_col "$T/bright.csv" $row path)
	d=1
	[ "$row" = 2 ] && d=4
	want=$(yavg "$f" $d)
	got=$(csv_col "$T/bright.csv" $row brightness)
	expect_near "brightness of $(basename "$f") $got ~ signalstats $want" "$got" "$want" 1e-3
done

# black: 1 s of black then 2 s of picture, at 10 fps: a third of the frames.
ff -f lavfi -i "color=black:s=160x90:r=10:d=1" -f lavfi -i "testsrc2=s=160x90:r=10:d=2" \
	-filter_complex "[0][1]concat=n=2:v=1" -c:v libx264 "$V/black.mp4"
# freeze: 1 s of motion whose last frame is held 2 s more (lossless, so the held frames are identical):
# the still run is frame 9 (its reference) to frame 29, 2 s long: 21 of 30 frames.
ff -f lavfi -i testsrc2=s=160x90:r=10:d=1 -vf "tpad=stop_mode=clone:stop_duration=2" -c:v libx264 -qp 0 "$V/freeze.mp4"
# mix, lossless at 10 fps: 1 s picture, 0.5 s black, 1 s motion held 2.5 s more, 1 s picture, 0.3 s of
# black at the end (63 frames): black runs in the middle and at the end, a still run that ends.
ff -f lavfi -i testsrc2=s=160x90:r=10:d=1 -f lavfi -i color=black:s=160x90:r=10:d=0.5 -f lavfi -i mandelbrot=s=160x90:r=10 \
	-f lavfi -i testsrc2=s=160x90:r=10:d=1 -f lavfi -i color=black:s=160x90:r=10:d=0.3 -filter_complex \
	"[2]trim=end_frame=10,tpad=stop_mode=clone:stop_duration=2.5[h];[0][1][h][3][4]concat=n=5:v=1,format=yuv420p" \
	-c:v libx264 -qp 0 "$V/mix.mp4"
sora-score -q --scores black,freeze "$V/black.mp4" "$V/freeze.mp4" "$V/mix.mp4" >"$T/bf.csv"
expect "black_ratio of 1 s black in 3 s" "$(csv_col "$T/bf.csv" 1 black_ratio)" 0.3333333333333333
expect "freeze_ratio of black+picture" "$(csv_col "$T/bf.csv" 1 freeze_ratio)" 0
expect "freeze_ratio of a 2 s hold" "$(csv_col "$T/bf.csv" 2 freeze_ratio)" 0.7
expect "black_ratio of the held clip" "$(csv_col "$T/bf.csv" 2 black_ratio)" 0
expect "--freeze-duration 3: the hold is too short" \
	"$(sora-score -q --scores freeze --freeze-duration 3 "$V/freeze.mp4" | tail -1 | cut -d, -f2)" 0
# ff_ratio FILE FILTER: the fraction of FILE's frames (showinfo's pts) inside the runs FFmpeg's FILTER
# reports, [start, end). A run that ends at the end of the stream is reported after the last frame
# (blackdetect gives the last frame's pts, freezedetect nothing): it takes every frame from its start.
# Nothing when FFmpeg decodes no frame.
ff_ratio() {
	ffmpeg -nostdin -hide_banner -i "$1" -vf "$2,showinfo" -f null - 2>&1 | python3 -c '
import re, sys
frames, runs = [], []
for line in sys.stdin:
    t = re.search(r"\bpts_time:\s*([0-9.e+-]+)", line)
    if t and "showinfo" in line:
        frames.append(float(t.group(1)))
    t = re.search(r"(?:black|freeze)_start:\s*([0-9.e+-]+)", line)
    if t:
        runs.append([float(t.group(1)), float("inf"), None])
    t = re.search(r"(?:black|freeze)_end:\s*([0-9.e+-]+)", line)
    if t:
        runs[-1][1:] = [float(t.group(1)), len(frames)]
if frames:
    inside = lambda p: any(s <= p and (p < e or seen == len(frames)) for s, e, seen in runs)
    print(repr(sum(map(inside, frames)) / len(frames)))'
}
for row in 1 2 3; do
	f=$(csv_col "$T/bf.csv" $row path)
	want=$(ff_ratio "$f" blackdetect=d=0)
	expect_near "black_ratio of $(basename "$f") = blackdetect's $want" "$(csv_col "$T/bf.csv" $row black_ratio)" "$want" 1e-9
	want=$(ff_ratio "$f" freezedetect)
	expect_near "freeze_ratio of $(basename "$f") = freezedetect's $want" "$(csv_col "$T/bf.csv" $row freeze_ratio)" "$want" 1e-9
	for d in 0.5 3; do
		want=$(ff_ratio "$f" freezedetect=d=$d)
		got=$(sora-score -q --scores freeze --freeze-duration $d "$f" | csv_col /dev/stdin 1 freeze_ratio)
		expect_near "--freeze-duration $d: freeze_ratio of $(basename "$f") = freezedetect d=$d's $want" "$got" "$want" 1e-9
	done
done
must_fail "black check: no frame decoded, no reference: fails" expect_near x 0 "$(ff_ratio "$T/empty.mp4" blackdetect=d=0)" 1e-9
must_fail "black check: the ratio of another clip fails" expect_near x "$(csv_col "$T/bf.csv" 3 black_ratio)" \
	"$(ff_ratio "$V/black.mp4" blackdetect=d=0)" 1e-9

# Bad input: each a reject with a reason; the good rows are scored; no crash, no hang.
: >"$V/empty.mp4"
# Seeded, not /dev/urandom: now and then random bytes probe as some container and the reason changes.
python3 -c "import random, sys; random.seed(1); sys.stdout.buffer.write(random.randbytes(65536))" >"$V/random.mp4"
{
	echo "path,start_sec,end_sec"
	echo "$V/empty.mp4,,"
	echo "$V/random.mp4,,"
	echo "$V/missing.mp4,,"
	echo ",,"
	echo "$V/c8.mp4,abc,"
	echo "$V/c8.mp4,0,1e999"
	echo "$V/c8.mp4,nan,1"
	echo "$V/c8.mp4,-1,1"
	echo "$V/c8.mp4,1,1"
	echo "$V/c8.mp4,1.5,0.5"
	echo "$V/c8.mp4,10,12"
	echo "$V/c8.mp4,0.5,1"
} >"$T/bad.csv"
timeout 60 sora-score -j 2 --rejects "$T/rej.csv" <"$T/bad.csv" >"$T/bad_out.csv" 2>"$T/bad.err"
expect "bad input: exit 0" "$?" 0
grep -q "12 rows in, 1 out, 11 rejected, 0 filtered" "$T/bad.err" && ok "bad input: summary" || fail "bad input: summary" "$(tail -3 "$T/bad.err")"
python3 - "$T/rej.csv" >"$T/reasons" <<'PY'
import csv, sys
for r in csv.DictReader(open(sys.argv[1], newline='')):
    print(r['path'].rsplit('/', 1)[-1] or '-', r['start_sec'] or '-', r['end_sec'] or '-', '|', r['error'])
PY
# check_reject REASONS KEY WANT: the reject row KEY ("name start end ") names WANT, which is not empty.
check_reject() {
	expect_contains "rejected: $2($3)" "$(grep -F -e "$2| " "$1")" "$3"
}
while IFS='|' read -r key reason; do
	check_reject "$T/reasons" "$key" "$reason"
done <<'EOF2'
empty.mp4 - - |empty
random.mp4 - - |Invalid data
missing.mp4 - - |No such file
- - - |empty path
c8.mp4 abc - |start_sec is not a number
c8.mp4 0 1e999 |end_sec is not a number
c8.mp4 nan 1 |start_sec is not a number
c8.mp4 -1 1 |start_sec is negative
c8.mp4 1 1 |is not after start_sec
c8.mp4 1.5 0.5 |is not after start_sec
c8.mp4 10 12 |no frames in
EOF2
must_fail "reject check: an empty reason fails" check_reject "$T/reasons" "random.mp4 - - " ""
must_fail "reject check: another reason fails" check_reject "$T/reasons" "random.mp4 - - " "No such file"
must_fail "reject check: a row that is not there fails" check_reject "$T/reasons" "c8.mp4 0.5 1 " "no frames in"

# Usage errors.
sora-score --scores vmafmotion,nope "$V/c8.mp4" >/dev/null 2>"$T/use.err"
expect "unknown score is a usage error" "$?" 2
expect_contains "unknown score named" "$(cat "$T/use.err")" "unknown score 'nope'"
printf 'file\nx\n' | sora-score >/dev/null 2>&1
expect "CSV without path is a usage error" "$?" 2
sora-score --black-pic-th 2 "$V/c8.mp4" >/dev/null 2>&1
expect "--black-pic-th out of range is a usage error" "$?" 2
help=$(sora-score --help)
for flag in --scores --black-pix-th --black-pic-th --freeze-noise --freeze-duration --threads --rejects; do
	case "$help" in *"$flag"*) ok "--help lists $flag" ;; *) fail "--help lists $flag" ;; esac
done
expect "default scores" "$(sora-score -q "$V/c8.mp4" | head -1)" "path,score_vmafmotion,vmafmotion_avg,blur,brightness"

# ---- aes: the tiny fixture CLIP tower given a projection to 768 (the published predictor's input) ----
FX=${SORA_FIXTURES:-$(cd "$(dirname "$0")/../.." && pwd)/../shared/fixtures}
AESW=$FX/aesthetic/sac+logos+ava1-l14-linearMSE.safetensors
need_fixtures "aes" "$AESW" "$FX/text/clip_vision_tiny.safetensors" "$FX/text/clip_vision_tiny_config.json" \
	"$FX/text/clip_vision_tiny_io.safetensors"
mkdir -p "$T/clip768" "$T/clip32"
python3 - "$FX/text/clip_vision_tiny.safetensors" "$FX/text/clip_vision_tiny_config.json" "$T/clip768" <<'PY'
import json, random, struct, sys
src, cfg, out = sys.argv[1:4]
b = open(src, 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
h.pop('__metadata__', None)
rng = random.Random(7)
hdr, blobs, off = {}, [], 0
for k in sorted(h):
    shape, (s, e) = h[k]['shape'], h[k]['data_offsets']
    data = b[8 + n + s:8 + n + e]
    if k == 'visual_projection.weight':
        shape = [768, shape[1]]
        data = struct.pack('<%df' % (768 * shape[1]), *(rng.gauss(0, 0.125) for _ in range(768 * shape[1])))
    hdr[k] = {'dtype': h[k]['dtype'], 'shape': shape, 'data_offsets': [off, off + len(data)]}
    blobs.append(data)
    off += len(data)
j = json.dumps(hdr).encode()
j += b' ' * (-len(j) % 8)
open(out + '/model.safetensors', 'wb').write(struct.pack('<Q', len(j)) + j + b''.join(blobs))
c = json.load(open(cfg))
c['projection_dim'] = 768
json.dump(c, open(out + '/config.json', 'w'))
PY
ln -s "$FX/text/clip_vision_tiny.safetensors" "$T/clip32/model.safetensors"
ln -s "$FX/text/clip_vision_tiny_config.json" "$T/clip32/config.json"
AES="--scores aes --clip-model $T/clip768 --aes-model $AESW"

# A lossless RGB clip (PNG frames in Matroska), so that the frames FFmpeg extracts as PNG are the
# very pixels sora-score decodes. 12 frames at 10 fps: Open-Sora's int(p·n) picks 1, 6 and 10;
# the range [0.3, 1.0) holds frames 3..9 and picks 3, 6 and 9.
ff -f lavfi -i testsrc2=s=200x120:r=10 -frames:v 12 -c:v png -pix_fmt rgb24 "$V/aes.mkv"
for i in 1 3 6 9 10; do
	ff -i "$V/aes.mkv" -vf "select=eq(n\,$i)" -frames:v 1 "$V/aes_f$i.png"
done
ff -f lavfi -i mandelbrot=s=320x180 -frames:v 1 "$V/aes_still.jpg"
{
	echo "path,start_sec,end_sec"
	echo "$V/aes.mkv,,"
	echo "$V/aes.mkv,0.3,1.0"
	for i in 1 3 6 9 10; do echo "$V/aes_f$i.png,,"; done
	echo "$V/aes_still.jpg,,"
	echo "$V/c8.mp4,0.4,1.2"
} >"$T/aes.csv"
sora-score -v -j 1 $AES <"$T/aes.csv" >"$T/aes1.csv" 2>"$T/aes1.err"
expect "aes: exit 0" "$?" 0
grep -q "9 rows in, 9 out, 0 rejected" "$T/aes1.err" && ok "aes: every row scored" || fail "aes: every row scored" "$(cat "$T/aes1.err")"
grep -q "aes: about .* MiB: weights .* MiB (f32, shared) + 1 workers" "$T/aes1.err" &&
	ok "aes: -v prints the memory estimate" || fail "aes: -v prints the memory estimate" "$(cat "$T/aes1.err")"
expect "aes: the column" "$(head -1 "$T/aes1.csv")" "path,start_sec,end_sec,aes"
# The clip's score is the mean of its frames' scores, each scored as an image here (batch of 1
# against the clip's batch of 3: equal within float rounding).
# frames_mean CSV FRAME...: the mean of the aes of the images aes_fFRAME.png in CSV; nothing unless
# every one is there.
frames_mean() {
	local f=$1 i fr=""
	shift
	for i in "$@"; do fr="$fr $(awk -F, -v p="$V/aes_f$i.png" '$1 == p { print $NF }' "$f")"; done
	python3 -c "import sys; v = [float(x) for x in sys.argv[2:]]; print(repr(sum(v) / len(v)) if len(v) == int(sys.argv[1]) else '')" $# $fr
}
for spec in "1:1 6 10" "2:3 6 9"; do
	row=${spec%%:*}
	set -- ${spec#*:}
	expect_near "aes of clip row $row = mean of frames $* extracted by FFmpeg" "$(csv_col "$T/aes1.csv" "$row" aes)" \
		"$(frames_mean "$T/aes1.csv" "$@")" 1e-5
done
grep -v aes_f6 "$T/aes1.csv" >"$T/aes_no6.csv"
must_fail "aes clip check: a frame missing from the output fails" expect_near x "$(csv_col "$T/aes1.csv" 1 aes)" \
	"$(frames_mean "$T/aes_no6.csv" 1 6 10)" 1e-5
must_fail "aes clip check: the mean of other frames fails" expect_near x "$(csv_col "$T/aes1.csv" 1 aes)" \
	"$(frames_mean "$T/aes1.csv" 3 6 9)" 1e-5
python3 -c "import sys; a = float(sys.argv[1]); sys.exit(not (0 < a < 10))" "$(csv_col "$T/aes1.csv" 8 aes)" &&
	ok "aes of a JPEG still: $(csv_col "$T/aes1.csv" 8 aes)" || fail "aes of a JPEG still" "$(cat "$T/aes1.csv")"

# The golden: the fixture's preprocessing image (transformers' own input to the tower) as a PNG, and
# its score computed here in numpy from the tower's float64 pooler_output for that image, the
# projection made above and the predictor in float64 (L2-normalised embeds, as simple_inference.py).
python3 -c "
import sys
import compare
sys.stdout.buffer.write(compare.load(sys.argv[1])['preprocess.image_uint8_hwc'].astype('u1').tobytes())" \
	"$FX/text/clip_vision_tiny_io.safetensors" | ff -f rawvideo -pix_fmt rgb24 -s 320x240 -i - "$V/aes_golden.png"
want=$(python3 - "$T/clip768/model.safetensors" "$FX/text/clip_vision_tiny_io.safetensors" "$AESW" <<'PY'
import sys
import numpy as np
import compare
e = compare.load(sys.argv[1])['visual_projection.weight'] @ compare.load(sys.argv[2])['batch.pooler_output_f64ref'][0]
x, m = e / np.linalg.norm(e), compare.load(sys.argv[3])
for i in (0, 2, 4, 6, 7):
    x = m['layers.%d.weight' % i] @ x + m['layers.%d.bias' % i]
print(repr(x[0]))
PY
)
got=$(sora-score -q $AES "$V/aes_golden.png" | csv_col /dev/stdin 1 aes)
expect_near "aes of the fixture's image = the numpy golden $want (float64 tower output)" "$got" "$want" 1e-5
must_fail "aes golden check: another image's score fails" expect_near x "$(csv_col "$T/aes1.csv" 8 aes)" "$want" 1e-5

# Determinism across workers and beside another score: comparisons with itself, of non-empty values.
sora-score -q -j 2 $AES <"$T/aes.csv" >"$T/aes2.csv"
expect "aes -j 2: a row per input" "$(wc -l <"$T/aes2.csv")" 10
expect_same "aes: -j 2 = -j 1 bit for bit" "$T/aes1.csv" "$T/aes2.csv"
printf 'path,start_sec,end_sec\n%s,0.4,1.2\n' "$V/c8.mp4" |
	sora-score -q --scores aes,blur --clip-model "$T/clip768" --aes-model "$AESW" >"$T/aesb.csv"
expect "aes beside another score: columns" "$(head -1 "$T/aesb.csv")" "path,start_sec,end_sec,blur,aes"
expect_near "aes beside another score: the same value" "$(csv_col "$T/aesb.csv" 1 aes)" "$(csv_col "$T/aes1.csv" 9 aes)" 0

# Hostile rows: each a reject with its reason, the others scored.
: >"$V/aes_empty.png"
head -c 3000 "$V/aes_still.jpg" >"$V/aes_cut.jpg"
echo "not an image" >"$V/aes_text.jpg"
head -c 20000 "$V/c8.mp4" >"$V/aes_cut.mp4"
{
	echo "path,start_sec,end_sec"
	echo "$V/aes_empty.png,,"
	echo "$V/aes_text.jpg,,"
	echo "$V/aes_missing.png,,"
	echo "$V/aes.mkv,5,6"
	echo "$V/aes_f1.png,,"
	echo "$V/aes_f1.png,x,"
	echo "$V/aes_f6.png,,"
} >"$T/aesbad.csv"
timeout 120 sora-score -j 2 $AES --rejects "$T/aesrej.csv" <"$T/aesbad.csv" >"$T/aesbad_out.csv" 2>"$T/aesbad.err"
expect "aes bad rows: exit 0" "$?" 0
grep -q "7 rows in, 2 out, 5 rejected" "$T/aesbad.err" && ok "aes bad rows: summary" || fail "aes bad rows: summary" "$(tail -3 "$T/aesbad.err")"
python3 - "$T/aesrej.csv" >"$T/aesreasons" <<'PY'
import csv, sys
for r in csv.DictReader(open(sys.argv[1], newline='')):
    print(r['path'].rsplit('/', 1)[-1] or '-', r['start_sec'] or '-', r['end_sec'] or '-', '|', r['error'])
PY
while IFS='|' read -r key reason; do
	check_reject "$T/aesreasons" "$key" "$reason"
done <<'EOF2'
aes_empty.png - - |cannot open as an image
aes_text.jpg - - |the image
aes_missing.png - - |No such file
aes.mkv 5 6 |no frames in
aes_f1.png x - |start_sec is not a number
EOF2
# A truncated video: scored from what decodes, or rejected; never a crash.
timeout 60 sora-score -q $AES "$V/aes_cut.mp4" >/dev/null 2>&1
rc=$?
[ "$rc" -le 1 ] && ok "aes: truncated video, exit $rc" || fail "aes: truncated video" "exit $rc"

# Start-up errors: one clear message each, exit 2, no row read.
startup() { # NAME WANT ARGS...
	local name=$1 want=$2
	shift 2
	sora-score "$@" "$V/aes.mkv" >/dev/null 2>"$T/st.err"
	rc=$?
	if [ "$rc" != 2 ]; then fail "aes start-up: $name" "exit $rc, want 2: $(cat "$T/st.err")"; return; fi
	expect_contains "aes start-up: $name" "$(cat "$T/st.err")" "$want"
}
must_fail "aes start-up check: an empty message fails" startup x "" --scores aes --aes-model "$AESW"
startup "no --clip-model" "needs --clip-model DIR and --aes-model FILE" --scores aes --aes-model "$AESW"
startup "no --aes-model" "needs --clip-model DIR and --aes-model FILE" --scores aes --clip-model "$T/clip768"
startup "model flags without aes" "are for --scores aes" --scores blur --clip-model "$T/clip768"
startup "CLIP projecting to 32" "projection_dim is 32 but the aesthetic predictor" --scores aes --clip-model "$T/clip32" --aes-model "$AESW"
startup "missing CLIP folder" "$T/none/config.json" --scores aes --clip-model "$T/none" --aes-model "$AESW"
startup "missing predictor" "$T/none.safetensors" --scores aes --clip-model "$T/clip768" --aes-model "$T/none.safetensors"
startup "predictor file of the wrong model" "missing 'layers.0.weight'" --scores aes --clip-model "$T/clip768" --aes-model "$FX/text/clip_vision_tiny.safetensors"

# The documented conversion: the published weights saved as a .pth by torch, converted back.
PYT=""
for py in python3 /usr/bin/python3; do
	"$py" -c "import torch" 2>/dev/null && PYT=$py && break
done
if [ -z "$PYT" ]; then
	skip "aes .pth conversion" "no python3 with torch (Debian: python3-torch)"
else
	"$PYT" - "$AESW" "$T/aes.pth" <<'PY'
import collections, json, struct, sys, torch
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
h.pop('__metadata__', None)
sd = collections.OrderedDict()
for k in sorted(h, key=lambda k: (int(k.split('.')[1]), k)):
    s, e = h[k]['data_offsets']
    sd[k] = torch.frombuffer(bytearray(b[8 + n + s:8 + n + e]), dtype=torch.float32).reshape(h[k]['shape']).clone()
torch.save(sd, sys.argv[2])
PY
	"$PYT" "$(dirname "$0")/../../scripts/aes-pth-to-safetensors.py" "$T/aes.pth" "$T/aes_conv.safetensors" 2>"$T/conv.err"
	expect "aes .pth conversion: exit 0" "$?" 0
	# The converted tensors against the published ones, every value equal; then the scores they give.
	res=$(python3 "$COMPARE" --all "$T/aes_conv.safetensors" "$AESW" "" --tol 0 2>/dev/null)
	expect "aes .pth conversion: every tensor equal to the published one" "$res" "ok 10"
	sora-score -q --scores aes --clip-model "$T/clip768" --aes-model "$T/aes_conv.safetensors" <"$T/aes.csv" >"$T/aes_conv.csv"
	expect_same "aes .pth conversion: the same scores bit for bit" "$T/aes1.csv" "$T/aes_conv.csv"
fi

exit $((FAILS > 0))
