#!/usr/bin/env bash
# thread_safety_test: clang's thread-safety analysis, which the clang build (scripts/build.sh
# fuzz) runs over every file with the annotations of events/mutex.h, refuses state touched
# without its lock, and accepts the same state touched under it.
#   check.sh SOURCE_DIR
set -uo pipefail
src=$1
cxx=clang++-16
flags=(-std=c++20 -fsyntax-only -Wthread-safety -Werror -I"$src")
fail=0
if out=$("$cxx" "${flags[@]}" "$src/tests/locking/unguarded.cc" 2>&1); then
  echo "FAIL unguarded.cc: compiled, but it touches guarded state without the lock"; fail=1
elif ! grep -qF "requires holding mutex 'mu_'" <<<"$out"; then
  echo "FAIL unguarded.cc: refused, but not by the analysis:"; echo "$out" | tail -5; fail=1
else
  echo "ok   unguarded.cc: refused (writing count_ requires holding mutex 'mu_')"
fi
if out=$("$cxx" "${flags[@]}" "$src/tests/locking/guarded.cc" 2>&1); then
  echo "ok   guarded.cc: compiled"
else
  echo "FAIL guarded.cc: the control does not compile:"; echo "$out" | tail -5; fail=1
fi
exit $fail
