import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatError, QuantizationError } from '../../src/index.js';
import { DEFAULT_IGNORE, isConv1D, parseSize, planCheckpoint, planShards, shardFileName, type CheckpointEntry } from '../../src/io/checkpoint-plan.js';
import { folderExtras, resolveCheckpoint, stageFolder } from '../../src/io/node-checkpoint.js';

const HF = join(new URL('.', import.meta.url).pathname, '..', 'golden', 'hf-models');
const e = (name: string, shape: number[], dtype: CheckpointEntry['dtype'] = 'BF16'): CheckpointEntry => ({ name, dtype, shape, file: 'model.safetensors' });

describe('planCheckpoint', () => {
  const llama = [
    e('model.embed_tokens.weight', [96, 64]), e('model.layers.0.self_attn.q_proj.weight', [64, 64]), e('model.layers.0.mlp.down_proj.weight', [64, 128]),
    e('model.layers.0.input_layernorm.weight', [64]), e('lm_head.weight', [96, 64]),
  ];

  it('quantizes the Linear weights, keeps embeddings and lm_head by default; --ignore adds to the defaults', () => {
    const plan = planCheckpoint(llama);
    expect(plan.layers.map((l) => l.name)).toEqual(['model.layers.0.self_attn.q_proj', 'model.layers.0.mlp.down_proj']);
    expect(plan.kept).toEqual([{ name: 'model.embed_tokens', reason: 'ignored' }, { name: 'lm_head', reason: 'ignored' }]);
    const more = planCheckpoint(llama, { ignore: ['re:.*down_proj$', '*.nothing'] });
    expect(more.layers.map((l) => l.name)).toEqual(['model.layers.0.self_attn.q_proj']);
    expect(more.kept.map((k) => k.name)).toEqual(['model.embed_tokens', 'model.layers.0.mlp.down_proj', 'lm_head']);
    expect(more.warnings).toEqual(['--ignore "*.nothing" matches no quantizable layer']);
    const none = planCheckpoint(llama, { defaultIgnore: false });
    expect(none.layers.map((l) => l.name)).toContain('lm_head');
    expect(DEFAULT_IGNORE).toContain('lm_head');
  });

  it('detects GPT-2 Conv1D weights (bias of the second dim, or the name under model_type gpt2): kept with a warning, or transposed', () => {
    const gpt2 = [
      e('transformer.h.0.attn.c_attn.weight', [64, 192], 'F16'), e('transformer.h.0.attn.c_attn.bias', [192], 'F16'),
      e('transformer.h.0.attn.c_proj.weight', [64, 64], 'F16'), e('transformer.h.0.attn.c_proj.bias', [64], 'F16'),
    ];
    expect(isConv1D('transformer.h.0.attn.c_attn', [64, 192], [192], null)).toBe(true);
    expect(isConv1D('transformer.h.0.attn.c_proj', [64, 64], [64], null)).toBe(false); // square: the bias cannot tell
    expect(isConv1D('transformer.h.0.attn.c_proj', [64, 64], [64], 'gpt2')).toBe(true);
    const kept = planCheckpoint(gpt2, { modelType: 'gpt2' });
    expect(kept.layers).toEqual([]);
    expect(kept.kept.map((k) => k.reason)).toEqual(['conv1d', 'conv1d']);
    expect(kept.warnings[0]).toMatch(/model\.safetensors: layer 'transformer\.h\.0\.attn\.c_attn' F16 \(64, 192\) is a Conv1D weight stored as \(in, out\).*--transpose-conv1d/);
    const t = planCheckpoint(gpt2, { modelType: 'gpt2', transposeConv1d: true, scheme: { granularity: 'group', groupSize: 32 } });
    expect(t.layers.map((l) => [l.name, l.outFeatures, l.inFeatures, l.transpose])).toEqual([
      ['transformer.h.0.attn.c_attn', 192, 64, true], ['transformer.h.0.attn.c_proj', 64, 64, true],
    ]);
    // Without model_type, the square c_proj is taken as a Linear (its bias fits both layouts).
    expect(planCheckpoint(gpt2).layers.map((l) => l.name)).toEqual(['transformer.h.0.attn.c_proj']);
  });

  it('pre-flight: every layer that cannot be quantized as asked is listed in one error', () => {
    const entries = [e('a.weight', [8, 30]), e('b.weight', [8, 64]), e('c.weight', [8, 50]), e('d.weight', [8, 64]), e('d.bias', [5])];
    let err: unknown;
    try {
      planCheckpoint(entries, { scheme: { granularity: 'group', groupSize: 16 } });
    } catch (x) {
      err = x;
    }
    expect(err).toBeInstanceOf(QuantizationError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/^3 layer\(s\) cannot be quantized as asked; nothing was written; fix the scheme/);
    expect((err as { problems: string[] }).problems).toHaveLength(3);
    expect(msg).toMatch(/model\.safetensors: layer 'a' BF16 \(8, 30\): in_features 30 is not divisible by groupSize 16/);
    expect(msg).toMatch(/layer 'c' BF16 \(8, 50\)/);
    expect(msg).toMatch(/layer 'd' .*bias of shape \(5\) fits neither/);
    expect(msg).not.toMatch(/layer 'b'/);
  });
});

