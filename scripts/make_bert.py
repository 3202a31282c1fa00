#!/usr/bin/python3
"""Builds the small BERT-class test encoders and exports them to ONNX (opset 17).

A plain-torch encoder written like HuggingFace's BertModel (transformers' modeling_bert.py):
word + position + token-type embeddings, LayerNorm, N layers of multi-head self-attention
with the additive mask HF builds from attention_mask, GELU (erf) feed-forward, residual
LayerNorms, the tanh pooler over the first token, and a small classifier head. Weights are
random (fixed seed); nothing is trained. Two exports, since real ones differ in how the mask
reaches the scores:

  bert_tiny        inputs input_ids, attention_mask (int64 [B,64]); token_type_ids are
                   HF's buffered zeros; the mask is HF's extended additive mask,
                   (1 - mask[:, None, None, :]) * finfo(float32).min, added to the scores.
  bert_tiny_where  inputs input_ids, attention_mask, token_type_ids (int64 [B,64]); the
                   mask is applied with masked_fill on a boolean mask (Equal + Where in ONNX).

Both: hidden 128, 2 layers, 2 heads, intermediate 256, vocab 512, seq 64, 4 labels,
dynamic batch; output logits float32 [B,4] (about 1.4 MB of float32 weights each).

  /usr/bin/python3 scripts/make_bert.py OUT_DIR [--data N] [--calib N]

--data N also writes OUT_DIR/bert_tiny_inputs.npz: N random sequences (input_ids,
attention_mask, token_type_ids; int64 [N,64]) with random lengths, padded with id 0 and mask
0 after the length, a [CLS]-like id 1 first and a [SEP]-like id 2 last (seed 1).
--calib N also writes OUT_DIR/bert_tiny_calib.npz: N more such sequences (seed 3), for int8
calibration. Both are written deflated (np.savez_compressed).
"""
import argparse
import math
import os

import numpy as np
import torch
from torch import nn

VOCAB, HIDDEN, LAYERS, HEADS, INTERMEDIATE, SEQ, TYPES, LABELS = 512, 128, 2, 2, 256, 64, 2, 4
SEED = 20261202


class Embeddings(nn.Module):
    def __init__(self):
        super().__init__()
        self.word_embeddings = nn.Embedding(VOCAB, HIDDEN, padding_idx=0)
        self.position_embeddings = nn.Embedding(SEQ, HIDDEN)
        self.token_type_embeddings = nn.Embedding(TYPES, HIDDEN)
        self.LayerNorm = nn.LayerNorm(HIDDEN, eps=1e-12)
        self.register_buffer("position_ids", torch.arange(SEQ).expand((1, -1)))
        self.register_buffer("token_type_ids", torch.zeros((1, SEQ), dtype=torch.long))

    def forward(self, input_ids, token_type_ids=None):
        batch, seq_length = input_ids.size()
        position_ids = self.position_ids[:, :seq_length]
        if token_type_ids is None:  # as HF: the buffered zeros, expanded to the batch
            token_type_ids = self.token_type_ids[:, :seq_length].expand(batch, seq_length)
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        x = x + self.position_embeddings(position_ids)
        return self.LayerNorm(x)


class SelfAttention(nn.Module):
    def __init__(self, masked_fill):
        super().__init__()
        self.head_size = HIDDEN // HEADS
        self.query = nn.Linear(HIDDEN, HIDDEN)
        self.key = nn.Linear(HIDDEN, HIDDEN)
        self.value = nn.Linear(HIDDEN, HIDDEN)
        self.masked_fill = masked_fill

    def heads(self, x):
        x = x.view(x.size()[:-1] + (HEADS, self.head_size))
        return x.permute(0, 2, 1, 3)

    def forward(self, hidden, mask):
        q = self.heads(self.query(hidden))
        k = self.heads(self.key(hidden))
        v = self.heads(self.value(hidden))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_size)
        if self.masked_fill:  # mask: bool [B,1,1,S], True where padded
            scores = scores.masked_fill(mask, torch.finfo(scores.dtype).min)
        else:  # mask: the additive extended mask
            scores = scores + mask
        probs = nn.functional.softmax(scores, dim=-1)
        context = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        return context.view(context.size()[:-2] + (HIDDEN,))


class Layer(nn.Module):
    def __init__(self, masked_fill):
        super().__init__()
        self.attention = SelfAttention(masked_fill)
        self.attention_output = nn.Linear(HIDDEN, HIDDEN)
        self.attention_norm = nn.LayerNorm(HIDDEN, eps=1e-12)
        self.intermediate = nn.Linear(HIDDEN, INTERMEDIATE)
        self.output = nn.Linear(INTERMEDIATE, HIDDEN)
        self.output_norm = nn.LayerNorm(HIDDEN, eps=1e-12)

    def forward(self, hidden, mask):
        a = self.attention_norm(self.attention_output(self.attention(hidden, mask)) + hidden)
        f = self.output(nn.functional.gelu(self.intermediate(a)))  # erf GELU, as HF's "gelu"
        return self.output_norm(f + a)


