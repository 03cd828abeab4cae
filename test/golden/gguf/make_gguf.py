#!/usr/bin/python3
"""Golden fixtures for int8-linear's GGUF Q8_0 reader, writer and converter, made with numpy alone.

  /usr/bin/python3 test/golden/gguf/make_gguf.py

Independent of int8-linear: Q8_0 is written here from ggml's own source, ggml-quants.c
`quantize_row_q8_0_ref` / `dequantize_row_q8_0` and ggml-common.h `block_q8_0`:

    amax = max |x| over a block of 32            (float32)
    d    = amax / 127                            (float32)
    id   = 1 / d if d else 0                     (float32, from the float32 d)
    qs   = roundf(x * id)                        (float32 product, C roundf: ties away from zero)
    block = half(d) (round to nearest even), then the 32 int8 qs            34 bytes

and the GGUF v3 file is written byte by byte from ggml's docs/gguf.md and gguf.cpp
(`gguf_write_to_buf`): header, metadata, tensor infos (dims innermost first), zero padding to the
alignment, each tensor's data zero-padded to the alignment.

Files (all committed; CI never runs Python):
- model.safetensors: float weights (F32, F16, BF16) whose Q8_0 blocks hit every edge: exact ties
  (x * id = k + 0.5 exactly), all-zero blocks (d = 0, q = 0), an outlier, negative extremes, a half
  rounding tie of d itself, a scale that underflows half to 0, a row of 40 (not a multiple of 32).
- model-q8_0.gguf: what `int8-linear convert model.safetensors -o model-q8_0.gguf --arch llama`
  must write, byte for byte: every 2-D *.weight with rows of a multiple of 32 in Q8_0, the others
  copied in their dtype, metadata general.architecture, general.alignment, general.file_type (7,
  MOSTLY_Q8_0), general.quantization_version (2).
- rich.gguf: a GGUF with every metadata value type, arrays, UTF-8 strings, alignment 64, Q8_0, F16,
  BF16, F32 and I32 tensors (what the reader and GGUF -> safetensors must take apart bit for bit).
- experts-q8_0.gguf: a 3-D Q8_0 tensor (2 experts), which converts to float32 (dequantized).
- expected.safetensors: per Q8_0 tensor X of rich.gguf and experts-q8_0.gguf, `X.q` (I8, PyTorch
  shape), `X.d` (F16 bits, (rows, in / 32)) and `X.deq` (F32, dequantize_row_q8_0); and for the
  Hugging Face names of rich.gguf's attn_q / attn_k (stored with llama's rotary row permutation,
  convert_hf_to_gguf.py `LlamaModel.permute`), `.q` and `.d` of the unpermuted weights.
"""
import json
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
QK8_0 = 32

# ggml type ids (ggml.h) and gguf value type ids (gguf.h).
F32, F16, Q8_0, I32, BF16 = 0, 1, 8, 26, 30
GGUF_TYPES = {"u8": 0, "i8": 1, "u16": 2, "i16": 3, "u32": 4, "i32": 5, "f32": 6, "bool": 7, "str": 8, "arr": 9, "u64": 10, "i64": 11, "f64": 12}
PACK = {"u8": "<B", "i8": "<b", "u16": "<H", "i16": "<h", "u32": "<I", "i32": "<i", "f32": "<f", "bool": "<?", "u64": "<Q", "i64": "<q", "f64": "<d"}


def roundf(x):
    """C roundf on float32, exactly: floor(|x|) plus 1 when the fraction is >= 0.5 (no float sum)."""
    a = np.abs(x)
    fl = np.floor(a)
    return np.sign(x) * (fl + (a - fl >= np.float32(0.5)))


