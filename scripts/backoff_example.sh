#!/usr/bin/env bash
# docs/examples/backoff_example.{json,html}: MobileNetV3-Small through an aggressive pipeline
# (3-bit palettes by k-means alone, int8) that breaks a 0.5-point top-1 budget on the 2,000
# bundled test images, backed off until the budget holds. Prints the run's time.
set -euo pipefail
cd "$(dirname "$0")/.."
pare=${PARE:-build/tools/pare}
data=testdata/data
out=build/backoff_example
mkdir -p "$out" docs/examples
start=$(date +%s.%N)
"$pare" compress testdata/models/fmnist_mobilenet_v3_small.onnx -o "$out/fmnist_mobilenet_v3_small.pare" \
  --calib "$data/fmnist_calib_500.npy" \
  --passes 'fold,fold_batchnorm,fuse_activation,remove_identity,cluster(bits=3,update=none),nhwc,dce,quantize,dce' \
  --check-data "$data/fmnist_test_2000.npy" --labels "$data/fmnist_test_2000_labels.npy" --max-top1-drop 0.5 \
  --report docs/examples/backoff_example.json --html docs/examples/backoff_example.html
printf 'wall time %.1f s\n' "$(echo "$(date +%s.%N) - $start" | bc -l)"
