#!/usr/bin/python3
"""Runs pare's commands on mutated and hostile model and data files and reports every run
that does not end with exit 0 or 2 (a crash, a signal, an internal error, a time-out).

  /usr/bin/python3 scripts/mutation_sweep.py --pare build/tools/pare --work /tmp/sweep \
      [--count 300] [--seed 1] [--kinds onnx,onnx_semantic,pare,npy,pt]
  /usr/bin/python3 scripts/mutation_sweep.py --pare build/tools/pare --work /tmp/sweep \
      --corpus build-asan/fuzz/corpus

The second form runs the same commands on the inputs the fuzzers kept (their corpus folders
onnx_import, pare_model and npy): files that reach deep into the importer and the runtime,
here fed to the CLI's other commands as well. An ONNX file with one float input gets random
calibration and check data of its input's shape (compress, run, check, export-onnx); a .pare
file runs inspect, verify, ops, bench and export-onnx.

Mutations: bit flips, truncation, overwritten ranges, inserted and deleted bytes, 4/8-byte
words set to extreme values; for ONNX also structure-aware ones written with the onnx
package (attributes, initializer values and dims, input dims, op types and opsets set to
hostile values). Files that fail are kept in WORK/findings with the command and its output.
The seeds are testdata's models and data, converted where needed; nothing is written in the
repository.
"""
import argparse
import os
import random
import shutil
import struct
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTDATA = os.path.join(ROOT, "testdata")

INTERESTING_INTS = [0, 1, -1, 2, 3, 7, 255, 256, 65535, 2**31 - 1, -2**31, 2**32, 2**40, 2**62,
                    2**63 - 1, -2**63, -2, -7]
INTERESTING_FLOATS = [0.0, -0.0, 1e-45, 1e38, -1e38, float("inf"), float("-inf"), float("nan"), 1e10, -1.0]


def byte_mutation(data, rng):
    b = bytearray(data)
    if not b:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
    kind = rng.randrange(7)
    if kind == 0:  # bit flips
        for _ in range(rng.randrange(1, 9)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    elif kind == 1:  # truncate
        b = b[:rng.randrange(len(b))]
    elif kind == 2:  # overwrite a range
        i = rng.randrange(len(b))
        n = min(len(b) - i, rng.randrange(1, 256))
        fill = rng.choice([0x00, 0xFF, None])
        for k in range(i, i + n):
            b[k] = rng.randrange(256) if fill is None else fill
    elif kind == 3:  # insert bytes
        i = rng.randrange(len(b) + 1)
        b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
    elif kind == 4:  # delete bytes
        i = rng.randrange(len(b))
        del b[i:i + rng.randrange(1, 64)]
    else:  # extreme words, in the first 64 KiB (tables and headers) more often
        for _ in range(rng.randrange(1, 4)):
            span = min(len(b), 65536) if rng.random() < 0.7 else len(b)
            if span < 8:
                break
            i = rng.randrange(span - 8)
            v = rng.choice(INTERESTING_INTS)
            if rng.random() < 0.5:
                b[i:i + 4] = struct.pack("<I", v & 0xFFFFFFFF)
            else:
                b[i:i + 8] = struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)
    return bytes(b)


