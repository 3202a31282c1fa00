#!/usr/bin/env bash
# Fuzzes pare's readers with libFuzzer: the .pare loader (load, content hash, prepare, one
# inference), the ONNX importer with the canonical pipeline, .npy/.npz reading, the pipeline
# parser, the TorchScript importer on whole files and its lowering on TorchScript IR
# (tests/fuzz/*_fuzz.cc). Builds them with clang,
# AddressSanitizer and UndefinedBehaviorSanitizer in build-asan/ (shared with
# scripts/test_sanitize.sh; the TorchScript targets in build-asan-torch/, as they compile against
# LibTorch) and runs each for SECONDS (default 60) from its seed corpus and dictionary.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#     TARGET: pare_model onnx_import npy pipeline (the default), torchscript, torchscript_graph
#   FUZZ_RUNS=N   stop each target after N executions instead (SECONDS is then ignored)
#   FUZZ_SEED=N   libFuzzer's random seed (default: a new one per run)
#   FUZZ_FLAGS="..."  further libFuzzer flags, after the script's own (long runs of
#                 torchscript_graph use "-entropic=0 -max_len=16384": the entropic schedule's
#                 bookkeeping is most of an execution's time, and graphs need no more text)
#
# Inputs that reach new code are kept in <build>/fuzz/corpus/<target>, which starts from
# tests/fuzz/kept/<target>.tar.xz where there is one (after a long run, refresh it with
# tar -C <build>/fuzz/corpus/<target> -cJf tests/fuzz/kept/<target>.tar.xz .); a crash, sanitizer
# report, leak or time-out stops the run, leaves the input in <build>/fuzz/findings/<target>
# and fails the script: add it to tests/fuzz/regressions/<target>/ with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(pare_model onnx_import npy pipeline)

build_dir() { case $1 in torchscript*) echo build-asan-torch ;; *) echo build-asan ;; esac; }
# Seconds one input may take before it counts as a hang. The TorchScript import builds
# constants of up to 2^26 elements (kMaxImportedElements): converting a graph whose output is
# one takes 3.5 s in release and 102 s here, under the sanitizers and coverage, all of it
# linear passes over the constant's bytes.
timeout_for() { case $1 in torchscript*) echo 300 ;; *) echo 20 ;; esac; }
for t in "${targets[@]}"; do
  dir=$(build_dir "$t")
  if [ "$dir" = build-asan-torch ]; then
    PARE_ASAN_DIR=$dir scripts/configure_asan.sh -DPARE_WITH_TORCH=ON
  else
    scripts/configure_asan.sh
  fi
  cmake --build "$dir" -j2 --target "${t}_fuzz" >"$dir/fuzz-build.log" 2>&1 ||
    { tail -n 60 "$dir/fuzz-build.log"; exit 1; }
done

export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
status=0
for t in "${targets[@]}"; do
  dir=$(build_dir "$t")
  corpus=$dir/fuzz/corpus/$t findings=$dir/fuzz/findings/$t
  mkdir -p "$corpus" "$findings"
  # A new build folder starts from the corpus long runs kept (tests/fuzz/kept/), so that a
  # run on another machine goes on from the coverage reached instead of from the seeds.
  kept=tests/fuzz/kept/$t.tar.xz
  if [ -f "$kept" ] && [ -z "$(ls -A "$corpus")" ]; then tar -C "$corpus" -xJf "$kept"; fi
  if [ -n "${FUZZ_RUNS:-}" ]; then limit=(-runs="$FUZZ_RUNS"); what="$FUZZ_RUNS executions"
  else limit=(-max_total_time="$seconds"); what="$seconds s"; fi
  args=("${limit[@]}" -timeout="$(timeout_for "$t")" -rss_limit_mb=2560 -max_len=1048576
        -print_final_stats=1 -artifact_prefix="$findings/")
  [ -n "${FUZZ_SEED:-}" ] && args+=(-seed="$FUZZ_SEED")
  # shellcheck disable=SC2206  # the flags are words
  [ -n "${FUZZ_FLAGS:-}" ] && args+=($FUZZ_FLAGS)
  [ -f "tests/fuzz/$t.dict" ] && args+=(-dict="tests/fuzz/$t.dict")
  seeds=(tests/fuzz/corpus/$t)
  [ -d "tests/fuzz/regressions/$t" ] && seeds+=(tests/fuzz/regressions/$t)
  echo "== $t: $what"
  # Leaks inside a library pare calls (LibTorch) are suppressed by name, never pare's own.
  supp=tests/fuzz/$t.lsan.supp
  if ! LSAN_OPTIONS=${LSAN_OPTIONS:-}${LSAN_OPTIONS:+:}$([ -f "$supp" ] && echo "suppressions=$supp") "$dir/tests/fuzz/${t}_fuzz" "${args[@]}" "$corpus" "${seeds[@]}" >"$dir/fuzz/$t.log" 2>&1; then
    tail -n 40 "$dir/fuzz/$t.log"
    echo "fuzz: $t found a failure; input in $findings/" >&2
    status=1
  fi
  grep -E "stat::number_of_executed_units|cov: " "$dir/fuzz/$t.log" | grep -E "DONE|number_of" | tail -n 2 || true
done
exit $status
