#!/usr/bin/env bash
# Builds and runs the libFuzzer targets of the nested package Fuzz/.
#
#   scripts/fuzz.sh run [SECONDS]   fuzz each target for SECONDS (default 60); a crash is copied into
#                                   Fuzz/Regressions/<folder>/ and the script fails (what `make fuzz` runs)
#   scripts/fuzz.sh replay          run each target once over every regression case and seed input, and fail if
#                                   any of them crashes (what `make test` runs)
#
# New corpus entries go to Fuzz/.build/corpus-<folder>/, artifacts to Fuzz/.build/artifacts/: neither dirties the
# work tree. Fuzz/Regressions/README.md says what to do with a crash.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzz_dir=Fuzz
scratch=$fuzz_dir/.build
binaries=$scratch/release
# target:folder, the folder naming its seed corpus, regression cases and dictionary.
targets=(FuzzDBCParser:dbc FuzzCandump:candump FuzzCommandEnvelope:commands FuzzTOML:toml FuzzCondition:conditions FuzzDiagnostics:diagnostics)
# Swift's own crash backtracer reads the crashed process's memory and trips AddressSanitizer, which then reports
# itself instead of the bug; without it, a Swift trap reaches libFuzzer, which prints the symbolised stack.
export SWIFT_BACKTRACE=enable=no

usage() {
  echo "usage: scripts/fuzz.sh run [SECONDS] | replay" >&2
  exit 64
}

build() {
  echo "fuzz: building the fuzz targets (release, fuzzer and address sanitizers)" >&2
  # lld rather than the default gold: gold warns about an ASan symbol on every link ("Cannot export local symbol").
  swift build --package-path "$fuzz_dir" --scratch-path "$PWD/$scratch" -c release \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -use-ld=lld
}

# The part of a libFuzzer log that says what went wrong: the sanitizer or Swift runtime report and its stack.
show_report() {
  local pattern='^==[0-9]+==ERROR|^Fatal error|^Swift/|deadly signal|ALARM|out-of-memory|^SUMMARY'
  if grep -q -E "$pattern" "$1"; then
    { grep -E -A 30 "$pattern" "$1" || true; } | head -n 60 >&2
  else
    tail -n 40 "$1" >&2
  fi
}

# The inputs of a folder (regular files, except its README).
inputs_in() {
  find "$1" -maxdepth 1 -type f ! -name README.md -print | LC_ALL=C sort
}

run() {
  local seconds=${1:-60}
  [[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: SECONDS must be a positive whole number, not '$seconds'" >&2; exit 64; }
  build
  local artifacts=$scratch/artifacts failed=0 target folder corpus log found
  mkdir -p "$artifacts"
  for entry in "${targets[@]}"; do
    target=${entry%%:*} folder=${entry#*:}
    corpus=$scratch/corpus-$folder
    log=$scratch/fuzz-$target.log
    mkdir -p "$corpus"
    # Seeds and past crashes start each run; what earlier runs found is kept.
    inputs_in "$fuzz_dir/Corpus/$folder" | xargs -r cp -t "$corpus"
    inputs_in "$fuzz_dir/Regressions/$folder" | xargs -r cp -t "$corpus"
    rm -f "$artifacts/$target"-*
    echo "fuzz: running $target for ${seconds}s (log: $log)" >&2
    local status=0
    "$binaries/$target" "$corpus" \
      -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
      -dict="$fuzz_dir/Dictionaries/$folder.dict" -artifact_prefix="$artifacts/$target-" \
      >"$log" 2>&1 || status=$?
    local runs rate
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    found=$(find "$artifacts" -maxdepth 1 -type f -name "$target-*" | LC_ALL=C sort)
    if [ "$status" -eq 0 ] && [ -z "$found" ]; then
      echo "fuzz run $target: ${runs:-?} runs in ${seconds}s (${rate:-?} exec/s), corpus $(inputs_in "$corpus" | wc -l) inputs, no crash"
      continue
    fi
    failed=1
    echo "fuzz run $target: FAILED (exit status $status) after ${runs:-?} runs; the report:" >&2
    show_report "$log"
    if [ -z "$found" ]; then
      echo "fuzz: $target failed without writing an input; see $log" >&2
      continue
    fi
    local artifact kept known
    while IFS= read -r artifact; do
      # A regression case that still crashes is found again at once; point at it rather than keep a second copy.
      known=$(inputs_in "$fuzz_dir/Regressions/$folder" | while IFS= read -r existing; do
        if cmp -s "$artifact" "$existing"; then echo "$existing"; break; fi
      done || true)
      if [ -n "$known" ]; then
        echo "fuzz: the input is the known regression case $known, which still fails; fix it first" >&2
        continue
      fi
      kept=$fuzz_dir/Regressions/$folder/$(basename "$artifact")
      cp "$artifact" "$kept"
      cat >&2 <<EOF
fuzz: kept the input as $kept. Next:
  1. reproduce it:  $binaries/$target $kept
  2. rename it after what it exercises (Fuzz/Regressions/README.md)
  3. fix the bug in Sources/, check that 'scripts/fuzz.sh replay' passes, and commit the fix with the input
EOF
    done <<<"$found"
  done
  return "$failed"
}

replay() {
  build
  local failed=0 target folder inputs count crashes input log=$scratch/replay.log
  for entry in "${targets[@]}"; do
    target=${entry%%:*} folder=${entry#*:}
    inputs=$( { inputs_in "$fuzz_dir/Regressions/$folder"; inputs_in "$fuzz_dir/Corpus/$folder"; } )
    count=0 crashes=0
    # One process per input, so that one crash does not hide the inputs after it.
    while IFS= read -r input; do
      [ -n "$input" ] || continue
      count=$((count + 1))
      if ! "$binaries/$target" -timeout=30 -rss_limit_mb=2048 "$input" >"$log" 2>&1; then
        crashes=$((crashes + 1))
        echo "fuzz replay $target: $input crashes; reproduce with: $binaries/$target $input" >&2
        show_report "$log"
      fi
    done <<<"$inputs"
    echo "fuzz replay $target: $count inputs, $crashes crashes"
    [ "$crashes" -eq 0 ] || failed=1
  done
  return "$failed"
}

case ${1:-} in
  run) [ $# -le 2 ] || usage; run "${2:-60}" ;;
  replay) [ $# -eq 1 ] || usage; replay ;;
  *) usage ;;
esac
