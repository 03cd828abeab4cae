#!/usr/bin/python3
"""Golden compressed-tensors checkpoints, laid out as llm-compressor / compressed-tensors save them.

  /usr/bin/python3 test/golden/compressed-tensors/make_fixtures.py

The compressed-tensors package does not install here, so this script re-states, from its source
(vllm-project/compressed-tensors), exactly the parts that decide the bytes:
- quantization/lifecycle/forward.py `_quantize`: q = round(clamp(x / scale (+ zero_point), q_min, q_max))
  with torch.round (half to even), x and scale in the model dtype (BF16 / F16 here: the division happens
  in that dtype, as in an llm-compressor run on a BF16 model), int8 range [-128, 127];
- observers (min-max, symmetric): scale = max(|min|, |max|) / ((q_max - q_min) / 2) = absmax / 127.5,
  computed in float32 and stored in the model dtype (`scale_dtype` follows the model);
- compressors/quantized_compressors/pack_quantized.py `pack_to_int32(q, 8)`: uint8(q + 128), rows padded
  with zeros to a multiple of 4, 4 values per int32 little-endian (value i at bit 8 * (i % 4));
  `weight_shape` = torch.tensor(weight.shape) (int64); the int8 `weight` is dropped;
- int-quantized (W8A8): `weight` I8 as is; input_activations int8 symmetric per-token dynamic (preset W8A8);
- the config lives only in config.json (`quantization_config`, with `version`, per-group `format`),
  the safetensors metadata is {"format": "pt"} as save_pretrained writes.

Each folder has expected.safetensors: the int8 values (unpacked here with `unpack_from_int32`'s logic
and checked against the values before packing), the scales as float32 (exact: BF16/F16 widen exactly),
inputs x and the float64 outputs y = x @ (q * scale)^T + b, so tests check loading bit for bit.
"""
import json
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "examples", "digits"))
import st_py  # noqa: E402

VERSION = "0.12.2"
EPS = torch.finfo(torch.float32).eps


def weights_args(strategy, group_size, symmetric=True, **extra):
    args = {"num_bits": 8, "type": "int", "symmetric": symmetric, "group_size": group_size, "strategy": strategy,
            "block_structure": None, "dynamic": False, "actorder": None, "scale_dtype": None, "zp_dtype": None,
            "observer": "minmax", "observer_kwargs": {}}
    args.update(extra)
    return args


TOKEN_INT8 = {"num_bits": 8, "type": "int", "symmetric": True, "group_size": None, "strategy": "token",
              "block_structure": None, "dynamic": True, "actorder": None, "scale_dtype": None, "zp_dtype": None,
              "observer": None, "observer_kwargs": {}}


def quant_config(fmt, groups, ignore):
    return {"config_groups": groups, "format": fmt, "global_compression_ratio": None, "ignore": ignore,
            "kv_cache_scheme": None, "quant_method": "compressed-tensors", "quantization_status": "compressed",
            "version": VERSION}


