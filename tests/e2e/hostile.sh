#!/usr/bin/env bash
# The bad-input contract: every hostile input gets one stderr line, a reject row with its reason, and
# the run goes on; rows in = rows out + rejected; exit 0. The reason check is also fed an empty reason
# and a missing row, and must say "not ok".
. "$(dirname "$0")/lib.sh"

H=$T/hostile
mkdir -p "$H"
ff -f lavfi -i testsrc2=s=160x90:r=25:d=2 -c:v libx264 "$T/good.mp4"
: >"$H/empty.mp4"
head -c 20000 "$T/good.mp4" >"$H/truncated.mp4"
# Seeded, not /dev/urandom: now and then random bytes probe as some container and the reason changes.
python3 -c "import random, sys; random.seed(1); sys.stdout.buffer.write(random.randbytes(65536))" >"$H/random.mp4"
printf 'just some text\n' >"$H/notes.mp4"
ff -f lavfi -i sine=d=1 -c:a aac "$H/audio_only.mp4"
ff -f lavfi -i testsrc2=s=64x64 -frames:v 1 "$T/still.png"
cp "$T/still.png" "$H/still.mp4"
ln -s "$T/does-not-exist.mp4" "$H/dangling.mp4"
mkfifo "$H/fifo.mp4"
weird="$H/we\"ird, 'name'
雨 🌧.mp4"
cp "$T/good.mp4" "$weird"

# name -> the reason its reject row must mention (never empty: an empty reason would match any)
declare -A reason=(
	[empty.mp4]="empty"
	[truncated.mp4]="cannot open as a video"
	[random.mp4]="Invalid data"
	[notes.mp4]="Invalid data"
	[audio_only.mp4]="no video stream"
	[still.mp4]="image"
	[dangling.mp4]="No such file"
	[fifo.mp4]="not a regular file"
)

timeout 60 sora-probe -j 2 --rejects "$T/rejects.csv" "$H" "$T/missing.mp4" >"$T/out.csv" 2>"$T/err"
rc=$?
expect "exit 0 with bad inputs (no hang)" "$rc" 0

python3 - "$T/out.csv" "$T/rejects.csv" >"$T/parsed" <<'PY'
import csv, sys
out = list(csv.DictReader(open(sys.argv[1], newline='')))
rej = list(csv.DictReader(open(sys.argv[2], newline='')))
for r in out: print('OUT', r['path'].replace('\n', '\\n'))
for r in rej: print('REJ', r['path'].replace('\n', '\\n'), '|', r['error'])
PY
# The truncated file may still give its first frames: it is either a row or a reject, never lost.
nout=$(grep -c '^OUT' "$T/parsed")
nrej=$(grep -c '^REJ' "$T/parsed")
expect "rows in = out + rejected" "$((nout + nrej))" 10
grep -q "10 rows in, $nout out, $nrej rejected, 0 filtered" "$T/err" && ok "summary line" || fail "summary line" "$(tail -3 "$T/err")"
grep -qF "OUT $H/we\"ird, 'name'\\n雨 🌧.mp4" "$T/parsed" && ok "path with quotes, comma, newline, UTF-8 probed" ||
	fail "weird path" "$(cat "$T/parsed")"
# check_reject PATH WANT: PATH's reject row names WANT, which is not empty.
check_reject() {
	expect_contains "$(basename "$1") rejected: $2" "$(grep -F "REJ $1 |" "$T/parsed")" "$2"
}
for name in "${!reason[@]}"; do
	if [ "$name" = truncated.mp4 ] && grep -qF "OUT $H/$name" "$T/parsed"; then
		ok "$name: probed what was there"
		continue
	fi
	check_reject "$H/$name" "${reason[$name]}"
	[ "$(grep -cF "$H/$name:" "$T/err")" -eq 1 ] && ok "$name: one stderr line" || fail "$name: one stderr line" "$(cat "$T/err")"
done
check_reject "$T/missing.mp4" "No such file"
must_fail "reject check: an empty reason fails" check_reject "$H/notes.mp4" ""
must_fail "reject check: another reason fails" check_reject "$H/notes.mp4" "No such file"
must_fail "reject check: a path that was not rejected fails" check_reject "$H/we.mp4" "Invalid data"

