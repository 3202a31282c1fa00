#!/usr/bin/python3
"""Writes the TorchScript test models for `pare convert model.pt`.

Usage: /usr/bin/python3 scripts/make_torchscript_models.py OUT_DIR [--only NAME...] [--heavy]

Run it with Debian's python3-torch 1.13 (/usr/bin/python3) so that the files load in Debian's
libtorch-dev 1.13. Everything it needs is in the repository; it writes nothing outside OUT_DIR.

It writes, into OUT_DIR:

1. The five trained Fashion-MNIST models, traced at [1,1,28,28]: fmnist_{cnn,mlp,vit,mobilenet_v2,
   mobilenet_v3_small}.pt. The definitions are testdata/models/fmnist_models.py; the trained
   weights are read back from testdata/models/NAME.onnx (BatchNorm was folded into the preceding
   Conv by the exporter, so a folded BatchNorm becomes the identity plus the Conv's bias; Linear
   layers on 3-D inputs were exported as MatMul with the weight transposed). Each traced file is
   reloaded and run on testdata/data/fmnist_test_2000.npy and must give ONNX Runtime's logits
   (testdata/models/NAME.ort_logits_first2000.npy) within 1e-4 with the same top-1, or the script
   fails. Beside each: NAME.libtorch_logits.npy, float32 [2000,10], the reloaded file's outputs.

2. torchvision classification architectures with random weights (torch.manual_seed(0),
   num_classes=10, eval mode), traced at a small input: tv_NAME.pt, tv_NAME.input.npy (float32
   [1,3,S,S], fixed seed) and tv_NAME.expected.npy (the reloaded file's output for that input).
   BatchNorm layers get random affine parameters and running statistics measured on random
   inputs, so that a wrong BatchNorm lowering changes the outputs. The --heavy ones (alexnet and
   vgg11: 230 MB and 520 MB of fully-connected weights) are written only with --heavy or --only.
   scripted_cnn.pt is a torch.jit.script (not traced) module with shape-dependent control flow, a
   loop over a ModuleList and torch.flatten; with .input.npy [1,3,32,32] and .expected.npy.

3. Inputs for error tests and for several inputs/outputs:
   bad_state_dict.pt      torch.save of a state_dict: a zip file, not TorchScript
   bad_not_zip.pt         random bytes
   bad_truncated.pt       the first half of a small scripted module's file
   bad_unsupported_op.pt  a traced conv followed by torch.linalg.inv (aten::linalg_inv)
   bad_no_forward.pt      a scripted module with no forward method (only an exported `run`)
   bad_hostile_groups.pt  a scripted convolution with 2^40 groups on zeros sized from the input,
                          which the import evaluates (LibTorch's kernel divides by zero on it)
   multi_io.pt            traced, forward(a, b) -> (out0, out1); with multi_io.a.npy, .b.npy,
                          .expected0.npy, .expected1.npy

NAME for --only is a file's base name (fmnist_cnn, tv_resnet18, scripted_cnn, bad_no_forward,
multi_io, ...) or a group: fmnist, tv, scripted, bad, multi.
"""
import argparse
import math
import io
import os
import sys
import time
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(REPO, "testdata", "models")
DATA = os.path.join(REPO, "testdata", "data")
sys.path.insert(0, MODELS)
import fmnist_models  # noqa: E402  (testdata/models/fmnist_models.py)

FMNIST = ["fmnist_cnn", "fmnist_mlp", "fmnist_vit", "fmnist_mobilenet_v2", "fmnist_mobilenet_v3_small"]

