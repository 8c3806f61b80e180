#!/usr/bin/env bash
# make demo: the whole pipeline on sample videos made here with FFmpeg's lavfi sources, through
# configs/pipeline.mk (2 input shards, run 2 at a time):
#   probe -> split (clips written) -> score -> filter -> caption -> encode (T5 + CLIP, into LMDB shards)
# The encoders are tiny random models made by sora-mkmodel (configs/tiny/); the captions come from a small
# caption file generated from what each sample shows (sora-caption --from); point CAPTION_ARGS at a
# chat-completions server (vLLM, SGLang, llama-server) and T5/CLIP at the real models for real data.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${SORA_BIN:-$PWD/bin}
D=demo
W=$D/work
rm -rf "$D"
mkdir -p "$D/videos/phone" "$D/models"
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
step() { echo "== $*" >&2; }
t0=$(date +%s)

# Debian's own python3 (python3-lmdb is installed for it), not a shim earlier on PATH.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
step "sample videos in $D/videos (ffmpeg lavfi)"
# Three shots with hard cuts at 3 s and 6 s: moving test pattern, still colour bars, a zooming fractal.
ff -f lavfi -i testsrc2=s=320x180:r=25:d=3 -f lavfi -i smptebars=s=320x180:r=25:d=3 \
	-f lavfi -i mandelbrot=s=320x180:r=25:end_scale=0.05 \
	-filter_complex "[2]trim=duration=3,setpts=PTS-STARTPTS[m];[0][1][m]concat=n=3:v=1" \
	-c:v libx264 -pix_fmt yuv420p "$D/videos/three_shots.mp4"
# A fade to black and back between two shots.
ff -f lavfi -i testsrc2=s=320x180:r=25:d=4.5 -f lavfi -i mandelbrot=s=320x180:r=25 \
	-filter_complex "[0]fade=out:st=3.5:d=1[a];[1]trim=duration=4.5,setpts=PTS-STARTPTS,fade=in:st=0:d=1[b];[a][b]concat=n=2:v=1" \
	-c:v libx264 -pix_fmt yuv420p "$D/videos/fade.mp4"
# A camera pan across a still picture, a cut to a still frame, a cut to Conway's life (motion everywhere).
ff -f lavfi -i "mandelbrot=s=640x180:r=25,trim=end_frame=1,loop=loop=74:size=1,crop=320:180:'t*100':0" \
	-f lavfi -i "testsrc=s=320x180:r=25:d=3,trim=end_frame=1,loop=loop=74:size=1" \
	-f lavfi -i "life=s=320x180:r=25:seed=7:mold=10:ratio=0.5:life_color=#ffcc00:death_color=#002040,trim=duration=3" \
	-filter_complex "[0][1][2]concat=n=3:v=1,format=yuv420p" -c:v libx264 "$D/videos/pan_still_life.mp4"
# A portrait 10-bit phone clip, and a truncated file (a reject).
ff -f lavfi -i smptebars=s=180x320:r=30:d=3 -c:v libx264 -pix_fmt yuv420p10le "$D/videos/phone/portrait.mp4"
head -c 5000 "$D/videos/three_shots.mp4" >"$D/videos/broken.mp4"

step "tiny random models: sora-mkmodel --kind t5 / clip-text / hunyuan-vae (configs/tiny/)"
"$BIN/sora-mkmodel" -q --kind t5 --config configs/tiny/t5.json --out "$D/models/t5"
"$BIN/sora-mkmodel" -q --kind clip-text --config configs/tiny/clip_text.json --out "$D/models/clip"
"$BIN/sora-mkmodel" -q --kind hunyuan-vae --config configs/tiny/hunyuan_vae.json --out "$D/models/vae"

PIPE=(make --no-print-directory -f configs/pipeline.mk BIN="$BIN" VIDEOS="$D/videos" OUT="$W" SHARDS=2
	SPLIT_ARGS="--min-sec 1" FILTER="'num_frames >= 25' 'black_ratio < 0.5' 'score_vmafmotion >= 0.5'" THREADS=1 T5="$D/models/t5" CLIP="$D/models/clip"
	ENCODE_ARGS="--vae $D/models/vae --buckets configs/buckets/demo.json")

step "configs/pipeline.mk, 2 shards: probe -> split -> score -> filter (still shots out: motion < 0.5)"
"${PIPE[@]}" -j2 kept >/dev/null

