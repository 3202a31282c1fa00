#!/usr/bin/env bash
# pare's main job on a bundled model: compress the trained MobileNetV2 from testdata/ to int8
# with the 500 bundled calibration images (printing the per-layer report), then evaluate the
# float and the int8 model on the 2,000 bundled test images and print accuracy and sizes; then
# the smallest file within 1 point of top-1 on those images (a budget, back-off from the
# aggressive preset), with its HTML report.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh

model=testdata/models/fmnist_mobilenet_v2.onnx
data=testdata/data
out=build/demo
mkdir -p "$out"
echo
echo "== pare compress $model --calib $data/fmnist_calib_500.npy"
build/tools/pare compress "$model" -o "$out/fmnist_mobilenet_v2.int8.pare" \
  --calib "$data/fmnist_calib_500.npy" --report "$out/fmnist_mobilenet_v2.int8.json"
build/tools/pare convert "$model" -o "$out/fmnist_mobilenet_v2.pare" > /dev/null
echo
for kind in "" .int8; do
  echo "== pare eval fmnist_mobilenet_v2$kind.pare on $data/fmnist_test_2000.npy"
  build/tools/pare eval "$out/fmnist_mobilenet_v2$kind.pare" \
    --data "$data/fmnist_test_2000.npy" --labels "$data/fmnist_test_2000_labels.npy"
done
echo
printf 'sizes: %s.onnx %d bytes -> float .pare %d bytes, int8 .pare %d bytes (report: %s)\n' \
  "$(basename "$model" .onnx)" "$(stat -c %s "$model")" "$(stat -c %s "$out/fmnist_mobilenet_v2.pare")" \
  "$(stat -c %s "$out/fmnist_mobilenet_v2.int8.pare")" "$out/fmnist_mobilenet_v2.int8.json"
echo
echo "== pare compress $model --check-data $data/fmnist_test_2000.npy --max-top1-drop 1 (the smallest file that fits)"
build/tools/pare compress "$model" -o "$out/fmnist_mobilenet_v2.small.pare" --calib "$data/fmnist_calib_500.npy" \
  --check-data "$data/fmnist_test_2000.npy" --labels "$data/fmnist_test_2000_labels.npy" --max-top1-drop 1 \
  --report "$out/fmnist_mobilenet_v2.small.json" --html "$out/fmnist_mobilenet_v2.small.html" | grep -v '^    '
printf 'smallest within 1 point: %d bytes (%s)\n' "$(stat -c %s "$out/fmnist_mobilenet_v2.small.pare")" \
  "$out/fmnist_mobilenet_v2.small.html"
