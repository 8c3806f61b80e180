#!/usr/bin/env bash
# sora-tokenize against transformers' ids on every case of tokenize_cases.json (both tokenizers, through
# the CSV stream), --lines, -j independence, and the bad-input contract.
. "$(dirname "$0")/lib.sh"

FX=${SORA_FIXTURES:-$(cd "$(dirname "$0")/../.." && pwd)/../shared/fixtures}
CASES=$FX/text/tokenize_cases.json
T5=$FX/text/tokenizers/t5
CLIP=$FX/text/tokenizers/clip
need_fixtures "tokenize" "$CASES" "$T5/spiece.model" "$CLIP/vocab.json" "$CLIP/merges.txt"

# The prompts as a CSV (Python's csv module: what pandas writes), and the wanted ids, one array a line.
python3 - "$CASES" "$T" <<'PY'
import csv, json, sys
cases = json.load(open(sys.argv[1]))["cases"]
with open(sys.argv[2] + "/prompts.csv", "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["id", "text"])
    for c in cases:
        w.writerow([c["id"], c["text"]])
for k in ("t5", "clip"):
    with open(sys.argv[2] + "/want_" + k, "w") as f:
        for c in cases:
            f.write(json.dumps(c[k]["input_ids"], separators=(",", ":")) + "\n")
PY
n=$(wc -l <"$T/want_t5")
expect_file "tokenize_cases.json: cases to compare" "$T/want_t5" 1

for k in t5 clip; do
	dir=$T5
	[ $k = clip ] && dir=$CLIP
	sora-tokenize --$k "$dir" -j 2 <"$T/prompts.csv" >"$T/got_$k" 2>"$T/err_$k"
	expect "$k: exit 0" "$?" 0
	same=$(paste -d'\t' "$T/got_$k" "$T/want_$k" | awk -F'\t' '$1 == $2' | wc -l)
	echo "# $k: $same of $n tokenize_cases.json cases exact"
	# the whole file: one line a case, in order, and nothing more (counting matches passed on two empty
	# files, or on extra lines)
	expect_same "$k: every case exact ($n)" "$T/got_$k" "$T/want_$k"
	sora-tokenize --$k "$dir" -j 1 -q <"$T/prompts.csv" >"$T/got1_$k"
	expect_same "$k: output does not depend on -j" "$T/got_$k" "$T/got1_$k"
done
{ cat "$T/got_t5" && echo "[1]"; } >"$T/extra"
must_fail "ids check: an extra line fails" expect_same x "$T/extra" "$T/want_t5"

printf 'a cat\nTwo kids flying a kite on a windy hill.\n\n' | sora-tokenize --t5 "$T5" --lines --max-length 16 -q >"$T/lines"
expect "--lines: one array per line" "$(cat "$T/lines")" "[3,9,1712,1,0,0,0,0,0,0,0,0,0,0,0,0]
[2759,1082,7070,3,9,3650,15,30,3,9,2943,63,9956,5,1,0]
[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]"

printf 'text,path\n"a cat",x\n"bad \xff byte",y\n"a dog",z\n' |
	sora-tokenize --clip "$CLIP" --max-length 6 --rejects "$T/rej.csv" >"$T/bad" 2>"$T/bad_err"
expect "invalid UTF-8: exit 0" "$?" 0
expect "invalid UTF-8: the other rows, in order" "$(cat "$T/bad")" "[49406,320,2368,49407,49407,49407]
[49406,320,1929,49407,49407,49407]"
expect "invalid UTF-8: one stderr line" "$(grep -c 'invalid UTF-8' "$T/bad_err")" 1
expect "invalid UTF-8: reject row with its reason" "$(csv_col "$T/rej.csv" 1 error)" "invalid UTF-8 at byte 4"

printf 'text\n"a cat"\n' | sora-tokenize --clip "$CLIP" --max-length 4 --csv -q >"$T/csv"
expect "--csv keeps the row and adds the columns" "$(cat "$T/csv")" 'text,input_ids,num_tokens
a cat,"[49406,320,2368,49407]",4'

printf 'caption\nx\n' | sora-tokenize --t5 "$T5" -q >/dev/null 2>&1
expect "no text column: usage error" "$?" 2
sora-tokenize --t5 "$T5" --clip "$CLIP" </dev/null >/dev/null 2>&1
expect "two tokenizers: usage error" "$?" 2
sora-tokenize --t5 "$T/nowhere" </dev/null >/dev/null 2>"$T/nowhere_err"
expect "missing model: exit 1" "$?" 1
expect "missing model: says which file" "$(grep -c 'nowhere/spiece.model' "$T/nowhere_err")" 1

exit $((FAILS > 0))
