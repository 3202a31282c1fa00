"""Exports torchvision classification models to ONNX for speed comparisons beyond testdata:
random weights with random batch-norm statistics and biases (as onnx_export_sweep.py makes
them), 1000 classes, a 1x3x224x224 input (299 for Inception-v3), opset 13.

Usage: /usr/bin/python3 scripts/export_torchvision_models.py OUT_DIR ARCH [ARCH ...]
e.g.   /usr/bin/python3 scripts/export_torchvision_models.py /tmp/arch resnet18 squeezenet1_1
then   scripts/bench_vs_ort.sh [--int8] OUT_DIR/*.onnx"""
import os, sys, warnings
import torch, torchvision

warnings.filterwarnings("ignore")
if len(sys.argv) < 3:
    sys.exit(__doc__)
out_dir = sys.argv[1]
os.makedirs(out_dir, exist_ok=True)
torch.manual_seed(1)
for name in sys.argv[2:]:
    kw = dict(num_classes=1000)
    if name in ("googlenet", "inception_v3"):
        kw.update(aux_logits=False, init_weights=True)
    m = getattr(torchvision.models, name)(**kw).eval()
    with torch.no_grad():
        for pname, t in list(m.named_parameters()) + list(m.named_buffers()):
            if not t.is_floating_point():
                continue
            if pname.endswith("running_var"):
                t.uniform_(0.5, 1.5)
            elif t.abs().max() == 0 or pname.endswith(("running_mean", "bias")) or t.dim() == 1:
                t.normal_(0, 0.1)
    size = 299 if name == "inception_v3" else 224
    path = os.path.join(out_dir, name + ".onnx")
    torch.onnx.export(m, torch.randn(1, 3, size, size), path, opset_version=13, input_names=["x"], output_names=["y"])
    print(path, flush=True)