# (torchvision builder, input side S, extra keyword arguments, heavy)
TV = [
    ("resnet18", 64, {}, False),
    ("resnext50_32x4d", 64, {}, False),
    ("mobilenet_v2", 64, {}, False),
    ("mobilenet_v3_large", 64, {}, False),
    ("efficientnet_b0", 64, {}, False),
    ("squeezenet1_1", 64, {}, False),
    ("shufflenet_v2_x0_5", 64, {}, False),
    ("mnasnet0_5", 64, {}, False),
    ("regnet_y_400mf", 64, {}, False),
    ("convnext_tiny", 64, {}, False),
    ("densenet121", 64, {}, False),
    ("googlenet", 64, {"aux_logits": False, "init_weights": True}, False),
    ("inception_v3", 96, {"aux_logits": False, "init_weights": True}, False),
    # Shifted windows: roll, padding to the window size, the attention mask built in place.
    ("swin_t", 64, {}, False),
    # Multi-axis attention written with einsum, relative position bias; needs 224.
    ("maxvit_t", 224, {}, False),
    # 224: the features end at 6x6, so the adaptive average pool to 6x6 is the identity.
    ("alexnet", 224, {}, True),
    # 64: the features end at 2x2, pooled adaptively to 7x7.
    ("vgg11", 64, {}, True),
]

TOL = 1e-4


class Fail(Exception):
    pass


def seed_of(name):
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def save_npy(path, a):
    np.save(path, np.ascontiguousarray(a, dtype=np.float32))


def outputs_np(y):
    if isinstance(y, (tuple, list)):
        return [t.detach().numpy() for t in y]
    return y.detach().numpy()


# ---------------------------------------------------------------------------------------------
# 1. Fashion-MNIST models: rebuild the state dict from the ONNX file.

def onnx_weights(path):
    import onnx
    from onnx import numpy_helper
    g = onnx.load(path).graph
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    return g, inits


def execution_order(model, types):
    """Modules of the given types in the order the model calls them on one zero image."""
    order, handles = [], []
    for name, m in model.named_modules():
        if isinstance(m, types):
            handles.append(m.register_forward_hook(lambda mod, i, o, n=name: order.append(n)))
    with torch.no_grad():
        model(torch.zeros(1, 1, 28, 28))
    for h in handles:
        h.remove()
    if len(order) != len(set(order)):
        raise Fail("a module runs more than once: %s" % order)
    return order


