# Shared by the end-to-end tests: programs in pipes on inputs the tests make themselves.
# Each check prints "ok - name" or "not ok - name" (and why); run.sh counts them.
set -u
SORA_BIN=${SORA_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/bin}
SORA_TEST_BIN=${SORA_TEST_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/tests}
export PATH="$SORA_BIN:$PATH"
T=$(mktemp -d /tmp/sora-e2e.XXXXXX)
trap 'rm -rf "$T"' EXIT
FAILS=0

ok() { echo "ok - $1"; }
fail() {
	echo "not ok - $1"
	shift
	[ $# -gt 0 ] && printf '#   %s\n' "$@"
	FAILS=$((FAILS + 1))
}
# expect NAME ACTUAL WANTED
expect() {
	if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "got:  $2" "want: $3"; fi
}
skip() { echo "skip - $1: $2"; }

# Debian's python3, where scripts/install-deps.sh put numpy and lmdb, even when another one (pyenv, a
# venv) comes first on PATH.
if [ -x /usr/bin/python3 ]; then
	python3() { /usr/bin/python3 "$@"; }
fi

# The shell tests' one comparison of numbers (tests/tools/compare.py, the twin of tests/common/compare.h):
# `python3 "$COMPARE" ...` from the shell, `import compare` from a test's own Python.
COMPARE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tools" && pwd)/compare.py
export PYTHONPATH="$(dirname "$COMPARE")${PYTHONPATH:+:$PYTHONPATH}"

# need_fixtures NAME FILE...: when a fixture file cannot be read the script ends here: skipped, saying
# which file (its status still failed when a check before this one failed), or under CI=true failed,
# since a missing fixture folder must not pass as a skip.
need_fixtures() {
	local name=$1 f
	shift
	for f in "$@"; do
		[ -r "$f" ] && continue
		if [ "${CI:-}" = true ]; then
			fail "$name" "fixture not found under CI=true: $f (set SORA_FIXTURES)"
			exit 1
		fi
		skip "$name" "fixture not found ($f): set SORA_FIXTURES"
		exit $((FAILS > 0))
	done
}

# expect_ref NAME GOT WANT: expect, where WANT comes from the reference tool and must not be empty (an
# empty reference would pass an empty output).
expect_ref() {
	if [ -z "$3" ]; then fail "$1" "no reference: the reference tool gave nothing (got '$2')"; else expect "$@"; fi
}

# expect_near NAME GOT WANT ATOL: |GOT - WANT| <= ATOL through compare.py, so that an empty, NaN or
# infinite value on either side fails.
expect_near() {
	local res
	res=$(python3 - "$2" "$3" "$4" <<'PY'
import sys
import compare
got, want = (compare.num(s) for s in sys.argv[1:3])
good, msg = compare.each([got], [want], float(sys.argv[3]), 0)
print(('ok ' if good else 'bad ') + msg)
PY
	)
	case "$res" in "ok "*) ok "$1" ;; *) fail "$1" "got '$2', want '$3' within $4: ${res#bad }" ;; esac
}

# must_fail NAME CMD...: CMD, run in a subshell with its output kept, must report "not ok": how each
# check above, and each test's own, is shown to fail on the wrong output it is there to catch. The
# variable is "said", not "out", since a test's own check called as CMD may read an "out" of its own.
must_fail() {
	local name=$1 said
	shift
	said=$( ("$@") 2>&1)
	case "$said" in "not ok"*) ok "$name" ;; *) fail "$name" "got: $said" ;; esac
}

# expect_file NAME FILE [MIN_LINES]: FILE exists and has at least MIN_LINES lines (default 1), so a
# check over its contents cannot pass on an empty or missing output.
expect_file() {
	local lines
	if [ ! -f "$2" ]; then
		fail "$1" "missing: $2"
		return 1
	fi
	lines=$(wc -l <"$2")
	if [ "$lines" -lt "${3:-1}" ]; then
		fail "$1" "$2 has $lines lines, want at least ${3:-1}"
		return 1
	fi
	ok "$1"
}

# expect_same NAME A B: two outputs identical byte for byte, and neither empty nor missing (two runs
# that both produced nothing are not "the same").
expect_same() {
	local f
	for f in "$2" "$3"; do
		if [ ! -s "$f" ]; then
			fail "$1" "$f is empty or missing"
			return 1
		fi
	done
	if cmp -s "$2" "$3"; then ok "$1"; else fail "$1" "$(diff "$2" "$3" 2>&1 | head -5)"; fi
}

# expect_differ NAME A B: two outputs that must differ, and neither empty nor missing.
expect_differ() {
	local f
	for f in "$2" "$3"; do
		if [ ! -s "$f" ]; then
			fail "$1" "$f is empty or missing"
			return 1
		fi
	done
	if cmp -s "$2" "$3"; then fail "$1" "$2 and $3 are identical"; else ok "$1"; fi
}

# expect_contains NAME TEXT WANT: TEXT holds WANT, which must not be empty (an empty WANT matches all).
expect_contains() {
	if [ -z "$3" ]; then
		fail "$1" "nothing to look for: the expected text is empty"
	else
		case "$2" in *"$3"*) ok "$1" ;; *) fail "$1" "got:  $2" "want it to contain: $3" ;; esac
	fi
}

# fixture_text_models DIR FX: DIR/t5 and DIR/clip, published-layout model folders (config.json,
# model.safetensors, tokenizer files) made of links to the tiny fixture T5 and CLIP text tower under FX.
fixture_text_models() {
	mkdir -p "$1/t5" "$1/clip"
	ln -s "$2/text/t5_tiny_config.json" "$1/t5/config.json"
	ln -s "$2/text/t5_tiny.safetensors" "$1/t5/model.safetensors"
	ln -s "$2/text/tokenizers/t5/spiece.model" "$1/t5/spiece.model"
	ln -s "$2/text/clip_text_tiny_config.json" "$1/clip/config.json"
	ln -s "$2/text/clip_text_tiny.safetensors" "$1/clip/model.safetensors"
	ln -s "$2/text/tokenizers/clip/vocab.json" "$1/clip/vocab.json"
	ln -s "$2/text/tokenizers/clip/merges.txt" "$1/clip/merges.txt"
}

# ffmpeg with the flags every generated input uses
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }

# csv_col FILE ROW(1-based data row) COLUMN: one field by column name (fields without newlines)
csv_col() {
	awk -F, -v row="$2" -v col="$3" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
		NR == row + 1 { print $c }' "$1"
}
