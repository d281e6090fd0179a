#!/usr/bin/env bash
# Sets up jobsd and runs every test suite under ctest. Extra arguments go to ctest
# (e.g. scripts/test.sh -R api).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cd build
ctest --output-on-failure -j2 "$@"
