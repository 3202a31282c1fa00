#!/usr/bin/env bash
# Configures and builds pare (Release) in build/. Extra arguments go to cmake.
# The compiler's output goes to build/build.log and is shown when the build fails.
set -euo pipefail
cd "$(dirname "$0")/.."
# Ninja (where the folder is new) keeps both cores busy across targets; Make waits for each
# target's libraries before compiling its sources.
export CMAKE_GENERATOR=${CMAKE_GENERATOR:-Ninja}
mkdir -p build
echo "building pare in build/ (log: build/build.log)"
if ! { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" && cmake --build build -j2; } > build/build.log 2>&1; then
  tail -n 60 build/build.log
  echo "build failed; full log: build/build.log" >&2
  exit 1
fi
