import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundlePage, serveUntilStopped, type PageBuild } from '../../scripts/pages.js';

/**
 * The backend check page (`npm run example:browser [-- --port N]`): bundles examples/browser/main.ts
 * with 'int8-linear' and 'int8-linear/gpu' resolved by package name, through package.json `exports`
 * (run `npm run build` first; the npm script does), and gpu.js through its `browser` field, into
 * examples/browser/dist/{index.html,main.js}; then serves it on 127.0.0.1 and prints the URL.
 */
const here = dirname(fileURLToPath(import.meta.url));

/** Builds the page; returns the output folder and the files the bundle was made of (repo-relative). */
export function buildPage(): Promise<PageBuild> {
  return bundlePage(join(here, 'main.ts'), join(here, 'dist'), [join(here, 'index.html')]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { outdir } = await buildPage();
  await serveUntilStopped(outdir, 'int8-linear backend check page', process.argv.slice(2));
}
