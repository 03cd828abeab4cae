import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FormatError, Tensor, type DType } from '../../src/index.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';

/**
 * Fuzzing the reader: mutated files must give a FormatError (or, for mutations that can leave a
 * file valid, a successful read), never another exception, a hang or a crash. Bounded so the whole
 * file runs in a few seconds in CI.
 */
const RUNS = { numRuns: 300, interruptAfterTimeLimit: 4_000 };

const DTYPES: readonly DType[] = ['float32', 'int8', 'float16', 'bfloat16', 'float64', 'int32', 'uint8', 'int64'];
const BYTES: Record<DType, number> = { float32: 4, int8: 1, float16: 2, bfloat16: 2, float64: 8, int32: 4, uint8: 1, int64: 8 };

const tensorArb = fc
  .record({ dtype: fc.constantFrom(...DTYPES), shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }) })
  .chain(({ dtype, shape }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return fc.uint8Array({ minLength: n * BYTES[dtype], maxLength: n * BYTES[dtype] }).map((bytes) => {
      const t = Tensor.zeros(shape, dtype);
      new Uint8Array(t.data.buffer).set(bytes);
      return t;
    });
  });

const nameArb = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'fc1.weight', 'é名', '"quoted"\n'),
).filter((s) => s !== '__metadata__');

const fileArb = fc
  .tuple(
    fc.uniqueArray(fc.tuple(nameArb, tensorArb), { selector: ([k]) => k, maxLength: 5 }),
    fc.option(fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 3 }), { nil: null }),
  )
  .map(([entries, metadata]) => {
    const tensors: Record<string, Tensor> = Object.create(null);
    for (const [k, t] of entries) tensors[k] = t;
    return writeSafetensors(tensors, metadata);
  });

/** Runs the reader and classifies the outcome; anything but a FormatError propagates and fails. */
function outcome(bytes: Uint8Array): 'ok' | 'format-error' {
  try {
    readSafetensors(bytes);
    return 'ok';
  } catch (e) {
    if (e instanceof FormatError) return 'format-error';
    throw e;
  }
}

function headerOf(bytes: Uint8Array): { n: number; json: Record<string, unknown> } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { n, json: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) };
}

