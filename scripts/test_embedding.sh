#!/usr/bin/env bash
# The runtime as an app gets it: installs build/ (x86-64) into build/install, builds
# examples/classify against that installed package (find_package(pare), not the source tree)
# and runs it on testdata's images; then the same for AArch64 from build-aarch64/ (made by
# scripts/test_aarch64.sh), cross-built and run under qemu. Each image's top-1 class must be
# its label (the int8 CNN classifies these four correctly).
set -euo pipefail
cd "$(dirname "$0")/.."
# Ninja (where the folder is new) keeps both cores busy across targets; Make waits for each
# target's libraries before compiling its sources.
export CMAKE_GENERATOR=${CMAKE_GENERATOR:-Ninja}
model=testdata/pare/fmnist_cnn_int8.pare
labels=testdata/images/fashion_mnist_labels.txt

run_images() {  # RUNNER...: the classify command
  for image in testdata/images/fmnist_*_label*.png; do
    expected=$(basename "$image" | sed -E 's/.*_label([0-9]+)_.*/\1/')
    out=$("$@" "$model" "$image" --labels "$labels")
    top=$(echo "$out" | head -n 1 | awk '{print $1}')
    if [ "$top" != "$expected" ]; then
      echo "classify: $image: top-1 is class $top, expected $expected:" >&2
      echo "$out" >&2
      return 1
    fi
  done
  echo "$out"
}

build_example() {  # INSTALL_PREFIX BUILD_DIR CMAKE_ARGS...
  local prefix=$1 dir=$2
  shift 2
  rm -rf "$prefix" "$dir"
  cmake --install "$(dirname "$prefix")" --prefix "$prefix" >/dev/null
  cmake -S examples/classify -B "$dir" -DCMAKE_BUILD_TYPE=Release -Dpare_DIR="$PWD/$prefix/lib/cmake/pare" "$@" \
    >"$(dirname "$prefix")/classify-build.log" 2>&1 &&
    cmake --build "$dir" -j2 >>"$(dirname "$prefix")/classify-build.log" 2>&1 ||
    { tail -n 40 "$(dirname "$prefix")/classify-build.log"; return 1; }
}

echo "== examples/classify against the installed package, x86-64"
build_example build/install build/classify
run_images build/classify/classify

echo "== examples/classify against the installed package, aarch64 under qemu"
[ -d build-aarch64 ] || scripts/test_aarch64.sh
# stb is header-only: a copy of its two headers, so the cross build sees no host include dir.
mkdir -p build-aarch64/stb_include/stb
cp /usr/include/stb/stb_image.h /usr/include/stb/stb_image_resize.h build-aarch64/stb_include/stb/
build_example build-aarch64/install build-aarch64/classify \
  -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/aarch64-linux-gnu.cmake" -DSTB_INCLUDE_DIR="$PWD/build-aarch64/stb_include"
run_images qemu-aarch64 -L /usr/aarch64-linux-gnu build-aarch64/classify/classify
echo "embedding: the installed package builds and classifies on x86-64 and aarch64"
