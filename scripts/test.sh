#!/usr/bin/env bash
# Installs the dependencies, builds pare and runs every test: the ctest suite (unit,
# conformance, parity, CLI, for every ISA cap), the AArch64 runtime and kernel tests under
# qemu, the ONNX Runtime comparison on the ImageNet-size model, and ONNX Runtime on
# pare's ONNX exports (float and int8 QDQ) of the trained models.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
(cd build && ctest --output-on-failure -j2 --timeout 1500)
scripts/test_aarch64.sh
scripts/compare_ort_224.sh
scripts/test_export_ort.sh
