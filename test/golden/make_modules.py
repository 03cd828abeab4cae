#!/usr/bin/python3
"""Writes fixtures/modules.json: module trees made by PyTorch 1.13 itself, for test/golden/modules.test.ts.

    /usr/bin/python3 test/golden/make_modules.py

For each tree (built the same way in the TypeScript test): print(model), state_dict() keys and shapes
in order, and the exact RuntimeError text of load_state_dict for dicts with keys dropped, added and
reshaped (and the (missing, unexpected) keys of strict=False). Numerics: Embedding lookup and
init, LayerNorm, RMSNorm, GELU (exact, tanh) and SiLU on fixed inputs.

PyTorch 1.13 has no nn.RMSNorm: RMSNorm below is defined as Llama's LlamaRMSNorm computes it
(x * rsqrt(mean(x^2) + eps) * weight) and prints as PyTorch 2.4's nn.RMSNorm extra_repr does
("{normalized_shape}, eps={eps}, elementwise_affine={elementwise_affine}", eps=None by default,
which means torch.finfo(float32).eps).
"""
import json
import os

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=None, elementwise_affine=True):
        super().__init__()
        self.normalized_shape = (dim,)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        self.weight = nn.Parameter(torch.ones(dim)) if elementwise_affine else None

    def forward(self, x):
        eps = torch.finfo(torch.float32).eps if self.eps is None else self.eps
        y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
        return y if self.weight is None else y * self.weight

    def extra_repr(self):
        return "{normalized_shape}, eps={eps}, elementwise_affine={elementwise_affine}".format(**self.__dict__)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 128)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(128, 10)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = nn.LayerNorm(8)
        self.attn = nn.Linear(8, 8, bias=False)
        self.mlp = nn.Sequential(nn.Linear(8, 16), nn.GELU(approximate="tanh"), nn.Linear(16, 8))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(16, 8)
        self.blocks = nn.ModuleList([Block(), Block()])
        self.norm = RMSNorm(8, eps=1e-5)
        self.head = nn.Linear(8, 16, bias=False)


class Heads(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Linear(4, 4)
        self.heads = nn.ModuleDict({"cls": nn.Linear(4, 3), "box": nn.Linear(4, 4, bias=False)})
        self.act = nn.SiLU()


class Misc(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 3, padding_idx=0)
        self.ln = nn.LayerNorm(5, eps=1e-6, elementwise_affine=False)
        self.rms = RMSNorm(5)
        self.gelu = nn.GELU()
        self.seq = nn.Sequential()


TREES = {
    "sequential": lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2, bias=False)),
    "mlp": MLP,
    "nested": Net,
    "dict": Heads,
    "misc": Misc,
}


def load_case(make, drop=(), add=(), reshape=()):
    """A state_dict with `drop` keys removed, `reshape` [key, shape] replaced, `add` [key, shape] appended."""
    model = make()
    sd = make().state_dict()
    for k in drop:
        del sd[k]
    for k, shape in reshape:
        sd[k] = torch.zeros(shape)
    for k, shape in add:
        sd[k] = torch.zeros(shape)
    case = {"drop": list(drop), "add": [[k, list(s)] for k, s in add], "reshape": [[k, list(s)] for k, s in reshape]}
    try:
        model.load_state_dict(sd)
        case["strict"] = None
    except RuntimeError as e:
        case["strict"] = str(e)
    try:
        r = model.load_state_dict(sd, strict=False)
        case["nonstrict"] = {"missing": list(r.missing_keys), "unexpected": list(r.unexpected_keys)}
    except RuntimeError as e:
        case["nonstrict"] = str(e)
    return case


def tree(make):
    model = make()
    sd = model.state_dict()
    keys = list(sd)
    first_child = next(iter(model._modules))
    cases = [
        load_case(make, drop=[keys[-1]]),
        load_case(make, add=[["extra.weight", [2]], [f"{first_child}.foo", [1]]]),
        load_case(make, reshape=[[keys[0], [3, *sd[keys[0]].shape[1:]][: len(sd[keys[0]].shape) + 1]]]),
        load_case(make, drop=[keys[1]], add=[["zzz", [1]]], reshape=[[keys[-1], [1]]]),
        load_case(make, drop=[keys[0]], add=[["zzz", [1]]]),
    ]
    return {
        "repr": repr(model),
        "keys": [[k, list(v.shape)] for k, v in sd.items()],
        "modules": [name for name, _ in model.named_modules()],
        "cases": cases,
    }


def floats(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def numerics():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 7, 16, generator=g) * 3
    xs = torch.cat([torch.linspace(-12, 12, 97), torch.tensor([-30.0, -8.5, -3e-3, 0.0, 1e-7, 2.5, 40.0])])
    ln = nn.LayerNorm(16, eps=1e-5)
    rms = RMSNorm(16, eps=1e-6)
    with torch.no_grad():
        ln.weight.copy_(torch.randn(16, generator=g))
        ln.bias.copy_(torch.randn(16, generator=g))
        rms.weight.copy_(torch.randn(16, generator=g))
    emb = nn.Embedding(11, 4)
    ids = torch.tensor([[3, 0, 10], [7, 7, 1]])
    inits = {}
    for n, d in [(10, 3), (8, 4), (17, 5)]:
        torch.manual_seed(0)
        inits[f"{n}x{d}"] = floats(nn.Embedding(n, d).weight)
    return {
        "x": floats(x), "xShape": list(x.shape), "xs": floats(xs),
        "layerNorm": {"weight": floats(ln.weight), "bias": floats(ln.bias), "y": floats(ln(x))},
        "rmsNorm": {"weight": floats(rms.weight), "y": floats(rms(x)), "yNoEps": floats(RMSNorm(16)(x))},
        "gelu": floats(nn.GELU()(xs)), "geluTanh": floats(nn.GELU(approximate="tanh")(xs)), "silu": floats(nn.SiLU()(xs)),
        "relu": floats(nn.ReLU()(xs)),
        "embedding": {"weight": floats(emb.weight), "ids": ids.reshape(-1).tolist(), "idsShape": list(ids.shape), "y": floats(emb(ids))},
        "embeddingInit": inits,
    }


def main():
    torch.manual_seed(0)
    out = {"torch": torch.__version__, "trees": {name: tree(make) for name, make in TREES.items()}, "numerics": numerics()}
    with open(os.path.join(HERE, "fixtures", "modules.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
