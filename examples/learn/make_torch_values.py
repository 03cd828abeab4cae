#!/usr/bin/python3
"""Writes torch-values.json: the first values PyTorch 1.13 gives nn.Linear for each seed and shape the
explainer page offers, so the page can show them next to the library's own (it runs offline, without torch).

Run with Debian's PyTorch 1.13 (apt-get install python3-torch):

    /usr/bin/python3 examples/learn/make_torch_values.py

Each float is a float32 value written as the shortest decimal that round-trips a double, so
Math.fround(JSON.parse(...)) gives the exact float32 bits back. Keep SHAPES and SEEDS in step with
examples/learn/lesson.ts (the e2e checks the page against this file).
"""
import json
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
# (out_features, in_features), as the page lists them.
SHAPES = [(1024, 512), (256, 128), (16, 32), (3, 5)]
SEEDS = [42, 0, 7]
FIRST = 8

cases = []
for seed in SEEDS:
    for out_f, in_f in SHAPES:
        torch.manual_seed(seed)
        lin = torch.nn.Linear(in_f, out_f)
        cases.append({
            "seed": seed,
            "out": out_f,
            "in": in_f,
            "weight": [float(v) for v in lin.weight.detach().reshape(-1)[:FIRST].tolist()],
            "bias": [float(v) for v in lin.bias.detach()[:FIRST].tolist()],
        })

with open(os.path.join(HERE, "torch-values.json"), "w") as f:
    json.dump({"torch": torch.__version__, "first": FIRST, "cases": cases}, f, indent=1)
    f.write("\n")
