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

export async function buildPage(): Promise<string> {
  mkdirSync(outdir, { recursive: true });
  await build({
    entryPoints: [join(here, 'main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outfile: join(outdir, 'main.js'),
    sourcemap: true,
    logLevel: 'warning',
  });
  copyFileSync(join(here, 'index.html'), join(outdir, 'index.html'));
  return outdir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(`built ${await buildPage()}`);
}