/** Rebuilds a file around a new header text and the old data section. */
function withHeader(bytes: Uint8Array, header: string): Uint8Array {
  const { n } = headerOf(bytes);
  const json = new TextEncoder().encode(header);
  const data = bytes.subarray(8 + n);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors fuzz', () => {
  it('valid files read back', () => {
    fc.assert(fc.property(fileArb, (bytes) => outcome(bytes) === 'ok'), RUNS);
  });

  it('bit flips anywhere: a FormatError or a valid read, nothing else', () => {
    fc.assert(
      fc.property(fileArb, fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), fc.nat(7), (bytes, positions, bit) => {
        const b = bytes.slice();
        for (const p of positions) b[p % b.length] ^= 1 << bit;
        outcome(b);
      }),
      RUNS,
    );
  });

  it('random byte overwrites in the header: a FormatError or a valid read', () => {
    fc.assert(
      fc.property(fileArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (bytes, edits) => {
        const { n } = headerOf(bytes);
        const b = bytes.slice();
        for (const [p, v] of edits) b[8 + (p % n)] = v;
        outcome(b);
      }),
      RUNS,
    );
  });

  it('truncation always fails', () => {
    fc.assert(
      fc.property(fileArb, fc.nat(), (bytes, cut) => {
        const { json } = headerOf(bytes);
        const hasData = Object.entries(json).some(([k, v]) => k !== '__metadata__' && (v as { data_offsets: number[] }).data_offsets[1] > 0);
        const keep = cut % bytes.length;
        fc.pre(hasData || keep < 8 + headerOf(bytes).n);
        expect(outcome(bytes.subarray(0, keep))).toBe('format-error');
      }),
      RUNS,
    );
  });

  it('huge, zero or wrong header lengths always fail', () => {
    fc.assert(
      fc.property(fileArb, fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(2n ** 64n - 1n, 100_000_001n, 2n ** 53n)), (bytes, len) => {
        const { n } = headerOf(bytes);
        fc.pre(len !== BigInt(n));
        const b = bytes.slice();
        new DataView(b.buffer).setBigUint64(0, len, true);
        // Shorter: the JSON is cut or the data section grows; longer: the data section shrinks.
        expect(outcome(b)).toBe('format-error');
      }),
      RUNS,
    );
  });

  const entryMutation = fc.oneof(
    fc.record({ data_offsets: fc.tuple(fc.integer({ min: -5, max: 1000 }), fc.integer({ min: -5, max: 1000 })) }),
    fc.record({ data_offsets: fc.constantFrom([0], [0, 1, 2], '0,4', [0.5, 4], [-0, Infinity]) }),
    fc.record({ dtype: fc.constantFrom('F33', 'f32', '', 'INT8', 'Q8_0', null, 7) }),
    fc.record({ shape: fc.constantFrom([2 ** 64, 2], [-1], [1.5], 'x', [2 ** 53 + 2, 3], null) }),
    fc.constant({ shape: undefined }),
  );

  it('a corrupted tensor entry (offsets, dtype, shape) fails unless it happens to be valid', () => {
    fc.assert(
      fc.property(fileArb, fc.nat(), entryMutation, (bytes, which, patch) => {
        const { json } = headerOf(bytes);
        const names = Object.keys(json).filter((k) => k !== '__metadata__');
        fc.pre(names.length > 0);
        const name = names[which % names.length];
        const before = JSON.stringify(json[name]);
        Object.assign(json[name] as object, patch);
        fc.pre(JSON.stringify(json[name]) !== before);
        const o = outcome(withHeader(bytes, JSON.stringify(json)));
        const entry = json[name] as { dtype: unknown; shape: unknown; data_offsets: unknown };
        // Offsets that still tile the data exactly can stay valid; every other patch must fail.
        if (!('data_offsets' in patch)) expect(o).toBe('format-error');
        else if (o === 'ok') expect(JSON.stringify(entry.data_offsets)).not.toBe(before);
      }),
      RUNS,
    );
  });

  it('an entry or __metadata__ replaced by any JSON value fails unless it is still a valid entry', () => {
    fc.assert(
      fc.property(fileArb, fc.nat(), fc.jsonValue({ maxDepth: 3 }), fc.boolean(), (bytes, which, value, meta) => {
        const { json } = headerOf(bytes);
        const names = Object.keys(json).filter((k) => k !== '__metadata__');
        const key = meta || names.length === 0 ? '__metadata__' : names[which % names.length];
        json[key] = value;
        const o = outcome(withHeader(bytes, JSON.stringify(json)));
        const validMeta = value === null || (typeof value === 'object' && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string'));
        if (key !== '__metadata__' || !validMeta) expect(o).toBe('format-error');
      }),
      RUNS,
    );
  });

  it('deep, broken, duplicate-key and prototype-key headers fail without touching prototypes', () => {
    const textArb = fc.oneof(
      fc.integer({ min: 129, max: 100_000 }).map((d) => `{"a":${'['.repeat(d)}${']'.repeat(d)}}`),
      fc.integer({ min: 129, max: 5_000 }).map((d) => `${'{"a":'.repeat(d)}1${'}'.repeat(d)}`),
      fc.constantFrom('{', '}', '{"a":}', '{"a" 1}', '{"a":1,}', "{'a':1}", 'null', '"str"', '[1]', '{"a":NaN}', '{"a":"\\x"}'),
      fc.constantFrom(
        '{"__proto__":{"dtype":"I8","shape":[1],"data_offsets":[0,1]},"__proto__":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}',
        '{"__metadata__":{},"__metadata__":{}}',
        '{"__metadata__":{"__proto__":{"polluted":"yes"}}}',
        '{"constructor":{"prototype":{"polluted":"yes"}}}',
        '{"x":{"dtype":"I8","shape":[1],"data_offsets":[0,1],"__proto__":{"polluted":"yes"}}}',
      ),
      fc.string({ maxLength: 40 }).filter((s) => {
        try {
          return typeof JSON.parse(s) !== 'object';
        } catch {
          return true;
        }
      }),
    );
    fc.assert(
      fc.property(textArb, fc.nat(4), (text, dataLen) => {
        const bytes = withHeader(writeSafetensors({}), text);
        const data = new Uint8Array(bytes.length + dataLen);
        data.set(bytes);
        const o = outcome(data);
        if (!text.startsWith('{"x"')) expect(o).toBe('format-error');
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        expect(Object.prototype).not.toHaveProperty('dtype');
      }),
      { ...RUNS, numRuns: 150 },
    );
  });
});
