#!/bin/sh
# Installs every Debian package that sora.c's build, tests, benchmarks and demo need.
# Idempotent: when everything is present it only asks dpkg and exits.
#   --bench: also the peers `make bench` compares against (PyTorch on OpenBLAS)
#   --fuzz:  also clang's libFuzzer for `make fuzz`
set -eu

PACKAGES="
build-essential pkg-config git time python3 bc python3-lmdb python3-numpy
libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libavfilter-dev ffmpeg
libopencv-dev liblmdb-dev libcsv-dev libcjson-dev libopenblas-dev
libsentencepiece-dev libutf8proc-dev libcurl4-openssl-dev
libcriterion-dev libopenmpi-dev openmpi-bin
clang-format clang-tidy cppcheck gnuplot-nox
"
case "${1:-}" in
--bench) PACKAGES="python3-torch python3-numpy libopenblas0-pthread" ;;
--fuzz) PACKAGES="clang libclang-rt-14-dev" ;;
esac

missing=""
for p in $PACKAGES; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	"install ok installed") ;;
	*) missing="$missing $p" ;;
	esac
done

[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2
