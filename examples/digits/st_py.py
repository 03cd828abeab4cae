"""A small, independent safetensors reader/writer for torch tensors (no `safetensors` package).

Written from the format description, not from int8-linear's code, so that files written by the
JavaScript library are checked by a second implementation. The reader validates what the format
requires: 8-byte little-endian header length, a UTF-8 JSON object, known dtypes, integer shapes,
data_offsets that tile the data section exactly (sorted, contiguous from 0, sizes matching), and
__metadata__ mapping strings to strings. It returns the raw bytes of each tensor too, so callers
can check copies are byte-identical.
"""
import json
import struct

import torch

DTYPES = {
    "F64": (torch.float64, 8), "F32": (torch.float32, 4), "F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2),
    "I64": (torch.int64, 8), "I32": (torch.int32, 4), "I16": (torch.int16, 2), "I8": (torch.int8, 1),
    "U8": (torch.uint8, 1), "BOOL": (torch.bool, 1),
}
NAME_OF = {v[0]: k for k, v in DTYPES.items()}


class SafetensorsError(ValueError):
    pass


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise SafetensorsError("duplicate key in header")
    return dict(pairs)


def read(path):
    """Returns (tensors: {name: torch.Tensor}, raw: {name: bytes}, metadata: dict | None)."""
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8:
        raise SafetensorsError("file shorter than 8 bytes")
    (n,) = struct.unpack("<Q", buf[:8])
    if n > 100_000_000 or 8 + n > len(buf):
        raise SafetensorsError(f"bad header length {n}")
    header = json.loads(buf[8:8 + n].decode("utf-8"), object_pairs_hook=_no_duplicates)
    if not isinstance(header, dict):
        raise SafetensorsError("header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    if metadata is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise SafetensorsError("__metadata__ must map strings to strings")
    data = buf[8 + n:]
    entries = sorted(header.items(), key=lambda kv: tuple(kv[1]["data_offsets"]))
    pos = 0
    tensors, raw = {}, {}
    for name, info in entries:
        dtype, size = DTYPES[info["dtype"]]
        shape = info["shape"]
        begin, end = info["data_offsets"]
        if not all(isinstance(d, int) and d >= 0 for d in shape) or begin != pos or end < begin:
            raise SafetensorsError(f"{name}: bad shape or offsets {shape} {info['data_offsets']}")
        count = 1
        for d in shape:
            count *= d
        if end - begin != count * size:
            raise SafetensorsError(f"{name}: {end - begin} bytes for {info['dtype']} {shape}")
        raw[name] = data[begin:end]
        flat = torch.frombuffer(bytearray(raw[name]), dtype=dtype) if count > 0 else torch.empty(0, dtype=dtype)
        tensors[name] = flat.reshape(shape)
        pos = end
    if pos != len(data):
        raise SafetensorsError(f"data section has {len(data)} bytes, tensors cover {pos}")
    return tensors, raw, metadata


def write(path, tensors, metadata=None):
    """Writes {name: torch.Tensor} (contiguous, little-endian) in name order, header padded to 8 bytes."""
    header, blobs, pos = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        blob = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() > 0 else b""
        header[name] = {"dtype": NAME_OF[t.dtype], "shape": list(t.shape), "data_offsets": [pos, pos + len(blob)]}
        blobs.append(blob)
        pos += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