# Unreadable file: root reads anything, so run as nobody when we are root.
cp "$T/good.mp4" "$T/locked.mp4"
chmod 000 "$T/locked.mp4"
chmod 755 "$T"
as_user=()
[ "$(id -u)" -eq 0 ] && as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
if "${as_user[@]}" true 2>/dev/null && "${as_user[@]}" test -x "$SORA_BIN/sora-probe"; then
	"${as_user[@]}" "$SORA_BIN/sora-probe" "$T/locked.mp4" >/dev/null 2>"$T/locked.err"
	expect "unreadable file: exit 0" "$?" 0
	grep -q "locked.mp4: .*Permission denied" "$T/locked.err" && ok "unreadable file rejected" ||
		fail "unreadable file" "$(cat "$T/locked.err")"
else
	skip "unreadable file" "cannot switch to an unprivileged user here"
fi

# --max-rejects: stop with exit 3 once exceeded.
sora-probe -j 1 --max-rejects 2 "$H" >/dev/null 2>"$T/err"
expect "--max-rejects exceeded exits 3" "$?" 3

# 10,000 files in one folder: 9,900 empty ones and 100 hard links to a real video.
D=$T/many
mkdir -p "$D"
(
	cd "$D" || exit 1
	for i in $(seq -w 0 9999); do
		if [ $((10#$i % 100)) -eq 0 ]; then ln ../good.mp4 "clip_$i.mp4"; else : >"clip_$i.mp4"; fi
	done
)
timeout 300 sora-probe --rejects "$T/many_rej.csv" "$D" >"$T/many.csv" 2>"$T/many.err"
expect "10,000 files: exit 0" "$?" 0
grep -q "10000 rows in, 100 out, 9900 rejected, 0 filtered" "$T/many.err" && ok "10,000 files: summary" ||
	fail "10,000 files: summary" "$(tail -2 "$T/many.err")"
expect "10,000 files: rejects file rows" "$(($(wc -l <"$T/many_rej.csv") - 1))" 9900
expect "10,000 files: output rows in name order" "$(sed -n 2p "$T/many.csv" | cut -d, -f1)" "$D/clip_0000.mp4"

# Malformed CSV rows on stdin: wrong field counts are rejected, not dropped.
printf 'path,text\n%s,ok\n%s\nbroken,"a","b","c"\n' "$T/good.mp4" "$T/good.mp4" |
	sora-probe --rejects "$T/csv_rej.csv" >"$T/csv_out.csv" 2>"$T/csv.err"
expect "malformed rows: exit 0" "$?" 0
grep -q "3 rows in, 1 out, 2 rejected" "$T/csv.err" && ok "malformed rows: counted" || fail "malformed rows" "$(cat "$T/csv.err")"
expect_contains "malformed row reason" "$(cat "$T/csv_rej.csv")" "malformed CSV row: 1 fields, the header has 2"

# Two million rows through a program in constant memory (all rows are missing files: rejected).
python3 -c "
import sys
w = sys.stdout.write
w('path,text\n')
for i in range(2000000): w(f'/nonexistent/v{i}.mp4,\"caption {i}, with comma\"\n')
" >"$T/big.csv"
"$SORA_TEST_BIN/peak_rss" sora-probe -j 2 --rejects "$T/big_rej.csv" <"$T/big.csv" >/dev/null 2>"$T/big.err"
expect "2M rows: exit 0" "$?" 0
grep -q "2000000 rows in, 0 out, 2000000 rejected" "$T/big.err" && ok "2M rows: all accounted for" ||
	fail "2M rows: summary" "$(grep -v nonexistent "$T/big.err" | tail -3)"
expect "2M rows: rejects file complete" "$(wc -l <"$T/big_rej.csv")" 2000001
kib=$(sed -n 's/^peak_rss_kib //p' "$T/big.err")
if [ -n "${SORA_SAN_LOGS:-}" ]; then
	skip "2M rows: peak RSS" "sanitizer builds keep freed memory in quarantine (${kib} KiB)"
elif [ "${kib:-999999}" -lt 65536 ]; then
	ok "2M rows: peak RSS ${kib} KiB < 64 MiB"
else
	fail "2M rows: peak RSS" "${kib} KiB"
fi

exit $((FAILS > 0))
