#!/usr/bin/env bash
# The programs in one pipe, as a user runs them: probe | split | score | filter, on source ranges and on
# clips written by --cut-dir (whose start_sec/end_sec locate them in the source, not in their own file).
. "$(dirname "$0")/lib.sh"

ff -f lavfi -i testsrc2=s=160x90:r=25:d=3 -f lavfi -i smptebars=s=160x90:r=25:d=3 \
	-filter_complex "[0][1]concat=n=2:v=1" -c:v libx264 "$T/two_shots.mp4"

sora-probe -q "$T/two_shots.mp4" | sora-split -q --min-sec 1 | sora-score -q --scores vmafmotion,brightness |
	sora-filter -q 'num_frames >= 25' >"$T/ranges.csv"
expect "source ranges: two clips through the pipe" "$(($(wc -l <"$T/ranges.csv") - 1))" 2

sora-probe -q "$T/two_shots.mp4" | sora-split -q --min-sec 1 --cut-dir "$T/clips" |
	sora-score --scores vmafmotion,brightness --rejects "$T/rej.csv" 2>"$T/err" >"$T/cut.csv"
expect "cut clips: scored whole, none rejected" "$(($(wc -l <"$T/rej.csv") - 1)) $(($(wc -l <"$T/cut.csv") - 1))" "0 2"
# bright_check NAME A B: the same frames (re-encoded at crf 22): each clip's brightness within 1 level of
# the source range's (compare.py: two clips on each side, none missing, no NaN)
bright_check() {
	local msg
	if msg=$(python3 - "$2" "$3" <<'PY'
import csv, sys
import compare
a, b = ([float(r["brightness"]) for r in csv.DictReader(open(p, newline=""))] for p in sys.argv[1:3])
good, msg = compare.each(b, a, 1.0, 0.0) if len(a) == 2 else (False, "%d clips, want 2" % len(a))
print(msg)
sys.exit(0 if good else 1)
PY
	); then ok "$1 ($msg)"; else fail "$1" "$msg"; fi
}
bright_check "cut clips: brightness of the written file matches the source range" "$T/ranges.csv" "$T/cut.csv"
head -1 "$T/cut.csv" >"$T/cut0.csv"
must_fail "brightness check: no clips written fails" bright_check x "$T/ranges.csv" "$T/cut0.csv"

# configs/pipeline.mk: two input shards through every stage; a re-run redoes only what is missing.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$T/videos"
cp "$T/two_shots.mp4" "$T/videos/a.mp4"
ff -f lavfi -i testsrc=s=160x90:r=25:d=2 -c:v libx264 "$T/videos/b.mp4"
PIPE=(make --no-print-directory -s -f "$ROOT/configs/pipeline.mk" BIN="$SORA_BIN" VIDEOS="$T/videos" OUT="$T/out"
	SHARDS=2 THREADS=1 SPLIT_ARGS="--min-sec 1" FILTER="'num_frames >= 25'")
"${PIPE[@]}" -j2 kept >/dev/null 2>"$T/mk.err"
expect "pipeline.mk: one file per shard and stage" "$(cd "$T/out" && ls meta clips scored kept | tr '\n' ' ')" \
	"clips: 0.csv 1.csv  kept: 0.csv 1.csv  meta: 0.csv 1.csv  scored: 0.csv 1.csv "
expect "pipeline.mk: the shards split the videos" "$(cat "$T"/out/meta/*.csv | grep -c '\.mp4')" 2
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "id") c = i; print "id,text"; next }
	FNR > 1 { print $c ",a test pattern " $c }' "$T"/out/kept/0.csv "$T"/out/kept/1.csv >"$T/captions.csv"
PIPE+=(CAPTION_ARGS="--from $T/captions.csv" ENCODE=0)
"${PIPE[@]}" -j2 >/dev/null 2>>"$T/mk.err"
expect_file "pipeline.mk: kept clips to caption" "$T/captions.csv" 2
expect "pipeline.mk: every kept clip captioned" \
	"$(cat "$T"/out/captioned/*.csv | grep -c ',a test pattern ')" "$(($(wc -l <"$T/captions.csv") - 1))"
"${PIPE[@]}" -q
expect "pipeline.mk: up to date after a run (make -q)" $? 0
touch "$T/mark"
sleep 1
rm "$T/out/scored/1.csv"
"${PIPE[@]}" -j2 >/dev/null 2>>"$T/mk.err"
expect "pipeline.mk: a missing file redoes its shard's later stages only" \
	"$(cd "$T/out" && find meta clips scored kept captioned -name '*.csv' -newer "$T/mark" | sort | tr '\n' ' ')" \
	"captioned/1.csv kept/1.csv scored/1.csv "
err=$("${PIPE[@]}" SHARDS=3 2>&1)
expect "pipeline.mk: another SHARDS on the same OUT is refused" "$(grep -c 'made with SHARDS=2' <<<"$err")" 1
[ -s "$T/mk.err" ] && fail "pipeline.mk: quiet runs" "$(head -5 "$T/mk.err")"

sora-mkmodel -q --kind t5 --config "$ROOT/configs/tiny/t5.json" --out "$T/t5"
sora-mkmodel -q --kind clip-text --config "$ROOT/configs/tiny/clip_text.json" --out "$T/clip"
"${PIPE[@]}" -j2 ENCODE=1 T5="$T/t5" CLIP="$T/clip" >/dev/null
expect "pipeline.mk: encode makes one dataset per shard" \
	"$(ls "$T"/out/encoded/*/index.json "$T"/out/encoded/*.done | wc -l)" 4

exit $((FAILS > 0))
