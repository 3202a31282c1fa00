#!/usr/bin/env bash
# Fuzzes pare's readers with libFuzzer: the .pare loader (load, content hash, prepare, one
# inference), the ONNX importer with the canonical pipeline, .npy/.npz reading and the
# pipeline parser (tests/fuzz/*_fuzz.cc). Builds them with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer in build-asan/ (shared with scripts/test_sanitize.sh) and runs
# each for SECONDS (default 60) from its seed corpus and dictionary.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     TARGET: pare_model onnx_import npy pipeline
#
# Inputs that reach new code are kept in build-asan/fuzz/corpus/<target>; a crash, sanitizer
# report, leak or time-out stops the run, leaves the input in build-asan/fuzz/findings/<target>
# and fails the script: add it to tests/fuzz/regressions/<target>/ with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(pare_model onnx_import npy pipeline)

scripts/configure_asan.sh
cmake --build build-asan -j2 --target "${targets[@]/%/_fuzz}" >build-asan/fuzz-build.log 2>&1 ||
  { tail -n 60 build-asan/fuzz-build.log; exit 1; }

export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
status=0
for t in "${targets[@]}"; do
  corpus=build-asan/fuzz/corpus/$t findings=build-asan/fuzz/findings/$t
  mkdir -p "$corpus" "$findings"
  args=(-max_total_time="$seconds" -timeout=20 -rss_limit_mb=2560 -max_len=1048576
        -print_final_stats=1 -artifact_prefix="$findings/")
  [ -f "tests/fuzz/$t.dict" ] && args+=(-dict="tests/fuzz/$t.dict")
  seeds=(tests/fuzz/corpus/$t)
  [ -d "tests/fuzz/regressions/$t" ] && seeds+=(tests/fuzz/regressions/$t)
  echo "== $t: ${seconds} s"
  if ! "build-asan/tests/fuzz/${t}_fuzz" "${args[@]}" "$corpus" "${seeds[@]}" >"build-asan/fuzz/$t.log" 2>&1; then
    tail -n 40 "build-asan/fuzz/$t.log"
    echo "fuzz: $t found a failure; input in $findings/" >&2
    status=1
  fi
  grep -E "stat::number_of_executed_units|cov: " "build-asan/fuzz/$t.log" | grep -E "DONE|number_of" | tail -n 2 || true
done
exit $status
