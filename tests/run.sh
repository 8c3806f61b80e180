#!/usr/bin/env bash
# Runs the Criterion unit tests given as arguments, then every tests/e2e/*.sh, and ends with the total
# as one line "N passed, N failed, N skipped". Each skip prints one SKIP line with its reason. Exits
# non-zero when anything failed.
# Env: SORA_BIN (the programs), SORA_TEST_BIN (test helpers), SORA_FIXTURES, SORA_SAN_LOGS (where
# sanitizer reports land under make test-asan).
set -u
cd "$(dirname "$0")/.."
passed=0
failed=0
skipped=0
tap=$(mktemp /tmp/sora-tap.XXXXXX)
trap 'rm -f "$tap"' EXIT

for t in "$@"; do
	: >"$tap"
	out=$("$t" --jobs 2 --tap="$tap" 2>&1)
	rc=$?
	printf '%s\n' "$out" | grep -E '^\[(FAIL|----)\]|Synthesis' | sed "s|^|$(basename "$t"): |"
	# Criterion counts a skipped test nowhere in its synthesis; its TAP report names each one.
	skips=$(sed -n 's/^ok - \(.*\)  # SKIP \(.*\)/SKIP \1: \2/p' "$tap")
	if [ -n "$skips" ]; then
		printf '%s\n' "$skips" | sed "s|^|$(basename "$t"): |"
		skipped=$((skipped + $(printf '%s\n' "$skips" | wc -l)))
	fi
	line=$(printf '%s\n' "$out" | grep 'Synthesis' | tail -1)
	p=$(printf '%s' "$line" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
	f=$(printf '%s' "$line" | sed -n 's/.*Failing: \([0-9]*\) | Crashing: \([0-9]*\).*/\1 \2/p')
	if [ -z "$p" ]; then
		echo "$(basename "$t"): did not finish (exit $rc)"
		failed=$((failed + 1))
		continue
	fi
	passed=$((passed + p))
	for n in $f; do failed=$((failed + n)); done
	[ "$rc" -ne 0 ] && [ -z "$f" ] && failed=$((failed + 1))
done

for s in tests/e2e/*.sh; do
	[ "$(basename "$s")" = lib.sh ] && continue
	out=$(bash "$s" 2>&1)
	rc=$?
	printf '%s\n' "$out" | grep -E '^(not ok|ok|skip)' | grep -vE '^ok' | sed -e 's/^skip - /SKIP /' \
		-e "s|^|$(basename "$s"): |"
	p=$(printf '%s\n' "$out" | grep -c '^ok')
	f=$(printf '%s\n' "$out" | grep -c '^not ok')
	k=$(printf '%s\n' "$out" | grep -c '^skip')
	echo "$(basename "$s"): $p passed, $f failed, $k skipped"
	skipped=$((skipped + k))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		printf '%s\n' "$out" | tail -20
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
done

# make test-asan: every sanitizer report is a failure, wherever it came from.
if [ -n "${SORA_SAN_LOGS:-}" ]; then
	reports=$(find "$SORA_SAN_LOGS" -type f 2>/dev/null)
	if [ -n "$reports" ]; then
		for r in $reports; do
			echo "sanitizer report $r:"
			head -40 "$r"
		done
		failed=$((failed + $(printf '%s\n' "$reports" | wc -l)))
	else
		echo "sanitizers: no reports"
	fi
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
