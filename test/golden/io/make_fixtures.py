#!/usr/bin/python3
"""Golden fixtures for int8-linear's safetensors / compressed-tensors I/O, made with PyTorch 1.13.

  /usr/bin/python3 test/golden/io/make_fixtures.py

1. compressed-tensors/: a checkpoint as the compressed-tensors library lays out an `int-quantized`
   model, written by hand from its spec (not by int8-linear): `<name>.weight` I8, `<name>.weight_scale`
   in the model dtype (BF16 here) or F32, an all-zero `weight_zero_point` as older versions save,
   scales `absmax / 127.5` and `q = clamp(round(w / scale), -128, 127)` as compressed-tensors computes
   them, the `quantization_config` only in config.json (the safetensors metadata is {"format": "pt"}),
   with `re:` targets and an `ignore` list. expected.safetensors holds inputs and the float64 outputs
   of the dequantized layers.
2. mixed-dtypes.safetensors: the digits MLP with F16, BF16 and F32 Linear weights plus tensors the CLI
   must copy byte for byte, written by the independent Python writer (examples/digits/st_py.py).
"""
import json
import os
import subprocess
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "examples", "digits"))
import st_py  # noqa: E402


def ct_quantize(w, scale):
    """compressed-tensors' symmetric int8 fake-quant core: round(w / scale) clamped to [-128, 127]."""
    return torch.clamp(torch.round(w / scale.float()), -128, 127).to(torch.int8)


def compressed_tensors_fixture():
    out = os.path.join(HERE, "compressed-tensors")
    torch.manual_seed(0)
    down = torch.nn.Linear(64, 32)
    up = torch.nn.Linear(32, 64, bias=False)
    tensors, layers = {}, {}
    # down_proj: per channel, scale stored in bfloat16 (the model dtype), as a bf16 model would have.
    w = down.weight.detach()
    scale = (w.abs().amax(dim=1, keepdim=True) / 127.5).clamp(min=torch.finfo(torch.float32).eps).bfloat16()
    q = ct_quantize(w, scale)
    name = "model.layers.0.mlp.down_proj"
    tensors.update({f"{name}.weight": q, f"{name}.weight_scale": scale, f"{name}.weight_zero_point": torch.zeros(32, 1, dtype=torch.int8),
                    f"{name}.bias": down.bias.detach()})
    layers[name] = (q, scale.float(), down.bias.detach())
    # up_proj: per group of 16, float32 scales, no bias.
    w = up.weight.detach()
    scale = (w.reshape(64, 2, 16).abs().amax(dim=2) / 127.5).clamp(min=torch.finfo(torch.float32).eps)
    q = ct_quantize(w, scale.repeat_interleave(16, dim=1))
    name = "model.layers.0.mlp.up_proj"
    tensors.update({f"{name}.weight": q, f"{name}.weight_scale": scale})
    layers[name] = (q, scale.repeat_interleave(16, dim=1), None)
    tensors["lm_head.weight"] = torch.randn(10, 64)
    tensors["model.norm.weight"] = torch.ones(64)
    st_py.write(os.path.join(out, "model.safetensors"), tensors, {"format": "pt"})
    config = {
        "architectures": ["TinyForTest"],
        "torch_dtype": "bfloat16",
        "quantization_config": {
            "config_groups": {
                "group_0": {
                    "input_activations": None, "output_activations": None, "targets": ["re:.*down_proj$"],
                    "weights": {"actorder": None, "block_structure": None, "dynamic": False, "group_size": None, "num_bits": 8,
                                "observer": "minmax", "observer_kwargs": {}, "strategy": "channel", "symmetric": True, "type": "int"},
                },
                "group_1": {
                    "input_activations": None, "output_activations": None, "targets": ["re:.*up_proj$"],
                    "weights": {"actorder": None, "block_structure": None, "dynamic": False, "group_size": 16, "num_bits": 8,
                                "observer": "minmax", "observer_kwargs": {}, "strategy": "group", "symmetric": True, "type": "int"},
                },
            },
            "format": "int-quantized",
            "global_compression_ratio": 1.9,
            "ignore": ["lm_head"],
            "kv_cache_scheme": None,
            "quant_method": "compressed-tensors",
            "quantization_status": "compressed",
            "version": "0.7.1",
        },
    }
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    gen = torch.Generator().manual_seed(1)
    x_down = torch.randn(5, 64, generator=gen)
    x_up = torch.randn(5, 32, generator=gen)
    expected = {"x_down": x_down, "x_up": x_up}
    for key, x, (q, s, b) in [("y_down", x_down, layers["model.layers.0.mlp.down_proj"]), ("y_up", x_up, layers["model.layers.0.mlp.up_proj"])]:
        y = x.double() @ (q.double() * s.double()).t()
        if b is not None:
            y = y + b.double()
        expected[key] = y.float()
    st_py.write(os.path.join(out, "expected.safetensors"), expected, {"format": "pt", "torch": torch.__version__})


if __name__ == "__main__":
    compressed_tensors_fixture()
    subprocess.run([sys.executable, os.path.join(ROOT, "examples", "digits", "train_digits.py"), "mixed",
                    os.path.join(HERE, "mixed-dtypes.safetensors")], check=True)
    print("wrote test/golden/io fixtures")