def quantize_q8_0(x):
    """quantize_row_q8_0_ref over every row of x (float32, rows of a multiple of 32): (qs int8, d float16)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    blocks = x.reshape(-1, QK8_0)
    amax = np.abs(blocks).max(axis=1)
    d = (amax / np.float32(127)).astype(np.float32)
    with np.errstate(divide="ignore"):
        id_ = np.where(d != 0, np.float32(1) / d, np.float32(0)).astype(np.float32)
    x0 = (blocks * id_[:, None]).astype(np.float32)
    qs = roundf(x0).astype(np.int8)
    return qs.reshape(x.shape), d.astype(np.float16).reshape(x.shape[:-1] + (x.shape[-1] // QK8_0,))


def q8_0_bytes(qs, d):
    """block_q8_0 records: per block the half d (little-endian) then 32 int8."""
    nb = d.size
    out = np.zeros((nb, 2 + QK8_0), dtype=np.uint8)
    out[:, 0:2] = d.reshape(nb).astype("<f2").view(np.uint8).reshape(nb, 2)
    out[:, 2:] = qs.reshape(nb, QK8_0).view(np.uint8)
    return out.tobytes()


def dequantize_q8_0(qs, d):
    """dequantize_row_q8_0: qs * float(d), float32."""
    return (qs.astype(np.float32) * np.repeat(d.astype(np.float32), QK8_0, axis=-1)).astype(np.float32)


def gguf_string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def gguf_value(type_, value):
    if type_ == "str":
        return gguf_string(value)
    return struct.pack(PACK[type_], value)


def pad(n, alignment):
    return (alignment - n % alignment) % alignment


def write_gguf(path, kvs, tensors):
    """kvs: [(key, type, value)] with arrays as (key, ('arr', item_type), [values]); tensors: [(name, ggml_type, shape, bytes)]."""
    alignment = 32
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)))
    for key, type_, value in kvs:
        out += gguf_string(key)
        if isinstance(type_, tuple):
            out += struct.pack("<IIQ", GGUF_TYPES["arr"], GGUF_TYPES[type_[1]], len(value))
            for v in value:
                out += gguf_value(type_[1], v)
        else:
            out += struct.pack("<I", GGUF_TYPES[type_]) + gguf_value(type_, value)
            if key == "general.alignment":
                alignment = value
    offset = 0
    for name, ggml_type, shape, data in tensors:
        ne = list(reversed(shape))  # innermost first
        out += gguf_string(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
        out += struct.pack("<IQ", ggml_type, offset)
        offset += len(data) + pad(len(data), alignment)
    out += bytes(pad(len(out), alignment))
    for _, _, _, data in tensors:
        out += data + bytes(pad(len(data), alignment))
    with open(path, "wb") as f:
        f.write(out)


ST_DTYPE = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.int8): "I8", np.dtype(np.int32): "I32"}


def write_safetensors(path, tensors, metadata=None):
    """A safetensors file: tensors in the given order, contiguous from 0, header padded to 8 bytes.

    tensors: [(name, dtype name, shape, bytes)]."""
    header, offset = {}, 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * pad(len(text), 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(t[3] for t in tensors))


def bf16_bytes(x):
    """float32 -> bfloat16 bits, round to nearest even (as torch .bfloat16())."""
    b = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((b + 0x7FFF + ((b >> 16) & 1)) >> 16).astype("<u2").tobytes()


def bf16_values(x):
    return (np.frombuffer(bf16_bytes(x), dtype="<u2").astype(np.uint32) << 16).view(np.float32).reshape(np.shape(x))


def llama_permute(weights, n_head, n_head_kv):
    """convert_hf_to_gguf.py LlamaModel.permute: HF q_proj / k_proj rows -> GGUF attn_q / attn_k rows."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2)
            .reshape(weights.shape))


def edge_weight(rng):
    """(8, 64): two blocks per row; each row exercises one edge of quantize_row_q8_0_ref."""
    w = rng.standard_normal((8, 64)).astype(np.float32)
    # Row 0: amax 127 so d = 1 and id = 1 exactly; every other value an exact tie k + 0.5.
    w[0, :32] = np.array([127.0] + [k + 0.5 for k in range(-15, 16)], dtype=np.float32)
    # Second block: d = 0.5, id = 2: x = k / 2 + 0.25 gives x * id = k + 0.5, ties again, negatives too.
    w[0, 32:] = np.array([63.5] + [k / 2 + 0.25 for k in range(-31, 31, 2)], dtype=np.float32)
    # Row 1: an all-zero block (d = 0, q = 0) and a block with one outlier among small values.
    w[1, :32] = 0.0
    w[1, 32:] = rng.standard_normal(32).astype(np.float32) * np.float32(0.01)
    w[1, 40] = 1000.0
    # Row 2: the block's extreme is negative (q = -127), and -0.0 stays a zero.
    w[2, :32] = -np.abs(w[2, :32])
    w[2, 5] = -50.0
    w[2, 6] = -0.0
    # Row 3: d = 1 + 2^-11 exactly, a half rounding tie (even: 1.0), and d = 1 + 3 * 2^-11 (up: 1 + 2^-9).
    w[3, :32] = np.linspace(-1, 1, 32, dtype=np.float32)
    w[3, 0] = np.float32(127 * (1 + 2**-11))
    w[3, 32:] = np.linspace(-1, 1, 32, dtype=np.float32)
    w[3, 33] = -np.float32(127 * (1 + 3 * 2**-11))
    # Row 4: a block so small its d underflows half to 0 (q still +-127, as ggml computes it).
    w[4, :32] = rng.standard_normal(32).astype(np.float32) * np.float32(1e-9)
    return w


