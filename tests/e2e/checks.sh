#!/usr/bin/env bash
# The checks themselves: each helper the shell tests compare with (lib.sh, tests/tools/compare.py) fails on
# the wrong output it is there to catch, and a missing fixture folder fails under CI=true in both the unit
# tests and the shell tests.
. "$(dirname "$0")/lib.sh"

: >"$T/empty"
printf 'a\n' >"$T/a"
printf 'b\n' >"$T/b"
must_fail "expect_file: a missing file fails" expect_file x "$T/none"
must_fail "expect_file: an empty file fails" expect_file x "$T/empty"
must_fail "expect_file: too few lines fail" expect_file x "$T/a" 2
must_fail "expect_same: two empty outputs are not the same" expect_same x "$T/empty" "$T/empty"
must_fail "expect_same: two missing outputs are not the same" expect_same x "$T/none" "$T/none2"
must_fail "expect_same: different outputs fail" expect_same x "$T/a" "$T/b"
must_fail "expect_differ: two empty outputs do not differ" expect_differ x "$T/empty" "$T/a"
must_fail "expect_differ: identical outputs fail" expect_differ x "$T/a" "$T/a"
must_fail "expect_contains: an empty expected reason matches nothing" expect_contains x "any reason" ""
must_fail "expect_contains: another reason fails" expect_contains x "cannot open" "not a video"
must_fail "expect_ref: an empty reference fails" expect_ref x "" ""
must_fail "expect_ref: another value fails" expect_ref x 1 2
must_fail "expect_near: an empty value fails" expect_near x "" 10 1
must_fail "expect_near: NaN fails" expect_near x nan 10 1
must_fail "expect_near: an empty reference fails" expect_near x 0 "" 1
must_fail "expect_near: off by more than the bound fails" expect_near x 12 10 1
out=$( (CI=true need_fixtures x "$T/none") 2>&1)
rc=$?
expect "need_fixtures: under CI=true a missing fixture fails" "$rc ${out%% -*}" "1 not ok"
out=$( (CI= need_fixtures x "$T/none") 2>&1)
expect "need_fixtures: elsewhere a missing fixture is a visible skip" "${out%%:*}" "skip - x"

# compare.py, as a module and as a program.
out=$(python3 - <<'PY'
import math
import compare
ref = [0.5, -2.0, 1.0, 0.25]
cases = {
    "nan": compare.rel([0.5, -2.0, math.nan, 0.25], ref, 1e-5),
    "all nan, loose bound": compare.rel([math.nan] * 4, ref, 1e9),
    "inf in the reference": compare.rel(ref, ref[:3] + [math.inf], 1e-5),
    "zeros": compare.rel([0.0] * 4, ref, 1e-2),
    "empty": compare.rel([], [], 1.0),
    "shape": compare.rel(ref[:3], ref, 1.0),
    "bound": compare.rel([0.5, -2.0, 1.0, 0.251], ref, 1e-4),
    "each": compare.each([0.6, -2.0, 1.0, 0.25], ref, 1e-4, 1e-4),
    "each nan": compare.each([math.nan] * 4, ref, 1e9, 1e9),
}
for name, (good, msg) in cases.items():
    print("%s: %s" % (name, "passed" if good else "failed"))
good, msg = compare.rel([0.5, -2.0, 1.0, 0.251], ref, 1e-3)
print("close: %s" % ("passed" if good else "failed: " + msg))
print("names: %s" % compare.rel([0.5, -2.0, math.nan, 0.25], ref, 1e-5)[1])
PY
)
for c in "nan" "all nan, loose bound" "inf in the reference" "zeros" "empty" "shape" "bound" "each" "each nan"; do
	expect "compare.py: $c fails" "$(printf '%s\n' "$out" | grep "^$c: ")" "$c: failed"
done
expect "compare.py: a close output passes" "$(printf '%s\n' "$out" | grep '^close: ')" "close: passed"
expect_contains "compare.py: the message names the element" "$out" "element 2 is nan"

# The program: a safetensors file with NaN against a good one, and a prefix that matches nothing.
python3 - "$T" <<'PY'
import json, struct, sys
import numpy as np
def save(path, tensors):
    head, blobs, off = {}, [], 0
    for k, a in tensors.items():
        b = np.asarray(a, "<f4").tobytes()
        head[k] = {"dtype": "F32", "shape": [len(a)], "data_offsets": [off, off + len(b)]}
        blobs.append(b); off += len(b)
    h = json.dumps(head).encode()
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
save(sys.argv[1] + "/ref.st", {"p.x": [1, 2, 3], "p.y": [4, 5, 6]})
save(sys.argv[1] + "/good.st", {"x": [1, 2, 3], "y": [4, 5, 6]})
save(sys.argv[1] + "/nan.st", {"x": [1, 2, 3], "y": [4, float("nan"), 6]})
PY
expect "compare.py --all: a good file passes" "$(python3 "$COMPARE" --all "$T/good.st" "$T/ref.st" p. 2>/dev/null)" "ok 2"
out=$(python3 "$COMPARE" --all "$T/nan.st" "$T/ref.st" p. 2>/dev/null)
expect "compare.py --all: NaN fails (exit 1)" "$? ${out%%:*}" "1 y"
python3 "$COMPARE" --all "$T/good.st" "$T/ref.st" q. >/dev/null 2>&1
expect "compare.py --all: a prefix that matches nothing fails" "$?" 1
python3 "$COMPARE" "$T/good.st" z "$T/ref.st" p.x >/dev/null 2>&1
expect "compare.py: a missing tensor fails" "$?" 1

# Under CI=true a unit test whose fixtures are missing fails, not skips.
if [ -x "$SORA_TEST_BIN/test_t5" ]; then
	out=$(CI=true SORA_FIXTURES="$T/none" "$SORA_TEST_BIN/test_t5" --jobs 1 2>&1)
	rc=$?
	expect_contains "unit test under CI=true, no fixtures: fails loudly" "$rc $out" "fixture not found"
	expect "unit test under CI=true, no fixtures: exit status" "$([ "$rc" -ne 0 ] && echo nonzero)" nonzero
	out=$(CI= SORA_FIXTURES="$T/none" "$SORA_TEST_BIN/test_t5" --jobs 1 --tap="$T/tap" 2>&1)
	expect "unit test without CI, no fixtures: skips, visibly" "$? $(grep -c '# SKIP' "$T/tap")" \
		"0 $(grep -c '^ok' "$T/tap")"
else
	fail "unit test under CI=true" "$SORA_TEST_BIN/test_t5 not built"
fi
exit $((FAILS > 0))
