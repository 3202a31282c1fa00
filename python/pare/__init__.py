"""pare from Python: convert and compress models, run .pare files on numpy arrays.

    import pare
    pare.convert("model.onnx", "model.pare")
    report = pare.compress("model.onnx", "model_int8.pare", calib=images)   # images: numpy array
    model = pare.Model("model_int8.pare")
    logits = model.run(images[:1])["logits"]

Every function runs the same code as the `pare` command line, and raises pare.Error with the
same message (its exit_code attribute is the exit code the command would give).
"""
import json
import os
import tempfile

import numpy as np

from ._pare import Error, Model, cli, version

__all__ = ["Error", "Model", "convert", "compress", "version"]
__version__ = version()


def _shape_args(input_shapes):
    args = []
    for name, dims in (input_shapes or {}).items():
        args += ["--input-shape", name + ":" + "x".join(str(int(d)) for d in dims)]
    return args


def _save_arrays(folder, stem, data):
    """Writes an array (or a dict of arrays by input name) for the command line; returns the path."""
    if isinstance(data, dict):
        path = os.path.join(folder, stem + ".npz")
        np.savez(path, **{name: np.ascontiguousarray(a) for name, a in data.items()})
    else:
        path = os.path.join(folder, stem + ".npy")
        np.save(path, np.ascontiguousarray(data))
    return path


def convert(source, output, input_shapes=None):
    """Converts an ONNX or TorchScript model to .pare (the canonical passes only).

    input_shapes: {input name: dims} for inputs whose shape the file leaves open (TorchScript
    files need every input's shape).
    """
    cli(["convert", os.fspath(source), "-o", os.fspath(output)] + _shape_args(input_shapes))


def compress(source, output, calib, passes=None, check_data=None, labels=None, max_top1_drop=None,
             on_fail=None, input_shapes=None):
    """Compresses a model to .pare with int8 quantization calibrated on `calib` (a numpy array
    of inputs stacked on the first axis, or a dict of them by input name); `passes` picks
    another pipeline (as `pare compress --passes`). With check_data (and labels), the student
    is checked against the original model and max_top1_drop (points) is enforced.

    Returns the report as a dict (the JSON of `pare compress --report`), with "budget_met"
    False when a budget was not met and on_fail was not "backoff".
    """
    with tempfile.TemporaryDirectory(prefix="pare-") as folder:
        report_path = os.path.join(folder, "report.json")
        args = ["compress", os.fspath(source), "-o", os.fspath(output), "--quiet", "--report", report_path,
                "--calib", _save_arrays(folder, "calib", calib)] + _shape_args(input_shapes)
        if passes is not None:
            args += ["--passes", passes]
        if check_data is not None:
            args += ["--check-data", _save_arrays(folder, "check", check_data)]
        if labels is not None:
            args += ["--labels", _save_arrays(folder, "labels", np.asarray(labels))]
        if max_top1_drop is not None:
            args += ["--max-top1-drop", str(max_top1_drop)]
        if on_fail is not None:
            args += ["--on-fail", on_fail]
        code = cli(args)
        with open(report_path) as f:
            report = json.load(f)
        report["budget_met"] = code == 0
        return report
