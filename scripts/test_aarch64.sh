#!/usr/bin/env bash
# Cross-builds the runtime and its runtime-only tests for AArch64 in build-aarch64/ (or
# $PARE_AARCH64_BUILD_DIR) and runs them under qemu-aarch64 twice: with qemu's default CPU
# (NEON + dotprod) and with the kernels capped to scalar (PARE_ISA=scalar). The capped run
# leaves out the kernel tests (they test every variant the CPU runs, scalar ones included,
# whatever the cap: the same run twice) and the concurrency stress test (its subject is the
# sharing, not the kernels; ThreadSanitizer runs it on x86-64).
# The compiler's output goes to build-aarch64/build.log and is shown when the build fails.
set -euo pipefail
cd "$(dirname "$0")/.."
# Ninja (where the folder is new) keeps both cores busy across targets; Make waits for each
# target's libraries before compiling its sources.
export CMAKE_GENERATOR=${CMAKE_GENERATOR:-Ninja}
scripts/install_deps.sh
build=${PARE_AARCH64_BUILD_DIR:-build-aarch64}
mkdir -p "$build"

echo "cross-building the runtime and its tests for aarch64 in $build/ (log: $build/build.log)"
# Without the toolchain and the benchmarks, the default target is exactly libpare_runtime,
# its tests and GoogleTest.
if ! { cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release \
         -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/aarch64-linux-gnu.cmake" \
         -DPARE_BUILD_TOOLCHAIN=OFF -DPARE_BUILD_BENCHMARKS=OFF &&
       cmake --build "$build" -j2; } > "$build/build.log" 2>&1; then
  tail -n 60 "$build/build.log"
  echo "aarch64 build failed; full log: $build/build.log" >&2
  exit 1
fi

failed=0
run_ctest() {
  echo
  echo "== ctest under qemu-aarch64: $1"
  (cd "$build" && ctest --output-on-failure -j2 --timeout 900 "${@:2}") || failed=1
}
# qemu-user passes the environment through to the emulated process.
run_ctest "default CPU (NEON + dotprod)"
PARE_ISA=scalar run_ctest "PARE_ISA=scalar" -E '^(kernel_.*|concurrency_test)$'

echo
echo "aarch64 tests: $([ "$failed" -eq 0 ] && echo passed || echo FAILED) in ${SECONDS}s"
exit "$failed"
