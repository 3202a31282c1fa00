#!/usr/bin/python3
"""Writes the seed corpus of the torchscript_graph fuzz target (tests/fuzz/corpus/torchscript_graph).

Usage: /usr/bin/python3 scripts/make_torchscript_graph_corpus.py OUT_DIR

Each seed is the forward graph pare's TorchScript importer lowers: the module, traced or
scripted with random weights, frozen, inlined, mutation removed and constants propagated
(the target runs pare's own passes on it again). It is printed as TorchScript IR that
torch::jit::parseIR reads back: tensor constants become `<Tensor>` (the fuzz target fills
them), source locations and scopes are dropped, the module argument is typed NoneType and
each forward argument carries its example's dtype and shape, which the target uses as the
input shape. Run with Debian's python3-torch 1.13.
"""
import os
import re
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 4, 3, stride=2, groups=4)
        self.fc = nn.Linear(4 * 1 * 1, 3)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)
        x = F.hardswish(self.conv2(x))
        return F.softmax(self.fc(torch.flatten(x, 1)), dim=1)


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(16, 8)
        self.b = nn.Linear(8, 4)
        self.norm = nn.LayerNorm(8)

    def forward(self, x):
        x = x.reshape(x.shape[0], -1)
        return torch.sigmoid(self.b(F.gelu(self.norm(self.a(x)))))


class Block(nn.Module):  # an inverted residual: expand, depthwise, project, add
    def __init__(self):
        super().__init__()
        self.expand = nn.Conv2d(2, 6, 1)
        self.dw = nn.Conv2d(6, 6, 3, padding=1, groups=6)
        self.project = nn.Conv2d(6, 2, 1)

    def forward(self, x):
        y = F.relu6(self.expand(x))
        y = F.relu6(self.dw(y))
        y = x + self.project(y)
        return F.adaptive_avg_pool2d(y, 1).flatten(1)


class Scripted(nn.Module):  # control flow known from shapes, a loop over layers
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Conv2d(2, 2, 1) for _ in range(2)])

    def forward(self, x):
        if x.shape[-1] > 2:
            x = F.avg_pool2d(x, 2)
        for layer in self.layers:
            x = torch.tanh(layer(x))
        n = x.size(1)
        return x.mean(dim=[2, 3]) * float(n)


class Encoder(nn.Module):  # embedding and one attention head
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 8)
        self.qkv = nn.Linear(8, 24)
        self.out = nn.Linear(8, 2)

    def forward(self, ids):
        h = self.emb(ids)
        q, k, v = self.qkv(h).chunk(3, dim=-1)
        a = torch.softmax(q @ k.transpose(-2, -1) / 8 ** 0.5, dim=-1)
        return self.out((a @ v)[:, 0])


class OpsMix(nn.Module):
    def forward(self, x):
        a = torch.cat([x, x * 2.0], dim=1)
        b = a[:, :, 1:, ::2].permute(0, 1, 3, 2)
        c = F.interpolate(b, scale_factor=2.0, mode="nearest")
        d = torch.clamp(c - c.mean(dim=1, keepdim=True), -1.0, 1.0)
        return torch.where(d > 0, d, d.exp() - 1).sum(dim=-1)


class TwoInputs(nn.Module):
    def forward(self, a, b):
        return a.matmul(b.transpose(0, 1)), torch.maximum(a, b).abs()


SEEDS = [
    ("cnn", Cnn, (torch.rand(1, 1, 8, 8),), False),
    ("mlp", Mlp, (torch.rand(1, 4, 4),), False),
    ("inverted_residual", Block, (torch.rand(1, 2, 4, 4),), False),
    ("scripted", Scripted, (torch.rand(1, 2, 4, 4),), True),
    ("encoder", Encoder, (torch.randint(0, 20, (1, 6)),), False),
    ("ops_mix", OpsMix, (torch.rand(1, 2, 5, 4),), False),
    ("two_inputs", TwoInputs, (torch.rand(3, 4), torch.rand(3, 4)), False),
]

DTYPES = {torch.float32: "Float", torch.int64: "Long"}


def lowered_graph(module, example, script):
    module.eval()
    for m in module.modules():  # BatchNorm statistics that are not the identity
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    ts = torch.jit.script(module) if script else torch.jit.trace(module, example)
    g = torch.jit.freeze(ts).graph.copy()
    torch._C._jit_pass_inline(g)
    torch._C._jit_pass_remove_mutation(g)
    torch._C._jit_pass_constant_propagation(g)
    torch._C._jit_pass_dce(g)
    return g


def ir_text(g, example):
    text = g.str(False)
    text = re.sub(r", scope: [^\n]*", "", text)
    text = re.sub(r" # [^\n]*", "", text)
    # A 0-d tensor constant (a Python number in traced code) prints as {value} on an untyped
    # Tensor; parseIR needs its dtype.
    text = re.sub(r": Tensor = prim::Constant\[value=\{[^}]*\}\]\(\)",
                  ": Double(requires_grad=0, device=cpu) = prim::Constant[value=<Tensor>]()", text)
    # Small tensor constants print their values, which parseIR does not read.
    text = re.sub(r"prim::Constant\[value=[^\n]*?\[ CPU\w+Type\{[^}]*\} \]\]\(\)", "prim::Constant[value=<Tensor>]()", text)
    args = [v.debugName() for v in g.inputs()]
    header, body = text.split("):\n", 1)
    params = ["%" + args[0] + " : NoneType"]
    for name, t in zip(args[1:], example):
        params.append("%%%s : %s(%s)" % (name, DTYPES[t.dtype], ", ".join(str(d) for d in t.shape)))
    return "graph(" + ",\n      ".join(params) + "):\n" + body


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, cls, example, script in SEEDS:
        text = ir_text(lowered_graph(cls(), example, script), example)
        torch._C.parse_ir(text, parse_tensor_constants=True)  # it must read back
        with open(os.path.join(out, name + ".ir"), "w") as f:
            f.write(text)
        print(name, len(text), "bytes")


if __name__ == "__main__":
    main()
