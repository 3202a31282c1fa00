#!/usr/bin/env bash
# Configures build-asan/: clang with AddressSanitizer and UndefinedBehaviorSanitizer, plus
# libFuzzer's coverage instrumentation, so that one build serves the sanitizer test suite
# (scripts/test_sanitize.sh) and the fuzz targets (scripts/fuzz.sh). TorchScript import is left
# out (LibTorch is large to compile against and is not sanitizer-built itself) unless
# -DPARE_WITH_TORCH=ON is passed; PARE_ASAN_DIR names another build folder for that.
set -euo pipefail
cd "$(dirname "$0")/.."
# Ninja (where the folder is new) keeps both cores busy across targets; Make waits for each
# target's libraries before compiling its sources.
export CMAKE_GENERATOR=${CMAKE_GENERATOR:-Ninja}
scripts/install_deps.sh
CC=clang CXX=clang++ cmake -S . -B "${PARE_ASAN_DIR:-build-asan}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPARE_SANITIZE=ON -DPARE_FUZZ=ON \
  -DPARE_WITH_TORCH=OFF -DPARE_BUILD_BENCHMARKS=OFF "$@" >/dev/null
