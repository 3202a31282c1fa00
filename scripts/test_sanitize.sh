#!/usr/bin/env bash
# Builds the tests with AddressSanitizer + UndefinedBehaviorSanitizer in build-asan/ and
# runs them (the 2,000-image parity test is left to scripts/test.sh: it is slow here).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
# LibTorch is not built with the sanitizers, so the TorchScript import is left out here.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPARE_SANITIZE=ON -DPARE_WITH_TORCH=OFF \
  -DPARE_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build-asan -j2 >build-asan.log 2>&1 || { tail -n 60 build-asan.log; exit 1; }
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
(cd build-asan && ctest --output-on-failure -j2 -E model_parity)
