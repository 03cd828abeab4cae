import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../src/index.js';
import { GGML_TYPE, GGML_TYPES, readGguf, writeGguf, type GgufScalar, type GgufScalarType, type GgufTensorSpec, type GgufValue } from '../../src/io/gguf.js';
import { ggufToSafetensors } from '../../src/io/gguf-convert.js';

/**
 * Fuzzing the GGUF reader (and GGUF -> safetensors on top of it): valid files read back exactly and
 * rewrite to the same bytes; mutated files give a FormatError or a valid read, never another
 * exception, a hang or a huge allocation. Bounded so the file runs in a few seconds in CI.
 */
const RUNS = { numRuns: 300, interruptAfterTimeLimit: 4_000 };

const scalarArb: Record<GgufScalarType, fc.Arbitrary<GgufScalar>> = {
  u8: fc.integer({ min: 0, max: 255 }),
  i8: fc.integer({ min: -128, max: 127 }),
  u16: fc.integer({ min: 0, max: 65535 }),
  i16: fc.integer({ min: -32768, max: 32767 }),
  u32: fc.tuple(fc.nat(65535), fc.nat(65535)).map(([hi, lo]) => hi * 65536 + lo),
  i32: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  f32: fc.float({ noNaN: true }),
  f64: fc.double({ noNaN: true }),
  bool: fc.boolean(),
  str: fc.string({ maxLength: 8, unit: 'grapheme' }),
  u64: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  i64: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
};
const TYPES = Object.keys(scalarArb) as GgufScalarType[];

const valueArb: fc.Arbitrary<GgufValue> = fc.constantFrom(...TYPES).chain((type) =>
  fc.oneof(
    scalarArb[type].map((value) => ({ type, value }) as GgufValue),
    fc.array(scalarArb[type], { maxLength: 4 }).map((value) => ({ type: 'arr', itemType: type, value }) as GgufValue),
  ),
);

const tensorArb: fc.Arbitrary<GgufTensorSpec> = fc
  .record({
    type: fc.constantFrom(GGML_TYPE.F32, GGML_TYPE.F16, GGML_TYPE.BF16, GGML_TYPE.I8, GGML_TYPE.I32, GGML_TYPE.Q8_0),
    shape: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }),
    name: fc.string({ maxLength: 10 }),
  })
  .chain(({ type, shape, name }) => {
    const traits = GGML_TYPES[type];
    // ne[0] (the last PyTorch dim) must be a multiple of the block: scale it for Q8_0.
    const s = shape.length > 0 ? [...shape.slice(0, -1), shape[shape.length - 1] * traits.blockSize] : traits.blockSize > 1 ? [traits.blockSize] : shape;
    const n = (s.reduce((a, b) => a * b, 1) / traits.blockSize) * traits.typeSize;
    return fc.uint8Array({ minLength: n, maxLength: n }).map((data) => ({ name, type, shape: s, data }));
  });

const fileArb = fc
  .tuple(
    fc.uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), valueArb), { selector: ([k]) => k, maxLength: 5 }),
    fc.uniqueArray(tensorArb, { selector: (t) => t.name, maxLength: 4 }),
    fc.constantFrom(undefined, 8, 32, 64),
  )
  .map(([kvs, tensors, alignment]) => {
    const m = new Map<string, GgufValue>(kvs.filter(([k]) => k !== 'general.alignment'));
    if (alignment !== undefined) m.set('general.alignment', { type: 'u32', value: alignment });
    return { metadata: m, tensors, bytes: writeGguf(m, tensors) };
  });

/** Runs the reader and the converter; anything but a FormatError propagates and fails. */
function outcome(bytes: Uint8Array): 'ok' | 'format-error' {
  try {
    ggufToSafetensors(readGguf(bytes));
    return 'ok';
  } catch (e) {
    if (e instanceof FormatError) return 'format-error';
    throw e;
  }
}

describe('gguf fuzz', () => {
  it('valid files read back exactly and rewrite to the same bytes', () => {
    fc.assert(
      fc.property(fileArb, ({ metadata, tensors, bytes }) => {
        const f = readGguf(bytes);
        expect([...f.metadata]).toEqual([...metadata]);
        expect(f.tensors.map((t) => [t.name, t.type, t.shape])).toEqual(tensors.map((t) => [t.name, t.type, t.shape]));
        for (const [i, t] of f.tensors.entries()) expect(f.data(t)).toEqual(tensors[i].data);
        expect(writeGguf(f.metadata, f.tensors.map((t) => ({ ...t, data: f.data(t) })))).toEqual(bytes);
        return outcome(bytes) === 'ok';
      }),
      RUNS,
    );
  });

  it('bit flips anywhere: a FormatError or a valid read, nothing else', () => {
    fc.assert(
      fc.property(fileArb, fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), fc.nat(7), ({ bytes }, positions, bit) => {
        const b = bytes.slice();
        for (const p of positions) b[p % b.length] ^= 1 << bit;
        outcome(b);
      }),
      RUNS,
    );
  });

  it('random bytes in the header (counts, lengths, types) and truncation at any point', () => {
    fc.assert(
      fc.property(fileArb, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.nat(), ({ bytes }, at, junk, cut) => {
        const b = bytes.slice();
        b.set(junk.subarray(0, Math.max(0, b.length - (at % b.length))), at % b.length);
        outcome(b);
        // Cutting only padding can leave a valid file; anything else must be a FormatError.
        outcome(bytes.subarray(0, cut % bytes.length));
      }),
      RUNS,
    );
  });

  it('huge counts and lengths fail at once (no allocation, no long loop)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n << 20n, max: (1n << 64n) - 1n }), fc.constantFrom(8, 16, 24), (n, at) => {
        const bytes = writeGguf(new Map([['k', { type: 'str', value: 'v' }]]), []);
        new DataView(bytes.buffer).setBigUint64(at, n, true);
        expect(outcome(bytes)).toBe('format-error');
      }),
      { numRuns: 100 },
    );
  });
});
