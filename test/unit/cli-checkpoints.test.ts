import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor, quantize, type QuantScheme } from '../../src/index.js';
import { loadCompressedTensorsFile, openSafetensors, readSafetensorsFile, writeSafetensorsFile } from '../../src/io/node.js';
import { runCli } from '../helpers/cli.js';
import { vllmScheme } from '../helpers/vllm-scheme.js';

const HF = join(new URL('.', import.meta.url).pathname, '..', 'golden', 'hf-models');
const LLAMA = join(HF, 'llama-tiny');
const GPT2 = join(HF, 'gpt2-tiny');
const tmp = (): string => mkdtempSync(join(tmpdir(), 'int8-linear-ckpt-'));
const json = (path: string): Record<string, any> => JSON.parse(readFileSync(path, 'utf8')); // eslint-disable-line @typescript-eslint/no-explicit-any

/** Every tensor of a folder's shards (through the index when there is one). */
async function folderTensors(dir: string): Promise<Record<string, Tensor>> {
  const out: Record<string, Tensor> = {};
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.safetensors')).sort()) Object.assign(out, (await readSafetensorsFile(join(dir, f))).tensors);
  return out;
}

/** The (out, in) float32 weight `quantize` should see: the stored one, transposed for a Conv1D weight. */
function linearWeight(t: Tensor, transpose: boolean): Tensor<'float32'> {
  const w = t.toFloat32();
  if (!transpose) return w;
  const [inF, outF] = w.shape;
  const d = new Float32Array(w.size);
  for (let i = 0; i < inF; i++) for (let o = 0; o < outF; o++) d[o * inF + i] = w.data[i * outF + o];
  return new Tensor(d, [outF, inF], 'float32');
}

