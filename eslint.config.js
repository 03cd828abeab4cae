// @ts-check
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

import layers from './scripts/eslint-layers.mjs';

/**
 * Import boundaries of DESIGN.md §4 (docs/architecture.md), enforced: a forbidden import fails lint.
 * Layers are checked by scripts/eslint-layers.mjs, which resolves every relative import to its path,
 * so the rules hold for every file at any depth. Node modules and gpu.js are package names, matched
 * here by file path globs (any depth too).
 */
const NODE = ['node:*', 'fs', 'path', 'os', 'worker_threads', 'child_process', 'url'];
const NODE_ONLY = ['src/cli/**', 'src/node.ts', 'src/io/node*.ts', 'src/**/node-*.ts'];

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
  {
    files: ['src/**/*.ts'],
    ignores: NODE_ONLY,
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: NODE, message: `only ${NODE_ONLY.join(', ')} may use Node modules, so browser bundles work (DESIGN §4)` }] }],
    },
  },
  { files: ['src/**/*.ts'], plugins: { int8: layers }, rules: { 'int8/layers': 'error' } },
  {
    // Node scripts (wasm build, bench chart) written as plain .mjs: declare Node's globals.
    files: ['scripts/**/*.mjs', 'bench/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly' } },
  },
  // A separate rule name, so it adds to the Node rule above instead of replacing it: gpu.js is an optional peer dependency that only the 'int8-linear/gpu' entry (src/gpu/) may load.
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
