import { getFloat16, setFloat16 } from '@petamoriken/float16';
import { describe, expect, it } from 'vitest';
import { QK8_0, joinQ8_0, q8_0DequantizeBlock, q8_0ScaleBits, q8_0ScaleOf, quantizeRowsQ8_0, roundHalfAwayFromZero, splitQ8_0 } from '../../src/format/q8_0.js';
import { FORMATS } from '../../src/format/formats.js';
import { FormatError, Generator, Linear, QuantizationError, QuantizedLinear, Tensor, loadCompressedTensors, readSafetensors, saveCompressedTensors, writeSafetensors } from '../../src/index.js';
import { GGML_TYPE, GgufFormatError, readGguf, writeGguf, type GgufRule, type GgufValue } from '../../src/io/gguf.js';
import { ggufToSafetensors, safetensorsToGguf } from '../../src/io/gguf-convert.js';

/** Little-endian byte builder for hand-made (and broken) GGUF files. */
class Bytes {
  private out: number[] = [];
  u8(v: number): this {
    this.out.push(v & 0xff);
    return this;
  }
  u32(v: number): this {
    for (let i = 0; i < 4; i++) this.out.push((v >>> (8 * i)) & 0xff);
    return this;
  }
  u64(v: bigint | number): this {
    const b = BigInt(v);
    for (let i = 0n; i < 8n; i++) this.out.push(Number((b >> (8n * i)) & 0xffn));
    return this;
  }
  raw(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.out.push(b[i]);
    return this;
  }
  str(s: string | Uint8Array): this {
    const b = typeof s === 'string' ? new TextEncoder().encode(s) : s;
    return this.u64(b.length).raw(b);
  }
  padTo(a: number): this {
    while (this.out.length % a !== 0) this.out.push(0);
    return this;
  }
  get length(): number {
    return this.out.length;
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

interface RawTensor {
  name?: string | Uint8Array;
  ne?: (number | bigint)[];
  nDims?: number;
  type?: number;
  offset?: bigint | number;
}

/**
 * A GGUF file with `kvs` (each a function writing key, type and value) and `tensors` (F32 [4] unless
 * overridden), each tensor's data zero bytes at the expected offset; fields overridable to break it.
 */
function file(o: { magic?: number[]; version?: number; nTensors?: bigint; nKv?: bigint; kvs?: ((b: Bytes) => void)[]; tensors?: RawTensor[]; dataBytes?: number } = {}): Uint8Array {
  const kvs = o.kvs ?? [(b) => b.str('general.architecture').u32(8).str('llama')];
  const tensors = o.tensors ?? [{}];
  const b = new Bytes().raw(o.magic ?? [0x47, 0x47, 0x55, 0x46]).u32(o.version ?? 3).u64(o.nTensors ?? BigInt(tensors.length)).u64(o.nKv ?? BigInt(kvs.length));
  for (const kv of kvs) kv(b);
  let offset = 0;
  for (const t of tensors) {
    const ne = t.ne ?? [4];
    b.str(t.name ?? `t${offset}`).u32(t.nDims ?? ne.length);
    for (const d of ne) b.u64(d);
    b.u32(t.type ?? GGML_TYPE.F32).u64(t.offset ?? offset);
    offset += 32;
  }
  b.padTo(32);
  return new Uint8Array([...b.bytes(), ...new Uint8Array(o.dataBytes ?? 32 * tensors.length)]);
}

function ruleOf(bytes: Uint8Array): GgufRule | 'ok' {
  try {
    readGguf(bytes);
    return 'ok';
  } catch (e) {
    if (e instanceof GgufFormatError) return e.rule;
    throw e;
  }
}

describe('Q8_0 reference (ggml quantize_row_q8_0_ref)', () => {
  it('roundf: ties away from zero, exact near 0.5', () => {
    expect([2.5, -2.5, 0.5, -0.5, 1.4999999, Math.fround(0.49999997)].map(roundHalfAwayFromZero)).toEqual([3, -3, 1, -1, 1, 0]);
  });

  it('d = fround(amax / 127), id from the float32 d, d stored rounded to even', () => {
    expect(q8_0ScaleOf(127)).toBe(1);
    expect(q8_0ScaleBits(1 + 2 ** -11)).toBe(0x3c00);
    expect(q8_0ScaleBits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    const x = new Float32Array(32);
    x[0] = 1;
    const out = new Uint8Array(34);
    expect(quantizeRowsQ8_0(x, out)).toBe(true);
    expect(out[2]).toBe(127);
    expect(quantizeRowsQ8_0(new Float32Array(32).fill(127 * 65520), out)).toBe(false); // d overflows half
  });

  it('split and join are inverse; dequantize multiplies by the stored scale', () => {
    const x = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * 3);
    const blocks = new Uint8Array(68);
    quantizeRowsQ8_0(x, blocks);
    const { values, scaleBits } = splitQ8_0(blocks, 64);
    expect(joinQ8_0(values, scaleBits)).toEqual(blocks);
    const out = new Float32Array(64);
    q8_0DequantizeBlock(values, 0, 32, 0.5, out);
    expect(out[1]).toBe(values[1] * 0.5);
  });
});

describe('readGguf validation: a GgufFormatError naming the rule', () => {
  const cases: [string, Uint8Array, GgufRule | 'ok'][] = [
    ['a valid file', file(), 'ok'],
    ['no tensors, no padding', file({ tensors: [], dataBytes: 0 }), 'ok'],
    ['empty file', new Uint8Array(0), 'Truncated'],
    ['bad magic', file({ magic: [0x47, 0x47, 0x4d, 0x4c] }), 'InvalidMagic'],
    ['version 1', file({ version: 1 }), 'UnsupportedVersion'],
    ['big-endian version', file({ version: 0x03000000 }), 'UnsupportedVersion'],
    ['version 4', file({ version: 4 }), 'UnsupportedVersion'],
    ['counts larger than the file', file().subarray(0, 60), 'TooMany'],
    ['huge kv count', file({ nKv: 2n ** 60n }), 'TooMany'],
    ['huge tensor count', file({ nTensors: 2n ** 63n }), 'TooMany'],
    ['string longer than the file', file({ kvs: [(b) => b.u64(1000).raw([0x61])] }), 'StringTooLong'],
    ['string over 1 GiB', file({ kvs: [(b) => b.u64(2n ** 31n)] }), 'StringTooLong'],
    ['invalid UTF-8 key', file({ kvs: [(b) => b.str(Uint8Array.of(0xff, 0xfe)).u32(0).u8(1)] }), 'InvalidUtf8'],
    ['empty key', file({ kvs: [(b) => b.str('').u32(0).u8(1)] }), 'EmptyKey'],
    ['duplicate key', file({ kvs: [(b) => b.str('a').u32(0).u8(1), (b) => b.str('a').u32(0).u8(2)] }), 'DuplicateKey'],
    ['unknown value type', file({ kvs: [(b) => b.str('a').u32(13).u8(1)] }), 'InvalidValueType'],
    ['array of arrays', file({ kvs: [(b) => b.str('a').u32(9).u32(9).u64(0)] }), 'InvalidValueType'],
    ['array longer than the file', file({ kvs: [(b) => b.str('a').u32(9).u32(4).u64(2n ** 40n)] }), 'TooMany'],
    ['string array count over the bytes left', file({ kvs: [(b) => b.str('a').u32(9).u32(8).u64(100)] }), 'TooMany'],
    ['bool byte 2', file({ kvs: [(b) => b.str('a').u32(7).u8(2)] }), 'InvalidValue'],
    ['alignment as u64', file({ kvs: [(b) => b.str('general.alignment').u32(10).u64(32)] }), 'InvalidAlignment'],
    ['alignment 24', file({ kvs: [(b) => b.str('general.alignment').u32(4).u32(24)] }), 'InvalidAlignment'],
    ['alignment 0', file({ kvs: [(b) => b.str('general.alignment').u32(4).u32(0)] }), 'InvalidAlignment'],
    ['tensor name of 64 bytes', file({ tensors: [{ name: 'x'.repeat(64) }] }), 'InvalidName'],
    ['duplicate tensor', file({ tensors: [{ name: 'a' }, { name: 'a' }] }), 'DuplicateTensor'],
    ['5 dimensions', file({ tensors: [{ ne: [1, 1, 1, 1, 4] }] }), 'InvalidDimensions'],
    ['dimension >= 2^63', file({ tensors: [{ ne: [2n ** 63n] }] }), 'InvalidDimensions'],
    ['element count overflow', file({ tensors: [{ ne: [2n ** 32n, 2n ** 32n] }] }), 'ValidationOverflow'],
    ['a zero dim beside a huge one', file({ tensors: [{ ne: [0, 2n ** 62n] }] }), 'ValidationOverflow'],
    ['removed type 4 (Q4_2)', file({ tensors: [{ type: 4 }] }), 'UnknownTensorType'],
    ['type 43', file({ tensors: [{ type: 43 }] }), 'UnknownTensorType'],
    ['Q8_0 row of 40', file({ tensors: [{ ne: [40, 1], type: GGML_TYPE.Q8_0 }] }), 'BlockMismatch'],
    ['offset not where ggml expects it', file({ tensors: [{}, { offset: 64 }] }), 'InvalidOffset'],
    ['unaligned offset', file({ tensors: [{ offset: 4 }] }), 'InvalidOffset'],
    ['data past the end', file({ dataBytes: 8 }), 'DataOutOfBounds'],
    ['a tensor larger than the file', file({ tensors: [{ ne: [2n ** 40n] }] }), 'DataOutOfBounds'],
    ['truncated in the tensor infos', file().subarray(0, 90), 'Truncated'],
  ];
  for (const [what, bytes, rule] of cases) {
    it(`${what}: ${rule}`, () => {
      expect(ruleOf(bytes)).toBe(rule);
    });
  }

  it('the message says what was found and what was expected', () => {
    expect(() => readGguf(file({ tensors: [{ ne: [40, 1], type: GGML_TYPE.Q8_0 }] }))).toThrow(
      /gguf: t0: BlockMismatch: a q8_0 row holds 40 elements, not a multiple of its block of 32/,
    );
    expect(() => readGguf(file({ version: 0x03000000 }))).toThrow(/byte-swapped, big-endian/);
  });

  it('the last tensor needs no trailing padding (llama.cpp reads such files)', () => {
    expect(ruleOf(file({ dataBytes: 16 }))).toBe('ok');
    expect(ruleOf(file({ dataBytes: 15 }))).toBe('DataOutOfBounds');
  });
});

describe('writeGguf', () => {
  const arch = new Map<string, GgufValue>([['general.architecture', { type: 'str', value: 'llama' }]]);
  const f32 = (name: string, shape: number[]): { name: string; type: number; shape: number[]; data: Uint8Array } => ({
    name, type: GGML_TYPE.F32, shape, data: new Uint8Array(4 * shape.reduce((a, b) => a * b, 1)),
  });

  it('writes dims innermost first and pads every tensor to the alignment', () => {
    const bytes = writeGguf(arch, [f32('w', [3, 5]), f32('b', [3])]);
    const f = readGguf(bytes);
    expect(f.tensors.map((t) => [t.name, t.ne, t.shape, t.offset])).toEqual([['w', [5, 3], [3, 5], 0], ['b', [3], [3], 64]]);
    expect(bytes.length).toBe(f.dataStart + 64 + 32);
  });

  it('refuses what GGUF cannot hold, before producing anything', () => {
    const bad: [Parameters<typeof writeGguf>, GgufRule][] = [
      [[arch, [f32('x'.repeat(64), [1])]], 'InvalidName'],
      [[arch, [f32('a', [1]), f32('a', [1])]], 'DuplicateTensor'],
      [[arch, [{ ...f32('a', [2]), data: new Uint8Array(4) }]], 'DataOutOfBounds'],
      [[arch, [f32('a', [1, 1, 1, 1, 1])]], 'InvalidDimensions'],
      [[arch, [{ name: 'q', type: GGML_TYPE.Q8_0, shape: [1, 40], data: new Uint8Array(0) }]], 'BlockMismatch'],
      [[new Map([['general.alignment', { type: 'u32', value: 48 }]]), []], 'InvalidAlignment'],
      [[new Map([['a', { type: 'u8', value: 256 }]]), []], 'InvalidValue'],
      [[new Map([['a', { type: 'u64', value: 1 as unknown as bigint }]]), []], 'InvalidValue'],
      [[new Map([['a', { type: 'arr', itemType: 'i8', value: [1, 'x'] }]]), []], 'InvalidValue'],
      [[new Map([['', { type: 'u8', value: 1 }]]), []], 'EmptyKey'],
    ];
    for (const [args, rule] of bad) {
      let got: unknown;
      try {
        writeGguf(...args);
      } catch (e) {
        got = e;
      }
      expect(got).toBeInstanceOf(GgufFormatError);
      expect((got as GgufFormatError).rule).toBe(rule);
    }
  });
});

describe('safetensors -> GGUF orientation and refusals', () => {
  const gen = new Generator(5);
  const fc = new Linear(64, 3, { generator: gen });

  it('a (out, in) weight is ne [in, out]: block b of row o quantizes weight[o, 32b .. 32b + 31]', () => {
    const { bytes } = safetensorsToGguf({ 'fc.weight': fc.weight, 'fc.bias': fc.bias! }, null, { architecture: 'test' });
    const f = readGguf(bytes);
    const t = f.tensors.find((x) => x.name === 'fc.weight')!;
    expect(t.ne).toEqual([64, 3]);
    const blocks = f.data(t);
    for (let o = 0; o < 3; o++) {
      const row = new Uint8Array(68);
      quantizeRowsQ8_0(fc.weight.data.subarray(o * 64, (o + 1) * 64), row);
      expect(blocks.subarray(o * 68, (o + 1) * 68)).toEqual(row);
    }
    // And back: the layer's forward is the dequantized weight's.
    const st = ggufToSafetensors(bytes);
    const { layers } = loadCompressedTensors(writeSafetensors(st.tensors, st.metadata));
    expect(layers.fc.weight.shape).toEqual([3, 64]);
    expect(layers.fc.weightScale.shape).toEqual([3, 2]);
  });

  it('refusals name the tensor and the fix', () => {
    expect(() => safetensorsToGguf({ 'fc.weight': fc.weight }, null)).toThrow(/general.architecture is unknown; pass it/);
    expect(() => safetensorsToGguf({ 'fc.weight': fc.weight }, null, { arch: 'llama' } as never)).toThrow(/unknown option "arch"/);
    expect(() => ggufToSafetensors(new Uint8Array(0), { names: 'toString' as never })).toThrow(/names "toString" is not one of 'gguf', 'hf'/);
    expect(() => safetensorsToGguf({ 'fc.weight': fc.weight }, null, { architecture: 'Llama-3' })).toThrow(/\[a-z0-9\]\+/);
    expect(() => safetensorsToGguf({ m: new Tensor(new Uint8Array(4), [4], 'uint8') }, null, { architecture: 'x' })).toThrow(/'m' is uint8/);
    const nan = new Tensor(new Float32Array(32).fill(1), [1, 32]);
    nan.data[7] = NaN;
    expect(() => safetensorsToGguf({ 'a.weight': nan }, null, { architecture: 'x' })).toThrow(QuantizationError);
    expect(() => safetensorsToGguf({ 'a.weight': nan }, null, { architecture: 'x' })).toThrow(/index 7/);
    // An int8 per-channel layer is not Q8_0: refused rather than requantized.
    const q = readSafetensors(saveCompressedTensors({ fc: QuantizedLinear.fromLinear(fc) }));
    expect(() => safetensorsToGguf(q.tensors, q.metadata, { architecture: 'x' })).toThrow(/int8 layers fc \(channel, full, scales not exact in float16\) cannot be written as Q8_0/);
  });

  it('an int8 layer of group 32, range restricted, is repacked without loss; ignore keeps a weight in float', () => {
    const layer = QuantizedLinear.fromLinear(fc, { granularity: 'group', groupSize: 32, range: 'restricted' });
    const q = readSafetensors(saveCompressedTensors({ fc: layer }, { scaleDtype: 'float16' }));
    const { bytes, report } = safetensorsToGguf(q.tensors, q.metadata, { architecture: 'x' });
    expect(report.repacked).toEqual(['fc.weight']);
    const back = ggufToSafetensors(bytes);
    expect(back.tensors['fc.weight'].data).toEqual(layer.weight.data);
    expect(back.tensors['fc.weight_scale'].toFloat32().data).toEqual(layer.weightScale.toHalf('float16').toFloat32().data);
    const kept = safetensorsToGguf({ 'fc.weight': fc.weight }, null, { architecture: 'x', ignore: (n) => n === 'fc' });
    expect(kept.report.copied).toEqual(['fc.weight']);
  });

  it('GGUF tensors of other ggml types are refused in one error listing them', () => {
    const bytes = file({ tensors: [{ name: 'a', ne: [32], type: 2 }, { name: 'b', ne: [256], type: 12 }], dataBytes: 32 + 160 });
    expect(() => ggufToSafetensors(bytes)).toThrow(FormatError);
    expect(() => ggufToSafetensors(bytes)).toThrow(/2 tensor\(s\) .*: a \(q4_0\), b \(q4_K\)/);
  });

  it('Q8_0 is a row of the format table with ggml arithmetic', () => {
    expect(QK8_0).toBe(32);
    expect(FORMATS['gguf-q8_0']).toMatchObject({ id: 'gguf-q8_0', qmin: -127, qmax: 127, blockSize: 32, scaleDtype: 'float16' });
    const q = new Int8Array(2);
    FORMATS['gguf-q8_0'].quantizeBlock(Float32Array.of(2.5, -3.5), 0, 2, 1, q);
    expect([...q]).toEqual([3, -4]); // the int8 rows give [2, -4]
  });
});

describe('q8_0ScaleBits: float32 -> half, round to nearest even (against @petamoriken/float16)', () => {
  it('agrees on every half value, the float32 neighbours of every midpoint, specials and random floats', () => {
    const view = new DataView(new ArrayBuffer(2));
    const reference = (x: number): number => {
      setFloat16(view, 0, x, true);
      return view.getUint16(0, true);
    };
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    const probe: number[] = [0, -0, Infinity, -Infinity, 65504, 65519.99, 65520, 2 ** -24, 2 ** -25, 2 ** -25 * 1.0000001, 2 ** -26, 6.1e-5, 3e38];
    for (let h = 0; h < 0x7c00; h++) {
      view.setUint16(0, h, true);
      const v = getFloat16(view, 0, true);
      f[0] = v;
      const at = u[0];
      for (const delta of h === 0 ? [0, 1] : [-1, 0, 1]) {
        u[0] = at + delta;
        probe.push(f[0], -f[0]);
      }
      // the midpoint to the next half, and its float32 neighbours
      view.setUint16(0, h + 1, true);
      f[0] = (v + getFloat16(view, 0, true)) / 2;
      const mid = u[0];
      for (const delta of [-1, 0, 1]) {
        u[0] = mid + delta;
        probe.push(f[0]);
      }
    }
    let seed = 12345;
    for (let i = 0; i < 200_000; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      u[0] = seed;
      if (Number.isFinite(f[0])) probe.push(f[0]);
    }
    for (const x of probe) {
      const got = q8_0ScaleBits(x);
      const want = reference(x);
      if (got !== want) throw new Error(`q8_0ScaleBits(${x}) = 0x${got.toString(16)}, @petamoriken/float16 gives 0x${want.toString(16)}`);
    }
  });
});