class BertClassifier(nn.Module):
    def __init__(self, masked_fill=False):
        super().__init__()
        self.masked_fill = masked_fill
        self.embeddings = Embeddings()
        self.layers = nn.ModuleList([Layer(masked_fill) for _ in range(LAYERS)])
        self.pooler = nn.Linear(HIDDEN, HIDDEN)
        self.classifier = nn.Linear(HIDDEN, LABELS)

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        hidden = self.embeddings(input_ids, token_type_ids)
        if self.masked_fill:
            mask = attention_mask[:, None, None, :] == 0
        else:  # HF's get_extended_attention_mask
            ext = attention_mask[:, None, None, :].to(dtype=hidden.dtype)
            mask = (1.0 - ext) * torch.finfo(hidden.dtype).min
        for layer in self.layers:
            hidden = layer(hidden, mask)
        pooled = torch.tanh(self.pooler(hidden[:, 0]))
        return self.classifier(pooled)


def init_weights(model):
    # Random, but wide enough that the logits depend on the tokens (HF's std 0.02 init would
    # give nearly the same logits for every sequence, and a top-1 comparison would mean little).
    g = torch.Generator().manual_seed(SEED)
    for name, p in model.named_parameters():
        if "LayerNorm" in name or "norm" in name:
            with torch.no_grad():
                p.copy_((1.0 + 0.1 * torch.randn(p.shape, generator=g)) if name.endswith("weight")
                        else 0.1 * torch.randn(p.shape, generator=g))
        elif "embeddings" in name:
            with torch.no_grad():
                p.copy_(torch.randn(p.shape, generator=g))
        else:
            fan_in = p.shape[-1] if p.dim() > 1 else HIDDEN
            with torch.no_grad():
                p.copy_(torch.randn(p.shape, generator=g) * (1.5 if p.dim() > 1 else 0.2) / math.sqrt(fan_in))


def random_inputs(n, seed):
    rng = np.random.default_rng(seed)
    ids = np.zeros((n, SEQ), dtype=np.int64)
    mask = np.zeros((n, SEQ), dtype=np.int64)
    types = np.zeros((n, SEQ), dtype=np.int64)
    for r in range(n):
        length = int(rng.integers(3, SEQ + 1))
        ids[r, :length] = rng.integers(3, VOCAB, size=length)
        ids[r, 0], ids[r, length - 1] = 1, 2
        mask[r, :length] = 1
        split = int(rng.integers(1, length))
        types[r, split:length] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def export(model, path, names):
    example = random_inputs(2, 0)
    args = tuple(torch.from_numpy(example[n]) for n in names)
    axes = {n: {0: "batch"} for n in names}
    axes["logits"] = {0: "batch"}
    torch.onnx.export(model, args, path, input_names=list(names), output_names=["logits"],
                      dynamic_axes=axes, opset_version=17, do_constant_folding=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--data", type=int, default=0)
    ap.add_argument("--calib", type=int, default=0)
    a = ap.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    for name, masked_fill, names in (
            ("bert_tiny", False, ("input_ids", "attention_mask")),
            ("bert_tiny_where", True, ("input_ids", "attention_mask", "token_type_ids"))):
        torch.manual_seed(SEED)
        model = BertClassifier(masked_fill)
        init_weights(model)
        model.eval()
        with torch.no_grad():
            # Centre the classifier on random sequences (another seed than the test data's)
            # so that every label wins on some: untrained, one label would win everywhere.
            c = random_inputs(256, 2)
            model.classifier.bias -= model(*(torch.from_numpy(c[n]) for n in names)).mean(0)
            export(model, os.path.join(a.out_dir, name + ".onnx"), names)
            x = random_inputs(64, 1)
            logits = model(*(torch.from_numpy(x[n]) for n in names)).numpy()
            print(f"{name}: torch logits std {logits.std():.3f}, "
                  f"top-1 classes {np.bincount(logits.argmax(1), minlength=LABELS).tolist()}")
    if a.data:
        np.savez_compressed(os.path.join(a.out_dir, "bert_tiny_inputs.npz"), **random_inputs(a.data, 1))
    if a.calib:
        np.savez_compressed(os.path.join(a.out_dir, "bert_tiny_calib.npz"), **random_inputs(a.calib, 3))


if __name__ == "__main__":
    main()
