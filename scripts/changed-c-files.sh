#!/bin/sh
# The C sources changed since origin/main (or, without a remote, in the working tree and the last
# commit): what `make lint` runs clang-tidy on, since a whole-tree clang-tidy is slow.
base=$(git rev-parse -q --verify origin/main 2>/dev/null || git rev-parse -q --verify HEAD~1 2>/dev/null)
{
	[ -n "$base" ] && git diff --name-only "$base" -- 2>/dev/null
	git diff --name-only HEAD -- 2>/dev/null
} | grep -E '\.c$' | sort -u | while read -r f; do [ -f "$f" ] && echo "$f"; done
