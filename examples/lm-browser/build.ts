/**
 * npm run example:lm-browser: writes examples/lm-browser/dist/ (index.html, main.js and the int8
 * checkpoint, quantized per channel from examples/lm/model.safetensors by the CLI's own code), then
 * serve the folder (e.g. `npx http-server examples/lm-browser/dist` or `python3 -m http.server`).
 * `--check` also opens the page in headless Chromium (/usr/bin/chromium), generates, and prints the
 * tokens per second the page shows. The page and examples/lm/model.ts import the library by name, as a
 * user's page would: esbuild bundles the built package (dist/, through its exports map; the npm script
 * builds it first).
 */
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { quantizeCheckpoint } from 'int8-linear/node';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, 'dist');
mkdirSync(outdir, { recursive: true });
await build({
  entryPoints: [join(here, 'main.ts')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  outfile: join(outdir, 'main.js'),
  logLevel: 'warning',
});
copyFileSync(join(here, 'index.html'), join(outdir, 'index.html'));
await quantizeCheckpoint(join(here, '..', 'lm', 'model.safetensors'), join(outdir, 'model-int8.safetensors'), { granularity: 'channel' });
console.log(`built ${outdir}`);

if (process.argv.includes('--check')) {
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.safetensors': 'application/octet-stream' };
  const server = createServer((req, res) => {
    const path = join(outdir, (req.url ?? '/') === '/' ? 'index.html' : (req.url ?? '').slice(1));
    let body: Buffer;
    try {
      body = readFileSync(path);
    } catch {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForSelector('#go:not([disabled])', { timeout: 120_000 });
    console.log(await page.textContent('#status'));
    await page.click('#go');
    await page.waitForSelector('#status[data-done]', { timeout: 300_000 });
    console.log(await page.textContent('#status'));
    console.log(JSON.stringify(await page.textContent('#out')));
  } finally {
    await browser.close();
    server.close();
  }
}
