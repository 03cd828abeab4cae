import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { relaxedSimdSupported } from '../../src/kernels/wasm/backend.js';
import { block, readme, tour } from './tour.js';

const SRC = fileURLToPath(new URL('../../src/index.ts', import.meta.url));
const TSX = fileURLToPath(new URL('../../node_modules/tsx/dist/cli.mjs', import.meta.url));
const DEMO = fileURLToPath(new URL('../../examples/demo.ts', import.meta.url));

describe('README API tour', () => {
  it('runs, and prints exactly the output the README shows', () => {
    const { code, output } = tour();
    expect(code).toContain("from 'int8-linear'");
    const dir = mkdtempSync(join(tmpdir(), 'int8-linear-tour-'));
    const file = join(dir, 'tour.mts'); // .mts: ESM, for top-level await
    writeFileSync(file, code.replaceAll("from 'int8-linear'", `from ${JSON.stringify(SRC)}`));
    const printed = execFileSync(process.execPath, [TSX, file], { encoding: 'utf8' });
    // The README shows Node 20's output and says how the wasm line reads where relaxed SIMD exists.
    expect(printed).toBe(relaxedSimdSupported() ? output.replace('wasm-simd wasm-simd128 ', 'wasm-simd wasm-simd128-relaxed ') : output);
  });

  it('shows the output npm run demo really prints', () => {
    const printed = execFileSync(process.execPath, [TSX, DEMO], { encoding: 'utf8' });
    expect(printed).toBe(block(readme(), 'demo:output', 'text'));
  });
});
