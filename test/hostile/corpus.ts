/**
 * The hostile-input corpus (issue 9): every kind of bad or odd safetensors file, plus the reference
 * crate's own test vectors (huggingface/safetensors `safetensors/src/tensor.rs` tests) and its
 * `attacks/` folder. Deterministic: `hostileCorpus()` builds the same bytes every time.
 *
 * `npx tsx test/hostile/corpus.ts <folder>` writes the files (for the Rust program beside it); see
 * test/hostile/README.md for how `crate-verdicts.json` is made from them.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SAFETENSORS_DTYPES, SAFETENSORS_DTYPE_BITS } from '../../src/io/safetensors.js';

export interface CorpusFile {
  /** File name (also the key in crate-verdicts.json). */
  readonly name: string;
  readonly bytes: Uint8Array;
  /** Set where this library refuses a file the crate accepts, by documented choice: the rule it uses. */
  readonly differs?: 'DuplicateKey';
  /** Set where the file also has a check of another item of issue 9 (8: ReDoS, 9: inspect escaping, 11: odd quantization metadata). */
  readonly otherItem?: number;
}

const enc = new TextEncoder();

/** A file: 8-byte length (of the header, unless `declared`), the header text, the data section. */
export function stFile(header: string, data: Uint8Array | number = 0, declared?: bigint): Uint8Array {
  const json = enc.encode(header);
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, declared ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

const bytesOf = (s: string): Uint8Array => Uint8Array.from([...s].map((c) => c.charCodeAt(0)));
const f32 = (...v: number[]): Uint8Array => new Uint8Array(new Float32Array(v).buffer);
const one = (dtype: string, shape: string, begin: number, end: number): string => `{"dtype":"${dtype}","shape":${shape},"data_offsets":[${begin},${end}]}`;
const ramp = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) & 0xff);

/** A float Linear layer (2 x 4 F32 weight, values that quantize cleanly) beside other tensors. */
function withLinear(others: { name: string; dtype: string; shape: string; bytes: Uint8Array }[], metadata?: Record<string, string>): Uint8Array {
  const parts: string[] = [];
  if (metadata !== undefined) parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  const chunks: Uint8Array[] = [];
  let at = 0;
  const w = f32(0.5, -1, 0.25, 2, -0.75, 1.5, 0, -2);
  parts.push(`"fc.weight":${one('F32', '[2,4]', at, at + w.length)}`);
  chunks.push(w);
  at += w.length;
  for (const o of others) {
    parts.push(`${JSON.stringify(o.name)}:${one(o.dtype, o.shape, at, at + o.bytes.length)}`);
    chunks.push(o.bytes);
    at += o.bytes.length;
  }
  const data = new Uint8Array(at);
  let p = 0;
  for (const c of chunks) {
    data.set(c, p);
    p += c.length;
  }
  return stFile(`{${parts.join(',')}}`, data);
}

