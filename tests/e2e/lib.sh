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

# ffmpeg with the flags every generated input uses
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }

# csv_col FILE ROW(1-based data row) COLUMN: one field by column name (fields without newlines)
csv_col() {
	awk -F, -v row="$2" -v col="$3" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
		NR == row + 1 { print $c }' "$1"
}
