#!/usr/bin/python3
"""Trains a 64-128-64-10 ReLU MLP on scikit-learn's handwritten digits with PyTorch and saves it.

  /usr/bin/python3 examples/digits/train_digits.py            # train; writes mlp.safetensors, test.safetensors
  /usr/bin/python3 examples/digits/train_digits.py mixed OUT  # the MLP with F16/BF16/F32 weights and extra tensors
  /usr/bin/python3 examples/digits/train_digits.py check QUANTIZED ORIGINAL
      # reads a file written by `int8-linear quantize` with this folder's own reader (st_py), checks
      # every non-quantized tensor is byte-identical to ORIGINAL, runs the dequantized model in torch

Needs Debian's python3-torch and python3-sklearn (PyTorch 1.13, scikit-learn 1.2). Deterministic:
fixed seeds, full-batch-free minibatch order from a seeded generator, CPU only.
"""
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_py  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
LAYERS = ["fc1", "fc2", "fc3"]


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


def forward_with(weights, x):
    """The MLP from a {name: tensor} dict (float32)."""
    h = x
    for i, name in enumerate(LAYERS):
        h = h @ weights[f"{name}.weight"].t() + weights[f"{name}.bias"]
        if i < len(LAYERS) - 1:
            h = torch.relu(h)
    return h


def train():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target, dtype=torch.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    torch.manual_seed(0)
    model = MLP()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    for epoch in range(150):
        perm = torch.randperm(len(x_train), generator=gen)
        for i in range(0, len(perm), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        logits = model(x_test)
    acc = (logits.argmax(1) == y_test).float().mean().item()
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    st_py.write(os.path.join(HERE, "mlp.safetensors"), state,
                {"format": "pt", "model": "digits MLP 64-128-64-10 ReLU", "test_accuracy": f"{acc:.4f}",
                 "torch": torch.__version__})
    st_py.write(os.path.join(HERE, "test.safetensors"), {"x": x_test, "labels": y_test, "logits": logits},
                {"format": "pt", "split": "sklearn train_test_split(test_size=0.25, random_state=0, stratify=y)"})
    print(f"trained: {len(x_train)} train / {len(x_test)} test digits, float test accuracy {acc:.4f}")


def mixed(out):
    """The trained MLP with fc1 in F16, fc2 in BF16, fc3 in F32, plus tensors that must be copied."""
    state, _, _ = st_py.read(os.path.join(HERE, "mlp.safetensors"))
    tensors = {
        "fc1.weight": state["fc1.weight"].half(), "fc1.bias": state["fc1.bias"].half(),
        "fc2.weight": state["fc2.weight"].bfloat16(), "fc2.bias": state["fc2.bias"].bfloat16(),
        "fc3.weight": state["fc3.weight"], "fc3.bias": state["fc3.bias"],
        "embed.weight": torch.arange(40, dtype=torch.float32).reshape(10, 4),
        "steps": torch.tensor([12345], dtype=torch.int64),
        "mask": torch.tensor([1, 0, 1], dtype=torch.uint8),
        "flags": torch.tensor([True, False, True, True]),
    }
    st_py.write(out, tensors, {"format": "pt", "note": "mixed dtypes"})
    print(f"wrote {out}")


def check(quantized, original):
    q, q_raw, meta = st_py.read(quantized)
    _, o_raw, _ = st_py.read(original)
    config = __import__("json").loads(meta["quantization_config"])
    assert config["quant_method"] == "compressed-tensors" and config["format"] == "int-quantized", config
    copied = [k for k in o_raw if not (k.endswith(".weight") and k[:-7] in LAYERS)]
    for k in copied:
        assert q_raw[k] == o_raw[k], f"{k} is not byte-identical"
    weights = {}
    for name in LAYERS:
        w, s = q[f"{name}.weight"], q[f"{name}.weight_scale"].float()
        assert w.dtype == torch.int8, (name, w.dtype)
        group = w.shape[1] // s.shape[1] if s.dim() == 2 else w.shape[1]
        weights[f"{name}.weight"] = w.float() * (s.repeat_interleave(group, dim=1) if s.dim() == 2 else s)
        weights[f"{name}.bias"] = q[f"{name}.bias"].float()
    test, _, _ = st_py.read(os.path.join(HERE, "test.safetensors"))
    with torch.no_grad():
        pred = forward_with(weights, test["x"]).argmax(1)
    acc = (pred == test["labels"]).float().mean().item()
    agree = (pred == test["logits"].argmax(1)).float().mean().item()
    print(f"python check of {quantized}: header and offsets valid, {len(copied)} tensors byte-identical "
          f"({', '.join(copied)}), int8 model in torch: accuracy {acc:.4f}, agreement with float {agree:.4f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "mixed":
        mixed(sys.argv[2])
    elif len(sys.argv) > 1 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3])
    else:
        train()
