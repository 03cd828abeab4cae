import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

// The import rules of DESIGN.md §4 are lint rules: a forbidden import must fail `npm run lint`.
const eslint = new ESLint({ cwd: process.cwd() });

async function ruleIds(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: file });
  return result.messages.map((m) => m.ruleId ?? m.message);
}

describe('import boundaries (eslint.config.js)', () => {
  it.each([
    ['src/kernels/reference.ts', "import { quantize } from '../quant/quantize.js';\nexport const q = quantize;\n"],
    ['src/quant/quantize.ts', "import { Linear } from '../nn/linear.js';\nexport const l = Linear;\n"],
    ['src/errors.ts', "import { Tensor } from './tensor.js';\nexport const t = Tensor;\n"],
    ['src/nn/linear.ts', "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n"],
    ['src/index.ts', "export { readFileSync } from 'node:fs';\nimport 'node:path';\n"],
  ])('%s: forbidden import fails lint', async (file, code) => {
    expect(await ruleIds(file, code)).toContain('no-restricted-imports');
  });

  it('allowed imports pass', async () => {
    expect(await ruleIds('src/nn/linear.ts', "import { quantize } from '../quant/quantize.js';\nexport const q = quantize;\n")).toEqual([]);
    expect(await ruleIds('src/quant/quantize.ts', "import { Tensor } from '../tensor.js';\nexport const t = Tensor;\n")).toEqual([]);
  });
});
