#!/usr/bin/env bash
# sora-caption against a real chat-completions server on 127.0.0.1 (tests/tools/fake_vlm.py) that
# checks every request and answers as told: captions on the right rows, retries, rejects, the in-flight
# bound, the key kept secret, the cache surviving kill -9, imports. The server-log check is also fed a
# missing, an empty and a violating log, and must say "not ok".
. "$(dirname "$0")/lib.sh"
TOOLS=$(cd "$(dirname "$0")/../tools" && pwd)

KEY="sekrit-KEY-$$-123"
export VLM_KEY="$KEY"
ff -f lavfi -i testsrc2=s=160x90:r=25:d=2 -c:v libx264 "$T/wide.mp4"
ff -f lavfi -i smptebars=s=90x160:r=25:d=2 -c:v libx264 "$T/tall.mp4"
ff -f lavfi -i mandelbrot=s=128x128:r=25 -frames:v 50 -c:v libx264 "$T/square.mp4"

python3 "$TOOLS/fake_vlm.py" --port-file "$T/port" --log "$T/server.log" --key "$KEY" \
	--instruction "one detailed paragraph" --frames 3 --size 64 --delay 0.2 --lifetime 240 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
PORT=$(cat "$T/port" 2>/dev/null)
[ -n "$PORT" ] && ok "fake server listening on port $PORT" || fail "fake server started" "no port in $T/port"
url() { echo "http://127.0.0.1:$PORT/$1/v1/chat/completions"; }
cap() { sora-caption --model test-vlm --api-key-env VLM_KEY --frames 3 --size 64 --retry-delay 0.1 "$@"; }

# 12 rows over three differently shaped videos; one row already has text; one clip range.
{
	echo "path,id,start_sec,end_sec,text"
	for i in $(seq 1 4); do
		echo "$T/wide.mp4,w$i,,,"
		echo "$T/tall.mp4,t$i,,,"
		echo "$T/square.mp4,s$i,0.5,1.5,"
	done
	echo "$T/wide.mp4,kept,,,\"Already, captioned\""
} >"$T/rows.csv"

cap --endpoint "$(url ok)" -j 3 --rejects "$T/rej.csv" <"$T/rows.csv" >"$T/out.csv" 2>"$T/err"
expect "ok: exit 0" "$?" 0
got=$(python3 - "$T/out.csv" <<'PY'
import csv, sys
want = {'w': '114x64', 't': '64x114', 's': '64x64'}
rows = list(csv.DictReader(open(sys.argv[1], newline='')))
bad = [r['id'] for r in rows if r['id'] != 'kept' and
       (r['text'] != 'A clip of %s frames.' % want[r['id'][0]] and r['text'] != '%s frames.' % want[r['id'][0]].capitalize()
        or r['caption_model'] != 'test-vlm')]
kept = [r for r in rows if r['id'] == 'kept'][0]
print(len(rows), bad, kept['text'])
PY
)
expect "captions on the right rows, cleaned, pass-through kept" "$got" "13 [] Already, captioned"
grep -q "13 rows in, 13 out, 0 rejected" "$T/err" && ok "ok: summary" || fail "ok: summary" "$(cat "$T/err")"
# well_formed NAME LOG: the server logged requests and none was a violation; a missing or empty log
# proves nothing and fails.
well_formed() {
	expect_file "$1: the server logged requests" "$2" || return 1
	if grep -q VIOLATION "$2"; then fail "$1" "$(grep VIOLATION "$2" | head -3)"; else ok "$1"; fi
}
well_formed "every request well formed (model, instruction, 3 JPEGs with short side 64, key)" "$T/server.log"
: >"$T/empty.log"
printf 'REQ ok 200 abc\nVIOLATION instruction missing\n' >"$T/bad.log"
must_fail "log check: a missing server log fails" well_formed x "$T/none.log"
must_fail "log check: an empty server log fails" well_formed x "$T/empty.log"
# (its first line is the log's "ok"; the violation is the second)
out=$( (well_formed x "$T/bad.log") 2>&1)
expect "log check: a violation fails" "$(printf '%s\n' "$out" | grep -c '^not ok')" 1
max=$(grep INFLIGHT "$T/server.log" | awk '{print $2}' | sort -n | tail -1)
[ "${max:-0}" -le 3 ] && [ "${max:-0}" -ge 2 ] && ok "in flight at most -j 3 (saw $max)" || fail "in-flight bound" "max '$max'"
expect "12 requests for 12 rows without text" "$(grep -c '^REQ ok 200' "$T/server.log")" 12

