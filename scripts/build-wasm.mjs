// Assembles src/kernels/wasm/kernel.wat with wabt (from npm) and writes the bytes, base64, into
// src/kernels/wasm/generated/ (gitignored), so bundles embed the kernel and no .wasm binary is
// committed. Two builds of the same text: kernel-bytes.ts, which owns its memory (every runtime),
// and kernel-shared-bytes.ts, which imports a shared memory (the Node-only two-thread backend; a
// separate file so the main entry's bundle never carries it). It also bundles the threaded backend's
// worker (src/kernels/wasm/node-worker.ts and chunks.ts, typed and linted TypeScript) with esbuild
// into node-worker-source.ts, the string that worker is started from, and the worker backend's Web
// Worker (browser-worker.ts) into browser-worker-source.ts, so the package ships no worker file and the
// chunk-claim loop exists once. Runs from `prepare` (every npm install / npm ci),
// `prebuild`, `pretest` and vitest's globalSetup; rewrites a file only when its bytes change.
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import wabtInit from 'wabt';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src/kernels/wasm/kernel.wat');
const generated = join(root, 'src/kernels/wasm/generated');

const OWN_MEMORY = '(memory (export "memory") 1 65536)';
const SHARED_MEMORY = '(import "env" "memory" (memory 1 65536 shared))';

/** The shared-memory edit: the module imports one shared memory instead of owning its memory. */
function shared(wat) {
  if (!wat.includes(OWN_MEMORY)) throw new Error(`build-wasm: kernel.wat no longer declares ${OWN_MEMORY}; update the shared variant in scripts/build-wasm.mjs`);
  return wat.replace(OWN_MEMORY, SHARED_MEMORY);
}

/** Index just past the s-expression that opens at text[at] === '('. */
function closeOf(text, at) {
  let depth = 0;
  for (let i = at; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) return i + 1;
  }
  throw new Error(`build-wasm: unbalanced parentheses in kernel.wat at ${at}`);
}

/** A line `;; relaxed-only{` through the next line `;; }relaxed-only`: code only the relaxed builds carry. */
const RELAXED_ONLY = /^[ \t]*;; relaxed-only\{.*\n(?:.*\n)*?[ \t]*;; \}relaxed-only[ \t]*\n/gm;

/**
 * The plain SIMD128 edit: drops the relaxed-only regions (the W8A8 kernel on
 * i32x4.relaxed_dot_i8x16_i7x16_add_s, its op 3 in the skeleton), each a whole s-expression or several.
 */
function plain(wat) {
  const out = wat.replace(RELAXED_ONLY, '');
  if (out === wat) throw new Error('build-wasm: kernel.wat has no ;; relaxed-only{ ... ;; }relaxed-only region; update the plain variant in scripts/build-wasm.mjs');
  if (/relaxed-only|relaxed_/.test(out)) throw new Error('build-wasm: a relaxed-only marker or relaxed instruction is left in the plain build (unmatched ;; relaxed-only{ / ;; }relaxed-only)');
  return out;
}

/**
 * The relaxed-SIMD edit: every float32 accumulation `(f32x4.add (local.get $aN) (f32x4.mul A B))`
 * (the multiply-adds of blk1 and mk_f32; accumulators are the locals named $a<digits>) becomes
 * `(f32x4.relaxed_madd A B (local.get $aN))`: one instruction, fused or not as the engine chooses,
 * at most one rounding fewer per term, so W8A32 stays within FLOAT32_ACCUMULATION. Measured A/B under
 * Node 24 on the Zen 4 machine: 0.93x the time at 1x4096x4096, 0.85x at 16x1024x1024.
 */
