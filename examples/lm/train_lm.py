#!/usr/bin/python3
"""Trains examples/lm's byte-level Llama-style decoder on the GNU Coreutils 9.1 manual and saves it.

  nice /usr/bin/python3 examples/lm/train_lm.py [CPU_SECONDS] [WALL_SECONDS]   # default 540 s of CPU, 1200 s of wall time

The budget is CPU time (the process's own), capped by wall time, so a run on a shared machine trains
about as much as the same run alone would.

Debian's torch calls the system libblas.so.3, which is the reference BLAS unless OpenBLAS is installed
(apt-get install libopenblas0-pthread makes matrix products about 7x faster; the committed checkpoint was
trained with OpenBLAS 0.3.21 from bookworm via LD_LIBRARY_PATH, the results differ only by rounding).

The text is /usr/share/info/coreutils.info.gz from Debian's coreutils package (bookworm, 9.1-1):
"Copyright (C) 1994-2022 Free Software Foundation, Inc. ... under the terms of the GNU Free
Documentation License, Version 1.3 or any later version ...; with no Invariant Sections, with no
Front-Cover Texts, and with no Back-Cover Texts" (DFSG-free, in Debian main). Bytes [50%, 55%) of the
file are kept out of training; the first 16 KiB of them are the held-out split (heldout.txt, committed).

Writes model.safetensors (float32, Hugging Face LlamaForCausalLM names, config in the metadata),
checkpointing every 60 s so a stopped run still leaves a model. Deterministic for a fixed number of
steps (seeded init and batch order); the number of steps is set by the time budget, and is stored in
the metadata. Needs Debian's python3-torch (PyTorch 1.13), CPU only.
"""
import gzip
import math
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import llama  # noqa: E402

SOURCE = "/usr/share/info/coreutils.info.gz"
HELDOUT_BYTES = 16384


def split():
    data = gzip.open(SOURCE).read()
    a, b = int(len(data) * 0.50), int(len(data) * 0.55)
    return data[:a] + data[b:], data[a:a + HELDOUT_BYTES]


def main():
    budget = float(sys.argv[1]) if len(sys.argv) > 1 else 540.0
    wall = float(sys.argv[2]) if len(sys.argv) > 2 else 1200.0
    # one thread: on a shared, oversubscribed machine OpenMP workers spinning on two threads made steps
    # 10x slower than one
    torch.set_num_threads(1)
    train, held = split()
    with open(os.path.join(HERE, "heldout.txt"), "wb") as f:
        f.write(held)
    torch.manual_seed(0)
    model = llama.LlamaForCausalLM()
    ctx, batch = llama.CONFIG["max_position_embeddings"], 8
    data = torch.tensor(list(train), dtype=torch.long)
    held_t = torch.tensor(list(held), dtype=torch.long)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.1)
    gen = torch.Generator().manual_seed(0)
    start, last_save, cpu0 = time.time(), time.time(), time.process_time()
    step = 0
    path = os.path.join(HERE, "model.safetensors")
    while time.process_time() - cpu0 < budget and time.time() - start < wall:
        # learning rate: 50 warm-up steps, then cosine decay over the budget spent so far
        frac = min(1.0, max((time.process_time() - cpu0) / budget, (time.time() - start) / wall))
        lr = 3e-3 * min(1.0, (step + 1) / 50) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = torch.randint(0, len(data) - ctx - 1, (batch,), generator=gen)
        x = torch.stack([data[i:i + ctx] for i in idx])
        y = torch.stack([data[i + 1:i + ctx + 1] for i in idx])
        loss = torch.nn.functional.cross_entropy(model(x).reshape(-1, 256), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 10 == 0:
            print(f"step {step} loss {loss.item():.3f} lr {lr:.2e} cpu {time.process_time() - cpu0:.0f}s "
                  f"wall {time.time() - start:.0f}s", flush=True)
        if time.time() - last_save > 60:
            llama.save(model, path, {"steps": str(step)})
            last_save = time.time()
    model.eval()
    with torch.no_grad():
        n = (len(held_t) - 1) // ctx
        xs = held_t[: n * ctx].view(n, ctx)
        ys = held_t[1: n * ctx + 1].view(n, ctx)
        nll = torch.nn.functional.cross_entropy(model(xs).reshape(-1, 256), ys.reshape(-1)).item()
    print(f"done: {step} steps, held-out perplexity {math.exp(nll):.3f} ({nll / math.log(2):.3f} bits/byte)")
    llama.save(model, path, {"steps": str(step), "heldout_perplexity": f"{math.exp(nll):.4f}",
                             "source": "coreutils 9.1 manual (GFDL 1.3), /usr/share/info/coreutils.info.gz"})


if __name__ == "__main__":
    main()