# Retries: 429 with Retry-After, then 200; 500 twice then 200.
: >"$T/server.log"
head -4 "$T/rows.csv" | cap --endpoint "$(url retry429)" -j 3 >"$T/r429.csv" 2>"$T/err"
expect "429 + Retry-After: captioned" "$(grep -c 'frames\.' "$T/r429.csv")" 3
expect "429: one retry each" "$(grep -c '^REQ retry429 429' "$T/server.log") $(grep -c '^REQ retry429 200' "$T/server.log")" "3 3"
well_formed "429: retries well formed too" "$T/server.log"
: >"$T/server.log"
head -4 "$T/rows.csv" | cap --endpoint "$(url flaky500)" -j 3 >"$T/r500.csv" 2>"$T/err"
expect "500 twice then 200: captioned" "$(grep -c 'frames\.' "$T/r500.csv")" 3

# Failures become rejects with the status and the server's message; max-retries respected.
: >"$T/server.log"
head -3 "$T/rows.csv" | cap --endpoint "$(url err500)" --max-retries 2 --rejects "$T/rej500.csv" >/dev/null 2>"$T/err"
expect "500 always: exit 0" "$?" 0
grep -q 'HTTP 500: backend exploded (after 2 retries)' "$T/rej500.csv" && ok "500: reject says status and message" ||
	fail "500 reject" "$(cat "$T/rej500.csv")"
expect "500: 1 try + 2 retries per row" "$(grep -c '^REQ err500 500' "$T/server.log")" 6
well_formed "500: retries well formed too" "$T/server.log"
head -2 "$T/rows.csv" | cap --endpoint "$(url slow)" --timeout 1 --max-retries 1 --rejects "$T/rejslow.csv" >/dev/null 2>&1
grep -qi 'timed out' "$T/rejslow.csv" && ok "slow server: timeout reject" || fail "timeout" "$(cat "$T/rejslow.csv")"
head -2 "$T/rows.csv" | cap --endpoint "$(url badjson)" --rejects "$T/rejbad.csv" >/dev/null 2>&1
grep -q 'malformed JSON in the reply' "$T/rejbad.csv" && ok "malformed JSON: reject" || fail "badjson" "$(cat "$T/rejbad.csv")"
head -2 "$T/rows.csv" | cap --endpoint "$(url nochoices)" --rejects "$T/rejnc.csv" >/dev/null 2>&1
grep -q 'no choices' "$T/rejnc.csv" && ok "empty choices: reject" || fail "nochoices" "$(cat "$T/rejnc.csv")"
cap --endpoint "http://127.0.0.1:1/v1/chat/completions" --max-retries 1 --rejects "$T/rejconn.csv" \
	<<<"path,id
$T/wide.mp4,x" >/dev/null 2>&1
grep -qi 'connect' "$T/rejconn.csv" && ok "no server: connection reject" || fail "connection" "$(cat "$T/rejconn.csv")"