function relaxed(wat) {
  const head = /\(f32x4\.add \(local\.get (\$a\d+)\) \(f32x4\.mul /g;
  let out = '';
  let last = 0;
  let count = 0;
  for (let m = head.exec(wat); m !== null; m = head.exec(wat)) {
    const mul = m.index + m[0].indexOf('(f32x4.mul');
    const end = closeOf(wat, m.index);
    const mulEnd = closeOf(wat, mul);
    if (wat.slice(mulEnd, end) !== ')') continue; // not exactly acc + A * B
    const a = closeOf(wat, mul + '(f32x4.mul '.length);
    const operands = wat.slice(mul + '(f32x4.mul '.length, mulEnd - 1);
    const first = wat.slice(mul + '(f32x4.mul '.length, a);
    const second = operands.slice(first.length).trim();
    out += `${wat.slice(last, m.index)}(f32x4.relaxed_madd ${first} ${second} (local.get ${m[1]}))`;
    last = end;
    head.lastIndex = end;
    count++;
  }
  if (count === 0) throw new Error('build-wasm: no float32 accumulation (f32x4.add (local.get $aN) (f32x4.mul ...)) found for the relaxed build');
  return out + wat.slice(last);
}

/**
 * The builds of kernel.wat: plain SIMD128 (every runtime with SIMD) and relaxed SIMD (Node >= 22,
 * Chrome >= 114, Firefox >= 145), each with its own memory (main entry) or a shared one (threads).
 */
const VARIANTS = [
  { file: 'kernel-bytes.ts', name: 'KERNEL_WASM_BASE64', features: { simd: true }, edit: plain },
  { file: 'kernel-shared-bytes.ts', name: 'KERNEL_SHARED_WASM_BASE64', features: { simd: true, threads: true }, edit: (wat) => shared(plain(wat)) },
  { file: 'kernel-relaxed-bytes.ts', name: 'KERNEL_RELAXED_WASM_BASE64', features: { simd: true, relaxed_simd: true }, edit: relaxed },
  {
    file: 'kernel-relaxed-shared-bytes.ts',
    name: 'KERNEL_RELAXED_SHARED_WASM_BASE64',
    features: { simd: true, relaxed_simd: true, threads: true },
    edit: (wat) => shared(relaxed(wat)),
  },
];

function assemble(wabt, text, features) {
  const module = wabt.parseWat('kernel.wat', text, features);
  try {
    module.validate(features);
    return module.toBinary({}).buffer;
  } finally {
    module.destroy();
  }
}

/** Writes `text` to generated/`file` unless it already holds exactly that. */
function writeGenerated(file, text) {
  const target = join(generated, file);
  if (!existsSync(target) || readFileSync(target, 'utf8') !== text) {
    mkdirSync(generated, { recursive: true });
    writeFileSync(target, text);
  }
}

/**
 * Worker entries bundled into strings: [entry under src/kernels/wasm, generated file, exported name,
 * esbuild platform, format]. The Node worker is an ES module (Node's own modules stay imports); the
 * browser one a classic script (every browser starts one from a blob: URL; module workers are newer).
 */
const WORKERS = [
  ['node-worker.ts', 'node-worker-source.ts', 'NODE_WORKER_SOURCE', 'node', 'esm'],
  ['browser-worker.ts', 'browser-worker-source.ts', 'BROWSER_WORKER_SOURCE', 'browser', 'iife'],
];

/** One self-contained script of `entry` and what it imports. */
function bundleWorker(entry, platform, format) {
  const result = buildSync({
    entryPoints: [join(root, 'src/kernels/wasm', entry)],
    bundle: true,
    format,
    minify: format === 'iife',
    platform,
    target: 'es2022',
    write: false,
    legalComments: 'none',
  });
  return result.outputFiles[0].text;
}

/** Builds the kernel variants and the worker strings; returns their sizes in bytes, by file name. */
export async function buildWasm() {
  const wabt = await wabtInit();
  const wat = readFileSync(source, 'utf8');
  const sizes = {};
  for (const v of VARIANTS) {
    const buffer = assemble(wabt, v.edit(wat), v.features);
    writeGenerated(
      v.file,
      '// Generated by scripts/build-wasm.mjs from src/kernels/wasm/kernel.wat: do not edit, not committed.\n' +
        `export const ${v.name} =\n  '${Buffer.from(buffer).toString('base64')}';\n`,
    );
    sizes[v.file] = buffer.length;
  }
  for (const [entry, file, name, platform, format] of WORKERS) {
    const code = bundleWorker(entry, platform, format);
    writeGenerated(file, `// Generated by scripts/build-wasm.mjs from src/kernels/wasm/${entry}: do not edit, not committed.\nexport const ${name} =\n  ${JSON.stringify(code)};\n`);
    sizes[file] = code.length;
  }
  return sizes;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const sizes = await buildWasm();
  for (const [file, bytes] of Object.entries(sizes)) console.log(`build-wasm: ${bytes} bytes -> src/kernels/wasm/generated/${file}`);
}
