#!/usr/bin/env bash
# Installs everything remit needs to build, run and test on Debian 12, as root.
# Idempotent: packages already present are left as they are.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  librdkafka-dev librocksdb-dev libflatbuffers-dev flatbuffers-compiler
  libfmt-dev libspdlog-dev libboost-test-dev libboost-dev
  libsodium-dev liboath-dev libqrencode-dev libpng-dev
  nlohmann-json3-dev libssl-dev zlib1g-dev
  curl python3 openssl
  python3-zxcvbn
  chromium zbar-tools
  clang-16 libfuzzer-16-dev libclang-rt-16-dev
  clang-format-16 clang-tidy-16 universal-ctags
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Node.js for the browser tests: the machine's own if it has one, else Debian's.
if ! command -v node >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# playwright-core (exactly the version of package-lock.json) drives Debian's chromium; it never
# downloads a browser.
(cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
