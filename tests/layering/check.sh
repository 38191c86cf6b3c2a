#!/usr/bin/env bash
# layering_test: each forbidden include of tests/layering/ must fail to build, for the reason
# cmake/layers.cmake gives; the control, which includes only what is allowed, must build.
#   check.sh BUILD_DIR
set -uo pipefail
build=$1
fail=0
expect_refused() {  # target, words the refusal must hold
  local out
  out=$(cmake --build "$build" --target "$1" 2>&1)
  if [ $? -eq 0 ]; then
    echo "FAIL $1: built, but its include is forbidden"; fail=1
  elif ! grep -qF "$2" <<<"$out"; then
    echo "FAIL $1: refused, but not for the layering rule:"; echo "$out" | tail -5; fail=1
  else
    echo "ok   $1: refused ($2)"
  fi
}
expect_refused layering_app_includes_rocksdb "RocksDB is used in adapters/storage/ only"
expect_refused layering_app_includes_rocks_event_log "never RocksDB's classes"
expect_refused layering_api_includes_beast "Boost.Beast and Asio are used in adapters/http/ only"
expect_refused layering_api_includes_kafka "only the wiring (tools/node) knows Kafka"
expect_refused layering_storage_includes_wiring "nothing below tools/ includes the wiring"
if out=$(cmake --build "$build" --target layering_app_includes_interfaces 2>&1); then
  echo "ok   layering_app_includes_interfaces: built"
else
  echo "FAIL layering_app_includes_interfaces: the allowed includes do not build:"; echo "$out" | tail -5; fail=1
fi
exit $fail