# Unreadable clips are rejects, never requests.
: >"$T/server.log"
printf 'path,id\n%s,a\n/nonexistent.mp4,b\n%s,c\n' "$T/empty.mp4" "$T/notes.mp4" >"$T/badrows.csv"
: >"$T/empty.mp4"
echo text >"$T/notes.mp4"
cap --endpoint "$(url ok)" --rejects "$T/rejin.csv" <"$T/badrows.csv" >/dev/null 2>"$T/err"
expect "bad clips: all rejected" "$(($(wc -l <"$T/rejin.csv") - 1))" 3
# (Only this run's mode counts: the slow mode's answers may still be arriving.)
expect "bad clips: no request sent" "$(grep -c '^REQ ok' "$T/server.log")" 0

# The key never appears in any output (an absence: it needs outputs to search, the first run's at least).
expect_file "key check: the first run's output is there to search" "$T/out.csv" 14
if grep -rqF "$KEY" "$T"/*.csv "$T/err" 2>/dev/null; then fail "key never in outputs"; else ok "key never in outputs"; fi
sora-caption --model m --endpoint "$(url ok)" --api-key-env NOT_SET_ANYWHERE </dev/null >/dev/null 2>&1
expect "missing key variable is a usage error" "$?" 2

# kill -9 mid-run, then again with the same --cache: no row is asked twice.
: >"$T/server.log"
python3 - "$T/wide.mp4" >"$T/many.csv" <<'PY'
import sys
print("path,id")
for i in range(10): print(f"{sys.argv[1]},k{i}")
PY
sora-caption --model test-vlm --api-key-env VLM_KEY --frames 3 --size 64 --endpoint "$(url ok)" -j 1 \
	--cache "$T/cache.jsonl" <"$T/many.csv" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do [ "$(grep -c '^REQ ok 200' "$T/server.log")" -ge 3 ] && break; sleep 0.05; done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
sleep 0.5 # the request in flight at the kill still gets its answer logged
first=$(grep -c '^REQ ok 200' "$T/server.log")
cached=$(grep -c . "$T/cache.jsonl" 2>/dev/null)
cap --endpoint "$(url ok)" -j 2 --cache "$T/cache.jsonl" <"$T/many.csv" >"$T/resumed.csv" 2>"$T/resumed.err"
total=$(grep -c '^REQ ok 200' "$T/server.log")
expect "resumed run captions every row" "$(grep -c 'frames\.' "$T/resumed.csv")" 10
# Every request that completed before the kill was cached, except at most the one in flight; a first run
# killed before its third answer would test no cache.
[ "$first" -ge 3 ] && [ $((total - first)) -le $((10 - ${cached:-0})) ] && [ "${cached:-0}" -ge $((first - 1)) ] &&
	ok "kill -9 then --cache: $first before, $cached cached, $((total - first)) after" ||
	fail "cache after kill" "first $first cached $cached total $total" "$(cat "$T/resumed.err")"

# --from imports (CSV keyed by id, JSONL keyed by path); no server involved.
printf 'id,text\nw1,"The video shows a ""quoted"" import"\n' >"$T/import.csv"
printf 'path,id\n%s,w1\n%s,zz\n' "$T/wide.mp4" "$T/wide.mp4" |
	sora-caption --from "$T/import.csv" --rejects "$T/rejfrom.csv" >"$T/from.csv" 2>/dev/null
expect "--from CSV: caption imported and cleaned" "$(python3 -c "import csv,sys; print(list(csv.DictReader(open(sys.argv[1])))[0]['text'])" "$T/from.csv")" 'A "quoted" import'
grep -q "no caption for 'zz'" "$T/rejfrom.csv" && ok "--from: missing key rejected" || fail "--from missing" "$(cat "$T/rejfrom.csv")"
printf '{"path": "%s", "text": "From JSONL"}\n{"broken\n' "$T/tall.mp4" >"$T/import.jsonl"
printf 'path\n%s\n' "$T/tall.mp4" | sora-caption --from "$T/import.jsonl" >"$T/fromj.csv" 2>/dev/null
grep -q "From JSONL" "$T/fromj.csv" && ok "--from JSONL keyed by path" || fail "--from JSONL" "$(cat "$T/fromj.csv")"

exit $((FAILS > 0))
