#!/usr/bin/python3
"""Writes examples/lm/golden.json: PyTorch 1.13's float logits of model.safetensors on a fixed prompt.

    /usr/bin/python3 examples/lm/make_golden.py

The prompt is the first PROMPT_BYTES bytes of heldout.txt; the fixture keeps the logits of the last
LAST positions (float32 as shortest round-trip decimals) and the argmax at every position.
test/golden/lm.test.ts and `npm run example:lm` check the JavaScript model against it.
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import llama  # noqa: E402

PROMPT_BYTES = 64
LAST = 8


def main():
    torch.set_num_threads(1)
    model, metadata = llama.load(os.path.join(HERE, "model.safetensors"))
    model.eval()
    with open(os.path.join(HERE, "heldout.txt"), "rb") as f:
        prompt = list(f.read()[:PROMPT_BYTES])
    with torch.no_grad():
        logits = model(torch.tensor([prompt]))[0]
    out = {
        "prompt": prompt,
        "last": LAST,
        "logits": [float(v) for v in logits[-LAST:].reshape(-1).tolist()],
        "argmax": logits.argmax(-1).tolist(),
        "steps": metadata.get("steps"),
    }
    with open(os.path.join(HERE, "golden.json"), "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
