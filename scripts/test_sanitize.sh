#!/usr/bin/env bash
# The test suite under AddressSanitizer + UndefinedBehaviorSanitizer (clang, build-asan/,
# configured by scripts/configure_asan.sh; LibTorch is not sanitizer-built, so TorchScript
# import is left out), then each fuzz target for FUZZ_SECONDS (default 20) from its corpus.
# The parity tests check their first PARE_PARITY_IMAGES (default 300) images here.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/configure_asan.sh
cmake --build build-asan -j2 >build-asan/build.log 2>&1 || { tail -n 60 build-asan/build.log; exit 1; }
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export PARE_PARITY_IMAGES=${PARE_PARITY_IMAGES:-300}
(cd build-asan && ctest --output-on-failure -j2 --timeout 1500)
scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