/** The crate's own unit-test vectors (safetensors/src/tensor.rs, mod tests), byte for byte. */
function crateTests(): CorpusFile[] {
  const i32x4 = '{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}';
  const zeros16 = new Uint8Array(16);
  const serialized = (header: string, data: Uint8Array | number, lengthByte: number, more: number[] = []): Uint8Array => {
    const f = stFile(header, data);
    f.set([lengthByte, 0, 0, 0, 0, 0, 0, 0].map((b, i) => (i < more.length ? more[i] : b)), 0);
    return f;
  };
  const attack = `{${Array.from({ length: 10 }, (_, i) => `"weight_${i}":${one('F32', '[2,2]', 0, 16)}`).join(',')}}`;
  return [
    { name: 'crate-test_serialization', bytes: stFile('{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}', f32(0, 1, 2, 3, 4, 5)) },
    { name: 'crate-test_serialization_fp4', bytes: Uint8Array.from([64, 0, 0, 0, 0, 0, 0, 0, ...enc.encode('{"attn.0":{"dtype":"F4","shape":[1,2],"data_offsets":[0,1]}}    '), 0]) },
    { name: 'crate-test_empty', bytes: Uint8Array.from([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]) },
    { name: 'crate-test_empty_metadata', bytes: stFile('{"__metadata__":{"framework":"pt"}}     ') },
    { name: 'crate-test_serialization_forced_alignement', bytes: stFile('{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       ', f32(0, 1, 2, 3, 4, 5)) },
    { name: 'crate-test_empty_shapes_allowed', bytes: stFile('{"test":{"dtype":"I32","shape":[],"data_offsets":[0,4]}}', 4) },
    { name: 'crate-test_deserialization', bytes: stFile(i32x4, zeros16) },
    { name: 'crate-test_json_attack', bytes: stFile(attack, 16) },
    { name: 'crate-test_metadata_incomplete_buffer-extra', bytes: stFile(i32x4, Uint8Array.from([...zeros16, ...enc.encode('extra_bogus_data_for_polyglot_file')])) },
    { name: 'crate-test_metadata_incomplete_buffer-missing', bytes: stFile(i32x4, 14) },
    { name: 'crate-test_header_too_large', bytes: serialized(i32x4, zeros16, 60, [60, 0, 0, 0, 0, 0xff, 0xff, 0xff]) },
    { name: 'crate-test_header_too_small', bytes: new Uint8Array(0) },
    { name: 'crate-test_invalid_header_length', bytes: Uint8Array.from([60, 0, 0, 0, 0, 0, 0, 0]) },
    { name: 'crate-test_invalid_header_non_utf8', bytes: Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 0xff]) },
    { name: 'crate-test_invalid_header_not_json', bytes: Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 0x7b]) },
    { name: 'crate-test_whitespace_padded_header', bytes: Uint8Array.from([6, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d, 0x0d, 0x20, 0x09, 0x0a]) },
    { name: 'crate-test_whitespace_leading_padded_header', bytes: Uint8Array.from([6, 0, 0, 0, 0, 0, 0, 0, 0x09, 0x0a, 0x7b, 0x7d, 0x0d, 0x20]) },
    { name: 'crate-test_zero_sized_tensor', bytes: stFile('{"test":{"dtype":"I32","shape":[2,0],"data_offsets":[0, 0]}}') },
    { name: 'crate-test_invalid_info', bytes: stFile('{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0, 4]}}') },
    { name: 'crate-test_validation_overflow-shape', bytes: stFile('{"test":{"dtype":"I32","shape":[2,18446744073709551614],"data_offsets":[0,16]}}', zeros16) },
    { name: 'crate-test_validation_overflow-bits', bytes: stFile('{"test":{"dtype":"I32","shape":[2,9223372036854775807],"data_offsets":[0,16]}}', zeros16) },
  ];
}

/** huggingface/safetensors attacks/: the safetensors abuse attempts and the pickle files they contrast with. */
function attacks(): CorpusFile[] {
  // attempt 1: a valid file whose header length is overwritten with 1000 (past the end).
  const a1 = stFile(`{"weight":${one('F32', '[2,2]', 0, 16)}}`, 16);
  new DataView(a1.buffer).setBigUint64(0, 1000n, true);
  // attempt 2: 10,000,000 entries all at [0, 16]: the header is ~0.8 GB, so its length alone is HeaderTooLarge.
  let n2 = 2;
  for (let i = 0; i < 10_000_000; i++) n2 += `"weight_${i}": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}`.length + (i > 0 ? 2 : 0);
  const a2 = new Uint8Array(8 + 64);
  new DataView(a2.buffer).setBigUint64(0, BigInt(n2), true);
  a2.set(enc.encode('{"weight_0": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}'.slice(0, 64)), 8);
  // attempt 3: entries of 200 x 200 F32, all at [0, 160000] (the script has 100,000; 10,000 keep the CI run short);
  // as the script, the data section is as long as the header.
  const json3 = `{${Array.from({ length: 10_000 }, (_, i) => `"weight_${i}": {"dtype": "F32", "shape": [200, 200], "data_offsets": [0, 160000]}`).join(', ')}}`;
  return [
    { name: 'attack-safetensors_abuse_attempt_1', bytes: a1 },
    { name: 'attack-safetensors_abuse_attempt_2', bytes: a2 },
    { name: 'attack-safetensors_abuse_attempt_3', bytes: stFile(json3, enc.encode(json3).length) },
    // torch_ace / torch_dos write torch.save files: a zip archive (PyTorch >= 1.6) or a bare pickle.
    { name: 'attack-torch_ace-zip.pt', bytes: Uint8Array.from([...bytesOf('PK\x03\x04\x00\x00\x08\x00'), ...enc.encode('archive/data.pklPK\x05\x06')]) },
    { name: 'attack-torch_ace-pickle.bin', bytes: bytesOf('\x80\x02cposix\nsystem\nq\x00X\x06\x00\x00\x00whoamiq\x01\x85q\x02Rq\x03.') },
  ];
}