def observe(w, strategy, group_size):
    """Min-max symmetric scale in float32, shaped as compressed-tensors stores it."""
    a = w.float().abs()
    out, inf = w.shape
    if strategy == "tensor":
        amax = a.amax().reshape(1)
    elif strategy == "channel":
        amax = a.amax(dim=1, keepdim=True)
    else:
        amax = a.reshape(out, inf // group_size, group_size).amax(dim=2)
    return torch.clamp(amax / 127.5, min=EPS)


def ct_quantize(w, scale, strategy, group_size, zero_point=None):
    """forward.py _quantize in the model dtype: round(clamp(w / scale + zp, -128, 127)), half to even."""
    s = scale
    if strategy == "group":
        s = scale.repeat_interleave(group_size, dim=1)
    # The model-dtype division, done as float32 division rounded to the dtype: that is the correctly rounded
    # BF16 / F16 quotient (float32 carries more than twice their precision bits plus two, so no double
    # rounding error), and CPU torch 1.13 has no Half clamp.
    scaled = (w.float() / s.to(w.dtype).float()).to(w.dtype).float()
    if zero_point is not None:
        z = zero_point.repeat_interleave(group_size, dim=1) if strategy == "group" else zero_point
        scaled = (scaled + z.float()).to(w.dtype).float()
    return torch.round(torch.clamp(scaled, -128, 127)).to(torch.int8)


def pack_to_int32(value):
    """pack_to_int32(value, num_bits=8, packed_dim=1) from compressed-tensors, restated."""
    assert value.dtype == torch.int8
    v = (value.to(torch.int32) + 128)
    rows, cols = v.shape
    padded = math.ceil(cols / 4) * 4
    if padded > cols:
        v = torch.nn.functional.pad(v, (0, padded - cols))
    v = v.reshape(rows, padded // 4, 4)
    shifts = torch.arange(4, dtype=torch.int32) * 8
    # Sum in int64 and wrap to int32: the top byte can be >= 128 (bit 31 set), as in torch's int32 arithmetic.
    packed = (v.to(torch.int64) << shifts.to(torch.int64)).sum(dim=2)
    packed = torch.where(packed >= 2 ** 31, packed - 2 ** 32, packed)
    return packed.to(torch.int32)


def unpack_from_int32(value, shape):
    """unpack_from_int32(value, 8, shape): byte i of each word, minus 128, padding dropped."""
    rows = value.shape[0]
    out = torch.zeros((rows, value.shape[1] * 4), dtype=torch.int32)
    for i in range(4):
        out[:, i::4] = (value >> (8 * i)) & 0xFF
    return (out[:, : int(shape[1])] - 128).to(torch.int8)


class Checkpoint:
    def __init__(self, name, dtype):
        self.dir = os.path.join(HERE, name)
        os.makedirs(self.dir, exist_ok=True)
        self.dtype = dtype
        self.tensors, self.expected = {}, {}
        self.gen = torch.Generator().manual_seed(sum(map(ord, name)))

    def weight(self, out, inf, outliers=True):
        w = torch.randn(out, inf, generator=self.gen) * 0.05
        if outliers:
            w[0, 0] = 0.9  # an outlier row
        w[-1] = 0.0  # an all-zero row: scale EPS (stored as the model dtype's nearest value)
        return w.to(self.dtype)

    def layer(self, name, out, inf, strategy, group_size=None, bias=False, packed=True, zero_point=None, g_idx=False):
        w = self.weight(out, inf)
        scale = observe(w, strategy, group_size).to(self.dtype)
        q = ct_quantize(w, scale, strategy, group_size, zero_point)
        if packed:
            p = pack_to_int32(q)
            assert torch.equal(unpack_from_int32(p, q.shape), q)
            self.tensors[f"{name}.weight_packed"] = p
            self.tensors[f"{name}.weight_shape"] = torch.tensor(list(q.shape))  # int64, as torch.tensor(weight.shape)
        else:
            self.tensors[f"{name}.weight"] = q
        self.tensors[f"{name}.weight_scale"] = scale
        if zero_point is not None:
            self.tensors[f"{name}.weight_zero_point"] = zero_point
        if g_idx:
            self.tensors[f"{name}.weight_g_idx"] = (torch.arange(inf, dtype=torch.int32) // (group_size or inf))
        b = None
        if bias:
            b = (torch.randn(out, generator=self.gen) * 0.1).to(self.dtype)
            self.tensors[f"{name}.bias"] = b
        x = torch.randn(3, inf, generator=self.gen)
        s = scale.float() if strategy != "group" else scale.float().repeat_interleave(group_size, dim=1)
        y = x.double() @ (q.double() * s.double()).t()
        if b is not None:
            y = y + b.double()
        self.expected.update({f"{name}.q": q, f"{name}.scale": scale.float(), f"{name}.x": x, f"{name}.y": y})

    def float_tensor(self, name, shape):
        self.tensors[name] = (torch.randn(*shape, generator=self.gen) * 0.02).to(self.dtype)

    def save(self, config, model_type="llama"):
        st_py.write(os.path.join(self.dir, "model.safetensors"), self.tensors, {"format": "pt"})
        st_py.write(os.path.join(self.dir, "expected.safetensors"), self.expected, {"format": "pt", "torch": torch.__version__})
        cfg = {"architectures": ["LlamaForCausalLM"], "model_type": model_type, "torch_dtype": str(self.dtype).replace("torch.", ""),
               "quantization_config": config}
        with open(os.path.join(self.dir, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")


def w8a16_bf16():
    """W8A16 pack-quantized, BF16 model and scales, two groups with re: targets, ignore lm_head."""
    c = Checkpoint("w8a16-bf16", torch.bfloat16)
    c.float_tensor("model.embed_tokens.weight", (50, 64))
    for p in ["q_proj", "k_proj", "v_proj", "o_proj"]:
        c.layer(f"model.layers.0.self_attn.{p}", 64, 64, "group", 16)
    c.layer("model.layers.0.mlp.gate_proj", 96, 64, "channel")
    c.layer("model.layers.0.mlp.up_proj", 96, 64, "channel")
    c.layer("model.layers.0.mlp.down_proj", 64, 96, "channel")
    c.float_tensor("model.norm.weight", (64,))
    c.float_tensor("lm_head.weight", (50, 64))
    c.save(quant_config("pack-quantized", {
        "group_0": {"targets": ["re:.*self_attn\\.(q|k|v|o)_proj$"], "weights": weights_args("group", 16),
                    "input_activations": None, "output_activations": None, "format": "pack-quantized"},
        "group_1": {"targets": ["re:.*mlp\\.(gate|up|down)_proj$"], "weights": weights_args("channel", None),
                    "input_activations": None, "output_activations": None, "format": "pack-quantized"},
    }, ["lm_head"]))


def padded_f16():
    """Rows that need padding (in = 10 and 30), F16 scales, the class target Linear, a zero weight_zero_point,
    an identity weight_g_idx (actorder "weight"), a bias, per-tensor and older configs (no per-group format)."""
    c = Checkpoint("padded-f16", torch.float16)
    c.layer("fc1", 6, 10, "channel", bias=True, zero_point=torch.zeros(6, 1, dtype=torch.int8))
    c.layer("fc2", 5, 30, "group", 10, g_idx=True)
    c.layer("head.proj", 4, 5, "tensor")
    c.save(quant_config("pack-quantized", {
        # The class target comes first: a group naming the layer still wins (vLLM's find_matched_target).
        "group_0": {"targets": ["Linear"], "weights": weights_args("channel", -1), "input_activations": None, "output_activations": None},
        "group_1": {"targets": ["fc2"], "weights": weights_args("group", 10, actorder="weight"), "input_activations": None, "output_activations": None},
        "group_2": {"targets": ["head.proj"], "weights": weights_args(None, None), "input_activations": None, "output_activations": None},
    }, []), model_type="test")


def w8a8_bf16():
    """W8A8 int-quantized (preset W8A8: channel weights, dynamic per-token int8 activations), BF16 scales."""
    c = Checkpoint("w8a8-bf16", torch.bfloat16)
    c.layer("model.layers.0.mlp.gate_proj", 48, 32, "channel")
    c.layer("model.layers.0.mlp.down_proj", 32, 48, "channel", packed=False)
    c.tensors["model.layers.0.mlp.gate_proj.weight"] = unpack_from_int32(
        c.tensors.pop("model.layers.0.mlp.gate_proj.weight_packed"), c.tensors.pop("model.layers.0.mlp.gate_proj.weight_shape"))
    c.float_tensor("lm_head.weight", (20, 32))
    c.save(quant_config("int-quantized", {
        "group_0": {"targets": ["Linear"], "weights": weights_args("channel", None), "input_activations": TOKEN_INT8,
                    "output_activations": None, "format": "int-quantized"},
    }, ["lm_head"]))


def asymmetric():
    """W8A16 asymmetric (symmetric false, a non-zero zero point): this library refuses it."""
    c = Checkpoint("asymmetric", torch.bfloat16)
    zp = torch.full((8, 1), 3, dtype=torch.int8)
    c.layer("fc", 8, 16, "channel", zero_point=zp)
    c.save(quant_config("pack-quantized", {
        "group_0": {"targets": ["Linear"], "weights": weights_args("channel", None, symmetric=False, zp_dtype="torch.int8"),
                    "input_activations": None, "output_activations": None, "format": "pack-quantized"},
    }, []), model_type="test")


if __name__ == "__main__":
    w8a16_bf16()
    padded_f16()
    w8a8_bf16()
    asymmetric()
    print("wrote test/golden/compressed-tensors fixtures")