describe('quantize a Hugging Face Llama folder (config.json, two BF16 shards, index)', () => {
  const input = LLAMA;

  it('writes a sharded folder the library loads bit for bit, whose config vLLM accepts', async () => {
    const output = join(tmp(), 'llama-int8');
    const r = await runCli('quantize', input, '-o', output, '--max-shard-size', '60KB', '--scale-dtype', 'bf16');
    expect(r.code, r.err).toBe(0);
    const files = readdirSync(output).sort();
    const shards = files.filter((f) => f.endsWith('.safetensors'));
    expect(shards.length).toBeGreaterThanOrEqual(2);
    shards.forEach((f, i) => expect(f).toBe(`model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`));
    expect(files).toEqual([...shards, 'config.json', 'generation_config.json', 'model.safetensors.index.json', 'tokenizer.json', 'tokenizer_config.json'].sort());
    // Each shard at most 60 kB of tensor data unless one tensor alone is larger; the index maps every tensor to its shard.
    const index = json(join(output, 'model.safetensors.index.json'));
    let total = 0;
    const inShards: Record<string, string> = {};
    for (const f of shards) {
      const st = await openSafetensors(join(output, f));
      const bytes = st.entries.reduce((a, e) => a + e.dataOffsets[1] - e.dataOffsets[0], 0);
      if (st.entries.length > 1) expect(bytes).toBeLessThanOrEqual(60_000);
      total += bytes;
      for (const e of st.entries) inShards[e.name] = f;
      expect(st.metadata).toEqual({ format: 'pt' });
      await st.close();
    }
    expect(index.weight_map).toEqual(inShards);
    expect(Object.keys(index.weight_map)).toEqual(Object.keys(index.weight_map).sort());
    expect(index.metadata.total_size).toBe(total);
    // config.json: the input's keys, plus quantization_config; small files copied byte for byte.
    const cfg = json(join(output, 'config.json'));
    expect(cfg).toMatchObject({ model_type: 'llama', hidden_size: 64, architectures: ['LlamaForCausalLM'] });
    const q = cfg.quantization_config;
    expect(q).toMatchObject({ quant_method: 'compressed-tensors', format: 'pack-quantized', quantization_status: 'compressed', ignore: ['model.embed_tokens', 'lm_head'] });
    expect(q.global_compression_ratio).toBeGreaterThan(1.9);
    expect(readFileSync(join(output, 'tokenizer.json'), 'utf8')).toBe(readFileSync(join(input, 'tokenizer.json'), 'utf8'));

    // The library loads the folder: every layer equals quantize() of the BF16 weight; other tensors unchanged.
    const src = await folderTensors(input);
    const { layers, tensors } = await loadCompressedTensorsFile(output);
    const names = Object.keys(src).filter((k) => /proj\.weight$/.test(k)).map((k) => k.slice(0, -'.weight'.length));
    expect(Object.keys(layers).sort()).toEqual(names.sort());
    for (const n of names) {
      const want = quantize(src[`${n}.weight`].toFloat32(), { granularity: 'channel' });
      expect([...layers[n].weight.data], n).toEqual([...want.values.data]);
      expect([...layers[n].weightScale.data]).toEqual([...want.scale.toHalf('bfloat16').toFloat32().data]);
    }
    expect(Object.keys(tensors).sort()).toEqual(Object.keys(src).filter((k) => !/proj\.weight$/.test(k)).sort());
    expect([...tensors['lm_head.weight'].data]).toEqual([...src['lm_head.weight'].data]);
    // vLLM's scheme rules accept every layer; lm_head and the embedding stay unquantized.
    const out = await folderTensors(output);
    for (const n of names) expect(vllmScheme(q, n, out).scheme).toBe('CompressedTensorsWNA16');
    expect(vllmScheme(q, 'lm_head', out).scheme).toBe('UnquantizedLinearMethod');
    // inspect takes the folder.
    const ins = await runCli('inspect', output);
    expect(ins.code).toBe(0);
    expect(ins.out).toMatch(/llama-int8: \d shard\(s\), index of \d+ tensors; config\.json: model_type llama, quantization_config: compressed-tensors, format pack-quantized, 1 group\(s\), ignore \[model\.embed_tokens, lm_head\]/);
    expect(ins.out).toMatch(/model\.layers\.0\.mlp\.down_proj\.weight_packed\s+I32\s+\(64, 32\).*int8 channel full packed \(64, 128\), scale BF16 \(64, 1\)/);
    // The report says what the bytes did: BF16 to int8 is about 2x, not 4x.
    expect(r.out).toMatch(/weights: .* BF16 -> .* int8 \+ scales \(1\.9\dx; int8 is about 2x smaller than F16\/BF16 \(4x only from F32\)\)/);
  });

  it('one shard when it fits: model.safetensors and no index; the index file as input works too', async () => {
    const output = join(tmp(), 'one');
    expect((await runCli('quantize', join(input, 'model.safetensors.index.json'), '-o', output, '-q')).code).toBe(0);
    expect(readdirSync(output).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    expect(Object.keys((await loadCompressedTensorsFile(output)).layers)).toHaveLength(14);
  });

  it('--activations int8 writes W8A8 int-quantized that vLLM runs as W8A8Int8; with group scales it is refused, nothing written', async () => {
    const root = tmp();
    const r = await runCli('quantize', input, '-o', join(root, 'w8a8'), '--activations', 'int8', '-q');
    expect(r.code, r.err).toBe(0);
    const cfg = json(join(root, 'w8a8', 'config.json')).quantization_config;
    expect(cfg.format).toBe('int-quantized');
    expect(cfg.config_groups.group_0.input_activations).toMatchObject({ strategy: 'token', dynamic: true, num_bits: 8, symmetric: true });
    const out = await folderTensors(join(root, 'w8a8'));
    expect(out['model.layers.0.mlp.up_proj.weight'].dtype).toBe('int8');
    expect(vllmScheme(cfg, 'model.layers.0.mlp.up_proj', out).scheme).toBe('CompressedTensorsW8A8Int8');
    const { layers } = await loadCompressedTensorsFile(join(root, 'w8a8'));
    expect(layers['model.layers.1.self_attn.o_proj'].activations).toBe('int8');
    const group = await runCli('quantize', input, '-o', join(root, 'g'), '--activations', 'int8', '--granularity', 'group', '--group-size', '32');
    expect(group.code).toBe(1);
    expect(group.err).toMatch(/W8A8 .* group scales .*per-tensor or per-channel/);
    expect(existsSync(join(root, 'g'))).toBe(false);
    expect(readdirSync(root)).toEqual(['w8a8']);
  });

  it('--format int-quantized keeps I8 weights (weight-only: not what vLLM loads, as documented)', async () => {
    const output = join(tmp(), 'int');
    expect((await runCli('quantize', input, '-o', output, '--format', 'int-quantized', '-q')).code).toBe(0);
    const cfg = json(join(output, 'config.json')).quantization_config;
    expect(cfg.format).toBe('int-quantized');
    const out = await folderTensors(output);
    expect(() => vllmScheme(cfg, 'model.layers.0.mlp.up_proj', out)).toThrow();
    expect(Object.keys((await loadCompressedTensorsFile(output)).layers)).toHaveLength(14);
  });

  it('pre-flight: NaN weights in two shards are listed in one error and no folder is written; a non-empty output is refused', async () => {
    const root = tmp();
    const bad = join(root, 'bad');
    cpSync(input, bad, { recursive: true });
    for (const [shard, name] of [['model-00001-of-00002.safetensors', 'model.layers.0.mlp.up_proj.weight'], ['model-00002-of-00002.safetensors', 'model.layers.1.self_attn.q_proj.weight']]) {
      const { tensors, metadata } = await readSafetensorsFile(join(bad, shard));
      const w = tensors[name].toFloat32();
      w.data[5] = Number.NaN;
      tensors[name] = w.toHalf('bfloat16');
      await writeSafetensorsFile(join(bad, shard), tensors, metadata);
    }
    const r = await runCli('quantize', bad, '-o', join(root, 'out'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^int8-linear: 2 layer\(s\) cannot be quantized as asked; nothing was written/);
    expect(r.err).toMatch(/model-00001-of-00002\.safetensors: layer 'model\.layers\.0\.mlp\.up_proj' weight has a non-finite value NaN at \[0, 5\]/);
    expect(r.err).toMatch(/model-00002-of-00002\.safetensors: layer 'model\.layers\.1\.self_attn\.q_proj' weight has a non-finite value NaN/);
    expect(readdirSync(root)).toEqual(['bad']);
    const file = await runCli('quantize', input, '-o', join(root, 'x.safetensors'));
    expect(file.err).toMatch(/is a checkpoint folder \(or index\), which gives a folder; -o \S+x\.safetensors names a \.safetensors file/);
    const busy = await runCli('quantize', input, '-o', bad);
    expect(busy.code).toBe(1);
    expect(busy.err).toMatch(/already exists and is not empty; choose a new output folder/);
  });
});

describe('quantize a GPT-2 folder (Conv1D weights stored (in, out), F16)', () => {
  it('keeps Conv1D weights in float with a warning each, by default', async () => {
    const output = join(tmp(), 'gpt2');
    const r = await runCli('quantize', GPT2, '-o', output);
    expect(r.code, r.err).toBe(0);
    const warnings = r.err.trim().split('\n');
    expect(warnings).toHaveLength(8); // c_attn, c_proj, c_fc, mlp.c_proj in each of 2 layers
    expect(warnings[0]).toMatch(/^int8-linear: warning: \S+model\.safetensors: layer 'transformer\.h\.0\.attn\.c_attn' F16 \(64, 192\) is a Conv1D weight stored as \(in, out\)/);
    expect(r.out).toMatch(/0 layers quantized, \d+ tensors copied unchanged \(ignored: transformer\.wpe, transformer\.wte\) \(Conv1D kept in float: transformer\.h\.0\.attn\.c_attn, /);
    expect(r.out).toMatch(/weights: none quantized/);
    const cfg = json(join(output, 'config.json')).quantization_config;
    expect(cfg.ignore).toContain('transformer.h.1.mlp.c_fc');
  });

  it('--transpose-conv1d: (out, in) Linear layers with scales per output feature, loadable, accepted by vLLM', async () => {
    const output = join(tmp(), 'gpt2-t');
    const r = await runCli('quantize', GPT2, '-o', output, '--transpose-conv1d', '--granularity', 'group', '--group-size', '32', '-q');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toBe('');
    const src = (await readSafetensorsFile(join(GPT2, 'model.safetensors'))).tensors;
    const { layers } = await loadCompressedTensorsFile(output);
    expect(Object.keys(layers)).toHaveLength(8);
    const cAttn = layers['transformer.h.0.attn.c_attn'];
    expect([cAttn.outFeatures, cAttn.inFeatures]).toEqual([192, 64]); // stored (64, 192)
    expect(cAttn.weightScale.shape).toEqual([192, 2]); // per output feature, 2 groups of 32
    for (const n of Object.keys(layers)) {
      const want = quantize(linearWeight(src[`${n}.weight`], true), { granularity: 'group', groupSize: 32 } as QuantScheme);
      expect([...layers[n].weight.data], n).toEqual([...want.values.data]);
    }
    // y = x @ W (Conv1D) + b equals the loaded Linear's forward within int8 error.
    const x = new Tensor(Float32Array.from({ length: 2 * 64 }, (_, i) => Math.sin(i)), [2, 64], 'float32');
    const y = cAttn.forward(x);
    const w = src['transformer.h.0.attn.c_attn.weight'].toFloat32();
    const b = src['transformer.h.0.attn.c_attn.bias'].toFloat32();
    let maxErr = 0;
    for (let m = 0; m < 2; m++) {
      for (let o = 0; o < 192; o++) {
        let acc = b.data[o];
        for (let k = 0; k < 64; k++) acc += x.data[m * 64 + k] * w.data[k * 192 + o];
        maxErr = Math.max(maxErr, Math.abs(acc - y.data[m * 192 + o]));
      }
    }
    // Weights ~N(0, 0.02): int8 error per weight below 0.02 * 4 / 127.5, times |x| summed over 64 inputs.
    expect(maxErr).toBeLessThan(0.03);
    const cfg = json(join(output, 'config.json')).quantization_config;
    const out = await folderTensors(output);
    for (const n of Object.keys(layers)) expect(vllmScheme(cfg, n, out).scheme).toBe('CompressedTensorsWNA16');
  });
});

describe('the report', () => {
  it('flags a layer whose SQNR is far below the others (outliers), in the table and at the end', async () => {
    const root = tmp();
    const g = (n: number, seed: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * 0.05);
    const tensors: Record<string, Tensor> = {};
    for (let l = 0; l < 4; l++) tensors[`layers.${l}.fc.weight`] = new Tensor(g(32 * 64, l), [32, 64], 'float32');
    // Every row of layers.2 has one weight 40x the others: its per-channel scale grows 40x, and so does the rounding noise.
    const w = tensors['layers.2.fc.weight'].data as Float32Array;
    for (let r = 0; r < 32; r++) w[r * 64] = 2;
    await writeSafetensorsFile(join(root, 'm.safetensors'), tensors, { format: 'pt' });
    const r = await runCli('quantize', join(root, 'm.safetensors'), '-o', join(root, 'q.safetensors'));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/layers\.2\.fc\s+F32 \(32, 64\).*low SQNR\n/);
    expect(r.out).not.toMatch(/layers\.[013]\.fc .*low SQNR/);
    expect(r.out).toMatch(/low SQNR \(more than 6 dB below the median of the layers; .*\): layers\.2\.fc\n/);
    expect(r.out).toMatch(/weights: 32\.00 KiB F32 -> 8\.\d+ KiB int8 \+ scales \(3\.\d+x; int8 is about 4x smaller than F32\)/);
  });
});