def rebuild_from_onnx(name):
    model = fmnist_models.BUILDERS[name]().eval()
    graph, inits = onnx_weights(os.path.join(MODELS, name + ".onnx"))
    modules = dict(model.named_modules())
    sd = model.state_dict()
    new = {}        # state_dict key -> numpy array
    used = set()    # initializer names taken

    def take(init_name, key, transpose=False):
        if init_name not in inits:
            raise Fail("%s: %s: ONNX input %r is not an initializer" % (name, key, init_name))
        if init_name in used:
            raise Fail("%s: initializer %r used twice (for %s)" % (name, init_name, key))
        a = inits[init_name]
        if transpose:
            a = a.T
        if tuple(a.shape) != tuple(sd[key].shape):
            raise Fail("%s: %s: shape %s in torch, %s in ONNX (%r)"
                       % (name, key, tuple(sd[key].shape), tuple(a.shape), init_name))
        if key in new:
            raise Fail("%s: %s assigned twice" % (name, key))
        used.add(init_name)
        new[key] = a

    # Conv2d / BatchNorm2d, in execution order, against the ONNX Conv nodes in graph order.
    order = execution_order(model, (nn.Conv2d, nn.BatchNorm2d, nn.Linear))
    conv_bn = [n for n in order if isinstance(modules[n], (nn.Conv2d, nn.BatchNorm2d))]
    convs = [n for n in conv_bn if isinstance(modules[n], nn.Conv2d)]
    onnx_convs = [nd for nd in graph.node if nd.op_type == "Conv"]
    if len(convs) != len(onnx_convs):
        raise Fail("%s: %d Conv2d modules run, %d ONNX Conv nodes" % (name, len(convs), len(onnx_convs)))
    folded_bn = set()
    for cname, nd in zip(convs, onnx_convs):
        conv = modules[cname]
        take(nd.input[1], cname + ".weight")
        has_bias = len(nd.input) > 2 and nd.input[2] != ""
        if conv.bias is not None:
            if not has_bias:
                raise Fail("%s: %s has a bias, ONNX Conv %s has none" % (name, cname, nd.name))
            take(nd.input[2], cname + ".bias")
            continue
        if not has_bias:
            continue
        i = conv_bn.index(cname)
        bname = conv_bn[i + 1] if i + 1 < len(conv_bn) else None
        bn = modules.get(bname)
        if not isinstance(bn, nn.BatchNorm2d) or bn.num_features != conv.out_channels:
            raise Fail("%s: ONNX Conv %s has a bias, but %s has none and no BatchNorm2d runs after it"
                       % (name, nd.name, cname))
        # BatchNorm folded into the conv: identity plus the folded bias. With running_var = 1 - eps
        # the denominator sqrt(running_var + eps) is 1.
        c = bn.num_features
        take(nd.input[2], bname + ".bias")
        new[bname + ".weight"] = np.ones(c, np.float32)
        new[bname + ".running_mean"] = np.zeros(c, np.float32)
        new[bname + ".running_var"] = np.full(c, 1.0 - bn.eps, np.float32)
        folded_bn.add(bname)
    for n in conv_bn:
        if isinstance(modules[n], nn.BatchNorm2d) and n not in folded_bn:
            raise Fail("%s: BatchNorm2d %s does not follow a biased ONNX Conv" % (name, n))

    # Linear: by name when the exporter kept it, else the Gemm/MatMul nodes with a constant weight
    # in graph order against the Linear modules in execution order (MatMul stores W transposed).
    linears = [n for n in order if isinstance(modules[n], nn.Linear)]
    onnx_lin = [nd for nd in graph.node
                if nd.op_type in ("Gemm", "MatMul") and len(nd.input) > 1 and nd.input[1] in inits]
    if len(linears) != len(onnx_lin):
        raise Fail("%s: %d Linear modules run, %d ONNX Gemm/MatMul nodes with a constant weight"
                   % (name, len(linears), len(onnx_lin)))
    consumers = {}
    for nd in graph.node:
        for x in nd.input:
            consumers.setdefault(x, []).append(nd)
    for lname, nd in zip(linears, onnx_lin):
        lin, wkey, bkey = modules[lname], lname + ".weight", lname + ".bias"
        w = nd.input[1]
        if nd.op_type == "Gemm":
            attrs = {a.name: a.i for a in nd.attribute if a.type == 2}
            if attrs.get("transA", 0) != 0:
                raise Fail("%s: Gemm %s has transA" % (name, nd.name))
            if w in sd and w != wkey:
                raise Fail("%s: Linear %s pairs with Gemm weight %r" % (name, lname, w))
            take(w, wkey, transpose=attrs.get("transB", 0) == 0)
            if lin.bias is not None:
                if len(nd.input) < 3 or (nd.input[2] in sd and nd.input[2] != bkey):
                    raise Fail("%s: Linear %s: Gemm %s has no bias or another's" % (name, lname, nd.name))
                take(nd.input[2], bkey)
        else:  # MatMul(x, W^T) then Add(., bias)
            if w in sd and w != wkey:
                raise Fail("%s: Linear %s pairs with MatMul weight %r" % (name, lname, w))
            take(w, wkey, transpose=True)
            if lin.bias is not None:
                adds = [c for c in consumers.get(nd.output[0], []) if c.op_type == "Add"]
                bias_in = [x for c in adds for x in c.input if x in inits]
                if len(bias_in) != 1:
                    raise Fail("%s: no single bias Add after MatMul %s (%s)" % (name, nd.name, lname))
                if bias_in[0] != bkey and bias_in[0] in sd:
                    raise Fail("%s: Linear %s: MatMul %s is followed by bias %r"
                               % (name, lname, nd.name, bias_in[0]))
                take(bias_in[0], bkey)

    # Everything else (LayerNorm, cls, pos, ...) by name, else by unique shape and value.
    for key, t in sd.items():
        if key in new or key.endswith("num_batches_tracked"):
            continue
        if key in inits and key not in used:
            take(key, key)
            continue
        cands = [n for n in inits if n not in used
                 and (tuple(inits[n].shape) == tuple(t.shape) or
                      (inits[n].ndim == 2 and tuple(inits[n].T.shape) == tuple(t.shape)))]
        if len(cands) != 1:
            raise Fail("%s: %s %s: %d candidate initializers %s"
                       % (name, key, tuple(t.shape), len(cands), cands[:8]))
        take(cands[0], key, transpose=tuple(inits[cands[0]].shape) != tuple(t.shape))
    left = sorted(set(inits) - used)
    if left:
        raise Fail("%s: unused ONNX initializers: %s" % (name, left))
    missing = [k for k in sd if k not in new and not k.endswith("num_batches_tracked")]
    if missing:
        raise Fail("%s: state_dict keys without a value: %s" % (name, missing))
    sd_new = {k: (torch.from_numpy(np.array(new[k], dtype=np.float32)) if k in new else v)
              for k, v in sd.items()}
    model.load_state_dict(sd_new)
    return model.eval(), len(new), len(folded_bn)


