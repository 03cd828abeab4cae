/**
 * Writes a synthetic F16 checkpoint of Linear weights for the CLI scale check (bench/cli-scale.sh):
 *   tsx bench/make-f16-checkpoint.ts <out.safetensors> [layers of 8192x8192] [layers of 4096x8192]
 * Defaults 8 + 8: 1.5 GiB; the largest tensor is 128 MiB. Values are float16 in about [-0.5, 0.5],
 * from a fixed-seed xorshift, written block by block (memory stays small).
 */
import { planSafetensors, type SafetensorsSpec } from '../src/io/safetensors.js';
import { writeSafetensorsStream } from '../src/io/node.js';

const [out, big = '8', small = '8'] = process.argv.slice(2);
if (out === undefined) throw new Error('usage: tsx bench/make-f16-checkpoint.ts <out.safetensors> [big layers] [small layers]');
const specs: SafetensorsSpec[] = [];
for (let i = 0; i < Number(big); i++) specs.push({ name: `layers.${i}.mlp.weight`, dtype: 'F16', shape: [8192, 8192] });
for (let i = 0; i < Number(small); i++) specs.push({ name: `layers.${i}.attn.weight`, dtype: 'F16', shape: [4096, 8192] });
specs.push({ name: 'norm.weight', dtype: 'F32', shape: [8192] });
const plan = planSafetensors(specs, { format: 'pt', note: 'synthetic, bench/make-f16-checkpoint.ts' });
let state = 0x9e3779b9;
const BLOCK = 1 << 22;
await writeSafetensorsStream(out, plan, async function* (e) {
  const n = e.shape.reduce((a, b) => a * b, 1);
  if (e.dtype === 'F32') {
    yield new Uint8Array(new Float32Array(n).fill(1).buffer);
    return;
  }
  for (let at = 0; at < n; at += BLOCK) {
    const bits = new Uint16Array(Math.min(BLOCK, n - at));
    for (let i = 0; i < bits.length; i++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      // sign | exponent 2^-9..2^-2 | random mantissa: |w| in [0.002, 0.5).
      bits[i] = (state & 0x8000) | ((6 + ((state >>> 16) & 7)) << 10) | ((state >>> 3) & 0x3ff);
    }
    yield new Uint8Array(bits.buffer);
  }
});
console.log(`wrote ${out}: ${(plan.fileSize / 2 ** 30).toFixed(2)} GiB, ${specs.length} tensors`);
