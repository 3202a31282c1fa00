#!/usr/bin/env bash
# Writes testdata/pare/: .pare files the runtime-only tests load (concurrency, model swaps,
# memory limits) and that later runtimes must keep reading. Needs a built pare (build/tools/pare)
# and Debian's python3-onnx. The files are committed; run this only to make them anew.
set -euo pipefail
cd "$(dirname "$0")/.."
pare=${PARE:-build/tools/pare}
out=testdata/pare
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"

# The trained Fashion-MNIST CNN: float, and int8 calibrated on testdata's 500 images.
"$pare" convert testdata/models/fmnist_cnn.onnx -o "$out/fmnist_cnn.pare" >/dev/null
"$pare" compress testdata/models/fmnist_cnn.onnx -o "$out/fmnist_cnn_int8.pare" \
  --calib testdata/data/fmnist_calib_500.npy >/dev/null

# A tiny conv net (3x3 conv, depthwise, pointwise, pool; seeded random weights), float and int8:
# cheap enough to load, verify and prepare a thousand times in a test.
/usr/bin/python3 - "$tmp" <<'PY'
import sys
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto as T
out = sys.argv[1]
rng = np.random.default_rng(0)
w = {"w": rng.standard_normal((16, 3, 3, 3)), "b": rng.standard_normal(16),
     "dw": rng.standard_normal((16, 1, 3, 3)), "pw": rng.standard_normal((16, 16, 1, 1))}
nodes = [helper.make_node("Conv", ["x", "w", "b"], ["h"], pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("Conv", ["r", "dw"], ["d"], pads=[1, 1, 1, 1], group=16),
         helper.make_node("Conv", ["d", "pw"], ["p"]),
         helper.make_node("GlobalAveragePool", ["p"], ["g"]),
         helper.make_node("Flatten", ["g"], ["y"])]
g = helper.make_graph(nodes, "tiny_conv", [helper.make_tensor_value_info("x", T.FLOAT, [1, 3, 6, 6])],
                      [helper.make_tensor_value_info("y", T.FLOAT, [1, 16])],
                      [numpy_helper.from_array(v.astype(np.float32), k) for k, v in w.items()])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
m.ir_version = 8
onnx.save(m, out + "/tiny_conv.onnx")
np.save(out + "/tiny_conv_calib.npy", rng.standard_normal((8, 3, 6, 6)).astype(np.float32))
PY
"$pare" convert "$tmp/tiny_conv.onnx" -o "$out/tiny_conv.pare" >/dev/null
"$pare" compress "$tmp/tiny_conv.onnx" -o "$out/tiny_conv_int8.pare" --calib "$tmp/tiny_conv_calib.npy" >/dev/null
ls -l "$out"