def onnx_semantic_mutation(path, out, rng):
    import numpy as np
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    g = m.graph
    for _ in range(rng.randrange(1, 3)):
        kind = rng.randrange(7)
        if kind == 0 and g.node:  # an attribute
            n = rng.choice(g.node)
            if n.attribute:
                a = rng.choice(n.attribute)
                if a.type == onnx.AttributeProto.INT:
                    a.i = rng.choice(INTERESTING_INTS)
                elif a.type == onnx.AttributeProto.INTS and a.ints:
                    a.ints[rng.randrange(len(a.ints))] = rng.choice(INTERESTING_INTS)
                elif a.type == onnx.AttributeProto.FLOAT:
                    a.f = rng.choice(INTERESTING_FLOATS)
                elif a.type == onnx.AttributeProto.FLOATS and a.floats:
                    a.floats[rng.randrange(len(a.floats))] = rng.choice(INTERESTING_FLOATS)
                elif a.type == onnx.AttributeProto.STRING:
                    a.s = rng.choice([b"", b"bogus", b"\xff" * 8])
        elif kind == 1 and g.initializer:  # small initializer values (shapes, pads, axes, scales)
            small = [t for t in g.initializer if np.prod(t.dims) <= 16] or list(g.initializer)
            t = rng.choice(small)
            arr = numpy_helper.to_array(t).copy()
            if arr.size:
                flat = arr.reshape(-1)
                i = rng.randrange(flat.size)
                if arr.dtype.kind == "f":
                    flat[i] = rng.choice(INTERESTING_FLOATS)
                elif arr.dtype.kind in "iu":
                    info = np.iinfo(arr.dtype)
                    flat[i] = max(info.min, min(info.max, rng.choice(INTERESTING_INTS)))
                t.CopyFrom(numpy_helper.from_array(flat.reshape(arr.shape), t.name))
        elif kind == 2 and g.initializer:  # dims that disagree with the data
            t = rng.choice(g.initializer)
            if t.dims:
                t.dims[rng.randrange(len(t.dims))] = rng.choice(INTERESTING_INTS)
        elif kind == 3 and g.input:  # graph input dims
            vi = rng.choice(g.input)
            dims = vi.type.tensor_type.shape.dim
            if dims:
                d = dims[rng.randrange(len(dims))]
                if rng.random() < 0.2:
                    d.dim_param = "n"
                else:
                    d.dim_value = rng.choice(INTERESTING_INTS)
        elif kind == 4 and g.node:  # op type
            n = rng.choice(g.node)
            n.op_type = rng.choice(["Conv", "Gemm", "Reshape", "Resize", "Pad", "Slice", "Expand", "Gather",
                                    "Concat", "Softmax", "MatMul", "Transpose", "Split", "Tile", "TopK",
                                    "NoSuchOp", "If", "Loop"])
        elif kind == 5 and g.node:  # rewire an input or drop a node
            n = rng.choice(g.node)
            if n.input and rng.random() < 0.7:
                names = [i.name for i in g.input] + [t.name for t in g.initializer] + \
                        [o for nn in g.node for o in nn.output] + ["", "missing"]
                n.input[rng.randrange(len(n.input))] = rng.choice(names)
            else:
                g.node.remove(n)
        elif kind == 6:  # opset
            if m.opset_import:
                m.opset_import[0].version = rng.choice([1, 6, 9, 10, 11, 13, 17, 18, 19, 21, 100, -1])
    onnx.save(m, out)


def run(cmd, timeout):
    t0 = time.time()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        return p.returncode, p.stderr.decode(errors="replace")[-2000:], time.time() - t0
    except subprocess.TimeoutExpired:
        return "timeout", "", time.time() - t0


def onnx_float_input(path):
    """The shape of the model's only graph input when it is float32 with known, small dims."""
    try:
        import onnx
        m = onnx.load(path)
    except Exception:
        return None
    inits = {t.name for t in m.graph.initializer}
    inputs = [i for i in m.graph.input if i.name not in inits]
    if len(inputs) != 1 or inputs[0].type.tensor_type.elem_type != 1:
        return None
    dims = [d.dim_value if d.dim_value > 0 else 1 for d in inputs[0].type.tensor_type.shape.dim]
    if not dims or any(d > 4096 for d in dims):
        return None
    n = 1
    for d in dims:
        n *= d
    return dims if n <= 1 << 20 else None


