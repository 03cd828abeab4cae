// @ts-check
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * Import boundaries of DESIGN.md §4, enforced: a forbidden import fails lint.
 * tensor/errors import nothing of ours; kernels and quant import only tensor/errors; nn imports
 * quant and kernels; io imports tensor/errors and nn; only cli and node-only helpers touch `node:`.
 */
const boundary = (files, forbidden, message, ignores = []) => ({
  files,
  ignores,
  rules: {
    'no-restricted-imports': ['error', { patterns: forbidden.map((group) => ({ group: [group], message })) }],
  },
});

const NODE = ['node:*', 'fs', 'path', 'os', 'worker_threads', 'child_process', 'url'];

export default tseslint.config(
  { ignores: ['dist/**', 'tmp/**', 'node_modules/**', 'coverage/**', 'bench/peers/**', 'examples/browser/dist/**', 'examples/learn/dist/**', 'examples/lm-browser/dist/**', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { files: ['**/*.{js,mjs,cjs}', 'scripts/**', 'bench/**', 'test/**', 'examples/**'], languageOptions: { globals: { ...globals.node } } },
  { files: ['**/*.cjs'], languageOptions: { sourceType: 'commonjs' }, rules: { '@typescript-eslint/no-require-imports': 'off' } },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  boundary(['src/**/*.ts'], [...NODE], 'only src/cli/**, src/io/node*.ts and src/kernels/wasm/node-*.ts may use Node modules (DESIGN §4)', ['src/cli/**', 'src/io/node*.ts', 'src/kernels/wasm/node-*.ts']),
  {
    // Node scripts (wasm build, bench chart) written as plain .mjs: declare Node's globals.
    files: ['scripts/**/*.mjs', 'bench/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly' } },
  },
  boundary(['src/errors.ts'], ['./*', '../*', ...NODE], 'errors.ts depends on nothing (DESIGN §4)'),
  boundary(['src/tensor.ts'], ['./!(errors.js)', '../*', ...NODE], 'tensor.ts depends on errors.ts alone (DESIGN §4)'),
  boundary(['src/random.ts'], ['./nn/*', './quant/*', './kernels/*', './io/*', './cli/*', ...NODE], 'random.ts imports only errors/tensor (DESIGN §4)'),
  boundary(['src/kernels/**/*.ts'], ['../nn/*', '../quant/*', '../io/*', '../cli/*', '../random*', ...NODE], 'kernels import only tensor and errors (DESIGN §4)', ['src/kernels/wasm/node-*.ts']),
  // Node-only kernels (the threaded wasm backend, entry 'int8-linear/node'): kernels' rules, plus Node modules.
  boundary(['src/kernels/wasm/node-*.ts'], ['../../nn/*', '../../quant/*', '../../io/*', '../../cli/*', '../../random*'], 'kernels import only tensor and errors (DESIGN §4)'),
  boundary(['src/quant/**/*.ts'], ['../nn/*', '../kernels/*', '../io/*', '../cli/*', '../random*', ...NODE], 'quant imports only tensor and errors (DESIGN §4)'),
  boundary(['src/nn/**/*.ts'], ['../io/*', '../cli/*', ...NODE], 'nn imports quant, kernels, tensor, errors, random (DESIGN §4)'),
  boundary(['src/io/**/*.ts'], ['../kernels/*', '../quant/*', '../cli/*', ...NODE], 'io imports tensor/errors and nn only; Node file helpers go in src/io/node*.ts (DESIGN §4)', ['src/io/node*.ts']),
  boundary(['src/index.ts'], [...NODE], 'the main entry must stay free of Node modules so browser bundles work'),
  boundary(['src/gpu/**/*.ts'], ['../nn/*', '../quant/*', '../io/*', '../cli/*', '../random*', ...NODE], 'gpu/ imports kernels, tensor and errors only (it is a Backend, like kernels/)'),
  // A separate rule name, so it adds to the per-folder boundaries above instead of replacing them:
  // gpu.js is an optional peer dependency that only the 'int8-linear/gpu' entry (src/gpu/) may load.
  {
    files: ['src/**/*.ts'],
    ignores: ['src/gpu/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: [{ name: 'gpu.js', message: "only src/gpu/ (the 'int8-linear/gpu' entry) may import gpu.js, an optional peer dependency" }],
        patterns: [{ group: ['gpu.js/*'], message: "only src/gpu/ may import gpu.js" }],
      }],
    },
  },
);
