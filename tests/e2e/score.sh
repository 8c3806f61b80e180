#!/usr/bin/env bash
# sora-score against FFmpeg on clips made here: vmafmotion to 1e-4 on the same frames (whole files and
# ranges, 8 and 10 bits), flow of a known pan, blur against gblur, brightness against signalstats, black
# and freeze ratios on clips built with black and still segments, bad input, -j 1 = -j 4; aes (with the
# fixture CLIP tower and the published predictor) against the frames FFmpeg extracts, the .pth converter.
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

# ---- aes: the tiny fixture CLIP tower given a projection to 768 (the published predictor's input) ----
FX=${SORA_FIXTURES:-$(cd "$(dirname "$0")/../.." && pwd)/../shared/fixtures}
AESW=$FX/aesthetic/sac+logos+ava1-l14-linearMSE.safetensors
if [ ! -r "$AESW" ] || [ ! -r "$FX/text/clip_vision_tiny.safetensors" ]; then
	skip "aes" "fixtures not found ($AESW, $FX/text): set SORA_FIXTURES"
else
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
	for spec in "1:1 6 10" "2:3 6 9"; do
		row=${spec%%:*}
		set -- ${spec#*:}
		got=$(csv_col "$T/aes1.csv" "$row" aes)
		fr=""
		for i in "$@"; do fr="$fr $(awk -F, -v p="$V/aes_f$i.png" '$1 == p { print $NF }' "$T/aes1.csv")"; done
		res=$(python3 -c "import sys; v = [float(x) for x in sys.argv[2:]]; m = sum(v) / 3; d = abs(float(sys.argv[1]) - m); print('%.3g' % d, 'ok' if d <= 1e-5 else 'bad')" "$got" $fr)
		case "$res" in
		*ok) ok "aes of clip row $row = mean of frames $* extracted by FFmpeg (|diff| ${res% *})" ;;
		*) fail "aes of clip row $row = mean of frames $*" "clip $got, frames $fr: $res" ;;
		esac
	done
	python3 -c "import sys; a = float(sys.argv[1]); sys.exit(not (0 < a < 10))" "$(csv_col "$T/aes1.csv" 8 aes)" &&
		ok "aes of a JPEG still: $(csv_col "$T/aes1.csv" 8 aes)" || fail "aes of a JPEG still" "$(cat "$T/aes1.csv")"
	skip "aes of a still against a golden" "the fixtures hold no image golden for the aesthetic score"
	sora-score -q -j 2 $AES <"$T/aes.csv" >"$T/aes2.csv"
	cmp -s "$T/aes1.csv" "$T/aes2.csv" && ok "aes: -j 2 = -j 1 bit for bit" || fail "aes: -j 2 = -j 1" "$(diff "$T/aes1.csv" "$T/aes2.csv")"
	printf 'path,start_sec,end_sec\n%s,0.4,1.2\n' "$V/c8.mp4" |
		sora-score -q --scores aes,blur --clip-model "$T/clip768" --aes-model "$AESW" >"$T/aesb.csv"
	expect "aes beside another score" "$(head -1 "$T/aesb.csv"),$(csv_col "$T/aesb.csv" 1 aes)" \
		"path,start_sec,end_sec,blur,aes,$(csv_col "$T/aes1.csv" 9 aes)"

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
	for reason in "aes_empty.png,,,.*cannot open as an image" "aes_text.jpg,,,.*the image" \
		"aes_missing.png,,,.*No such file" "aes.mkv,5,6,.*no frames in" "aes_f1.png,x,,.*start_sec is not a number"; do
		grep -q "$reason" "$T/aesrej.csv" && ok "aes reject: ${reason%%,*}" || fail "aes reject: $reason" "$(cat "$T/aesrej.csv")"
	done
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
		[ "$rc" = 2 ] && grep -q -- "$want" "$T/st.err" && ok "aes start-up: $name" || fail "aes start-up: $name" "exit $rc: $(cat "$T/st.err")"
	}
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
		sora-score -q --scores aes --clip-model "$T/clip768" --aes-model "$T/aes_conv.safetensors" <"$T/aes.csv" >"$T/aes_conv.csv"
		cmp -s "$T/aes1.csv" "$T/aes_conv.csv" && ok "aes .pth conversion: the same scores bit for bit" ||
			fail "aes .pth conversion: the same scores" "$(diff "$T/aes1.csv" "$T/aes_conv.csv")"
	fi
fi

exit $((FAILS > 0))