/** The kinds of issue 9 and the parser's parity items (15). */
function kinds(): CorpusFile[] {
  const t = (h: string, n: number): Uint8Array => stFile(h, n);
  const nested = (levels: number): string => `{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":${'['.repeat(levels - 2)}${']'.repeat(levels - 2)}}}`;
  const files: CorpusFile[] = [
    // not safetensors at all (item 14)
    { name: 'not-index.json', bytes: enc.encode('{"metadata": {"total_size": 16}, "weight_map": {"fc.weight": "model-00001-of-00002.safetensors"}}\n') },
    { name: 'not-text.txt', bytes: enc.encode('hello, this is a README and not a checkpoint\n') },
    { name: 'not-seven-bytes', bytes: bytesOf('\x01\x02\x03\x04\x05\x06\x07') },
    // header length and encoding
    { name: 'len-u64-max', bytes: stFile('{}', 0, 0xffffffffffffffffn) },
    { name: 'len-100000001', bytes: stFile('{}', 0, 100_000_001n) },
    { name: 'len-past-end', bytes: stFile('{}', 0, 3n) },
    { name: 'utf8-bom', bytes: stFile('\ufeff{}') },
    { name: 'utf8-overlong', bytes: Uint8Array.from([4, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0xc0, 0xaf, 0x7d]) },
    { name: 'utf8-cesu-surrogate', bytes: Uint8Array.from([7, 0, 0, 0, 0, 0, 0, 0, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x20, 0x20].slice(0, 15)) },
    // JSON grammar, as serde_json
    { name: 'json-trailing-garbage', bytes: t('{} x', 0) },
    { name: 'json-trailing-comma', bytes: t(`{"t":${one('F32', '[1]', 0, 4)},}`, 4) },
    { name: 'json-root-array', bytes: t(`[${one('F32', '[1]', 0, 4)}]`, 4) },
    { name: 'json-control-char', bytes: t(`{"t\u0001":${one('F32', '[1]', 0, 4)}}`, 4) },
    { name: 'json-lone-surrogate-name', bytes: t(`{"\\ud800":${one('F32', '[1]', 0, 4)}}`, 4) },
    { name: 'json-lone-surrogate-ignored-field', bytes: t('{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":"\\udc00"}}', 4) },
    { name: 'json-surrogate-pair-name', bytes: t(`{"\\ud83d\\ude00":${one('F32', '[1]', 0, 4)}}`, 4) },
    { name: 'json-depth-127', bytes: t(nested(127), 4) },
    { name: 'json-depth-128', bytes: t(nested(128), 4) },
    { name: 'json-depth-100000', bytes: t(`{"t":${'['.repeat(100_000)}${']'.repeat(100_000)}}`, 0) },
    { name: 'json-number-1e400', bytes: t('{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1e400}}', 4) },
    { name: 'json-number-huge-int-ignored', bytes: t('{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":-99999999999999999999999999}}', 4) },
    // entry forms (serde's derived Deserialize)
    { name: 'entry-array', bytes: t('{"t":["F32",[1],[0,4]]}', 4) },
    { name: 'entry-array-4', bytes: t('{"t":["F32",[1],[0,4],0]}', 4) },
    { name: 'entry-null', bytes: t('{"t":null}', 0) },
    { name: 'entry-missing-shape', bytes: t('{"t":{"dtype":"F32","data_offsets":[0,4]}}', 4) },
    { name: 'entry-offsets-3', bytes: t('{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4,4]}}', 4) },
    { name: 'entry-offsets-object', bytes: t('{"t":{"dtype":"F32","shape":[1],"data_offsets":{"0":0,"1":4}}}', 4) },
    { name: 'entry-unknown-field', bytes: t('{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":{"dtype":1}}}', 4) },
    { name: 'dtype-tagged-null', bytes: t('{"t":{"dtype":{"F32":null},"shape":[1],"data_offsets":[0,4]}}', 4) },
    { name: 'dtype-tagged-empty', bytes: t('{"t":{"dtype":{"F32":{}},"shape":[1],"data_offsets":[0,4]}}', 4) },
    { name: 'dtype-lowercase', bytes: t(`{"t":${one('f32', '[1]', 0, 4)}}`, 4) },
    { name: 'dtype-integer', bytes: t('{"t":{"dtype":17,"shape":[1],"data_offsets":[0,4]}}', 4) },
    { name: 'dtype-unknown', bytes: t(`{"t":${one('F12', '[1]', 0, 4)}}`, 4) },
    // integers
    { name: 'int-float-2.0', bytes: t('{"t":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}', 8) },
    { name: 'int-exponent', bytes: t('{"t":{"dtype":"F32","shape":[1e0],"data_offsets":[0,4]}}', 4) },
    { name: 'int-negative', bytes: t('{"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', 4) },
    { name: 'int-negative-zero', bytes: t('{"t":{"dtype":"F32","shape":[1],"data_offsets":[-0,4]}}', 4) },
    { name: 'int-2^64', bytes: t('{"t":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,0]}}', 0) },
    { name: 'int-string', bytes: t('{"t":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}}', 4) },
    // shapes and sizes
    { name: 'shape-zero-and-2^64-1', bytes: t(`{"z":${one('F32', '[0,18446744073709551615]', 0, 0)}}`, 0) },
    { name: 'shape-zero-and-2^53+1', bytes: t(`{"z":${one('I8', '[9007199254740993,0]', 0, 0)},"w":${one('F32', '[1]', 0, 4)}}`, 4) },
    { name: 'shape-bits-overflow', bytes: t(`{"t":${one('F32', '[4611686018427387904]', 0, 0)}}`, 0) },
    { name: 'shape-f4-odd', bytes: t(`{"q":${one('F4', '[3]', 0, 2)}}`, 2) },
    { name: 'shape-f6-odd', bytes: t(`{"q":${one('F6_E2M3', '[5]', 0, 4)}}`, 4) },
    { name: 'shape-f6-whole', bytes: t(`{"q":${one('F6_E3M2', '[4]', 0, 3)}}`, 3) },
    // offsets
    { name: 'offsets-hole', bytes: t(`{"a":${one('I8', '[2]', 0, 2)},"b":${one('I8', '[2]', 3, 5)}}`, 5) },
    { name: 'offsets-overlap', bytes: t(`{"a":${one('I8', '[2]', 0, 2)},"b":${one('I8', '[2]', 1, 3)}}`, 3) },
    { name: 'offsets-reversed', bytes: t(`{"a":${one('I8', '[0]', 0, 0)},"b":${one('I8', '[0]', 1, 0)}}`, 1) },
    { name: 'offsets-not-from-0', bytes: t(`{"a":${one('I8', '[2]', 2, 4)}}`, 4) },
    { name: 'offsets-past-end', bytes: t(`{"a":${one('I8', '[4]', 0, 4)}}`, 2) },
    // duplicates: the crate keeps the last tensor / metadata value and refuses a field twice
    { name: 'dup-tensor', bytes: t(`{"t":${one('F32', '[1]', 0, 4)},"t":${one('F32', '[1]', 0, 4)}}`, 4), differs: 'DuplicateKey' },
    { name: 'dup-tensor-first-invalid', bytes: t(`{"t":${one('F99', '[1]', 0, 4)},"t":${one('F32', '[1]', 0, 4)}}`, 4) },
    { name: 'dup-metadata-key', bytes: t(`{"__metadata__":{"a":"1","a":"2"},"t":${one('F32', '[1]', 0, 4)}}`, 4), differs: 'DuplicateKey' },
    { name: 'dup-metadata-field', bytes: t(`{"__metadata__":{},"__metadata__":{},"t":${one('F32', '[1]', 0, 4)}}`, 4) },
    { name: 'dup-dtype-field', bytes: t('{"t":{"dtype":"F32","dtype":"I32","shape":[1],"data_offsets":[0,4]}}', 4) },
    { name: 'dup-unknown-field', bytes: t('{"t":{"x":1,"x":2,"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 4) },
    // metadata
    { name: 'meta-null', bytes: t(`{"__metadata__":null,"t":${one('F32', '[1]', 0, 4)}}`, 4) },
    { name: 'meta-number', bytes: t(`{"__metadata__":{"a":1},"t":${one('F32', '[1]', 0, 4)}}`, 4) },
    { name: 'meta-array', bytes: t(`{"__metadata__":[],"t":${one('F32', '[1]', 0, 4)}}`, 4) },
    // names that are object-prototype keys, escapes and newlines (items 9, 10 show them; the parser keeps them as data)
    { name: 'names-prototype', bytes: withLinear([{ name: '__proto__', dtype: 'U8', shape: '[1]', bytes: ramp(1) }, { name: 'constructor', dtype: 'U8', shape: '[1]', bytes: ramp(1) }], JSON.parse('{"__proto__":"x","toString":"y"}') as Record<string, string>) },
    { name: 'names-terminal-escapes', bytes: withLinear([{ name: '\u001b[2J\u001b]0;pwned\u0007\nfake row', dtype: 'U8', shape: '[1]', bytes: ramp(1) }], { note: '\u001b[31mred\u009b' }), otherItem: 9 },
    // quantization metadata that is odd or hostile (items 8, 11)
    { name: 'qconfig-redos', bytes: withLinear([], { quantization_config: JSON.stringify({ quant_method: 'compressed-tensors', format: 'int-quantized', config_groups: { g: { targets: ['re:(a+)+$'], weights: { num_bits: 8, type: 'int', symmetric: true, strategy: 'channel' } } }, ignore: [] }) }), otherItem: 8 },
    { name: 'qconfig-null-group', bytes: withLinear([], { quantization_config: JSON.stringify({ quant_method: 'compressed-tensors', format: 'int-quantized', config_groups: { g: null }, ignore: [] }) }), otherItem: 11 },
    { name: 'qconfig-int8-linear-null', bytes: withLinear([], { int8_linear: 'null' }), otherItem: 11 },
    { name: 'qconfig-targets-42', bytes: withLinear([], { quantization_config: JSON.stringify({ quant_method: 'compressed-tensors', format: 'int-quantized', config_groups: { g: { targets: [42], weights: { num_bits: 8, type: 'int', symmetric: true, strategy: 'channel' } } }, ignore: [null] }) }), otherItem: 11 },
    // weights that cannot be quantized
    { name: 'linear-nan-weight', bytes: stFile(`{"fc.weight":${one('F32', '[2,2]', 0, 16)}}`, f32(1, NaN, 0, 2)) },
    { name: 'linear-f8-weight', bytes: withLinear([{ name: 'fp8.weight', dtype: 'F8_E4M3', shape: '[2,2]', bytes: ramp(4) }]) },
  ];
  // every dtype the crate knows, alone and beside a Linear layer (item 15)
  for (const d of SAFETENSORS_DTYPES) {
    const n = (2 * 4 * SAFETENSORS_DTYPE_BITS[d]) / 8;
    files.push({ name: `dtype-${d}-beside-linear`, bytes: withLinear([{ name: `x.${d.toLowerCase()}`, dtype: d, shape: '[2,4]', bytes: ramp(n) }]) });
  }
  return files;
}

/** Every corpus file, in a fixed order. */
export function hostileCorpus(): CorpusFile[] {
  return [...crateTests(), ...attacks(), ...kinds()];
}

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** crate-verdicts.json: the crate's verdict per file (made by the Rust program; see README.md). */
export interface CrateVerdict {
  readonly file: string;
  readonly sha256: string;
  readonly verdict: 'accept' | 'reject';
  readonly rule?: string;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = process.argv[2];
  if (out === undefined) throw new Error('usage: npx tsx test/hostile/corpus.ts <folder> [--verdicts]');
  mkdirSync(out, { recursive: true });
  const files = hostileCorpus();
  for (const f of files) writeFileSync(join(out, f.name), f.bytes);
  if (process.argv.includes('--verdicts')) {
    const here = dirname(fileURLToPath(import.meta.url));
    const bin = join(here, 'crate-verdict', 'target', 'release', 'crate-verdict');
    if (!existsSync(bin)) throw new Error(`build ${bin} first (README.md)`);
    const lines = execFileSync(bin, [out], { encoding: 'utf8', maxBuffer: 1 << 26 }).trim().split('\n');
    const byName = new Map(files.map((f) => [f.name, f]));
    const verdicts: CrateVerdict[] = lines.map((l) => {
      const v = JSON.parse(l) as { file: string; verdict: 'accept' | 'reject'; rule?: string };
      const f = byName.get(v.file);
      if (f === undefined) throw new Error(`unexpected file ${v.file} in ${out}`);
      return { file: v.file, sha256: sha256(f.bytes), verdict: v.verdict, ...(v.rule === undefined ? {} : { rule: v.rule }) };
    });
    writeFileSync(join(here, 'crate-verdicts.json'), `${JSON.stringify(verdicts, null, 1)}\n`);
    console.log(`wrote ${verdicts.length} verdicts to ${join(here, 'crate-verdicts.json')}`);
  }
}
