/**
 * Building and serving the example pages (examples/browser, examples/learn): one esbuild bundle per
 * page, resolving 'int8-linear' and its subpaths as a user's bundler would, and a small static file
 * server on 127.0.0.1 (node:http: a page of a few static files needs no server dependency).
 */
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, extname, join, resolve, sep } from 'node:path';

export interface PageBuild {
  readonly outdir: string;
  /** The files the bundle was made of, repo-relative (e.g. 'dist/index.js'). */
  readonly inputs: string[];
}

/**
 * Bundles `entry` (TypeScript) into `outdir`/main.js with esbuild and copies `statics` next to it.
 * 'int8-linear' resolves through package.json `exports` to dist/ (run `npm run build` first), gpu.js
 * through its `browser` field; a dynamic `import('int8-linear/gpu')` becomes its own chunk, loaded
 * only when the page asks for it. The output folder is emptied first.
 */
export async function bundlePage(entry: string, outdir: string, statics: readonly string[]): Promise<PageBuild> {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const result = await build({
    entryPoints: { main: entry },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outdir,
    sourcemap: true,
    logLevel: 'warning',
    // tsconfig.json maps 'int8-linear' to src/ for the typecheck; the bundle must resolve it as a
    // user's bundler does, through package.json `exports` to dist/, so no tsconfig is read here.
    tsconfigRaw: {},
    metafile: true,
  });
  for (const file of statics) copyFileSync(file, join(outdir, basename(file)));
  return { outdir, inputs: Object.keys(result.metafile.inputs) };
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.png': 'image/png',
  '.wasm': 'application/wasm',
  '.mjs': 'text/javascript; charset=utf-8',
  '.onnx': 'application/octet-stream',
};

/** The response headers that make a page cross-origin isolated (SharedArrayBuffer, shared wasm memory, threads). */
export const CROSS_ORIGIN_ISOLATION: Readonly<Record<string, string>> = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
};

/**
 * Serves the files of `dir` on 127.0.0.1:`port` (0: a free port the system picks) and resolves with
 * the server and its URL; every response also gets `headers` (e.g. CROSS_ORIGIN_ISOLATION). Paths
 * outside `dir` and missing files get 404.
 */
export function servePage(dir: string, port = 0, headers: Readonly<Record<string, string>> = {}): Promise<{ server: Server; url: string }> {
  const root = resolve(dir);
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    const file = resolve(root, `.${path.endsWith('/') ? `${path}index.html` : path}`);
    let ok: boolean;
    try {
      ok = (file === root || file.startsWith(root + sep)) && statSync(file).isFile();
    } catch {
      ok = false; // missing (ENOENT) or unreadable
    }
    if (!ok) {
      res.writeHead(404, { ...headers, 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { ...headers, 'content-type': MIME[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' }).end(readFileSync(file));
  });
  return new Promise((ok, fail) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      fail(
        e.code === 'EADDRINUSE'
          ? new Error(`port ${port} on 127.0.0.1 is in use; pass another with -- --port N, or leave --port out for a free one`)
          : e,
      );
    });
    server.listen(port, '127.0.0.1', () => ok({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` }));
  });
}

/** The `--port N` of a command line (0 when absent), or an error that says what was wrong. */
export function portArg(argv: readonly string[]): number {
  const i = argv.findIndex((a) => a === '--port' || a.startsWith('--port='));
  if (i < 0) return 0;
  const raw = argv[i].includes('=') ? argv[i].slice('--port='.length) : argv[i + 1];
  const port = Number(raw);
  if (raw === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port needs a port number from 0 to 65535, got ${raw === undefined ? 'nothing' : `'${raw}'`} (e.g. npm run learn -- --port 8080)`);
  }
  return port;
}

/** Serves `dir`, prints its URL and keeps serving until Ctrl+C: what `npm run learn` and `npm run example:browser` end with. */
export async function serveUntilStopped(dir: string, what: string, argv: readonly string[]): Promise<void> {
  let served: { server: Server; url: string };
  try {
    served = await servePage(dir, portArg(argv));
  } catch (e) {
    console.error(String((e as Error).message));
    process.exit(1);
  }
  console.log(`${what}: ${served.url}`);
  console.log('(serving on 127.0.0.1 only; Ctrl+C stops)');
  process.once('SIGINT', () => {
    served.server.close();
    process.exit(0);
  });
}
