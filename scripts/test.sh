#!/usr/bin/env bash
# Installs the dependencies, builds pare and runs every test: the ctest suite (unit,
# conformance, parity, CLI, for every ISA cap), the AArch64 runtime and kernel tests under
# qemu, and the ONNX Runtime comparison on the ImageNet-size model.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
(cd build && ctest --output-on-failure -j2 --timeout 1500)
scripts/test_aarch64.sh
scripts/compare_ort_224.sh
