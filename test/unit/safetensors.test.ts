import { describe, expect, it } from 'vitest';
import { FormatError, Tensor } from '../../src/index.js';
import { SafetensorsFormatError, readSafetensors, writeSafetensors, type SafetensorsRule } from '../../src/io/safetensors.js';
import { stFile as file } from '../hostile/corpus.js';

function rejects(bytes: Uint8Array, rule: SafetensorsRule, tensor?: string | null): SafetensorsFormatError {
  let caught: unknown;
  try {
    readSafetensors(bytes);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(SafetensorsFormatError);
  expect(caught).toBeInstanceOf(FormatError);
  const err = caught as SafetensorsFormatError;
  expect(err.rule).toBe(rule);
  if (tensor !== undefined) expect(err.tensor).toBe(tensor);
  expect(err.message).toContain(rule);
  return err;
}

const f32le = (...v: number[]): Uint8Array => new Uint8Array(new Float32Array(v).buffer);

describe('writeSafetensors: byte-identical to the reference crate', () => {
  // Expected bytes are the reference crate's own unit tests (safetensors/src/tensor.rs:
  // test_serialization, test_serialization_forced_alignement, test_empty).
  it('test_serialization: one F32 tensor (1, 2, 3), header already 8-aligned', () => {
    const t = new Tensor(new Float32Array([0, 1, 2, 3, 4, 5]), [1, 2, 3]);
    const expected = [
      64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70,
      51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111,
      102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0,
      64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ];
    expect([...writeSafetensors({ 'attn.0': t })]).toEqual(expected);
  });

  it('test_serialization_forced_alignement: the header is padded with spaces to 8 bytes', () => {
    const t = new Tensor(new Float32Array([0, 1, 2, 3, 4, 5]), [1, 1, 2, 3]);
    const out = writeSafetensors({ attn0: t });
    expect(Number(new DataView(out.buffer).getBigUint64(0, true))).toBe(72);
    expect(new TextDecoder().decode(out.subarray(8, 80))).toBe('{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       ');
    expect([...out.subarray(80)]).toEqual([...f32le(0, 1, 2, 3, 4, 5)]);
  });

  it('test_empty: no tensors, with and without metadata', () => {
    expect([...writeSafetensors({})]).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    const withMeta = writeSafetensors({}, { framework: 'pt' });
    expect(withMeta[0]).toBe(40);
    expect(new TextDecoder().decode(withMeta.subarray(8))).toBe('{"__metadata__":{"framework":"pt"}}     ');
  });

  it('orders tensors by dtype alignment (descending) then name, as the crate', () => {
    const out = writeSafetensors({
      b: new Tensor(new Int8Array(3), [3]),
      a: new Tensor(new Int8Array(1), [1]),
      s: new Tensor(new Float32Array(2), [2]),
      l: new Tensor(new BigInt64Array(1), [1], 'int64'),
      h: new Tensor(new Uint16Array(1), [1], 'bfloat16'),
      g: new Tensor(new Uint16Array(1), [1], 'float16'),
    });
    const n = Number(new DataView(out.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(out.subarray(8, 8 + n)));
    expect(Object.keys(header)).toEqual(['l', 's', 'h', 'g', 'a', 'b']);
    expect(header.l.data_offsets).toEqual([0, 8]);
    expect(header.b.data_offsets).toEqual([21, 24]); // 8 + 8 + 2 + 2 + 1 = 21
  });

  it('round-trips every supported dtype, including __proto__ and constructor names', () => {
    const tensors: Record<string, Tensor> = Object.create(null);
    tensors.f32 = new Tensor(new Float32Array([1.5, -2, 3.25, NaN]), [2, 2]);
    tensors.f64 = new Tensor(new Float64Array([Math.PI]), [1]);
    tensors.f16 = new Tensor(new Uint16Array([0x3c00, 0xc000, 0x7c00]), [3], 'float16');
    tensors.bf16 = new Tensor(new Uint16Array([0x3f80, 0x4049]), [2], 'bfloat16');
    tensors.i8 = new Tensor(new Int8Array([-128, 127, 0]), [3]);
    tensors.u8 = new Tensor(new Uint8Array([255]), []);
    tensors.i32 = new Tensor(new Int32Array([-(2 ** 31)]), [1, 1]);
    tensors.i64 = new Tensor(new BigInt64Array([-(2n ** 63n), 42n]), [2], 'int64');
    tensors.__proto__ = new Tensor(new Float32Array([7]), [1]);
    const ctor: string = 'constructor';
    tensors[ctor] = new Tensor(new Int8Array(0), [0, 5]);
    const { tensors: back, metadata } = readSafetensors(writeSafetensors(tensors, { format: 'pt', __proto__: 'x' } as Record<string, string>));
    expect(Object.getPrototypeOf(back)).toBe(null);
    expect(Object.keys(back).sort()).toEqual(Object.keys(tensors).sort());
    for (const k of Object.keys(tensors)) {
      expect(back[k].dtype).toBe(tensors[k].dtype);
      expect(back[k].shape).toEqual(tensors[k].shape);
      expect([...back[k].data]).toEqual([...tensors[k].data]);
    }
    expect(metadata).toEqual(Object.assign(Object.create(null), { format: 'pt' }));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('decodes float16 and bfloat16 with toFloat32 and rounds back with toHalf', () => {
    const h = new Tensor(new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x8000]), [6], 'float16');
    expect([...h.toFloat32().data]).toEqual([1, -2, 65504, 2 ** -24, Infinity, -0]);
    const b = new Tensor(new Uint16Array([0x3f80, 0x4049, 0xff80]), [3], 'bfloat16');
    expect([...b.toFloat32().data]).toEqual([1, 3.140625, -Infinity]);
    const x = new Tensor(new Float32Array([1, 0.1, 65520, 1 + 2 ** -11]), [4]);
    // 0.1 -> 0x2e66 (f16) / 0x3dcd (bf16); 65520 overflows f16 to Inf; 1 + 2^-11 is a tie -> 1 (even).
    expect([...x.toHalf('float16').data]).toEqual([0x3c00, 0x2e66, 0x7c00, 0x3c00]);
    expect([...x.toHalf('bfloat16').data]).toEqual([0x3f80, 0x3dcd, 0x477f + 1, 0x3f80]);
  });
});

describe('readSafetensors: the reference crate\'s rules', () => {
  const ok = '{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}';

  it('accepts the crate\'s test_deserialization file, an empty shape and a zero-size tensor', () => {
    const { tensors } = readSafetensors(file(ok, 16));
    expect(tensors.test.dtype).toBe('int32');
    expect(tensors.test.shape).toEqual([2, 2]);
    expect(readSafetensors(file('{"test":{"dtype":"I32","shape":[],"data_offsets":[0,4]}}', 4)).tensors.test.shape).toEqual([]);
    expect(readSafetensors(file('{"test":{"dtype":"I32","shape":[2,0],"data_offsets":[0, 0]}}')).tensors.test.shape).toEqual([2, 0]);
  });

  it('accepts whitespace before and after the JSON, and __metadata__: null', () => {
    expect(readSafetensors(file('\t\n {}\r \t\n')).tensors).toEqual(Object.create(null));
    expect(readSafetensors(file('{"__metadata__":null}')).metadata).toBe(null);
  });

  it('HeaderTooSmall, HeaderTooLarge, InvalidHeaderLength', () => {
    rejects(new Uint8Array(0), 'HeaderTooSmall', null);
    rejects(new Uint8Array(7), 'HeaderTooSmall');
    rejects(file(ok, 16, 0xffffff0000000000n), 'HeaderTooLarge');
    rejects(file(ok, 16, 100_000_001n), 'HeaderTooLarge');
    rejects(file('', 0, 60n), 'InvalidHeaderLength');
    rejects(file(ok, 0, 2n ** 64n - 1n), 'HeaderTooLarge');
  });

  it('InvalidHeader (not UTF-8) and InvalidHeaderDeserialization (not JSON, wrong schema)', () => {
    const bad = file('x');
    bad[8] = 0xff;
    rejects(bad, 'InvalidHeader');
    rejects(file('{'), 'InvalidHeaderDeserialization');
    rejects(file('\ufeff{}'), 'InvalidHeaderDeserialization');
    rejects(file('[]'), 'InvalidHeaderDeserialization');
    rejects(file('{"t":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}', 4), 'InvalidHeaderDeserialization', 't');
    rejects(file('{"t":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}', 4), 'InvalidHeaderDeserialization', 't');
    rejects(file('{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,-4]}}', 4), 'InvalidHeaderDeserialization', 't');
    rejects(file('{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}', 4), 'InvalidHeaderDeserialization', 't');
    rejects(file('{"t":{"dtype":"F32","shape":[1]}}', 4), 'InvalidHeaderDeserialization', 't');
    rejects(file('{"t":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,4]}}', 4), 'InvalidHeaderDeserialization');
    rejects(file('{"__metadata__":{"a":1}}'), 'InvalidHeaderDeserialization', '__metadata__');
    rejects(file('{"__metadata__":{"a":"\\udc00"}}'), 'InvalidHeaderDeserialization');
    rejects(file(`${'['.repeat(200)}${']'.repeat(200)}`), 'InvalidHeaderDeserialization');
  });

  it('duplicates: a tensor name or metadata key twice is DuplicateKey (by choice; the crate keeps the last); a field twice is the crate\'s InvalidHeaderDeserialization', () => {
    rejects(file('{"t":{"dtype":"I8","shape":[1],"data_offsets":[0,1]},"t":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}', 1), 'DuplicateKey');
    rejects(file('{"__metadata__":{"a":"1","a":"2"},"t":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}', 1), 'DuplicateKey');
    rejects(file('{"t":{"dtype":"I8","dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1), 'InvalidHeaderDeserialization', 't');
    rejects(file('{"__metadata__":{},"__metadata__":{},"t":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}', 1), 'InvalidHeaderDeserialization');
    // As serde: fields a TensorInfo does not have are ignored, even twice.
    expect(readSafetensors(file('{"t":{"x":1,"x":2,"dtype":"I8","shape":[1],"data_offsets":[0,1]}}', 1)).tensors.t.shape).toEqual([1]);
  });

  it('InvalidOffset: hole, overlap, not from 0, end before begin (test_json_attack)', () => {
    rejects(file('{"t":{"dtype":"I8","shape":[1],"data_offsets":[1,2]}}', 2), 'InvalidOffset', 't');
    rejects(file('{"a":{"dtype":"I8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"I8","shape":[2],"data_offsets":[1,3]}}', 3), 'InvalidOffset', 'b');
    rejects(file('{"t":{"dtype":"I8","shape":[0],"data_offsets":[0,0]},"u":{"dtype":"I8","shape":[0],"data_offsets":[1,0]}}', 1), 'InvalidOffset', 'u');
    const attack = `{${Array.from({ length: 10 }, (_, i) => `"weight_${i}":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}`).join(',')}}`;
    rejects(file(attack, 16), 'InvalidOffset');
  });

  it('TensorInvalidInfo (test_invalid_info) and ValidationOverflow (test_validation_overflow)', () => {
    rejects(file('{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0, 4]}}', 4), 'TensorInvalidInfo', 'test');
    rejects(file('{"test":{"dtype":"I32","shape":[2,18446744073709551614],"data_offsets":[0,16]}}', 16), 'ValidationOverflow', 'test');
    rejects(file('{"test":{"dtype":"I32","shape":[2,9223372036854775807],"data_offsets":[0,16]}}', 16), 'ValidationOverflow', 'test');
  });

  it('MetadataIncompleteBuffer: trailing bytes (polyglot file) and missing bytes', () => {
    const extra = new Uint8Array(16 + 34);
    rejects(file(ok, extra), 'MetadataIncompleteBuffer', 'test');
    rejects(file(ok, 14), 'MetadataIncompleteBuffer', 'test');
  });

  it('every dtype of the crate is read: those with no Tensor dtype as RawTensor bytes, beside the others', () => {
    const r = readSafetensors(file('{"flags":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]},"w":{"dtype":"F32","shape":[1],"data_offsets":[3,7]}}', new Uint8Array([1, 0, 1, 0, 0, 128, 63])));
    expect(r.raw.flags).toEqual({ dtype: 'BOOL', shape: [3], bytes: new Uint8Array([1, 0, 1]) });
    expect(r.tensors.w.data).toEqual(new Float32Array([1]));
    const fp4 = readSafetensors(file('{"q":{"dtype":"F4","shape":[1,2],"data_offsets":[0,1]}}', new Uint8Array([0x21])));
    expect(fp4.raw.q).toEqual({ dtype: 'F4', shape: [1, 2], bytes: new Uint8Array([0x21]) });
    rejects(file('{"q":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}', 2), 'MisalignedSlice', 'q');
  });

  it('serde forms: an entry as an array, a dtype as {"F32": null}; 127 levels of nesting, not 128', () => {
    expect(readSafetensors(file('{"t":["F32",[1],[0,4]]}', f32le(2))).tensors.t.data).toEqual(new Float32Array([2]));
    expect(readSafetensors(file('{"t":{"dtype":{"F32":null},"shape":[1],"data_offsets":[0,4]}}', 4)).tensors.t.dtype).toBe('float32');
    rejects(file('{"t":{"dtype":{"F32":{}},"shape":[1],"data_offsets":[0,4]}}', 4), 'InvalidHeaderDeserialization', 't');
    rejects(file('{"t":["F32",[1],[0,4],0]}', 4), 'InvalidHeaderDeserialization', 't');
    const nested = (levels: number): string => `{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":${'['.repeat(levels - 2)}${']'.repeat(levels - 2)}}}`;
    expect(Object.keys(readSafetensors(file(nested(127), 4)).tensors)).toEqual(['t']);
    rejects(file(nested(128), 4), 'InvalidHeaderDeserialization');
    rejects(file('{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1e400}}', 4), 'InvalidHeaderDeserialization');
  });

  it('a zero-size tensor with a dimension above 2^53 is read, with its exact shape', () => {
    const r = readSafetensors(file('{"z":{"dtype":"F32","shape":[0,18446744073709551615],"data_offsets":[0,0]}}'));
    expect(r.raw.z).toEqual({ dtype: 'F32', shape: [0, 18446744073709551615n], bytes: new Uint8Array(0) });
    expect(readSafetensors(writeSafetensors(r.raw)).raw.z.shape).toEqual([0, 18446744073709551615n]);
    // Overflow counts bits, as the crate: 2^62 F32 elements are 2^67 bits.
    rejects(file('{"t":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}}'), 'ValidationOverflow', 't');
  });

  it('non-safetensors input gets a hint: PyTorch zip or pickle, JSON (a shard index), anything else', () => {
    const bytesOf = (s: string): Uint8Array => new Uint8Array([...s].map((c) => c.charCodeAt(0)));
    expect(rejects(bytesOf('PK\x03\x04archive/data.pkl and more bytes'), 'HeaderTooLarge').message).toMatch(/zip archive.*torch\.save.*convert it to safetensors/);
    expect(rejects(bytesOf('\x80\x02}q\x00(X\x0b\x00\x00\x00pickled'), 'HeaderTooLarge').message).toMatch(/pickle.*convert it to safetensors/);
    expect(rejects(bytesOf('{"metadata": {"total_size": 1}, "weight_map": {}}'), 'HeaderTooLarge').message).toMatch(/JSON.*index\.json/);
    expect(rejects(bytesOf('hello, world, this is text'), 'HeaderTooLarge').message).toMatch(/not a safetensors file/);
  });

  it('the writer refuses a header above 100,000,000 bytes (HeaderTooLarge), before allocating the file', () => {
    expect(() => writeSafetensors({}, { big: 'a'.repeat(100_000_000) })).toThrow(/HeaderTooLarge.*nothing was written/);
    expect(() => writeSafetensors({ t: { dtype: 'F4', shape: [3], bytes: new Uint8Array(2) } })).toThrow(/MisalignedSlice/);
    expect(() => writeSafetensors({ t: { dtype: 'U16', shape: [2], bytes: new Uint8Array(3) } })).toThrow(/TensorInvalidInfo/);
  });

  it('the writer refuses names a reader could not read back', () => {
    expect(() => writeSafetensors({ __metadata__: new Tensor(new Int8Array(1), [1]) })).toThrow(SafetensorsFormatError);
    expect(() => writeSafetensors({ ['\ud800']: new Tensor(new Int8Array(1), [1]) })).toThrow(/InvalidName/);
    expect(() => writeSafetensors({}, { a: 1 as unknown as string })).toThrow(FormatError);
  });
});
