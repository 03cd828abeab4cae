import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ESLint } from 'eslint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The import rules of DESIGN.md §4 (docs/architecture.md) are lint rules: a forbidden import in any
// file at any depth must fail `npm run lint`. Probe files are written into src/ at several depths,
// linted, and removed.
const ROOT = join(import.meta.dirname, '..', '..');
const eslint = new ESLint({ cwd: ROOT });
const TAG = `__probe_${process.pid}`;

/** [probe path, code, forbidden?]: each probe imports one thing, from a folder one, two or three levels deep. */
const PROBES: readonly (readonly [string, string, boolean])[] = [
  [`src/kernels/wasm/deep/${TAG}.ts`, "export { Linear } from '../../../nn/linear.js';", true],
  [`src/kernels/wasm/${TAG}.ts`, "export { QuantizedLinear } from '../../nn/quantized-linear.js';", true],
  [`src/kernels/${TAG}.ts`, "export { quantize } from '../quant/quantize.js';", true],
  [`src/format/deep/${TAG}.ts`, "export { quantize } from '../../quant/quantize.js';", true],
  [`src/format/${TAG}.ts`, "export { createReferenceBackend } from '../kernels/reference.js';", true],
  [`src/nn/deep/${TAG}.ts`, "export { createGpuBackend } from '../../gpu/backend.js';", true],
  [`src/quant/deep/${TAG}.ts`, "export { createJsBackend } from '../../kernels/js-packed.js';", true],
  [`src/io/deep/${TAG}.ts`, "export { main } from '../../cli/main.js';", true],
  [`src/io/deep/${TAG}b.ts`, "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;", true],
  [`src/gpu/deep/${TAG}.ts`, "export { QuantizedLinear } from '../../nn/quantized-linear.js';", true],
  [`src/nn/deep/${TAG}b.ts`, "export { createThreadedWasmBackend } from '../../kernels/wasm/node-threads.js';", true],
  [`src/nn/deep/${TAG}c.ts`, "import 'gpu.js';", true],
  // allowed: io -> quant, nn -> kernels, format -> tensor, deep kernels -> format
  [`src/io/deep/${TAG}c.ts`, "export { quantize } from '../../quant/quantize.js';", false],
  // the CLI is argument parsing, progress and printing: no quantization or kernels of its own
  [`src/cli/deep/${TAG}.ts`, "export { quantize } from '../../quant/quantize.js';", true],
  [`src/cli/deep/${TAG}b.ts`, "export { createJsBackend } from '../../kernels/js-packed.js';", true],
  [`src/nn/deep/${TAG}d.ts`, "export { createJsBackend } from '../../kernels/js-packed.js';", false],
  [`src/format/deep/${TAG}b.ts`, "export { Tensor } from '../../tensor.js';", false],
  [`src/kernels/wasm/deep/${TAG}b.ts`, "export { kernelView } from '../../../format/kernel-view.js';", false],
];

beforeAll(() => {
  for (const [path, code] of PROBES) {
    mkdirSync(dirname(join(ROOT, path)), { recursive: true });
    writeFileSync(join(ROOT, path), `${code}\n`);
  }
});
afterAll(() => {
  for (const [path] of PROBES) rmSync(join(ROOT, path), { force: true });
  for (const dir of ['src/cli/deep', 'src/kernels/wasm/deep', 'src/format/deep', 'src/nn/deep', 'src/quant/deep', 'src/io/deep', 'src/gpu/deep']) {
    try {
      rmSync(join(ROOT, dir)); // only if empty: never a folder someone else made
    } catch {
      // not empty or not there
    }
  }
});

describe('import boundaries (eslint.config.js, scripts/eslint-layers.mjs)', () => {
  it.each(PROBES.map(([path, code, forbidden]) => [path, code, forbidden] as const))('%s: %s -> fails lint: %s', async (path, _code, forbidden) => {
    const [result] = await eslint.lintFiles([join(ROOT, path)]);
    const ids = result.messages.map((m) => m.ruleId ?? m.message);
    if (forbidden) expect(ids.some((id) => id === 'int8/layers' || id === 'no-restricted-imports' || id === '@typescript-eslint/no-restricted-imports')).toBe(true);
    else expect(ids).toEqual([]);
  });

  it('existing top-level files: tensor.ts may not import quant, errors.ts nothing, index.ts no Node module', async () => {
    const lint = async (file: string, code: string) => (await eslint.lintText(code, { filePath: join(ROOT, file) }))[0].messages.map((m) => m.ruleId);
    expect(await lint('src/tensor.ts', "export { quantize } from './quant/quantize.js';\n")).toContain('int8/layers');
    expect(await lint('src/errors.ts', "export { Tensor } from './tensor.js';\n")).toContain('int8/layers');
    expect(await lint('src/index.ts', "export { readFileSync } from 'node:fs';\n")).toContain('no-restricted-imports');
    expect(await lint('src/index.ts', "export { availableBackends } from './kernels/wasm/node-registry.js';\n")).toContain('int8/layers');
  });

  it('`npm run lint`, i.e. the eslint command, exits non-zero on the forbidden probes and names each', () => {
    const forbidden = PROBES.filter(([, , f]) => f).map(([p]) => p);
    let output = '';
    let failed = false;
    try {
      execFileSync(join(ROOT, 'node_modules', '.bin', 'eslint'), forbidden, { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      failed = true;
      output = String((e as { stdout?: string }).stdout);
    }
    expect(failed).toBe(true);
    for (const p of forbidden) expect(output).toContain(p);
  });
});
