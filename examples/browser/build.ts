import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Bundles the example page with esbuild, resolving 'int8-linear' and 'int8-linear/gpu' as a user's
 * bundler would: by package name, through package.json `exports` (run `npm run build` first), and
 * gpu.js through its `browser` field. Output: examples/browser/dist/{index.html,main.js}.
 */
const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, 'dist');

/** Builds the page; returns the output folder and the files the bundle was made of (repo-relative). */
export async function buildPage(): Promise<{ outdir: string; inputs: string[] }> {
  mkdirSync(outdir, { recursive: true });
  const result = await build({
    entryPoints: [join(here, 'main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outfile: join(outdir, 'main.js'),
    sourcemap: true,
    logLevel: 'warning',
    // tsconfig.json maps 'int8-linear' to src/ for the typecheck; the bundle must resolve it as a
    // user's bundler does, through package.json `exports` to dist/, so no tsconfig is read here.
    tsconfigRaw: {},
    metafile: true,
  });
  copyFileSync(join(here, 'index.html'), join(outdir, 'index.html'));
  return { outdir, inputs: Object.keys(result.metafile.inputs) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(`built ${(await buildPage()).outdir}`);
}
