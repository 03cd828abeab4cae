// @ts-check
/**
 * The import rules of DESIGN.md §4 as one eslint rule, by path: every relative import of every file
 * under src/, at any depth, is resolved to the file it names, and both ends are mapped to their
 * layer (the first folder under src/, or the file's own name for the files at the top: tensor,
 * errors, random and the entries). `no-restricted-imports` patterns match the import text, which
 * depends on how deep the importing file is ('../nn/x' vs '../../nn/x'); resolving the path does not.
 * Hand-written (about 60 lines) because the plugins that do this (eslint-plugin-boundaries,
 * eslint-plugin-import-x's no-restricted-paths) need resolvers and do not yet declare eslint 10.
 */
import { basename, dirname, relative, resolve, sep } from 'node:path';

const SRC = resolve(import.meta.dirname, '..', 'src');

/** What each layer may import (besides itself). The entries (index, node, advanced) re-export everything but cli. */
export const ALLOWED = {
  errors: [],
  tensor: ['errors'],
  random: ['errors', 'tensor'],
  format: ['tensor', 'errors'],
  quant: ['format', 'tensor', 'errors'],
  kernels: ['format', 'tensor', 'errors'],
  gpu: ['kernels', 'format', 'tensor', 'errors'],
  nn: ['quant', 'kernels', 'format', 'tensor', 'errors', 'random'],
  io: ['nn', 'quant', 'format', 'tensor', 'errors'],
  // The CLI is argument parsing, progress and printing: the converter is io's (quantizeCheckpoint).
  cli: ['io', 'format', 'tensor', 'errors'],
  index: ['format', 'quant', 'kernels', 'nn', 'io', 'tensor', 'errors', 'random'],
  advanced: ['format', 'quant', 'kernels', 'nn', 'io', 'tensor', 'errors', 'random'],
  node: ['format', 'quant', 'kernels', 'nn', 'io', 'tensor', 'errors', 'random'],
};

/** The layer of a path under src/, or null outside src/. */
function layerOf(path) {
  const rel = relative(SRC, path);
  if (rel.startsWith('..') || rel === '') return null;
  const parts = rel.split(sep);
  return parts.length > 1 ? parts[0] : parts[0].replace(/\.[cm]?[jt]s$/, '');
}

/** Node-only files (may use `node:` modules): src/cli/**, src/node.ts, src/io/node*.ts, and any src/**\/node-*.ts. */
export function isNodeOnly(path) {
  const rel = relative(SRC, path);
  return rel.split(sep)[0] === 'cli' || /^node([-.].*)?\.[cm]?[jt]s$/.test(basename(path));
}

/** @type {import('eslint').Rule.RuleModule} */
const layers = {
  meta: { type: 'problem', schema: [], docs: { description: 'DESIGN.md §4 import rules, resolved by path' } },
  create(context) {
    const file = context.filename;
    const from = layerOf(file);
    if (from === null) return {};
    /** @param {import('estree').Node} node @param {unknown} spec */
    const check = (node, spec) => {
      if (typeof spec !== 'string' || !spec.startsWith('.')) return;
      const target = resolve(dirname(file), spec);
      const to = layerOf(target);
      if (to === null) {
        if (from !== 'cli') context.report({ node, message: `'${spec}' is outside src/; only src/cli may import files outside src (package.json)` });
        return;
      }
      if (to !== from && !(ALLOWED[from] ?? []).includes(to)) {
        context.report({ node, message: `${from} may not import ${to} ('${spec}'); ${from} imports only ${(ALLOWED[from] ?? []).join(', ') || 'nothing of ours'} (DESIGN §4, docs/architecture.md)` });
      } else if (isNodeOnly(target) && !isNodeOnly(file)) {
        context.report({ node, message: `'${spec}' is Node-only; a browser-safe file may not import it (only src/cli, src/node.ts, src/io/node*.ts and src/**/node-*.ts may)` });
      }
    };
    /** @param {any} node */
    const fromSource = (node) => check(node, node.source?.value);
    return {
      ImportDeclaration: fromSource,
      ExportNamedDeclaration: fromSource,
      ExportAllDeclaration: fromSource,
      ImportExpression: (node) => check(node, node.source.type === 'Literal' ? node.source.value : undefined),
    };
  },
};

export default { rules: { layers } };
