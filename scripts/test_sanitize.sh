#!/usr/bin/env bash
# The test suite under AddressSanitizer + UndefinedBehaviorSanitizer (clang, build-asan/,
# configured by scripts/configure_asan.sh; LibTorch is not sanitizer-built, so TorchScript
# import is left out), then each fuzz target for FUZZ_SECONDS (default 10) from its corpus.
# The parity tests check their first PARE_PARITY_IMAGES (default 100) images here.
#
#   scripts/test_sanitize.sh          the suite without the compress-pipeline tests (below)
#   scripts/test_sanitize.sh --all    every test
#
# The default leaves out the tests that run calibration, budgets and back-off end to end
# (passes_test, quantize_test, budget_cli_test, check_test, check_html_test,
# compress_cli_test, bert_cli_test, bench_cli_test: over 30 minutes under the sanitizers on
# 2 cores), the Python module test (an ASan library cannot load into an uninstrumented
# python) and the AVX2-capped reruns (the SIMD kernel files are not instrumented). What reads
# files and shapes stays in: the runtime, kernel and op tests, hostile values, the loaders,
# ONNX import and conformance, the parity tests, the CLI and bad-input tests and the fuzz
# replays. scripts/test.sh runs the default.
set -euo pipefail
cd "$(dirname "$0")/.."
exclude='^(passes_test|quantize_test|budget_cli_test|check_test|check_html_test|compress_cli_test|bert_cli_test|bench_cli_test|python_test)$|_avx2$'
[ "${1:-}" = --all ] && exclude='^$'

scripts/configure_asan.sh
# Build what the chosen tests run: a test is named after its executable (the ISA-capped
# reruns add _scalar or _avx2), and the CLI tests run the pare executable.
mapfile -t tests < <(cd build-asan && ctest -N -E "$exclude" | sed -n 's/^ *Test *#[0-9]*: //p')
mapfile -t targets < <(printf '%s\n' "${tests[@]}" | sed -E 's/_(scalar|avx2)$//' | sort -u)
cmake --build build-asan -j2 --target pare "${targets[@]}" >build-asan/build.log 2>&1 ||
  { tail -n 60 build-asan/build.log; exit 1; }

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export PARE_PARITY_IMAGES=${PARE_PARITY_IMAGES:-100}
(cd build-asan && ctest --output-on-failure -j2 --timeout 1500 -E "$exclude")
# A fixed seed: the short run in the test command is the same search each time.
FUZZ_SEED=${FUZZ_SEED:-1} scripts/fuzz.sh "${FUZZ_SECONDS:-10}"
