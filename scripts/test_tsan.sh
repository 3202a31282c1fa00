#!/usr/bin/env bash
# Builds the runtime and its concurrency tests with ThreadSanitizer in build-tsan/ and runs
# them: one model shared by interpreters on many threads, models swapped 1,000 times while
# inferences run, the thread pool. Any data race fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
# Ninja (where the folder is new) keeps both cores busy across targets; Make waits for each
# target's libraries before compiling its sources.
export CMAKE_GENERATOR=${CMAKE_GENERATOR:-Ninja}
scripts/install_deps.sh
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPARE_TSAN=ON -DPARE_BUILD_TOOLCHAIN=OFF \
  -DPARE_BUILD_BENCHMARKS=OFF >/dev/null
targets=(concurrency_test thread_pool_test)
cmake --build build-tsan -j2 --target "${targets[@]}" >build-tsan/build.log 2>&1 || { tail -n 60 build-tsan/build.log; exit 1; }
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
for t in "${targets[@]}"; do
  echo "== $t (ThreadSanitizer)"
  "build-tsan/tests/$t"
done