def run_batches(m, x, bs=250):
    with torch.no_grad():
        return torch.cat([m(torch.from_numpy(x[i:i + bs])) for i in range(0, len(x), bs)]).numpy()


def make_fmnist(out, name, ctx):
    model, nkeys, nfold = rebuild_from_onnx(name)
    with torch.no_grad():
        traced = torch.jit.trace(model.eval(), torch.zeros(1, 1, 28, 28))
    pt = os.path.join(out, name + ".pt")
    torch.jit.save(traced, pt)
    loaded = torch.jit.load(pt).eval()
    if "images" not in ctx:
        ctx["images"] = np.load(os.path.join(DATA, "fmnist_test_2000.npy"))
    x = ctx["images"]
    got = run_batches(loaded, x).astype(np.float32)
    ref = np.load(os.path.join(MODELS, name + ".ort_logits_first2000.npy"))
    diff = float(np.abs(got - ref).max())
    top1_diff = int((got.argmax(1) != ref.argmax(1)).sum())
    msg = "max |torch - ORT| %.3g, top-1 differs on %d/%d (%d tensors, %d BatchNorm folded)" % (
        diff, top1_diff, len(x), nkeys, nfold)
    if got.shape != ref.shape or not diff <= TOL or top1_diff:
        raise Fail("%s: %s; limit %g, none differing" % (name, msg, TOL))
    save_npy(os.path.join(out, name + ".libtorch_logits.npy"), got)
    return [name + ".pt", name + ".libtorch_logits.npy"], msg


# ---------------------------------------------------------------------------------------------
# 2. torchvision architectures with random weights, and a scripted module.

def randomize_norms(model, seed, calib):
    """Random BatchNorm affine parameters, then running statistics measured on random inputs."""
    g = torch.Generator().manual_seed(seed)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for m in bns:
            if m.affine:
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.5 + 0.75)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
        if bns:
            for m in bns:
                m.reset_running_stats()
                m.momentum = None  # cumulative average over the calibration batch
            model.train()
            model(calib(g))
            for m in bns:
                m.momentum = 0.1
    return model.eval()


def trace_and_check(out, name, model, x, script=False):
    with torch.no_grad():
        mod = torch.jit.script(model) if script else torch.jit.trace(model, x)
    pt = os.path.join(out, name + ".pt")
    torch.jit.save(mod, pt)
    loaded = torch.jit.load(pt).eval()
    with torch.no_grad():
        y = outputs_np(loaded(x))
        y_eager = outputs_np(model(x))
    d = float(np.abs(y - y_eager).max())
    if not d <= 1e-5:
        raise Fail("%s: reloaded file differs from the eager model by %g" % (name, d))
    return y


def make_tv(out, spec):
    import torchvision
    arch, size, kwargs, _ = spec
    name = "tv_" + arch
    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)(num_classes=10, **kwargs)
    model = randomize_norms(model, seed_of(name) + 1,
                            lambda g: torch.randn(4, 3, size, size, generator=g))
    x = torch.from_numpy(np.random.default_rng(seed_of(name)).standard_normal(
        (1, 3, size, size)).astype(np.float32))
    y = trace_and_check(out, name, model, x)
    save_npy(os.path.join(out, name + ".input.npy"), x.numpy())
    save_npy(os.path.join(out, name + ".expected.npy"), y)
    nparam = sum(p.numel() for p in model.parameters())
    return ([name + ".pt", name + ".input.npy", name + ".expected.npy"],
            "input [1,3,%d,%d], %.2fM params, output %s, |y| max %.3g"
            % (size, size, nparam / 1e6, list(y.shape), float(np.abs(y).max())))


