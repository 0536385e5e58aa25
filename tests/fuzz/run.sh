#!/bin/bash
# Builds the libFuzzer targets in a clang build of their own and runs each
# for SECONDS (default 60), all at once, from a copy of the seed corpus in
# a scratch dir (the source tree is never written). Fails on any crash,
# leak, sanitizer report, timeout or failed check; prints each target's
# figures (runs, execs/s, coverage, corpus size) and, on a failure, where
# the reproducer was kept.
#
#   tests/fuzz/run.sh [SECONDS] [BUILD_DIR]
#
# BUILD_DIR defaults to build-fuzz in the source tree. Reproduce a finding
# with: BUILD_DIR/tests/fuzz/<target> <file>.
set -euo pipefail

seconds=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${2:-$src/build-fuzz}
targets=(app_fuzz scheduler_fuzz dns_fuzz)

# clang 16: the scheduler's code captures structured bindings in lambdas
# (C++20), which clang 14 refuses.
cxx=${FUZZ_CXX:-clang++-16}
cc=${FUZZ_CC:-clang-16}
if ! command -v "$cxx" >/dev/null || ! command -v "$cc" >/dev/null; then
  echo "fuzz: $cxx or $cc not found (scripts/install-deps.sh installs clang-16)" >&2
  exit 1
fi

if [ ! -f "$build/CMakeCache.txt" ]; then
  # -O1 and line tables: quick to build, enough for reports.
  CC=$cc CXX=$cxx cmake -S "$src" -B "$build" -G Ninja -DDCOS_FUZZ=ON -DCMAKE_BUILD_TYPE=Fuzz \
    -DCMAKE_C_FLAGS="-O1 -gline-tables-only" -DCMAKE_CXX_FLAGS="-O1 -gline-tables-only" >"$build.configure.log" 2>&1 ||
    { cat "$build.configure.log" >&2; exit 1; }
  mv "$build.configure.log" "$build/configure.log"
fi
ninja -C "$build" "${targets[@]}" >"$build/fuzz-build.log" 2>&1 || { tail -50 "$build/fuzz-build.log" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/dcos-fuzz.XXXXXX")
keep=0
cleanup() { [ "$keep" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT

symbolizer=$(command -v llvm-symbolizer-16 || command -v llvm-symbolizer || true)
# Short allocation stacks, a small quarantine, no malloc fill: twice the
# execs/s (reproduce a finding with the defaults for the full report).
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:allocator_may_return_null=1:malloc_context_size=4:quarantine_size_mb=8:max_malloc_fill_size=0${symbolizer:+:external_symbolizer_path=$symbolizer}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${symbolizer:+:external_symbolizer_path=$symbolizer}"

pids=()
for t in "${targets[@]}"; do
  mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
  cp "$here/corpus/$t/"* "$work/$t/corpus/"
  seeds=$(ls "$work/$t/corpus" | wc -l)
  echo "$seeds" >"$work/$t/seeds"
  # Marathon's keys for the targets that read JSON; a DNS packet has none.
  dict=()
  case $t in
    app_fuzz | scheduler_fuzz) dict=(-dict="$here/marathon.dict") ;;
  esac
  # Inputs up to 64 KiB (the deep-nesting seeds are 20 KiB; a DNS message
  # over TCP is up to 65535 bytes); a request taking over 10 s is a finding too.
  (cd "$work/$t" && exec "$build/tests/fuzz/$t" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
     -rss_limit_mb=2048 ${dict[@]+"${dict[@]}"} -artifact_prefix="$work/$t/artifacts/" -print_final_stats=1 \
     corpus >"$work/$t/log" 2>&1) &
  pids+=($!)
done

failed=0
for i in "${!targets[@]}"; do
  t=${targets[$i]}
  if wait "${pids[$i]}"; then status=ok; else status=FAILED; failed=1; fi
  log="$work/$t/log"
  runs=$(grep -ao 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  speed=$(grep -ao 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  last=$(grep -aE '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*' || echo "?")
  ft=$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*' || echo "?")
  corpus=$(echo "$last" | grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' | sed 's/corp: //' || echo "?")
  printf 'fuzz: %-15s %-6s %s s, %s runs, %s execs/s, coverage %s edges (%s features), corpus %s inputs (%s seeds)\n' \
    "$t" "$status" "$seconds" "$runs" "$speed" "$cov" "$ft" "$corpus" "$(cat "$work/$t/seeds")"
  if [ "$status" != ok ]; then
    keep=1
    grep -av '^    #' "$log" | tail -40 >&2
    echo "fuzz: $t: reproducer(s) and log kept in $work/$t/artifacts and $log" >&2
  fi
done
exit "$failed"