def main():
    rng = np.random.default_rng(20261201)
    q_w = edge_weight(rng)
    down = rng.standard_normal((16, 96)).astype(np.float16)
    up_f32 = rng.standard_normal((4, 32)).astype(np.float32) * np.float32(3)
    up = bf16_values(up_f32)
    norm = (1 + rng.standard_normal(64) * 0.1).astype(np.float32)
    odd = rng.standard_normal((3, 40)).astype(np.float32)
    embd = rng.standard_normal((10, 64)).astype(np.float32)
    bias = rng.standard_normal(8).astype(np.float32)

    # --- safetensors -> GGUF (out) -------------------------------------------------------------
    st = [
        ("token_embd.weight", "F32", embd.shape, embd.tobytes()),
        ("blk.0.attn_q.weight", "F32", q_w.shape, q_w.tobytes()),
        ("blk.0.attn_q.bias", "F32", bias.shape, bias.tobytes()),
        ("blk.0.ffn_down.weight", "F16", down.shape, down.astype("<f2").tobytes()),
        ("blk.0.ffn_up.weight", "BF16", up.shape, bf16_bytes(up_f32)),
        ("blk.0.attn_norm.weight", "F32", norm.shape, norm.tobytes()),
        ("blk.0.odd.weight", "F32", odd.shape, odd.tobytes()),
    ]
    write_safetensors(os.path.join(HERE, "model.safetensors"), st, {"format": "pt"})

    def as_q8_0(x):
        qs, d = quantize_q8_0(np.asarray(x, dtype=np.float32))
        return q8_0_bytes(qs, d)

    out_tensors = [
        ("token_embd.weight", Q8_0, embd.shape, as_q8_0(embd)),
        ("blk.0.attn_q.weight", Q8_0, q_w.shape, as_q8_0(q_w)),
        ("blk.0.attn_q.bias", F32, bias.shape, bias.tobytes()),
        ("blk.0.ffn_down.weight", Q8_0, down.shape, as_q8_0(down.astype(np.float32))),
        ("blk.0.ffn_up.weight", Q8_0, up.shape, as_q8_0(up)),
        ("blk.0.attn_norm.weight", F32, norm.shape, norm.tobytes()),
        ("blk.0.odd.weight", F32, odd.shape, odd.tobytes()),  # 40 is not a multiple of 32: kept in float
    ]
    write_gguf(
        os.path.join(HERE, "model-q8_0.gguf"),
        [("general.architecture", "str", "llama"), ("general.alignment", "u32", 32), ("general.file_type", "u32", 7), ("general.quantization_version", "u32", 2)],
        out_tensors,
    )

    # --- GGUF -> safetensors (in) --------------------------------------------------------------
    expected = []

    def expect_q8_0(name, x):
        """The int8 values and half scales of quantizing x directly (for the Hugging Face names)."""
        qs, d = quantize_q8_0(np.asarray(x, dtype=np.float32))
        expected.extend([(f"{name}.q", "I8", qs.shape, qs.tobytes()), (f"{name}.d", "F16", d.shape, d.astype("<f2").tobytes())])

    def q8_0_tensor(name, x):
        qs, d = quantize_q8_0(np.asarray(x, dtype=np.float32))
        expected.extend([
            (f"{name}.q", "I8", qs.shape, qs.tobytes()),
            (f"{name}.d", "F16", d.shape, d.astype("<f2").tobytes()),
            (f"{name}.deq", "F32", qs.shape, dequantize_q8_0(qs, d).tobytes()),
        ])
        return (name, Q8_0, qs.shape, q8_0_bytes(qs, d))

    tokens = ["<unk>", "<s>", "</s>", "▁the", "é", "名前", ""]
    rich_kvs = [
        ("general.architecture", "str", "llama"),
        ("general.name", "str", "tiny é 名 \"quoted\"\n"),
        ("llama.block_count", "u32", 1),
        ("llama.context_length", "u32", 2048),
        ("llama.rope.freq_base", "f32", 10000.0),
        ("llama.attention.head_count", "u32", 1),
        ("llama.attention.head_count_kv", "u32", 2),
        ("llama.attention.layer_norm_rms_epsilon", "f32", float(np.float32(1e-5))),
        ("test.u8", "u8", 255),
        ("test.i8", "i8", -128),
        ("test.u16", "u16", 65535),
        ("test.i16", "i16", -32768),
        ("test.i32", "i32", -(2**31)),
        ("test.u64", "u64", 2**64 - 1),
        ("test.i64", "i64", -(2**63)),
        ("test.f64", "f64", -1.5e-300),
        ("test.f32_special", ("arr", "f32"), [float("inf"), float("-inf"), -0.0, float(np.float32(0.1))]),
        ("test.true", "bool", True),
        ("test.false", "bool", False),
        ("test.bools", ("arr", "bool"), [True, False, True]),
        ("test.empty", ("arr", "u8"), []),
        ("test.u64s", ("arr", "u64"), [0, 2**63]),
        ("tokenizer.ggml.model", "str", "llama"),
        ("tokenizer.ggml.tokens", ("arr", "str"), tokens),
        ("tokenizer.ggml.scores", ("arr", "f32"), [float(np.float32(-i * 0.25)) for i in range(len(tokens))]),
        ("tokenizer.ggml.token_type", ("arr", "i32"), [2, 3, 3, 1, 1, 1, 5]),
        ("general.alignment", "u32", 64),
        ("general.file_type", "u32", 7),
        ("general.quantization_version", "u32", 2),
    ]
    ids = np.arange(12, dtype=np.int32) - 6
    # attn_q / attn_k are stored with llama's rotary row permutation of the Hugging Face q_proj / k_proj
    # (q: 1 head of 8 rows, k: 2 kv heads of 8 rows; head dims of 8 make the permutation differ from
    # its inverse); quantizing per row commutes with permuting rows, so the Hugging Face int8 values
    # are the quantization of the unpermuted weights.
    k_hf = rng.standard_normal((16, 64)).astype(np.float32)
    expect_q8_0("model.layers.0.self_attn.q_proj.weight", q_w)
    expect_q8_0("model.layers.0.self_attn.k_proj.weight", k_hf)
    rich_tensors = [
        q8_0_tensor("token_embd.weight", embd),
        ("blk.0.attn_norm.weight", F32, norm.shape, norm.tobytes()),
        q8_0_tensor("blk.0.attn_q.weight", llama_permute(q_w, 1, 1)),
        q8_0_tensor("blk.0.attn_k.weight", llama_permute(k_hf, 1, 2)),
        ("blk.0.ffn_down.weight", F16, down.shape, down.astype("<f2").tobytes()),
        ("blk.0.ffn_up.weight", BF16, up.shape, bf16_bytes(up_f32)),
        ("blk.0.ids", I32, (3, 4), ids.tobytes()),
        ("output_norm.weight", F32, (64,), np.ones(64, dtype=np.float32).tobytes()),
    ]
    write_gguf(os.path.join(HERE, "rich.gguf"), rich_kvs, rich_tensors)

    experts = rng.standard_normal((2, 4, 64)).astype(np.float32)
    write_gguf(
        os.path.join(HERE, "experts-q8_0.gguf"),
        [("general.architecture", "str", "llama"), ("general.quantization_version", "u32", 2)],
        [q8_0_tensor("blk.0.ffn_gate_exps.weight", experts)],
    )
    write_safetensors(os.path.join(HERE, "expected.safetensors"), expected)


if __name__ == "__main__":
    main()
