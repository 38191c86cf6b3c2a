#!/usr/bin/env bash
# Installs what remit needs, checks the mechanical style, builds it three times (address+undefined sanitizers, the libFuzzer
# targets with clang-16 and its thread-safety analysis, release), runs clang-tidy, and runs every test under CTest in each
# build. Ends with CTest's summary of the release run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
echo "== style: clang-format, file and function lengths (scripts/check-style.py)"
python3 scripts/check-style.py
bash scripts/build.sh asan
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
echo "== unit tests under address+undefined sanitizers"
ctest --test-dir build-asan --output-on-failure --timeout 900 -j2
bash scripts/build.sh fuzz
echo "== clang-tidy (.clang-tidy) over remit's own code; the clang build above checked the lock annotations"
bash scripts/tidy.sh build-fuzz
echo "== fuzz targets, a short bounded run of each (tests/fuzz, docs/fuzzing.md)"
ctest --test-dir build-fuzz --output-on-failure --timeout 300
bash scripts/build.sh release
echo "== every test, release build"
ctest --test-dir build --output-on-failure --timeout 900 -j2
