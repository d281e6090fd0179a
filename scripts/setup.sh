#!/usr/bin/env bash
# Installs the Debian packages jobsd needs (only those missing) and builds it into build/: every
# target, or only the ones named (scripts/run.sh: `programs`, not the test suites).
# Idempotent: a second run installs nothing and rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  cmake g++ make pkg-config ccache curl
  libboost1.81-dev libboost-json1.81-dev libboost-test1.81-dev libboost-url1.81-dev
  libsqlite3-dev libssl-dev libspdlog-dev libjemalloc-dev
  libpq-dev postgresql
  librabbitmq-dev rabbitmq-server
  haproxy jq
  clang-14 libclang-rt-14-dev clang-format-14
  wrk libbenchmark-dev
  chromium
  python3-jsonschema
  python3-pika espeak-ng
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# CI builds treat warnings as errors; a newcomer's build does not stop on a new compiler's warning.
werror=OFF
[ "${CI:-}" = "true" ] && werror=ON
cmake -S . -B build -DCMAKE_BUILD_TYPE="${JOBSD_BUILD_TYPE:-RelWithDebInfo}" -DJOBSD_WERROR="$werror" >/dev/null
targets=("$@")
cmake --build build -j"$(nproc)" ${targets[@]+--target "${targets[@]}"}
