#!/usr/bin/python3
"""Tiny Hugging Face model folders (random weights) with the tensor names, shapes, dtypes and files
that transformers' `save_pretrained` writes, for the CLI tests and docs/io.md.

  /usr/bin/python3 test/golden/hf-models/make_models.py

- gpt2-tiny/: GPT2LMHeadModel layout (n_embd 64, 2 layers, F16): `transformer.h.N.attn.c_attn.weight`
  is a Conv1D weight stored (in, out) = (64, 192) with a bias of 192; `c_proj` (64, 64) is square, so
  only the name under model_type "gpt2" says it is Conv1D; lm_head is tied to wte and not saved.
- llama-tiny/: LlamaForCausalLM layout (hidden 64, intermediate 128, 2 layers, 4 heads / 2 KV heads,
  BF16), sharded in two files with model.safetensors.index.json as save_pretrained(max_shard_size=...) does.
Both folders carry config.json, generation_config.json and small tokenizer files, which the CLI copies.
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "examples", "digits"))
import st_py  # noqa: E402


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def gpt2():
    out = os.path.join(HERE, "gpt2-tiny")
    os.makedirs(out, exist_ok=True)
    g = torch.Generator().manual_seed(2)
    d, n_layer, vocab, ctx = 64, 2, 96, 32
    r = lambda *s: (torch.randn(*s, generator=g) * 0.02).half()  # noqa: E731
    t = {"transformer.wte.weight": r(vocab, d), "transformer.wpe.weight": r(ctx, d),
         "transformer.ln_f.weight": torch.ones(d).half(), "transformer.ln_f.bias": torch.zeros(d).half()}
    for i in range(n_layer):
        p = f"transformer.h.{i}"
        t.update({
            f"{p}.ln_1.weight": torch.ones(d).half(), f"{p}.ln_1.bias": torch.zeros(d).half(),
            f"{p}.attn.c_attn.weight": r(d, 3 * d), f"{p}.attn.c_attn.bias": r(3 * d),
            f"{p}.attn.c_proj.weight": r(d, d), f"{p}.attn.c_proj.bias": r(d),
            f"{p}.ln_2.weight": torch.ones(d).half(), f"{p}.ln_2.bias": torch.zeros(d).half(),
            f"{p}.mlp.c_fc.weight": r(d, 4 * d), f"{p}.mlp.c_fc.bias": r(4 * d),
            f"{p}.mlp.c_proj.weight": r(4 * d, d), f"{p}.mlp.c_proj.bias": r(d),
        })
    st_py.write(os.path.join(out, "model.safetensors"), t, {"format": "pt"})
    write_json(os.path.join(out, "config.json"), {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_embd": d, "n_layer": n_layer, "n_head": 4,
        "n_positions": ctx, "vocab_size": vocab, "torch_dtype": "float16", "tie_word_embeddings": True,
        "transformers_version": "4.46.0"})
    write_json(os.path.join(out, "generation_config.json"), {"bos_token_id": 0, "eos_token_id": 0, "transformers_version": "4.46.0"})
    write_json(os.path.join(out, "vocab.json"), {f"t{i}": i for i in range(vocab)})
    with open(os.path.join(out, "merges.txt"), "w") as f:
        f.write("#version: 0.2\nt 0\n")


def llama():
    out = os.path.join(HERE, "llama-tiny")
    os.makedirs(out, exist_ok=True)
    g = torch.Generator().manual_seed(3)
    h, inter, n_layer, vocab, heads, kv = 64, 128, 2, 96, 4, 2
    hd = h // heads
    r = lambda *s: (torch.randn(*s, generator=g) * 0.02).bfloat16()  # noqa: E731
    ones = lambda n: torch.ones(n).bfloat16()  # noqa: E731
    t = {"model.embed_tokens.weight": r(vocab, h)}
    for i in range(n_layer):
        p = f"model.layers.{i}"
        t.update({
            f"{p}.self_attn.q_proj.weight": r(heads * hd, h), f"{p}.self_attn.k_proj.weight": r(kv * hd, h),
            f"{p}.self_attn.v_proj.weight": r(kv * hd, h), f"{p}.self_attn.o_proj.weight": r(h, heads * hd),
            f"{p}.mlp.gate_proj.weight": r(inter, h), f"{p}.mlp.up_proj.weight": r(inter, h), f"{p}.mlp.down_proj.weight": r(h, inter),
            f"{p}.input_layernorm.weight": ones(h), f"{p}.post_attention_layernorm.weight": ones(h),
        })
    t["model.norm.weight"] = ones(h)
    t["lm_head.weight"] = r(vocab, h)
    # Two shards, layer 0 and the embedding in the first (save_pretrained fills shards in order).
    names = list(t)
    first = [n for n in names if n.startswith("model.embed") or n.startswith("model.layers.0.")]
    shards = {"model-00001-of-00002.safetensors": first, "model-00002-of-00002.safetensors": [n for n in names if n not in first]}
    weight_map, total = {}, 0
    for file, keys in shards.items():
        st_py.write(os.path.join(out, file), {k: t[k] for k in keys}, {"format": "pt"})
        for k in keys:
            weight_map[k] = file
            total += t[k].numel() * t[k].element_size()
    write_json(os.path.join(out, "model.safetensors.index.json"), {"metadata": {"total_size": total}, "weight_map": weight_map})
    write_json(os.path.join(out, "config.json"), {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": h, "intermediate_size": inter,
        "num_hidden_layers": n_layer, "num_attention_heads": heads, "num_key_value_heads": kv, "vocab_size": vocab,
        "rms_norm_eps": 1e-5, "torch_dtype": "bfloat16", "tie_word_embeddings": False, "transformers_version": "4.46.0"})
    write_json(os.path.join(out, "generation_config.json"), {"bos_token_id": 1, "eos_token_id": 2, "transformers_version": "4.46.0"})
    write_json(os.path.join(out, "tokenizer_config.json"), {"model_max_length": 2048, "tokenizer_class": "PreTrainedTokenizerFast"})
    write_json(os.path.join(out, "tokenizer.json"), {"version": "1.0", "model": {"type": "BPE", "vocab": {f"t{i}": i for i in range(vocab)}, "merges": []}})


if __name__ == "__main__":
    gpt2()
    llama()
    print("wrote test/golden/hf-models")