describe('Hugging Face shards', () => {
  it('parses sizes as transformers does (decimal and binary units)', () => {
    expect(parseSize('5GB')).toBe(5e9);
    expect(parseSize('500MB')).toBe(5e8);
    expect(parseSize('2GiB')).toBe(2 * 2 ** 30);
    expect(parseSize('1000')).toBe(1000);
    expect(() => parseSize('5 parsecs')).toThrow(FormatError);
    expect(() => parseSize('0')).toThrow(/not a size/);
  });

  it('fills shards in order up to the limit; a larger tensor gets its own; names as save_pretrained', () => {
    expect(planShards([4, 4, 4], 8)).toEqual({ shardOf: [0, 0, 1], count: 2 });
    expect(planShards([2, 10, 2], 8)).toEqual({ shardOf: [0, 1, 2], count: 3 });
    expect(planShards([1, 1], 8)).toEqual({ shardOf: [0, 0], count: 1 });
    expect(shardFileName(0, 1)).toBe('model.safetensors');
    expect(shardFileName(1, 12)).toBe('model-00002-of-00012.safetensors');
  });
});

describe('resolveCheckpoint and folders', () => {
  it('finds the shards of a folder with an index, of the index itself, and of a lone file', async () => {
    const folder = await resolveCheckpoint(join(HF, 'llama-tiny'));
    expect(folder.kind).toBe('folder');
    expect(folder.shards.map((s) => s.split('/').pop())).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect(folder.config?.model_type).toBe('llama');
    expect((await resolveCheckpoint(join(HF, 'llama-tiny', 'model.safetensors.index.json'))).shards).toEqual(folder.shards);
    const file = await resolveCheckpoint(join(HF, 'gpt2-tiny', 'model.safetensors'));
    expect(file).toMatchObject({ kind: 'file', weightMap: null });
    expect(file.config?.model_type).toBe('gpt2');
    expect(await folderExtras(join(HF, 'llama-tiny'))).toEqual(['generation_config.json', 'tokenizer.json', 'tokenizer_config.json']);
  });

  it('refuses an index whose weight_map leaves the folder, and a folder with no weights', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ckpt-'));
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { w: '../../etc/passwd.safetensors' } }));
    await expect(resolveCheckpoint(dir)).rejects.toThrow(/weight_map\["w"\] is "\.\.\/\.\.\/etc\/passwd\.safetensors"; expected the name of a \.safetensors file in the same folder/);
    const empty = mkdtempSync(join(tmpdir(), 'ckpt-'));
    await expect(resolveCheckpoint(empty)).rejects.toThrow(/without model\.safetensors\.index\.json or model\.safetensors/);
    await expect(resolveCheckpoint(join(empty, 'none'))).rejects.toThrow(/no such file or folder/);
  });

  it('stages a folder and commits it whole; refuses a non-empty output; copies linked small files, not weights', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ckpt-'));
    const stage = await stageFolder(join(root, 'out'));
    writeFileSync(join(stage.dir, 'x'), 'x');
    await stage.commit();
    await expect(stageFolder(join(root, 'out'))).rejects.toThrow(/already exists and is not empty; choose a new output folder/);
    mkdirSync(join(root, 'empty'));
    const again = await stageFolder(join(root, 'empty'));
    await again.commit();
    const src = join(root, 'src');
    mkdirSync(src);
    for (const f of ['pytorch_model.bin', 'model.safetensors', 'tokenizer.json', '.hidden', 'config.json']) writeFileSync(join(src, f), '{}');
    symlinkSync(join(src, 'tokenizer.json'), join(src, 'special_tokens_map.json'));
    mkdirSync(join(src, 'sub'));
    expect(await folderExtras(src)).toEqual(['special_tokens_map.json', 'tokenizer.json']);
  });
});
