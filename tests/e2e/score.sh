#!/usr/bin/env bash
# sora-score against FFmpeg on clips made here: vmafmotion to 1e-4 on the same frames (whole files and
# ranges, 8 and 10 bits), flow of a known pan, blur against gblur, brightness against signalstats, black
# and freeze ratios on clips built with black and still segments, bad input, -j 1 = -j 4.
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

check_vmaf() { # ROW GOLDEN A B NAME
	local res
	ffmpeg_vmaf "$(csv_col "$T/vm.csv" "$1" path)" "$3" "$4" "$T/ff"
	res=$(python3 - "$2" "$3" "$4" "$T/ff.stats" "$(cat "$T/ff.avg")" "$(csv_col "$T/vm.csv" "$1" score_vmafmotion)" \
		"$(csv_col "$T/vm.csv" "$1" vmafmotion_avg)" <<'PY'
import sys
g, a, b, stats, ffavg, score, avg = sys.argv[1:]
m = [float(x) for x in open(g)][int(a):int(b)]
m[0] = 0.0  # the first frame of a clip has no previous frame
ff = [l.split('motion:')[1].strip() for l in open(stats)]
if ff != ['%0.2f' % x for x in m]:
    print('golden frames differ from ffmpeg stats'); sys.exit()
m2 = [min(m[t], m[t + 1]) for t in range(len(m) - 1)] + [m[-1]]
want_avg = sum(m) / len(m)
want = (want_avg + sum(m2) / len(m2)) / 2
err = max(abs(float(score) - want), abs(float(avg) - want_avg))
ok = err <= 1e-4 and abs(float(avg) - float(ffavg)) <= 5e-4 + 1e-12
print('ok' if ok else 'bad', '%.3g,' % err, len(m), 'frames, score %.6f avg %.6f (ffmpeg prints %s)' % (want, want_avg, ffavg))
PY
	)
	case "$res" in ok*) ok "$5: vmafmotion within 1e-4 of ffmpeg on the same frames (max err ${res#ok })" ;;
	*) fail "$5: vmafmotion" "$res" ;; esac
}
check_vmaf 1 "$T/g8" 0 50 "8-bit whole file"
check_vmaf 2 "$T/g8" 10 30 "8-bit range [0.4, 1.2)"
check_vmaf 3 "$T/g8" 25 50 "8-bit range [1, end)"
check_vmaf 4 "$T/g10" 0 50 "10-bit whole file"
check_vmaf 5 "$T/g10" 10 30 "10-bit range [0.4, 1.2)"
check_vmaf 6 "$T/g10" 25 50 "10-bit range [1, 2)"

sora-score -q -j 1 --scores vmafmotion,flow,blur,brightness,black,freeze <"$T/clips.csv" >"$T/j1.csv"
sora-score -q -j 4 --scores vmafmotion,flow,blur,brightness,black,freeze <"$T/clips.csv" >"$T/j4.csv"
cmp -s "$T/j1.csv" "$T/j4.csv" && ok "-j 1 and -j 4 give identical output" || fail "-j 1 vs -j 4" "$(diff "$T/j1.csv" "$T/j4.csv")"

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
	name=$(basename "$(csv_col "$T/flow.csv" $row path)")
	python3 -c "import sys; sys.exit(abs($got - 10) > 1)" && ok "flow of a 10 px pan ($name): $got" ||
		fail "flow of a 10 px pan ($name)" "got $got"
done
expect "flow of a still is 0" "$(csv_col "$T/flow.csv" 2 flow)" 0

# blur: sharper input scores higher, strictly, as gblur's sigma grows.
ff -f lavfi -i testsrc2=s=160x90:r=25:d=1 -filter_complex \
	"split=4[a][b][c][d];[a]gblur=sigma=0.5[A];[b]gblur=sigma=1[B];[c]gblur=sigma=2[C];[d]gblur=sigma=4[D]" \
	-map "[A]" -c:v libx264 -crf 10 "$V/gblur_0.5.mp4" -map "[B]" -c:v libx264 -crf 10 "$V/gblur_1.mp4" \
	-map "[C]" -c:v libx264 -crf 10 "$V/gblur_2.mp4" -map "[D]" -c:v libx264 -crf 10 "$V/gblur_4.mp4"
sora-score -q --scores blur,brightness "$V"/gblur_0.5.mp4 "$V"/gblur_1.mp4 "$V"/gblur_2.mp4 "$V"/gblur_4.mp4 >"$T/blur.csv"
vals=$(for r in 1 2 3 4; do csv_col "$T/blur.csv" $r blur; done | tr '\n' ' ')
python3 -c "v = [float(x) for x in '$vals'.split()]; import sys; sys.exit(not all(a > b for a, b in zip(v, v[1:])))" &&
	ok "blur decreases with gblur sigma 0.5 1 2 4: $vals" || fail "blur monotonic" "$vals"

