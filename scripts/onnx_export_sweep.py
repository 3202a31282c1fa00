"""Exports torchvision classification models with torch.onnx.export at the given opsets
(random weights), converts each with pare and compares pare's output with torch's on one
random input: a check of ONNX patterns beyond the files in testdata.

Usage: /usr/bin/python3 scripts/onnx_export_sweep.py [ARCH:SIZE:OPSET ...]
(default: the set in docs/ops.md). Needs build/tools/pare; works in a temporary folder."""
import os, subprocess, sys, tempfile, warnings
import numpy as np
import torch, torchvision

warnings.filterwarnings("ignore")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
P = os.environ.get("PARE", os.path.join(ROOT, "build", "tools", "pare"))
DEFAULT = ["%s:%d:%d" % (a, s, o) for a, s in [
    ("resnet18", 64), ("resnet50", 64), ("mobilenet_v2", 64), ("mobilenet_v3_small", 64), ("mobilenet_v3_large", 64),
    ("efficientnet_b0", 64), ("efficientnet_v2_s", 64), ("squeezenet1_1", 64), ("shufflenet_v2_x1_0", 64),
    ("mnasnet0_5", 64), ("regnet_y_400mf", 64), ("regnet_x_400mf", 64), ("convnext_tiny", 64),
    ("densenet121", 64), ("googlenet", 64), ("inception_v3", 96), ("swin_t", 64), ("vit_b_16", 224),
    ("maxvit_t", 224)] for o in (11, 13, 17)]
os.chdir(tempfile.mkdtemp(prefix="pare-sweep-"))
torch.manual_seed(0)
failures = 0
for spec in sys.argv[1:] or DEFAULT:
    n, s, opset = spec.split(':'); s = int(s); opset = int(opset)
    kw = dict(num_classes=10)
    if n in ('googlenet','inception_v3'): kw.update(aux_logits=False, init_weights=True)
    m = getattr(torchvision.models, n)(**kw).eval()
    # torchvision zero-initialises some heads and biases and leaves batch norms at identity,
    # which would hide errors: give every parameter and statistic random values.
    with torch.no_grad():
        for name, t in list(m.named_parameters()) + list(m.named_buffers()):
            if not t.is_floating_point():
                continue
            if name.endswith("running_var"):
                t.uniform_(0.5, 1.5)
            elif t.abs().max() == 0 or name.endswith(("running_mean", "bias")) or t.dim() == 1:
                t.normal_(0, 0.1)
    x = torch.randn(1,3,s,s)
    f = "%s_%d.onnx" % (n, opset)
    try:
        torch.onnx.export(m, x, f, opset_version=opset, input_names=["x"], output_names=["y"])
    except Exception as e:
        print(spec, "not exportable by torch:", str(e).splitlines()[0][:100], flush=True); continue
    with torch.no_grad(): y = m(x).numpy()
    np.save("in.npy", x.numpy())
    r = subprocess.run([P, "convert", f, "-o", "m.pare"], capture_output=True, text=True)
    if r.returncode:
        print(spec, "convert failed", r.returncode, r.stderr[:300], flush=True); failures += 1; continue
    r = subprocess.run([P, "run", "m.pare", "--input", "in.npy", "--output", "out.npy"], capture_output=True, text=True)
    if r.returncode:
        print(spec, "run failed", r.returncode, r.stderr[:300], flush=True); failures += 1; continue
    o = np.load("out.npy").reshape(y.shape)
    d = np.abs(o - y).max() / max(1, np.abs(y).max())
    failures += d > 1e-4
    print(spec, "max |diff| / max(1, max |torch|) %.3g" % d, flush=True)
    for f_ in (f, "m.pare"): os.remove(f_)
sys.exit(1 if failures else 0)
