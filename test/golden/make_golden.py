#!/usr/bin/python3
"""Writes the golden fixtures the TypeScript tests compare against, computed by PyTorch itself.

Run with Debian's PyTorch 1.13 (apt-get install python3-torch):

    /usr/bin/python3 test/golden/make_golden.py

Outputs (committed; CI never runs torch): fixtures/init.json, fixtures/quant.json, fixtures/forward.json.
Every float is a float32 value written as the shortest decimal that round-trips a double, so
JSON.parse + Float32Array gives the exact float32 bits back. Non-finite values (PyTorch's own
dequantize overflows to -inf at -128 * scale for weights near float32 max) are written as strings.
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch.ao.quantization.observer import MinMaxObserver, PerChannelMinMaxObserver

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")
EPS = torch.finfo(torch.float32).eps
RANGES = {"full": (127.5, -128, 127), "restricted": (127.0, -127, 127)}


def floats(t):
    """float32 values as JSON numbers; non-finite ones (JSON has none) as the strings 'Infinity', '-Infinity', 'NaN'."""
    return [v if math.isfinite(v) else str(v).replace("inf", "Infinity").replace("nan", "NaN") for v in map(float, t.detach().reshape(-1).tolist())]


def ints(t):
    return [int(v) for v in t.reshape(-1).tolist()]


def dump(name, obj):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(obj, f, separators=(",", ":"), allow_nan=False)
        f.write("\n")


# --- 1. nn.Linear init from torch.manual_seed -------------------------------------------------
def make_init():
    cases = []
    specs = [
        (42, [(5, 3, True)]),
        (0, [(1, 1, True)]),
        (1, [(16, 8, True)]),
        (7, [(4096, 2, True)]),
        (123, [(33, 5, False)]),
        (2**32 + 5, [(6, 4, True)]),  # only the low 32 bits seed mt19937
        (-1, [(3, 2, True)]),  # negative seeds wrap to uint64
        (42, [(5, 3, True), (3, 2, True)]),  # two layers in a row from one stream
        (2024, [(8, 4, False), (4, 6, True), (6, 1, True)]),
    ]
    for seed, layers in specs:
        torch.manual_seed(seed)
        made = []
        for in_f, out_f, bias in layers:
            lin = torch.nn.Linear(in_f, out_f, bias=bias)
            made.append({
                "in": in_f, "out": out_f, "bias": bias,
                "weight": floats(lin.weight),
                "bias_values": floats(lin.bias) if bias else None,
                "repr": repr(lin),
            })
        cases.append({"seed": str(seed), "layers": made})
    dump("init.json", {"torch": torch.__version__, "cases": cases})


# --- 2. quantization ----------------------------------------------------------------------------
def torch_scales(w2d, divisor):
    """absmax / divisor in float32, then the eps guard: the library's formula, in torch ops."""
    absmax = w2d.abs().amax(dim=1)
    return torch.clamp(absmax / divisor, min=EPS)


def division_trap_values(scale, count, rng):
    """Values w with |w| < 127*scale where round(fround(w * fround(1/scale))) differs from
    round(w / scale computed in double): they make a test fail if plain division replaces
    PyTorch's float32 reciprocal-multiply."""
    s = np.float32(scale)
    inv = np.float32(1) / s
    found = []
    while len(found) < count:
        k = rng.integers(-120, 120)
        center = np.float32((k + 0.5) * float(s))
        for step in range(-40, 41):
            w = center
            toward = np.float32(np.inf) if step > 0 else np.float32(-np.inf)
            for _ in range(abs(step)):
                w = np.nextafter(w, toward, dtype=np.float32)
            a = np.rint(np.float32(w * inv))
            b = np.rint(float(w) / float(s))
            if a != b:
                found.append(float(w))
                break
    return found


def crafted_weight():
    rng = np.random.default_rng(1234)
    cols = 32
    rows = []
    rows.append([0.0] * cols)  # all zeros -> scale EPS, q 0
    ties_full = [127.5, -127.5] + [k + 0.5 for k in range(-8, 8)] + [0.5, -0.5, 2.5, -2.5, 126.5, -126.5]
    rows.append((ties_full + [0.0] * cols)[:cols])  # scale exactly 1 with range 'full': exact .5 ties
    ties_restricted = [127.0, -127.0] + [k + 0.5 for k in range(-8, 8)] + [0.5, -0.5, 2.5, -2.5, 126.5, -126.5]
    rows.append((ties_restricted + [0.0] * cols)[:cols])  # scale exactly 1 with range 'restricted'
    outlier = list(rng.normal(0, 0.02, cols).astype(np.float32))
    outlier[5] = 40.0
    rows.append(outlier)  # one big outlier squeezes the rest to 0
    rows.append(list((rng.normal(0, 1, cols) * 1e-30).astype(np.float32)))  # tiny: scale hits EPS
    sub = [1e-40, -1e-40, 1.4e-45, -1.4e-45, 0.0, -0.0] * 6
    rows.append(sub[:cols])  # subnormals and signed zeros
    huge = list((rng.uniform(-1, 1, cols) * 3.0e38).astype(np.float32))
    huge[3] = 3.4028234663852886e38
    huge[4] = -3.4028234663852886e38
    rows.append(huge)  # near float32 max
    negmax = list(rng.normal(0, 0.1, cols).astype(np.float32))
    negmax[7] = -1.0  # negative extreme: -127.5 tie with range 'full'
    rows.append(negmax)
    # Rows where plain double division would round differently from PyTorch's arithmetic.
    for divisor in (127.5, 127.0):
        s = np.float32(np.float32(1.0) / np.float32(divisor))
        trap = division_trap_values(s, cols - 1, rng)
        rows.append([1.0] + trap)  # absmax 1.0 -> scale fround(1 / divisor)
    for _ in range(6):
        rows.append(list(rng.normal(0, 0.05, cols).astype(np.float32)))
    return torch.tensor(np.array(rows, dtype=np.float32))