class ScriptedCNN(nn.Module):
    """Scripted, not traced: shape-dependent branches, a loop over a ModuleList, torch.flatten."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.blocks = nn.ModuleList(
            [nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
             for _ in range(3)])
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        if x.dim() == 3:
            x = x.unsqueeze(0)
        if x.size(1) == 3:
            x = (x - 0.5) * 2.0
        else:
            x = x.expand(-1, 3, -1, -1)
        x = torch.relu(self.stem(x))
        for block in self.blocks:
            x = self.pool(x + block(x))
        x = torch.flatten(x, 1)
        return self.fc(x)


def make_scripted(out, name="scripted_cnn"):
    torch.manual_seed(0)
    model = randomize_norms(ScriptedCNN(), seed_of(name) + 1,
                            lambda g: torch.randn(4, 3, 32, 32, generator=g))
    x = torch.from_numpy(np.random.default_rng(seed_of(name)).standard_normal(
        (1, 3, 32, 32)).astype(np.float32))
    y = trace_and_check(out, name, model, x, script=True)
    save_npy(os.path.join(out, name + ".input.npy"), x.numpy())
    save_npy(os.path.join(out, name + ".expected.npy"), y)
    return [name + ".pt", name + ".input.npy", name + ".expected.npy"], "torch.jit.script, output %s" % list(y.shape)


# ---------------------------------------------------------------------------------------------
# 3. Bad inputs and a module with two inputs and two outputs.

class TinyConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        return torch.relu(self.c(x))


class Unsupported(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        return torch.linalg.inv(self.c(x))


class NoForward(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3, padding=1)

    @torch.jit.export
    def run(self, x):
        return self.c(x)


class HostileGroups(nn.Module):
    def forward(self, x):
        y = torch.zeros(x.size(0), 1, 2, 2)
        return F.conv2d(y, torch.ones(1, 1, 1, 1), groups=1099511627776) + x.sum()


class MultiIO(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(6, 4)

    def forward(self, a, b):
        y = torch.relu(self.conv(a))
        g = torch.sigmoid(self.fc(b))
        return y * g.view(-1, 4, 1, 1), g + y.mean(dim=(2, 3))


class OpsMix(nn.Module):
    """Ops the classification nets leave out: uneven adaptive pooling, interpolation modes,
    reflect padding, stack/chunk/split, clamp, rsqrt, log_softmax, scalar arithmetic on sizes."""
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 6, 3, padding=1)
        self.fc = nn.Linear(6 * 5 * 3, 8)

    def forward(self, x):
        y = self.c(F.pad(x, (1, 2, 1, 2), mode="reflect"))           # [1,6,12,13]
        a, b = torch.chunk(y, 2, dim=1)
        y = torch.cat([a * torch.rsqrt(b * b + 1.0), F.leaky_relu(b, 0.1)], 1)
        y = F.interpolate(y, scale_factor=2.0, mode="nearest")        # [1,6,24,26]
        y = F.interpolate(y, size=(15, 11), mode="bilinear", align_corners=True)
        y = F.adaptive_avg_pool2d(y, (5, 3))                          # uneven windows
        y = torch.stack([y, y.clamp(-0.5, 0.5)], 0).sum(0)
        y = y.reshape(y.size(0), -1)
        return F.log_softmax(self.fc(y), dim=-1)


class TinyEncoder(nn.Module):
    """A BERT-style encoder layer written out: token and position embeddings, a padding mask
    from the ids (0 = padding), scaled dot-product attention with masked_fill, GELU, and a
    masked mean over tokens."""
    def __init__(self, vocab=100, d=32, heads=4):
        super().__init__()
        self.h = heads
        self.tok = nn.Embedding(vocab, d, padding_idx=0)
        self.pos = nn.Embedding(64, d)
        self.n1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.o = nn.Linear(d, d)
        self.n2 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
        self.head = nn.Linear(d, 3)

    def forward(self, input_ids):
        n, t = input_ids.shape
        keep = input_ids != 0                                            # [n, t]
        x = self.tok(input_ids) + self.pos(torch.arange(t).unsqueeze(0))
        q, k, v = self.qkv(self.n1(x)).view(n, t, 3, self.h, -1).permute(2, 0, 3, 1, 4).unbind(0)
        s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
        s = s.masked_fill(~keep[:, None, None, :], float("-inf"))
        a = torch.softmax(s, dim=-1) @ v
        x = x + self.o(a.transpose(1, 2).reshape(n, t, -1))
        x = x + self.ff(self.n2(x))
        w = keep.unsqueeze(-1).to(x.dtype)
        return self.head((x * w).sum(1) / w.sum(1))


def make_tiny_encoder(out, name="tiny_encoder"):
    torch.manual_seed(0)
    model = TinyEncoder().eval()
    rng = np.random.default_rng(seed_of(name))
    ids = rng.integers(1, 100, size=(1, 16)).astype(np.int64)
    ids[0, 11:] = 0  # padding
    x = torch.from_numpy(ids)
    m = torch.jit.trace(model, x)
    path = os.path.join(out, name + ".pt")
    torch.jit.save(m, path)
    y = torch.jit.load(path)(x)
    np.save(os.path.join(out, name + ".input.npy"), ids)  # int64, as pare reads token ids
    save_npy(os.path.join(out, name + ".expected.npy"), y.numpy())
    return [name + s for s in (".pt", ".input.npy", ".expected.npy")], "input_ids int64 [1,16] -> [1,3]"


class ReductionsMix(nn.Module):
    """Attention as einsum, cumsum, argmax, topk, gather, repeat, amax, max over a dim,
    prod, the 2-norm, elementwise maximum, floor division and both remainders on ints."""
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(8, 24)

    def forward(self, x):                                             # [1, 6, 8]
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        a = torch.softmax(torch.einsum("bid,bjd->bij", q, k) / 8 ** 0.5, dim=-1)
        y = torch.einsum("bij,bjd->bid", a, v)                         # [1, 6, 8]
        top, idx = torch.topk(y, 3, dim=-1)
        picked = torch.gather(y, 2, idx)
        c = torch.cumsum(y, dim=1) / torch.norm(y, dim=-1, keepdim=True)
        m, _ = torch.max(y, dim=1, keepdim=True)
        z = torch.maximum(c, m.repeat(1, 6, 1)) + torch.amax(y, dim=(0, 2)).unsqueeze(-1)
        p = torch.prod(torch.sigmoid(y) + 0.5, dim=-1)
        i = torch.argmax(y, dim=-1)
        j = torch.div(i - 5, 2, rounding_mode="floor") + torch.remainder(i - 3, 4) + torch.fmod(i - 3, 4)
        return z, top + picked, p, i.float(), j.float()


def make_reductions_mix(out, name="reductions_mix"):
    torch.manual_seed(0)
    model = ReductionsMix().eval()
    rng = np.random.default_rng(seed_of(name))
    x = torch.from_numpy(rng.standard_normal((1, 6, 8)).astype(np.float32))
    m = torch.jit.trace(model, x)
    path = os.path.join(out, name + ".pt")
    torch.jit.save(m, path)
    ys = torch.jit.load(path)(x)
    save_npy(os.path.join(out, name + ".input.npy"), x.numpy())
    for i, y in enumerate(ys):
        save_npy(os.path.join(out, name + ".expected%d.npy" % i), y.numpy())
    files = [name + ".pt", name + ".input.npy"] + [name + ".expected%d.npy" % i for i in range(len(ys))]
    return files, "x [1,6,8] -> 5 outputs"


class MaskedMean(nn.Module):
    """A float input and an int64 padding mask (1 = token), as encoders take them."""
    def forward(self, x, mask):
        w = mask.unsqueeze(-1).to(x.dtype)
        return (x * w).sum(1) / mask.sum(1, keepdim=True).to(x.dtype)


def make_masked_mean(out, name="masked_mean"):
    rng = np.random.default_rng(seed_of(name))
    x = torch.from_numpy(rng.standard_normal((1, 10, 4)).astype(np.float32))
    mask = torch.from_numpy(np.array([[1] * 7 + [0] * 3], dtype=np.int64))
    m = torch.jit.trace(MaskedMean().eval(), (x, mask))
    path = os.path.join(out, name + ".pt")
    torch.jit.save(m, path)
    y = torch.jit.load(path)(x, mask)
    save_npy(os.path.join(out, name + ".x.npy"), x.numpy())
    np.save(os.path.join(out, name + ".mask.npy"), mask.numpy())
    save_npy(os.path.join(out, name + ".expected.npy"), y.numpy())
    return [name + s for s in (".pt", ".x.npy", ".mask.npy", ".expected.npy")], "x [1,10,4], mask int64 [1,10] -> [1,4]"


def make_ops_mix(out, name="ops_mix"):
    torch.manual_seed(0)
    model = OpsMix().eval()
    rng = np.random.default_rng(seed_of(name))
    x = torch.from_numpy(rng.standard_normal((1, 3, 9, 10)).astype(np.float32))
    m = torch.jit.trace(model, x)
    path = os.path.join(out, name + ".pt")
    torch.jit.save(m, path)
    y = torch.jit.load(path)(x)
    save_npy(os.path.join(out, name + ".input.npy"), x.numpy())
    save_npy(os.path.join(out, name + ".expected.npy"), y.numpy())
    return [name + s for s in (".pt", ".input.npy", ".expected.npy")], "x [1,3,9,10] -> [1,8]"


def make_bad(out, name):
    path = os.path.join(out, name + ".pt")
    torch.manual_seed(0)
    if name == "bad_state_dict":
        torch.save(fmnist_models.SmallCNN().state_dict(), path)
        note = "torch.save(SmallCNN().state_dict())"
    elif name == "bad_not_zip":
        data = np.random.default_rng(seed_of(name)).integers(0, 256, 4096, dtype=np.uint8).tobytes()
        data = b"\x00" + data[1:]  # never "PK"
        with open(path, "wb") as f:
            f.write(data)
        note = "4096 random bytes"
    elif name == "bad_truncated":
        buf = io.BytesIO()
        torch.jit.save(torch.jit.script(TinyConv()), buf)
        whole = buf.getvalue()
        with open(path, "wb") as f:
            f.write(whole[:len(whole) // 2])
        note = "first %d of %d bytes of a scripted conv module" % (len(whole) // 2, len(whole))
    elif name == "bad_unsupported_op":
        x = torch.from_numpy(np.random.default_rng(seed_of(name)).standard_normal(
            (1, 3, 6, 6)).astype(np.float32))
        with torch.no_grad():
            m = torch.jit.trace(Unsupported().eval(), x)
        torch.jit.save(m, path)
        ops = sorted({n.kind() for n in torch.jit.load(path).inlined_graph.nodes()
                      if n.kind().startswith("aten::")})
        if "aten::linalg_inv" not in ops:
            raise Fail("%s: aten::linalg_inv not in the graph: %s" % (name, ops))
        note = "traced conv + torch.linalg.inv; aten ops %s" % ops
    elif name == "bad_no_forward":
        m = torch.jit.script(NoForward())
        torch.jit.save(m, path)
        methods = torch.jit.load(path)._c._method_names()
        if "forward" in methods:
            raise Fail("%s: the saved module has a forward" % name)
        note = "torch.jit.script of a module with only @torch.jit.export run(); methods %s" % methods
    elif name == "bad_hostile_groups":
        torch.jit.save(torch.jit.script(HostileGroups()), path)
        note = "torch.jit.script: conv2d(zeros(x.size(0), 1, 2, 2), ones(1, 1, 1, 1), groups=2**40)"
    else:
        raise Fail("unknown " + name)
    return [name + ".pt"], note


def make_multi_io(out, name="multi_io"):
    torch.manual_seed(0)
    model = MultiIO().eval()
    rng = np.random.default_rng(seed_of(name))
    a = torch.from_numpy(rng.standard_normal((1, 3, 8, 8)).astype(np.float32))
    b = torch.from_numpy(rng.standard_normal((1, 6)).astype(np.float32))
    with torch.no_grad():
        m = torch.jit.trace(model, (a, b))
    path = os.path.join(out, name + ".pt")
    torch.jit.save(m, path)
    loaded = torch.jit.load(path)
    with torch.no_grad():
        y0, y1 = loaded(a, b)
    save_npy(os.path.join(out, name + ".a.npy"), a.numpy())
    save_npy(os.path.join(out, name + ".b.npy"), b.numpy())
    save_npy(os.path.join(out, name + ".expected0.npy"), y0.numpy())
    save_npy(os.path.join(out, name + ".expected1.npy"), y1.numpy())
    return ([name + s for s in (".pt", ".a.npy", ".b.npy", ".expected0.npy", ".expected1.npy")],
            "a [1,3,8,8], b [1,6] -> [1,4,8,8], [1,4]")


BAD = ["bad_state_dict", "bad_not_zip", "bad_truncated", "bad_unsupported_op", "bad_no_forward", "bad_hostile_groups"]


def jobs():
    j = [(n, "fmnist", False, lambda out, ctx, n=n: make_fmnist(out, n, ctx)) for n in FMNIST]
    j += [("tv_" + s[0], "tv", s[3], lambda out, ctx, s=s: make_tv(out, s)) for s in TV]
    j += [("scripted_cnn", "scripted", False, lambda out, ctx: make_scripted(out))]
    j += [(n, "bad", False, lambda out, ctx, n=n: make_bad(out, n)) for n in BAD]
    j += [("multi_io", "multi", False, lambda out, ctx: make_multi_io(out))]
    j += [("ops_mix", "multi", False, lambda out, ctx: make_ops_mix(out))]
    j += [("tiny_encoder", "multi", False, lambda out, ctx: make_tiny_encoder(out))]
    j += [("reductions_mix", "multi", False, lambda out, ctx: make_reductions_mix(out))]
    j += [("masked_mean", "multi", False, lambda out, ctx: make_masked_mean(out))]
    return j


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--only", nargs="+", metavar="NAME",
                    help="file base names or groups (fmnist, tv, scripted, bad, multi)")
    ap.add_argument("--heavy", action="store_true",
                    help="also write the large fully-connected torchvision models (alexnet, vgg11)")
    args = ap.parse_args()
    all_jobs = jobs()
    if args.only:
        known = {n for n, _, _, _ in all_jobs} | {g for _, g, _, _ in all_jobs}
        bad = [n for n in args.only if n not in known]
        if bad:
            ap.error("unknown NAME %s; known: %s" % (bad, " ".join(sorted(known))))
        sel = [j for j in all_jobs if j[0] in args.only or j[1] in args.only]
    else:
        sel = [j for j in all_jobs if args.heavy or not j[2]]
    os.makedirs(args.out_dir, exist_ok=True)
    torch.set_grad_enabled(False)

    t_all = time.time()
    ctx, rows, failed = {}, [], []
    for name, _, _, fn in sel:
        t0 = time.time()
        try:
            files, note = fn(args.out_dir, ctx)
        except Fail as e:
            print("FAILED %s: %s" % (name, e), flush=True)
            failed.append(name)
            continue
        dt = time.time() - t0
        size = sum(os.path.getsize(os.path.join(args.out_dir, f)) for f in files)
        rows.append((name, size, dt))
        print("%-28s %9.1f KB %6.1f s  %s" % (name, size / 1024.0, dt, note), flush=True)
    total = time.time() - t_all
    print("-- %d written, %.1f MB, %.1f s%s" % (
        len(rows), sum(r[1] for r in rows) / 2 ** 20, total,
        "" if not failed else "; FAILED: " + " ".join(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
