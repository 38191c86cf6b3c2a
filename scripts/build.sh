#!/usr/bin/env bash
# Configures and builds remit. Usage: scripts/build.sh [release|asan]
#   release -> build/       (RelWithDebInfo)
#   asan    -> build-asan/  (Debug, address + undefined sanitizers)
#   fuzz    -> build-fuzz/  (clang-16, libFuzzer targets of tests/fuzz/ only)
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-release}
case "$kind" in
  release) dir=build; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  asan) dir=build-asan; flags=(-DCMAKE_BUILD_TYPE=Debug -DREMIT_SANITIZE=ON) ;;
  fuzz) dir=build-fuzz; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DREMIT_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-16) ;;
  *) echo "usage: $0 [release|asan|fuzz]" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" -G Ninja "${flags[@]}" >/dev/null
cmake --build "$dir" --parallel "$(nproc)"
