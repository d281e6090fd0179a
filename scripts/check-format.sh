#!/usr/bin/env bash
# Fails, listing them, when a tracked C++ file is not formatted as .clang-format says.
# Run by ctest (test `clang_format`); fix with: clang-format-14 -i FILE...
set -euo pipefail
cd "$(dirname "$0")/.."
cf=$(command -v clang-format-14 || command -v clang-format) || { echo "check-format: clang-format-14 is not installed" >&2; exit 1; }
bad=()
while IFS= read -r f; do
  [ -f "$f" ] || continue
  "$cf" --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(git ls-files '*.cpp' '*.hpp' '*.h')
if ((${#bad[@]})); then
  echo "check-format: ${#bad[@]} file(s) not formatted (clang-format-14 -i FILE...):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "check-format: every C++ file is formatted"
