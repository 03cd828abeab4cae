import sys, json, struct, numpy as np
import os; sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')); import make_gguf as m
import subprocess
rng = np.random.default_rng(1)
w = m.edge_weight(np.random.default_rng(20261201))
cases = [w, rng.standard_normal((64, 256)).astype(np.float32) * 3, (rng.integers(-300, 300, (32, 64)) / 2).astype(np.float32),
         rng.standard_normal((16,64)).astype(np.float16).astype(np.float32), (rng.standard_normal((8, 1024))* 10.0**rng.integers(-8, 6, (8,1))).astype(np.float32)]
for c in cases:
    out = subprocess.run(['/tmp/q8_0_ref'], input=c.tobytes(), capture_output=True).stdout
    qs, d = m.quantize_q8_0(c)
    print(c.shape, out == m.q8_0_bytes(qs, d))
