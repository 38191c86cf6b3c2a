#!/usr/bin/env bash
# Compares two remit builds on the same kept replay log, runs alternating (A B A B ...), and
# prints each median and the median of the per-pair ratios B/A. On a shared, noisy machine a
# change is judged by that ratio, never by single runs (docs/benchmarks.md).
#   scripts/bench-ab.sh BIN_A BIN_B [PAIRS=8] [DIR=/tmp/remit-bench-replay]
# The first run builds the 1M-event log in DIR (kept for later comparisons).
set -euo pipefail
a=$1
b=$2
pairs=${3:-8}
dir=${4:-/tmp/remit-bench-replay}
rate() { "$1" bench replay --keep "$dir" | sed -n 's/.*: \([0-9]*\) events\/s$/\1/p'; }
rate "$a" >/dev/null  # builds the log on first use, and warms the page cache
results=()
for _ in $(seq "$pairs"); do
  ra=$(rate "$a")
  rb=$(rate "$b")
  echo "$ra $rb"
  results+=("$ra $rb")
done
printf '%s\n' "${results[@]}" | python3 -c '
import statistics, sys
rows = [tuple(map(int, l.split())) for l in sys.stdin if l.strip()]
print("median A %d events/s, median B %d events/s, per-pair B/A %.3f" % (
    statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows),
    statistics.median(r[1] / r[0] for r in rows)))'