def sweep_corpus(pare, work, corpus, timeout):
    import numpy as np
    os.makedirs(os.path.join(work, "findings"), exist_ok=True)
    rng = np.random.default_rng(1)
    model = os.path.join(work, "model.onnx")
    converted, int8 = os.path.join(work, "converted.pare"), os.path.join(work, "int8.pare")
    data, out = os.path.join(work, "data.npy"), os.path.join(work, "out")
    mlp = os.path.join(work, "mlp.pare")
    subprocess.run([pare, "convert", os.path.join(TESTDATA, "models", "fmnist_mlp.onnx"), "-o", mlp], check=True,
                   stdout=subprocess.DEVNULL)

    def commands(kind, f):
        if kind == "onnx_import":
            shutil.copy(f, model)  # the teacher of check is told apart by its extension
            cmds = [[pare, "convert", model, "-o", converted]]
            dims = onnx_float_input(model)
            if dims:
                np.save(data, rng.random([3] + dims[1:], dtype=np.float32))
                cmds += [[pare, "run", converted, "--input", data, "-o", out + ".npy", "-t", "2"],
                         [pare, "export-onnx", converted, "-o", out + ".onnx"],
                         [pare, "check", converted, "--teacher", model, "--data", data],
                         [pare, "compress", model, "-o", int8, "--calib", data, "--check-data", data],
                         [pare, "bench", int8, "-n", "1", "--warmup", "0"],
                         [pare, "export-onnx", int8, "-o", out + ".onnx"]]
            return cmds
        if kind == "pare_model":
            return [[pare, "inspect", f], [pare, "verify", f], [pare, "ops", f],
                    [pare, "bench", f, "-n", "1", "--warmup", "0", "--max-memory", "1G"],
                    [pare, "export-onnx", f, "-o", out + ".onnx"]]
        shutil.copy(f, data)
        return [[pare, "run", mlp, "--input", data, "-o", out + ".npy"],
                [pare, "eval", mlp, "--data", data, "--labels", data],
                [pare, "compress", os.path.join(TESTDATA, "models", "fmnist_mlp.onnx"), "-o", int8, "--calib", data]]

    bad = 0
    for kind in ("onnx_import", "pare_model", "npy"):
        folder = os.path.join(corpus, kind)
        if not os.path.isdir(folder):
            continue
        codes, slowest = {}, 0.0
        for name in sorted(os.listdir(folder)):
            f = os.path.join(folder, name)
            for cmd in commands(kind, f):
                # A command whose input an earlier one did not write is not a case.
                if any(a in (converted, int8) and not os.path.exists(a) for a in cmd[2:3]):
                    continue
                code, err, secs = run(cmd, timeout)
                slowest = max(slowest, secs)
                codes[(cmd[1], code)] = codes.get((cmd[1], code), 0) + 1
                if code not in (0, 2, 3):
                    bad += 1
                    keep = os.path.join(work, "findings", "%s_%s" % (kind, name))
                    shutil.copy(f, keep)
                    print("FINDING %s: exit %s: %s\n  %s" % (keep, code, " ".join(cmd[1:3]), err.strip()[-400:]))
            for p in (converted, int8):
                if os.path.exists(p):
                    os.remove(p)
        print("%s: %s (slowest run %.1f s)" % (kind, dict(sorted(codes.items(), key=str)), slowest), flush=True)
    print("findings: %d" % bad)
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pare", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--count", type=int, default=300, help="mutations per kind")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--kinds", default="onnx,onnx_semantic,pare,npy,pt")
    ap.add_argument("--corpus", help="a fuzz corpus root (with onnx_import, pare_model, npy): run its files instead")
    args = ap.parse_args()
    if args.corpus:
        return sweep_corpus(os.path.abspath(args.pare), os.path.abspath(args.work), args.corpus, args.timeout)
    rng = random.Random(args.seed)
    pare = os.path.abspath(args.pare)
    work = os.path.abspath(args.work)
    findings = os.path.join(work, "findings")
    os.makedirs(findings, exist_ok=True)
    models = os.path.join(TESTDATA, "models")
    images = os.path.join(TESTDATA, "data", "fmnist_test_2000.npy")

    # Seeds made from testdata: .pare files and small input arrays.
    import numpy as np
    x1 = os.path.join(work, "x1.npy")
    np.save(x1, np.load(images)[:1])
    calib = os.path.join(work, "calib.npy")
    np.save(calib, np.load(images)[:32])
    cnn = os.path.join(models, "fmnist_cnn.onnx")
    cnn_pare = os.path.join(work, "cnn.pare")
    cnn_int8 = os.path.join(work, "cnn_int8.pare")
    subprocess.run([pare, "convert", cnn, "-o", cnn_pare], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([pare, "compress", cnn, "-o", cnn_int8, "--calib", calib], check=True,
                   stdout=subprocess.DEVNULL)
    onnx_seeds = [os.path.join(models, f) for f in ("fmnist_cnn.onnx", "fmnist_vit.onnx", "bert_tiny.onnx",
                                                     "fmnist_mobilenet_v3_small.onnx")]
    out_pare = os.path.join(work, "out.pare")
    out_npy = os.path.join(work, "out.npy")

    def commands(kind, f, seed):
        if kind in ("onnx", "onnx_semantic"):
            shape = ["--input-shape", "input_ids:1x64", "--input-shape", "attention_mask:1x64"] \
                if "bert" in seed else []
            if "bert" in seed:
                return [[pare, "convert", f, "-o", out_pare] + shape]
            # compress runs the graph (calibration) and the int8 rewrite on what the import
            # accepted, then the teacher/student check.
            return [[pare, "convert", f, "-o", out_pare],
                    [pare, "compress", f, "-o", out_pare, "--calib", calib, "--check-data", x1]]
        if kind == "pare":
            return [[pare, "inspect", f], [pare, "verify", f],
                    [pare, "run", f, "--input", x1, "-o", out_npy]]
        if kind == "npy":
            return [[pare, "run", cnn_pare, "--input", f, "-o", out_npy],
                    [pare, "compress", cnn, "-o", out_pare, "--calib", f]]
        if kind == "pt":
            return [[pare, "convert", f, "-o", out_pare, "--input-shape", "x:1x1x28x28"]]
        return []

    seeds = {
        "onnx": onnx_seeds,
        "onnx_semantic": onnx_seeds,
        "pare": [cnn_pare, cnn_int8] + [os.path.join(TESTDATA, "pare", f) for f in
                                        sorted(os.listdir(os.path.join(TESTDATA, "pare")))
                                        if f.endswith(".pare")] if os.path.isdir(os.path.join(TESTDATA, "pare")) else [cnn_pare, cnn_int8],
        "npy": [x1, calib],
        "pt": [],
    }
    if "pt" in args.kinds:
        pt = os.path.join(work, "cnn.pt")
        made = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "make_torchscript_models.py"),
                               work, "--only", "fmnist_cnn"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        cands = [os.path.join(work, f) for f in os.listdir(work) if f.endswith(".pt")]
        if cands:
            seeds["pt"] = cands[:1]
        else:
            print("pt: no TorchScript seed made (%s)" % made.stderr.decode()[-300:], file=sys.stderr)

    totals = {}
    bad = 0
    for kind in [k for k in args.kinds.split(",") if seeds.get(k)]:
        codes = {}
        slowest = 0.0
        for n in range(args.count):
            seed = rng.choice(seeds[kind])
            ext = os.path.splitext(seed)[1]
            f = os.path.join(work, "mut_%s%s" % (kind, ext))
            if kind == "onnx_semantic":
                try:
                    onnx_semantic_mutation(seed, f, rng)
                except Exception as e:  # the onnx package refused to write it: not a case
                    continue
            else:
                with open(seed, "rb") as s:
                    data = s.read()
                with open(f, "wb") as o:
                    o.write(byte_mutation(data, rng))
            for cmd in commands(kind, f, seed):
                code, err, secs = run(cmd, args.timeout)
                slowest = max(slowest, secs)
                codes[code] = codes.get(code, 0) + 1
                if code not in (0, 2):
                    bad += 1
                    keep = os.path.join(findings, "%s_%04d%s" % (kind, n, ext))
                    shutil.copy(f, keep)
                    with open(keep + ".txt", "w") as t:
                        t.write("command: %s\nexit: %s\n%s\n" % (" ".join(cmd), code, err))
                    print("FINDING %s: exit %s: %s\n  %s" % (keep, code, " ".join(cmd[1:3]), err.strip()[-400:]))
        totals[kind] = (codes, slowest)
        print("%s: %s (slowest run %.1f s)" % (kind, dict(sorted(codes.items(), key=str)), slowest), flush=True)
    print("findings: %d" % bad)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
