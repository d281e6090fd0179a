#!/usr/bin/env bash
# Fails, listing them, when a tracked C++ file is not formatted as .clang-format says.
# Run by ctest (test `clang_format`); fix with: clang-format-14 -i FILE...
set -euo pipefail
cd "$(dirname "$0")/.."
cf=$(command -v clang-format-14 || command -v clang-format) || {
  echo "check-format: clang-format-14 is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
# Fifty files per clang-format process, two processes at a time: a few seconds even on a busy machine.
bad=$(git ls-files -z '*.cpp' '*.hpp' '*.h' | xargs -0 -n 50 -P 2 "$cf" --dry-run 2>&1 |
      sed -nE 's/^([^:]+):[0-9]+:[0-9]+: (warning|error):.*/\1/p' | sort -u)
if [ -n "$bad" ]; then
  echo "check-format: $(echo "$bad" | wc -l) file(s) not formatted (clang-format-14 -i FILE...):" >&2
  echo "$bad" | sed 's/^/  /' >&2
  exit 1
fi
echo "check-format: every C++ file is formatted"
