import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { QK8_0, q8_0ScaleValue } from '../../src/format/q8_0.js';
import type { Tensor} from '../../src/index.js';
import { dequantize, loadCompressedTensors, readSafetensors, writeSafetensors } from '../../src/index.js';
import { readGguf } from '../../src/io/gguf.js';
import { ggufToSafetensors, safetensorsToGguf } from '../../src/io/gguf-convert.js';

/**
 * Fixtures from test/golden/gguf/make_gguf.py, a numpy reference written from ggml's
 * quantize_row_q8_0_ref / dequantize_row_q8_0 and the GGUF spec (and cross-checked against ggml's C
 * code by test/golden/gguf/ggml-check/run.sh). Everything is compared bit for bit.
 */
const DIR = join(new URL('.', import.meta.url).pathname, 'gguf');
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(DIR, name)));
const expected = readSafetensors(fixture('expected.safetensors')).tensors;

function bits(t: Tensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** Byte-for-byte equality that names the first differing byte. */
function expectSameBytes(got: Uint8Array, want: Uint8Array, what: string): void {
  const n = Math.min(got.length, want.length);
  for (let i = 0; i < n; i++) {
    if (got[i] !== want[i]) throw new Error(`${what}: byte ${i} is ${got[i]}, the reference has ${want[i]}`);
  }
  if (got.length !== want.length) throw new Error(`${what}: ${got.length} bytes, the reference has ${want.length}`);
}

describe('GGUF in: Q8_0 becomes per-group int8, bit for bit with ggml (rich.gguf)', () => {
  const bytes = fixture('rich.gguf');
  const file = readGguf(bytes);
  const st = ggufToSafetensors(file);

  it('reads the header: every metadata type, alignment 64, dims innermost first', () => {
    expect(file.version).toBe(3);
    expect(file.alignment).toBe(64);
    expect(file.dataStart % 64).toBe(0);
    const m = file.metadata;
    expect(m.get('general.name')).toEqual({ type: 'str', value: 'tiny é 名 "quoted"\n' });
    expect(m.get('test.u64')).toEqual({ type: 'u64', value: 2n ** 64n - 1n });
    expect(m.get('test.i64')).toEqual({ type: 'i64', value: -(2n ** 63n) });
    expect(m.get('test.i8')).toEqual({ type: 'i8', value: -128 });
    expect(m.get('test.true')).toEqual({ type: 'bool', value: true });
    expect(m.get('test.f32_special')).toEqual({ type: 'arr', itemType: 'f32', value: [Infinity, -Infinity, -0, Math.fround(0.1)] });
    expect(m.get('test.empty')).toEqual({ type: 'arr', itemType: 'u8', value: [] });
    expect(m.get('tokenizer.ggml.tokens')).toEqual({ type: 'arr', itemType: 'str', value: ['<unk>', '<s>', '</s>', '▁the', 'é', '名前', ''] });
    const q = file.tensors.find((t) => t.name === 'blk.0.attn_q.weight');
    // (out, in) = (8, 64) in PyTorch's order is ne = [64, 8] in the file.
    expect(q).toMatchObject({ typeName: 'q8_0', ne: [64, 8], shape: [8, 64], byteLength: 8 * 2 * 34 });
    expect(file.tensors.find((t) => t.name === 'blk.0.ids')).toMatchObject({ typeName: 'i32', ne: [4, 3], shape: [3, 4] });
  });

  it('int8 values and float16 scales exactly as stored, in the (out, in) orientation', () => {
    expect(st.layers).toEqual(['token_embd', 'blk.0.attn_q', 'blk.0.attn_k']);
    for (const layer of st.layers) {
      const w = st.tensors[`${layer}.weight`];
      const s = st.tensors[`${layer}.weight_scale`];
      expect(w.dtype).toBe('int8');
      expect(s.dtype).toBe('float16');
      expect(w.shape).toEqual(expected[`${layer}.weight.q`].shape);
      expect(s.shape).toEqual([w.shape[0], w.shape[1] / QK8_0]);
      expectSameBytes(bits(w), bits(expected[`${layer}.weight.q`]), `${layer} int8`);
      expectSameBytes(bits(s), bits(expected[`${layer}.weight.d`]), `${layer} scale bits`);
    }
    // Row 0 of attn_q: 127 then the ties -14.5, -13.5, -12.5 rounded away from zero (ties-to-even gives -14, -14, -12).
    const q = st.tensors['blk.0.attn_q.weight'].data as Int8Array;
    expect([...q.subarray(0, 4)]).toEqual([127, -15, -14, -13]);
    // The all-zero block (row 1 of the Hugging Face weight, row 2 after llama's permutation) keeps d = 0 (not EPS).
    expect((st.tensors['blk.0.attn_q.weight_scale'].data as Uint16Array)[4]).toBe(0);
  });

  it('loads as QuantizedLinear layers whose dequantized weights are dequantize_row_q8_0', () => {
    const { layers } = loadCompressedTensors(writeSafetensors(st.tensors, st.metadata));
    for (const name of st.layers) {
      const l = layers[name];
      expect(l.scheme).toEqual({ granularity: 'group', groupSize: 32, range: 'restricted', bits: 8 });
      const deq = dequantize({ ...l.scheme, values: l.weight, scale: l.weightScale });
      expectSameBytes(bits(deq), bits(expected[`${name}.weight.deq`]), `${name} dequantized`);
    }
  });

  it('copies F32, F16, BF16 and I32 tensors with their bytes and dtypes; keeps the metadata', () => {
    for (const t of file.tensors.filter((x) => x.typeName !== 'q8_0')) {
      const got = st.tensors[t.name];
      expect(got.shape).toEqual(t.shape);
      expectSameBytes(bits(got), file.data(t), t.name);
    }
    expect(st.tensors['blk.0.ffn_up.weight'].dtype).toBe('bfloat16');
    expect(st.tensors['blk.0.ffn_down.weight'].dtype).toBe('float16');
    expect(JSON.parse(st.metadata.gguf).kv[0]).toEqual(['general.architecture', 'str', 'llama']);
    expect(JSON.parse(st.metadata.quantization_config).ignore).toEqual(['blk.0.ffn_down', 'blk.0.ffn_up']);
  });

  it('round trip: GGUF -> safetensors file -> GGUF is the same file, byte for byte', () => {
    const back = readSafetensors(writeSafetensors(st.tensors, st.metadata));
    const { bytes: again, report } = safetensorsToGguf(back.tensors, back.metadata);
    expect(report.repacked).toEqual(['token_embd.weight', 'blk.0.attn_q.weight', 'blk.0.attn_k.weight']);
    expect(report.quantized).toEqual([]);
    expectSameBytes(again, bytes, 'rich.gguf round trip');
  });

  it('a 3-D Q8_0 tensor (experts) is dequantized to float32 exactly as dequantize_row_q8_0', () => {
    const ex = ggufToSafetensors(fixture('experts-q8_0.gguf'));
    const t = ex.tensors['blk.0.ffn_gate_exps.weight'];
    expect(t.dtype).toBe('float32');
    expect(t.shape).toEqual([2, 4, 64]);
    expectSameBytes(bits(t), bits(expected['blk.0.ffn_gate_exps.weight.deq']), 'experts');
    expect(ex.warnings).toEqual(['blk.0.ffn_gate_exps.weight: Q8_0 (2, 4, 64) is not a 2-D weight; stored dequantized as float32']);
  });
});

describe('GGUF out: quantize_row_q8_0_ref bit for bit (model.safetensors -> model-q8_0.gguf)', () => {
  const { tensors, metadata } = readSafetensors(fixture('model.safetensors'));
  const { bytes, report } = safetensorsToGguf(tensors, metadata, { architecture: 'llama' });

  it('the whole file equals the Python-written GGUF byte for byte', () => {
    expectSameBytes(bytes, fixture('model-q8_0.gguf'), 'model-q8_0.gguf');
  });

  it('quantizes the 2-D weights, keeps a row of 40 in float with a warning, copies the rest', () => {
    expect(report.quantized).toEqual(['token_embd.weight', 'blk.0.attn_q.weight', 'blk.0.ffn_down.weight', 'blk.0.ffn_up.weight']);
    expect(report.copied).toEqual(['blk.0.attn_q.bias', 'blk.0.attn_norm.weight', 'blk.0.odd.weight']);
    expect(report.warnings).toEqual(['blk.0.odd.weight: rows of 40 are not a multiple of 32; kept in float32']);
  });

  it('the edge blocks: ties away from zero, d = 0 for zeros, d rounded to even in half, d underflow', () => {
    const f = readGguf(bytes);
    const t = f.tensors.find((x) => x.name === 'blk.0.attn_q.weight');
    const blocks = f.data(t!);
    const block = (row: number, b: number): { d: number; dBits: number; q: number[] } => {
      const at = (row * 2 + b) * 34;
      const dBits = blocks[at] | (blocks[at + 1] << 8);
      return { d: q8_0ScaleValue(dBits), dBits, q: [...new Int8Array(blocks.buffer, blocks.byteOffset + at + 2, 32)] };
    };
    // Row 0, block 0: d = 1, values 127 then -14.5 .. 15.5: roundf sends each tie away from zero.
    expect(block(0, 0).d).toBe(1);
    expect(block(0, 0).q.slice(0, 5)).toEqual([127, -15, -14, -13, -12]);
    expect(block(0, 0).q.slice(-2)).toEqual([15, 16]);
    expect(block(1, 0)).toEqual({ d: 0, dBits: 0, q: new Array(32).fill(0) });
    expect(block(2, 0).q[5]).toBe(-127);
    expect(block(3, 0).dBits).toBe(0x3c00); // d = 1 + 2^-11: the half tie goes to even
    expect(block(3, 1).dBits).toBe(0x3c02); // d = 1 + 3 * 2^-11: up to 1 + 2^-9
    expect(block(4, 0).dBits).toBe(0); // d ~ 1e-11 underflows half; q keeps +-127 as ggml computes
    expect(Math.max(...block(4, 0).q.map(Math.abs))).toBe(127);
  });
});

describe('GGUF in with Hugging Face names (llama): rename, and undo the rotary permutation of q / k rows', () => {
  const bytes = fixture('rich.gguf');
  const st = ggufToSafetensors(bytes, { names: 'hf' });

  it('names as Hugging Face has them; unknown names kept with a warning', () => {
    expect(Object.keys(st.tensors)).toEqual([
      'model.embed_tokens.weight', 'model.embed_tokens.weight_scale', 'model.layers.0.input_layernorm.weight',
      'model.layers.0.self_attn.q_proj.weight', 'model.layers.0.self_attn.q_proj.weight_scale',
      'model.layers.0.self_attn.k_proj.weight', 'model.layers.0.self_attn.k_proj.weight_scale',
      'model.layers.0.mlp.down_proj.weight', 'model.layers.0.mlp.up_proj.weight', 'blk.0.ids', 'model.norm.weight',
    ]);
    expect(st.warnings).toEqual(['blk.0.ids: no Hugging Face name for it; kept as is']);
  });

  it('q_proj / k_proj int8 values and scales are those of the unpermuted weights, bit for bit', () => {
    for (const name of ['model.layers.0.self_attn.q_proj.weight', 'model.layers.0.self_attn.k_proj.weight']) {
      expectSameBytes(bits(st.tensors[name]), bits(expected[`${name}.q`]), `${name} int8`);
      expectSameBytes(bits(st.tensors[`${name}_scale`]), bits(expected[`${name}.d`]), `${name} scales`);
    }
  });

  it('converting back renames and permutes again: the same GGUF file, byte for byte', () => {
    const back = readSafetensors(writeSafetensors(st.tensors, st.metadata));
    expectSameBytes(safetensorsToGguf(back.tensors, back.metadata).bytes, bytes, 'rich.gguf via Hugging Face names');
  });
});
