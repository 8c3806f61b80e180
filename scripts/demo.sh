#!/usr/bin/env bash
# make demo: the curation pipeline end to end on sample videos made here with FFmpeg's lavfi sources:
#   probe -> split (clips written) -> score -> filter -> caption -> tokenize
# Captions come from a stand-in chat-completions server on 127.0.0.1 (tests/tools/fake_vlm.py); point
# --endpoint at vLLM, SGLang or llama-server for real ones.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${SORA_BIN:-$PWD/bin}
FIX=${SORA_FIXTURES:-$PWD/../shared/fixtures}
D=demo
rm -rf "$D"
mkdir -p "$D/videos/phone" "$D/clips"
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }

echo "demo: making sample videos in $D/videos" >&2
# Three shots (hard cuts at 3 s and 6 s), a fade to black and back, a portrait 10-bit clip, a broken file.
[ -f "$D/videos/three_shots.mp4" ] || ff -f lavfi -i testsrc2=s=320x180:r=25:d=3 \
	-f lavfi -i smptebars=s=320x180:r=25:d=3 -f lavfi -i mandelbrot=s=320x180:r=25:end_scale=0.05 \
	-filter_complex "[2]trim=duration=3,setpts=PTS-STARTPTS[m];[0][1][m]concat=n=3:v=1" \
	-c:v libx264 -pix_fmt yuv420p "$D/videos/three_shots.mp4"
[ -f "$D/videos/fade.mp4" ] || ff -f lavfi -i testsrc2=s=320x180:r=25:d=3 -f lavfi -i mandelbrot=s=320x180:r=25 \
	-filter_complex "[0]fade=out:st=2:d=1[a];[1]trim=duration=3,setpts=PTS-STARTPTS,fade=in:st=0:d=1[b];[a][b]concat=n=2:v=1" \
	-c:v libx264 -pix_fmt yuv420p "$D/videos/fade.mp4"
[ -f "$D/videos/phone/portrait.mp4" ] || ff -f lavfi -i smptebars=s=180x320:r=30:d=3 -c:v libx264 \
	-pix_fmt yuv420p10le "$D/videos/phone/portrait.mp4"
[ -f "$D/videos/broken.mp4" ] || head -c 5000 "$D/videos/three_shots.mp4" >"$D/videos/broken.mp4"

step() { echo "== $*" >&2; }
step "sora-probe $D/videos > $D/meta.csv"
"$BIN/sora-probe" --rejects "$D/rejects_probe.csv" "$D/videos" >"$D/meta.csv"
step "sora-split --cut-dir $D/clips --min-sec 1 < meta.csv > clips.csv"
"$BIN/sora-split" --cut-dir "$D/clips" --min-sec 1 --rejects "$D/rejects_split.csv" <"$D/meta.csv" >"$D/clips.csv"
step "sora-score --scores vmafmotion,blur,brightness,black < clips.csv > scored.csv"
"$BIN/sora-score" --scores vmafmotion,blur,brightness,black <"$D/clips.csv" >"$D/scored.csv"
step "sora-filter 'num_frames >= 25' 'black_ratio < 0.5' < scored.csv > kept.csv"
"$BIN/sora-filter" --dropped "$D/dropped.csv" 'num_frames >= 25' 'black_ratio < 0.5' <"$D/scored.csv" >"$D/kept.csv"

step "sora-caption (a stand-in server on 127.0.0.1) < kept.csv > captioned.csv"
export DEMO_VLM_KEY=demo-key
python3 tests/tools/fake_vlm.py --port-file "$D/.port" --log "$D/server.log" --key "$DEMO_VLM_KEY" \
	--instruction "one detailed paragraph" --frames 4 --size 180 --delay 0 --lifetime 120 &
server=$!
trap 'kill $server 2>/dev/null; rm -f "$D/.port"' EXIT
for _ in $(seq 50); do [ -s "$D/.port" ] && break; sleep 0.1; done
"$BIN/sora-caption" --endpoint "http://127.0.0.1:$(cat "$D/.port")/ok/v1/chat/completions" --model test-vlm \
	--api-key-env DEMO_VLM_KEY --size 180 -j 4 --cache "$D/cache.jsonl" <"$D/kept.csv" >"$D/captioned.csv"

if [ -f "$FIX/text/tokenizers/t5/spiece.model" ]; then
	step "sora-tokenize --t5 (the T5 ids Open-Sora's text encoder gets, first 12 of 512)"
	"$BIN/sora-tokenize" -q --t5 "$FIX/text/tokenizers/t5" <"$D/captioned.csv" | cut -c1-60 | sed 's/$/ .../'
else
	echo "demo: skipping sora-tokenize: no tokenizer files in $FIX" >&2
fi

echo
echo "== $D/captioned.csv (clips in $D/clips/)"
python3 - "$D/captioned.csv" <<'PY'
import csv, sys
cols = ['path', 'start_sec', 'end_sec', 'num_frames', 'transition_before', 'transition_after',
        'score_vmafmotion', 'blur', 'brightness', 'text']
rows = list(csv.DictReader(open(sys.argv[1], newline='')))
print('\t'.join(cols))
for r in rows:
    print('\t'.join(str(r.get(c, ''))[:40] for c in cols))
PY
echo "== rejected: $(($(cat "$D"/rejects_*.csv | grep -vc '^path') )) (see $D/rejects_*.csv); dropped by the filter: $(($(wc -l <"$D/dropped.csv") - 1))"
