"""The Python module against the command line and the reference outputs in testdata."""
import json
import os
import subprocess

import numpy as np
import pytest

import pare

TESTDATA = os.environ.get("PARE_TESTDATA_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "testdata"))
PARE_BINARY = os.environ.get("PARE_BINARY")
CNN_ONNX = os.path.join(TESTDATA, "models", "fmnist_cnn.onnx")
IMAGES = np.load(os.path.join(TESTDATA, "data", "fmnist_test_2000.npy"))
LABELS = np.load(os.path.join(TESTDATA, "data", "fmnist_test_2000_labels.npy"))
ORT_LOGITS = np.load(os.path.join(TESTDATA, "models", "fmnist_cnn.ort_logits_first2000.npy"))


def test_convert_then_run_matches_onnx_runtime(tmp_path):
    out = tmp_path / "cnn.pare"
    pare.convert(CNN_ONNX, out)
    model = pare.Model(str(out))
    assert [(name, shape) for name, shape, _ in model.inputs] == [("image", (1, 1, 28, 28))]
    assert model.inputs[0][2] == np.float32
    output_name = model.outputs[0][0]
    for i in range(20):
        logits = model.run({"image": IMAGES[i:i + 1]})[output_name]
        assert logits.shape == (1, 10) and logits.dtype == np.float32
        np.testing.assert_allclose(logits[0], ORT_LOGITS[i], atol=1e-4)
    # One array for a one-input model.
    np.testing.assert_array_equal(model.run(IMAGES[:1])[output_name], model.run({"image": IMAGES[:1]})[output_name])


def test_convert_gives_the_same_bytes_as_the_command_line(tmp_path):
    if not PARE_BINARY:
        pytest.skip("PARE_BINARY is not set (ctest sets it)")
    pare.convert(CNN_ONNX, tmp_path / "py.pare")
    subprocess.run([PARE_BINARY, "convert", CNN_ONNX, "-o", str(tmp_path / "cli.pare")], check=True,
                   stdout=subprocess.DEVNULL)
    assert (tmp_path / "py.pare").read_bytes() == (tmp_path / "cli.pare").read_bytes()


def test_compress_with_numpy_calibration_returns_the_report(tmp_path):
    out = tmp_path / "cnn_int8.pare"
    report = pare.compress(CNN_ONNX, out, calib=IMAGES[:64], check_data=IMAGES[:200], labels=LABELS[:200],
                           max_top1_drop=3.0)
    assert report["budget_met"] is True
    assert out.stat().st_size < os.path.getsize(CNN_ONNX) / 2
    model = pare.Model(str(out), threads=2)
    name = model.outputs[0][0]
    logits = np.concatenate([model.run(IMAGES[i:i + 1])[name] for i in range(200)])
    accuracy = float(np.mean(np.argmax(logits, axis=1) == LABELS[:200]))
    assert accuracy > 0.85, accuracy
    assert json.dumps(report)  # plain JSON data


def test_errors_are_exceptions_with_the_command_line_messages(tmp_path):
    with pytest.raises(pare.Error) as e:
        pare.convert(tmp_path / "missing.onnx", tmp_path / "x.pare")
    assert "missing.onnx" in str(e.value)
    assert e.value.exit_code == 2
    assert not (tmp_path / "x.pare").exists()

    garbage = tmp_path / "garbage.pare"
    garbage.write_bytes(b"\x5a" * 4096)
    with pytest.raises(pare.Error, match="not a .pare file"):
        pare.Model(str(garbage))

    out = tmp_path / "cnn.pare"
    pare.convert(CNN_ONNX, out)
    model = pare.Model(str(out))
    with pytest.raises(pare.Error, match=r"takes shape \[1,1,28,28\], given \[2,1,28,28\]"):
        model.run(IMAGES[:2])
    with pytest.raises(pare.Error, match="is float32, given float64"):
        model.run(IMAGES[:1].astype(np.float64))
    with pytest.raises(pare.Error, match="no input 'pixels'"):
        model.run({"pixels": IMAGES[:1]})
    with pytest.raises(pare.Error, match="threads"):
        pare.Model(str(out), threads=0)


def test_compress_refuses_wrong_calibration_data(tmp_path):
    with pytest.raises(pare.Error) as e:
        pare.compress(CNN_ONNX, tmp_path / "x.pare", calib=np.zeros((4, 3, 28, 28), np.float32))
    assert e.value.exit_code == 2
    assert "calib" in str(e.value)
    assert not (tmp_path / "x.pare").exists()
