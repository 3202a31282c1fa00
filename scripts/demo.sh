#!/usr/bin/env bash
# pare's main job on a bundled model: convert the trained MobileNetV2 from testdata/,
# run it on the 2,000 bundled test images, print accuracy and sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh

model=testdata/models/fmnist_mobilenet_v2.onnx
out=build/demo
mkdir -p "$out"
echo
echo "== pare convert $model"
build/tools/pare convert "$model" -o "$out/fmnist_mobilenet_v2.pare"
echo
echo "== pare inspect (summary)"
build/tools/pare inspect "$out/fmnist_mobilenet_v2.pare" | tail -n 6
echo
echo "== pare eval on testdata/data/fmnist_test_2000.npy"
build/tools/pare eval "$out/fmnist_mobilenet_v2.pare" \
  --data testdata/data/fmnist_test_2000.npy --labels testdata/data/fmnist_test_2000_labels.npy
echo
printf 'sizes: %s.onnx %d bytes -> .pare %d bytes\n' "$(basename "$model" .onnx)" \
  "$(stat -c %s "$model")" "$(stat -c %s "$out/fmnist_mobilenet_v2.pare")"
