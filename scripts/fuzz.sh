#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR/fuzz for FUZZ_SECONDS each (default 60),
# starting from the seeds in fuzz/corpus/<target>/. What a run discovers goes to
# build/fuzz-corpus/<target>/ (the repository's seeds are never rewritten); a crash
# stops the run with the reproducer in build/fuzz-artifacts/ and a non-zero exit.
# Afterwards one line per target: executions, coverage (cov: edges), corpus size.
set -euo pipefail
build_dir=${1:?usage: scripts/fuzz.sh BUILD_DIR}
seconds=${FUZZ_SECONDS:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
work="$root/build/fuzz-corpus"
artifacts="$root/build/fuzz-artifacts"
mkdir -p "$work" "$artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
summary=()
for target in "$build_dir"/fuzz/fuzz_*; do
  [[ -x "$target" && -f "$target" ]] || continue
  name=$(basename "$target")
  mkdir -p "$work/$name"
  log="$artifacts/$name.log"
  echo "== fuzz $name for ${seconds}s =="
  if ! "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$artifacts/$name-" "$work/$name" "$root/fuzz/corpus/$name" >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "sockit: fuzz target $name failed; reproducer in $artifacts/ (run: $target FILE)" >&2
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*' || echo '?')
  corpus=$(find "$work/$name" -type f | wc -l)
  summary+=("$(printf '%-24s %12s executions  %6s edges  %6s corpus files' "$name" "$runs" "$cov" "$corpus")")
done
echo "== fuzz summary (${seconds}s per target) =="
printf '%s\n' "${summary[@]}"
