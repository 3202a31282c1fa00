#!/usr/bin/python3
"""Writes ONNX graphs of many nodes or outputs, small files that a converter must handle in
about linear time (docs/reliability.md, "Graphs of many nodes").

  scripts/hostile_graphs.py KIND N OUT.onnx [CALIB.npy]

KIND:
  split_outputs       a Conv, then a Split into N graph outputs
  split_maxpool       a Conv to N channels, Split into N, a MaxPool on each
  split_conv_relu     the same with a Conv + Relu on each (one shared 1x1 weight)
  split_conv_bn       the same with a Conv + BatchNormalization on each (one shared weight)
  split_conv_distinct a Conv to 4N channels, Split into N, a 3x3 Conv (its own weight,
                      8 x 4 x 3 x 3) + Relu on each, concatenated: N prunable layers
  split_conv_pairs    as split_conv_distinct, each branch's Relu then read by a 1x1 Conv of
                      its own (8 -> 4 channels): N channel groups for prune_channels
  split_layernorm     an input [1, N, 8] Split into N rows, each normalized by the nine nodes
                      of a LayerNormalization before opset 17, concatenated (fuse_layernorm)
  split_gelu          the same rows, each through the five nodes of an exact Gelu (the
                      Gelu matcher of fuse_activation), concatenated
CALIB.npy: 4 random calibration samples for the graph's input.
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def build(kind, n, rng):
    nodes, inits, outputs = [], [], []

    def init(name, array):
        inits.append(numpy_helper.from_array(array.astype(np.float32), name))

    if kind in ("split_layernorm", "split_gelu"):
        init("two", np.array(2.0))
        init("eps", np.array(1e-5))
        init("sqrt2", np.array(np.sqrt(2.0)))
        init("one", np.array(1.0))
        init("half", np.array(0.5))
        init("gamma", rng.random(8))
        init("beta", rng.random(8))
        inits.append(numpy_helper.from_array(np.array([-1], dtype=np.int64), "last"))
        parts = [f"s{i}" for i in range(n)]
        nodes.append(helper.make_node("Split", ["x"], parts, axis=1))
        for i, x in enumerate(parts):
            def t(name):
                return f"{name}{i}"
            if kind == "split_layernorm":
                nodes += [
                    helper.make_node("ReduceMean", [x], [t("m")], axes=[-1]),
                    helper.make_node("Sub", [x, t("m")], [t("d")]),
                    helper.make_node("Pow", [t("d"), "two"], [t("q")]),
                    helper.make_node("ReduceMean", [t("q")], [t("v")], axes=[-1]),
                    helper.make_node("Add", [t("v"), "eps"], [t("ve")]),
                    helper.make_node("Sqrt", [t("ve")], [t("sd")]),
                    helper.make_node("Div", [t("d"), t("sd")], [t("n")]),
                    helper.make_node("Mul", [t("n"), "gamma"], [t("g")]),
                    helper.make_node("Add", [t("g"), "beta"], [t("y")]),
                ]
            else:
                nodes += [
                    helper.make_node("Div", [x, "sqrt2"], [t("h")]),
                    helper.make_node("Erf", [t("h")], [t("e")]),
                    helper.make_node("Add", [t("e"), "one"], [t("a")]),
                    helper.make_node("Mul", [x, t("a")], [t("p")]),
                    helper.make_node("Mul", [t("p"), "half"], [t("y")]),
                ]
            outputs.append(t("y"))
        nodes.append(helper.make_node("Concat", outputs, ["y"], axis=1))
        return [1, n, 8], nodes, inits, ["y"]

    if kind == "split_outputs":
        shape = [1, 1, 4, n]
        init("w", rng.random((2, 1, 1, 1)))
        nodes.append(helper.make_node("Conv", ["x", "w"], ["c"]))
        names = [f"y{i}" for i in range(n)]
        nodes.append(helper.make_node("Split", ["c"], names, axis=3))
        return shape, nodes, inits, names
    distinct = kind in ("split_conv_distinct", "split_conv_pairs")
    channels = 4 if distinct else 1
    shape = [1, 3 if distinct else 1, 4, 4]
    init("w", rng.random((n * channels, shape[1], 1, 1)))
    nodes.append(helper.make_node("Conv", ["x", "w"], ["c"]))
    parts = [f"s{i}" for i in range(n)]
    if channels == 1:
        nodes.append(helper.make_node("Split", ["c"], parts, axis=1))
    else:
        inits.append(numpy_helper.from_array(np.full(n, channels, dtype=np.int64), "splits"))
        nodes.append(helper.make_node("Split", ["c", "splits"], parts, axis=1))
    if kind in ("split_conv_relu", "split_conv_bn"):
        init("w1", rng.random((1, 1, 1, 1)))
    if kind == "split_conv_bn":
        for name in ("sc", "bi", "mu"):
            init(name, rng.random(1))
        init("va", rng.random(1) + 0.5)
    for i, part in enumerate(parts):
        y = f"y{i}"
        if kind == "split_maxpool":
            nodes.append(helper.make_node("MaxPool", [part], [y], kernel_shape=[2, 2]))
        elif kind == "split_conv_relu":
            nodes.append(helper.make_node("Conv", [part, "w1"], [f"c{i}"]))
            nodes.append(helper.make_node("Relu", [f"c{i}"], [y]))
        elif kind == "split_conv_bn":
            nodes.append(helper.make_node("Conv", [part, "w1"], [f"c{i}"]))
            nodes.append(helper.make_node("BatchNormalization", [f"c{i}", "sc", "bi", "mu", "va"], [y]))
        elif distinct:
            init(f"w{i + 1}", rng.random((8, channels, 3, 3)))
            nodes.append(helper.make_node("Conv", [part, f"w{i + 1}"], [f"c{i}"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
            if kind == "split_conv_pairs":
                init(f"v{i + 1}", rng.random((4, 8, 1, 1)) - 0.5)
                nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"]))
                nodes.append(helper.make_node("Conv", [f"r{i}", f"v{i + 1}"], [y]))
            else:
                nodes.append(helper.make_node("Relu", [f"c{i}"], [y]))
        else:
            sys.exit(f"unknown kind {kind}")
        outputs.append(y)
    if distinct:
        nodes.append(helper.make_node("Concat", outputs, ["y"], axis=1))
        outputs = ["y"]
    return shape, nodes, inits, outputs


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    kind, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    rng = np.random.default_rng(0)
    shape, nodes, inits, outputs = build(kind, n, rng)
    graph = helper.make_graph(nodes, kind, [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info(y, TensorProto.FLOAT, None) for y in outputs], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, out)
    if len(sys.argv) == 5:
        np.save(sys.argv[4], rng.random([4] + shape[1:]).astype(np.float32))


if __name__ == "__main__":
    main()
