#!/usr/bin/env bash
# clang-tidy-19 over the library and the CLI (or the files given), with the
# checks in .clang-tidy. Installs clang-tidy-19 if missing (root), builds the
# release preset's compile_commands.json first. Exit 1 when there are findings.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v clang-tidy-19 >/dev/null; then
  scripts/install-deps.sh clang-tidy-19
fi
cmake --preset release >/dev/null   # writes build/release/compile_commands.json

if [[ $# -gt 0 ]]; then
  files=("$@")
else
  mapfile -t files < <(git ls-files 'src/*.cpp' 'tools/*.cpp')
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
printf '%s\n' "${files[@]}" |
  xargs -P "$(nproc)" -n 4 clang-tidy-19 -p build/release --quiet 2>/dev/null >"$log" || true
# Each header finding is reported once per file that includes it: show it once.
findings=$(grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' "$log" | sort -u || true)
if [[ -z "$findings" ]]; then
  echo "lint: clean (${#files[@]} files)"
  exit 0
fi
echo "$findings"
echo "lint: $(echo "$findings" | wc -l) findings in ${#files[@]} files"
exit 1
