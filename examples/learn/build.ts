import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundlePage, serveUntilStopped, type PageBuild } from '../../scripts/pages.js';

/**
 * The explainer page (`npm run learn [-- --port N]`): bundles examples/learn/main.ts with the
 * library from dist/ (run `npm run build` first; the npm script does), copies the static files into
 * examples/learn/dist/, then serves that folder on 127.0.0.1 and prints the URL.
 */
const here = dirname(fileURLToPath(import.meta.url));

/** Builds the page into examples/learn/dist/. */
export function buildLearnPage(): Promise<PageBuild> {
  return bundlePage(join(here, 'main.ts'), join(here, 'dist'), [join(here, 'index.html'), join(here, 'style.css')]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { outdir } = await buildLearnPage();
  await serveUntilStopped(outdir, 'int8-linear explainer page', process.argv.slice(2));
}