def make_quant():
    torch.manual_seed(0)
    crafted = crafted_weight()
    seeded = torch.nn.Linear(128, 32).weight.detach().clone()
    weights = {"crafted": crafted, "linear_128x32": seeded}
    out = {"torch": torch.__version__, "weights": {}}
    for name, w in weights.items():
        rows, cols = w.shape
        entry = {"shape": [rows, cols], "weight": floats(w), "results": []}
        for rng_name, (divisor, qmin, qmax) in RANGES.items():
            # per channel
            scale = torch_scales(w, divisor)
            q = torch.quantize_per_channel(w, scale.double(), torch.zeros(rows, dtype=torch.long), 0, torch.qint8)
            entry["results"].append({
                "granularity": "channel", "range": rng_name,
                "scale": floats(scale), "q": ints(q.int_repr()),
                "dequantized": floats(q.dequantize()),
            })
            # per tensor
            tscale = torch.clamp(w.abs().max() / divisor, min=EPS)
            qt = torch.quantize_per_tensor(w, float(tscale), 0, torch.qint8)
            entry["results"].append({
                "granularity": "tensor", "range": rng_name,
                "scale": floats(tscale.reshape(1)), "q": ints(qt.int_repr()),
                "dequantized": floats(qt.dequantize()),
            })
            # per group: quantize_per_channel on the weight viewed as (rows * cols / g, g)
            for g in (8, 16) if cols % 16 == 0 else (8,):
                wg = w.reshape(rows * cols // g, g)
                gscale = torch_scales(wg, divisor)
                qg = torch.quantize_per_channel(wg, gscale.double(), torch.zeros(wg.shape[0], dtype=torch.long), 0, torch.qint8)
                entry["results"].append({
                    "granularity": "group", "groupSize": g, "range": rng_name,
                    "scale": floats(gscale), "q": ints(qg.int_repr()),
                    "dequantized": floats(qg.dequantize()),
                })
        # PyTorch's own observers agree with range 'full'
        obs = PerChannelMinMaxObserver(ch_axis=0, dtype=torch.qint8, qscheme=torch.per_channel_symmetric)
        obs(w)
        s, _ = obs.calculate_qparams()
        entry["observer_per_channel_scale"] = floats(s)
        tobs = MinMaxObserver(dtype=torch.qint8, qscheme=torch.per_tensor_symmetric)
        tobs(w)
        ts, _ = tobs.calculate_qparams()
        entry["observer_per_tensor_scale"] = floats(ts.reshape(1))
        out["weights"][name] = entry
    dump("quant.json", out)


# --- 3. forward -------------------------------------------------------------------------------
def make_forward():
    torch.manual_seed(7)
    lin = torch.nn.Linear(64, 24)
    x2 = torch.randn(5, 64)
    x3 = torch.randn(2, 3, 64)
    w = lin.weight.detach()
    cases = []
    schemes = [("channel", None, "full"), ("channel", None, "restricted"), ("tensor", None, "full"), ("group", 16, "full"), ("group", 32, "restricted")]
    for gran, g, rng_name in schemes:
        divisor = RANGES[rng_name][0]
        if gran == "channel":
            q = torch.quantize_per_channel(w, torch_scales(w, divisor).double(), torch.zeros(24, dtype=torch.long), 0, torch.qint8)
            wdq = q.dequantize()
        elif gran == "tensor":
            q = torch.quantize_per_tensor(w, float(torch.clamp(w.abs().max() / divisor, min=EPS)), 0, torch.qint8)
            wdq = q.dequantize()
        else:
            wg = w.reshape(-1, g)
            q = torch.quantize_per_channel(wg, torch_scales(wg, divisor).double(), torch.zeros(wg.shape[0], dtype=torch.long), 0, torch.qint8)
            wdq = q.dequantize().reshape(24, 64)
        cases.append({
            "granularity": gran, "groupSize": g, "range": rng_name,
            "y2": floats(F.linear(x2, wdq, lin.bias)), "y3": floats(F.linear(x3, wdq, lin.bias)),
        })
    dump("forward.json", {
        "torch": torch.__version__, "in": 64, "out": 24,
        "weight": floats(w), "bias": floats(lin.bias),
        "x2": floats(x2), "x2_shape": list(x2.shape), "x3": floats(x3), "x3_shape": list(x3.shape),
        "float_y2": floats(lin(x2)), "float_y3": floats(lin(x3)),
        "cases": cases,
    })


if __name__ == "__main__":
    with torch.no_grad():
        make_init()
        make_quant()
        make_forward()
    print("wrote", sorted(os.listdir(OUT)))