step "captions: a caption file generated from what each sample shows ($D/captions.csv)"
"$PY" - "$W/kept" "$D/captions.csv" <<'PY'
import csv, glob, os, sys
shots = {
    'three_shots': ['A colorful test pattern with moving gradients and a sweeping clock hand.',
                    'Still vertical color bars in a studio test card.',
                    'A slow zoom into a glowing fractal with blue and orange spirals.'],
    'fade': ['A moving test pattern fades slowly to black.',
             'A glowing fractal fades in from black, cinematic.'],
    'pan_still_life': ['The camera pans right across a still fractal landscape.',
                       'A still test card with numbered boxes.',
                       'Yellow cells grow and die on a dark blue grid, seen from above.'],
    'portrait': ['Vertical color bars on a phone screen.'],
}
out = csv.writer(open(sys.argv[2], 'w', newline=''), lineterminator='\n')
out.writerow(['id', 'text'])
for f in sorted(glob.glob(os.path.join(sys.argv[1], '*.csv'))):
    for r in csv.DictReader(open(f, newline='')):
        stem = os.path.splitext(os.path.basename(r['source']))[0]
        k = int(r['id'].rsplit('-', 1)[1])  # the clip's index in its video: here, its shot
        texts = shots.get(stem, ['A short video clip.'])
        out.writerow([r['id'], texts[min(k, len(texts) - 1)]])
PY

step "configs/pipeline.mk, 2 shards: caption (sora-caption --from) -> encode"
"${PIPE[@]}" -j2 CAPTION_ARGS="--from $D/captions.csv" >/dev/null
if "${PIPE[@]}" -q CAPTION_ARGS="--from $D/captions.csv"; then
	echo "== re-run: make -q says every shard is up to date (nothing to redo)" >&2
fi

echo
echo "== clips ($W/captioned/*.csv; clip files in $W/cuts/)"
"$PY" - "$W" <<'PY'
import csv, glob, json, os, sys
w = sys.argv[1]
rows = [r for f in sorted(glob.glob(w + '/captioned/*.csv')) for r in csv.DictReader(open(f, newline=''))]
print('%-34s %5s %6s %-16s %6s %6s %5s  %s' % ('id', 'start', 'frames', 'transitions', 'motion', 'blur', 'light', 'text'))
for r in rows:
    print('%-34s %5.2f %6s %-16s %6.2f %6.1f %5.0f  %s' % (
        r['id'][:34], float(r['start_sec']), r['num_frames'],
        r['transition_before'] + '/' + r['transition_after'], float(r['score_vmafmotion']),
        float(r['blur']), float(r['brightness']), r['text'][:44]))
print()
print('== datasets (%s/encoded/)' % w)
try:
    import lmdb  # Debian's python3-lmdb: count and peek at the records themselves
except ImportError:
    lmdb = None
sets = sorted(glob.glob(w + '/encoded/*/index.json'))
for p in sets:
    d = os.path.dirname(p)
    files = sorted(glob.glob(d + '/shard-*.mdb'))
    mb = sum(os.path.getsize(f) for f in files) / 1e6
    idx = json.load(open(p))
    n = sum(s.get('rows', 0) for s in idx.get('shards', []) if isinstance(s, dict))
    first = None
    if lmdb:
        n = 0
        for f in files:
            env = lmdb.open(f, subdir=False, readonly=True, lock=False)
            n += env.stat()['entries']
            with env.begin() as txn:
                cur = txn.cursor()
                if not first and cur.first():
                    first = (bytes(cur.key()), bytes(cur.value()))
            env.close()
    print('%s: %d rows in %d shard files, %.1f MB' % (d, n, len(files), mb))
    if first:  # the value: a safetensors blob (u64 header length, JSON header, data)
        key, blob = first[0].decode(), first[1]
        h = json.loads(blob[8:8 + int.from_bytes(blob[:8], 'little')])
        meta = h.pop('__metadata__', {})
        print('  %s: %s; %d metadata fields' % (key, ', '.join(
            '%s %s %s' % (k, v['dtype'], v['shape']) for k, v in sorted(h.items())), len(meta)))
if not sets:
    print('(no dataset was written)')
PY
echo
echo "== rows per stage (make -f configs/pipeline.mk summary)"
"${PIPE[@]}" summary
echo "== rejected: $(cut -d, -f1 "$W"/rejects/*.csv | grep -v '^path$' | sed 's|.*/||' | sort -u | tr '\n' ' ')(see $W/rejects/); dropped by the filter: $(cat "$W"/dropped/*.csv | grep -vc '^path')"
echo "== demo done in $(($(date +%s) - t0)) s"
