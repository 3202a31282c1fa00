#!/usr/bin/env bash
# Installs the dependencies, builds pare and runs every test: the ctest suite (unit,
# conformance, parity, CLI) and the ONNX Runtime comparison on the ImageNet-size model.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
(cd build && ctest --output-on-failure -j2 --timeout 1500)
scripts/compare_ort_224.sh
