#!/usr/bin/env bash
# Runs clang-tidy-16 (.clang-tidy) over every translation unit of remit's own code (not the
# tests) in a clang build's compile database, two at a time; fails on any finding.
#   scripts/tidy.sh [BUILD_DIR]   (default build-fuzz, made by scripts/build.sh fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
build=${1:-build-fuzz}
files=$(python3 -c '
import json, sys
seen = set()
for e in json.load(open(sys.argv[1] + "/compile_commands.json")):
    f = e["file"]
    if "/tests/" in f or "/build" in f[len(sys.argv[2]):] or f in seen:
        continue
    seen.add(f)
    print(f)
' "$build" "$src")
echo "$files" | xargs -P "$(nproc)" -n 4 clang-tidy-16 -p "$build" --quiet \
  --header-filter="^$src/(adapters|engine|events|projections|tools)/" 2>/dev/null
echo "tidy: $(echo "$files" | wc -l) files, no finding"
