#!/usr/bin/env bash
# Installs the Debian 12 packages pare builds and tests with (run as root; idempotent).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libonnx-dev libprotobuf-dev protobuf-compiler
  libflatbuffers-dev flatbuffers-compiler
  libcli11-dev libfmt-dev libboost-graph-dev nlohmann-json3-dev zlib1g-dev libeigen3-dev
  libgtest-dev libgmock-dev libbenchmark-dev libstb-dev
  libonnx-testdata
  # TorchScript import (formats/torchscript) links LibTorch; its tests trace models with the
  # matching Python torch and torchvision.
  libtorch-dev python3-torch python3-torchvision python3-numpy python3-onnx
  # LibTorch's BLAS: without an optimized one, Debian's alternatives pick the reference BLAS,
  # on which LibTorch runs the test models' Linear and MatMul layers about 25x slower.
  libopenblas0-pthread
  # The HTML report's test renders the page in a headless browser (tests/check_html_test.cc).
  chromium
  # AArch64 cross build (scripts/test_aarch64.sh): googletest ships the sources it builds.
  g++-aarch64-linux-gnu qemu-user googletest
  # The Python module (python/) and its tests.
  pybind11-dev python3-pybind11 python3-pytest
  # The sanitizer suite and the fuzz targets (scripts/test_sanitize.sh, scripts/fuzz.sh):
  # clang with its sanitizer and libFuzzer runtimes.
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm runs ONNX Runtime, the reference peer of the comparison scripts.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
