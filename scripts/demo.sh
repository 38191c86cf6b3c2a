#!/usr/bin/env bash
# Installs what remit needs, builds it, and runs `remit serve` with the demo practice.
# Usage: scripts/demo.sh [--data DIR] [--listen HOST:PORT]   (defaults: ./data, 127.0.0.1:8080)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh release
data=./data
listen=127.0.0.1:8080
while [ $# -gt 0 ]; do
  case "$1" in
    --data) data=$2; shift 2 ;;
    --listen) listen=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
exec ./build/tools/remit serve --data "$data" --listen "$listen" --demo
