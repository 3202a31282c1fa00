#!/usr/bin/env bash
# Installs the dependencies, builds pare and runs every test: the ctest suite (unit,
# conformance, parity, CLI, for every ISA cap), the AArch64 runtime and kernel tests under
# qemu, the installed runtime package building and running examples/classify on x86-64 and
# AArch64, the ONNX Runtime comparison on the ImageNet-size model, ONNX Runtime on pare's ONNX
# exports (float and int8 QDQ) of the trained models, the suite under AddressSanitizer and
# UndefinedBehaviorSanitizer with a short run of each fuzz target, and the concurrency tests
# under ThreadSanitizer. Each step prints its time.
set -euo pipefail
cd "$(dirname "$0")/.."
step() {
  local start=$SECONDS
  "$@"
  echo "== step '$*' took $((SECONDS - start)) s"
}
step scripts/install_deps.sh
step scripts/build.sh
step bash -c 'cd build && ctest --output-on-failure -j2 --timeout 1500'
step scripts/test_aarch64.sh
step scripts/test_embedding.sh
step scripts/compare_ort_224.sh
step scripts/test_export_ort.sh
step scripts/test_sanitize.sh
step scripts/test_tsan.sh
echo "== all tests passed in $SECONDS s"