# brightness: FFmpeg signalstats YAVG averaged over the frames (10 bits: divided by 4 to 0-255).
yavg() { ffmpeg -nostdin -hide_banner -i "$1" -vf signalstats,metadata=print:key=lavfi.signalstats.YAVG -f null - 2>&1 |
	sed -n 's/.*YAVG=//p' | awk -v d="$2" '{ s += $1; n++ } END { printf "%.6f", s / n / d }'; }
sora-score -q --scores brightness "$V/c8.mp4" "$V/c10.mp4" "$V/gblur_1.mp4" >"$T/bright.csv"
for row in 1 2 3; do
	f=$(csv_col "$T/bright.csv" $row path)
	d=1
	[ "$row" = 2 ] && d=4
	want=$(yavg "$f" $d)
	got=$(csv_col "$T/bright.csv" $row brightness)
	python3 -c "import sys; sys.exit(abs($got - $want) > 0.5)" && ok "brightness of $(basename "$f") $got ~ signalstats $want" ||
		fail "brightness of $(basename "$f")" "got $got, signalstats $want"
done

# black: 1 s of black then 2 s of picture, at 10 fps: a third of the frames (blackdetect agrees: 1 s).
ff -f lavfi -i "color=black:s=160x90:r=10:d=1" -f lavfi -i "testsrc2=s=160x90:r=10:d=2" \
	-filter_complex "[0][1]concat=n=2:v=1" -c:v libx264 "$V/black.mp4"
# freeze: 1 s of motion whose last frame is held 2 s more (lossless, so the held frames are identical):
# the still run is frame 9 (its reference) to frame 29, 2 s long: 21 of 30 frames.
ff -f lavfi -i testsrc2=s=160x90:r=10:d=1 -vf "tpad=stop_mode=clone:stop_duration=2" -c:v libx264 -qp 0 "$V/freeze.mp4"
sora-score -q --scores black,freeze "$V/black.mp4" "$V/freeze.mp4" >"$T/bf.csv"
expect "black_ratio of 1 s black in 3 s" "$(csv_col "$T/bf.csv" 1 black_ratio)" 0.3333333333333333
expect "freeze_ratio of black+picture" "$(csv_col "$T/bf.csv" 1 freeze_ratio)" 0
expect "freeze_ratio of a 2 s hold" "$(csv_col "$T/bf.csv" 2 freeze_ratio)" 0.7
expect "black_ratio of the held clip" "$(csv_col "$T/bf.csv" 2 black_ratio)" 0
bd=$(ffmpeg -nostdin -hide_banner -i "$V/black.mp4" -vf blackdetect=d=0 -f null - 2>&1 | sed -n 's/.*black_duration:\([0-9.]*\).*/\1/p')
expect "blackdetect agrees: 1 s of black" "$bd" 1
fs=$(ffmpeg -nostdin -hide_banner -i "$V/freeze.mp4" -vf freezedetect -f null - 2>&1 | sed -n 's/.*freeze_start: //p')
expect "freezedetect agrees: the freeze starts at frame 9" "$fs" 0.9
expect "--freeze-duration 3: the hold is too short" \
	"$(sora-score -q --scores freeze --freeze-duration 3 "$V/freeze.mp4" | tail -1 | cut -d, -f2)" 0

# Bad input: each a reject with a reason; the good rows are scored; no crash, no hang.
: >"$V/empty.mp4"
head -c 65536 /dev/urandom >"$V/random.mp4"
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
while IFS='|' read -r key reason; do
	line=$(grep -F -e "$key| " "$T/reasons")
	[ -n "$line" ] && case "$line" in *"$reason"*) true ;; *) false ;; esac &&
		ok "rejected: $key(${line#*| })" ||
		fail "reject $key" "$(cat "$T/reasons")"
done <<'EOF2'
empty.mp4 - - |empty
random.mp4 - - |
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

# Usage errors.
sora-score --scores vmafmotion,nope "$V/c8.mp4" >/dev/null 2>"$T/use.err"
expect "unknown score is a usage error" "$?" 2
grep -q "unknown score 'nope'" "$T/use.err" && ok "unknown score named" || fail "unknown score named" "$(cat "$T/use.err")"
printf 'file\nx\n' | sora-score >/dev/null 2>&1
expect "CSV without path is a usage error" "$?" 2
sora-score --black-pic-th 2 "$V/c8.mp4" >/dev/null 2>&1
expect "--black-pic-th out of range is a usage error" "$?" 2
help=$(sora-score --help)
for flag in --scores --black-pix-th --black-pic-th --freeze-noise --freeze-duration --threads --rejects; do
	case "$help" in *"$flag"*) ok "--help lists $flag" ;; *) fail "--help lists $flag" ;; esac
done
expect "default scores" "$(sora-score -q "$V/c8.mp4" | head -1)" "path,score_vmafmotion,vmafmotion_avg,blur,brightness"

exit $((FAILS > 0))
