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
got=$(python3 - "$T/ranges.csv" "$T/cut.csv" <<'PY'
import csv, sys
a = list(csv.DictReader(open(sys.argv[1], newline='')))
b = list(csv.DictReader(open(sys.argv[2], newline='')))
# The same frames (re-encoded at crf 22): brightness within 1 level of the source range's.
print(all(abs(float(x['brightness']) - float(y['brightness'])) < 1.0 for x, y in zip(a, b)))
PY
)
expect "cut clips: brightness of the written file matches the source range" "$got" True

exit $((FAILS > 0))
