import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { loadCompressedTensors } from '../../src/index.js';

const FIXTURES = join(new URL('.', import.meta.url).pathname, '..', 'golden', 'gguf');
const dir = mkdtempSync(join(tmpdir(), 'int8-linear-gguf-cli-'));

function sink(): NodeJS.WriteStream & { text: string } {
  const s = { text: '', isTTY: false, write(chunk: string) { s.text += chunk; return true; } };
  return s as unknown as NodeJS.WriteStream & { text: string };
}

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = sink();
  const err = sink();
  const code = await main(argv, out, err);
  return { code, out: out.text, err: err.text };
}

describe('int8-linear convert', () => {
  it('safetensors -> GGUF: the Python ggml reference file byte for byte, with a warning for the row of 40', async () => {
    const output = join(dir, 'model-q8_0.gguf');
    const r = await run('convert', join(FIXTURES, 'model.safetensors'), '-o', output, '--arch', 'llama');
    expect(r.code).toBe(0);
    expect(r.err).toBe('int8-linear: warning: blk.0.odd.weight: rows of 40 are not a multiple of 32; kept in float32\n');
    expect(r.out).toMatch(/^4 weights quantized to Q8_0, 0 int8 layers repacked, 3 tensors copied\nfile: .* -> .*\nwrote /);
    expect(new Uint8Array(readFileSync(output))).toEqual(new Uint8Array(readFileSync(join(FIXTURES, 'model-q8_0.gguf'))));
  });

  it('GGUF -> safetensors -> GGUF gives back the same file; the safetensors loads as int8 layers', async () => {
    const st = join(dir, 'rich.safetensors');
    const back = join(dir, 'rich-again.gguf');
    expect((await run('convert', join(FIXTURES, 'rich.gguf'), '-o', st)).code).toBe(0);
    const { layers } = loadCompressedTensors(new Uint8Array(readFileSync(st)));
    expect(Object.keys(layers).sort()).toEqual(['blk.0.attn_k', 'blk.0.attn_q', 'token_embd']);
    expect(layers['blk.0.attn_q'].weightScale.shape).toEqual([8, 2]);
    expect((await run('convert', st, '-o', back, '-q')).code).toBe(0);
    expect(new Uint8Array(readFileSync(back))).toEqual(new Uint8Array(readFileSync(join(FIXTURES, 'rich.gguf'))));
  });

  it('--hf-names: Hugging Face names, and back to the same GGUF; a broken GGUF exits 1 naming the rule', async () => {
    const st = join(dir, 'rich-hf.safetensors');
    expect((await run('convert', join(FIXTURES, 'rich.gguf'), '-o', st, '--hf-names', '-q')).err).toBe('int8-linear: warning: blk.0.ids: no Hugging Face name for it; kept as is\n');
    expect(Object.keys(loadCompressedTensors(new Uint8Array(readFileSync(st))).layers)).toContain('model.layers.0.self_attn.q_proj');
    const back = join(dir, 'rich-hf.gguf');
    expect((await run('convert', st, '-o', back, '-q')).code).toBe(0);
    expect(new Uint8Array(readFileSync(back))).toEqual(new Uint8Array(readFileSync(join(FIXTURES, 'rich.gguf'))));
    const cut = join(dir, 'cut.gguf');
    writeFileSync(cut, readFileSync(join(FIXTURES, 'rich.gguf')).subarray(0, 3000));
    const r = await run('convert', cut, '-o', join(dir, 'cut.safetensors'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^int8-linear: gguf: .*: DataOutOfBounds: /);
    expect(existsSync(join(dir, 'cut.safetensors'))).toBe(false);
  });

  it("quantize's file-safety rules: the input under another name, or a FIFO, is refused", async () => {
    const copy = join(dir, 'copy.gguf');
    copyFileSync(join(FIXTURES, 'rich.gguf'), copy);
    const alias = join(dir, 'alias.safetensors');
    linkSync(copy, alias);
    const r = await run('convert', copy, '-o', alias);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/is the input .*same device and inode/);
    expect(new Uint8Array(readFileSync(copy))).toEqual(new Uint8Array(readFileSync(join(FIXTURES, 'rich.gguf'))));
    const fifo = join(dir, 'pipe.gguf');
    execFileSync('mkfifo', [fifo]);
    const f = await run('convert', fifo, '-o', join(dir, 'pipe.safetensors'));
    expect(f.code).toBe(1);
    expect(f.err).toMatch(/is a FIFO \(named pipe\), not a regular file/);
  });

  it('usage errors exit 2, bad input exits 1 with one line, and nothing is written', async () => {
    const input = join(FIXTURES, 'model.safetensors');
    const nothing = join(dir, 'nothing.gguf');
    expect((await run('convert', input)).code).toBe(2);
    expect((await run('convert', input, '-o', input)).code).toBe(2);
    expect((await run('convert', input, '-o', join(dir, 'x.bin'))).err).toMatch(/cannot tell the direction/);
    expect((await run('convert', input, '-o', nothing, '--type', 'q4_0')).code).toBe(2);
    const noArch = await run('convert', input, '-o', nothing);
    expect(noArch.code).toBe(1);
    expect(noArch.err).toMatch(/^int8-linear: gguf: general.architecture is unknown; pass it \(--arch llama/);
    expect(noArch.err.trim().split('\n')).toHaveLength(1);
    const broken = await run('convert', join(FIXTURES, 'model.safetensors'), '-o', join(dir, 'y.safetensors'));
    expect(broken.code).toBe(2);
    expect(existsSync(nothing)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
