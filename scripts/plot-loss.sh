#!/bin/sh
# make plot RUN=DIR: RUN/metrics.jsonl (sora-train's line per step) drawn as RUN/loss.png: the loss per
# step and its running mean over 20 steps, with gnuplot (Debian: gnuplot-nox).
set -eu
run=${1:?usage: plot-loss.sh RUN_DIR}
[ -r "$run/metrics.jsonl" ] || { echo "plot: $run/metrics.jsonl not found (a sora-train --run folder?)" >&2; exit 1; }
command -v gnuplot >/dev/null || { echo "plot: gnuplot not found (scripts/install-deps.sh installs gnuplot-nox)" >&2; exit 1; }
data=$(mktemp /tmp/sora-plot.XXXXXX)
trap 'rm -f "$data"' EXIT
# "step" and "loss" of each line; the running mean of the last 20 losses beside them.
sed -n 's/.*"step":\([0-9]*\).*"loss":\([-0-9.eE+]*\).*/\1 \2/p' "$run/metrics.jsonl" |
	awk '{ i = NR % 20; if (NR > 20) s -= q[i]; q[i] = $2; s += $2; print $1, $2, s / (NR < 20 ? NR : 20) }' >"$data"
[ -s "$data" ] || { echo "plot: no step lines in $run/metrics.jsonl" >&2; exit 1; }
gnuplot <<GP
set terminal png size 900,540
set output "$run/loss.png"
set title "sora-train: $(basename "$run")"
set xlabel "step"
set ylabel "loss"
set grid
plot "$data" using 1:2 with lines lc rgb "#b0c4de" title "loss", \
     "$data" using 1:3 with lines lw 2 lc rgb "#1f4e79" title "mean of 20 steps"
GP
echo "plot: $run/loss.png" >&2
