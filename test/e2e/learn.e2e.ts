/**
 * End-to-end test of the explainer page (`npm run learn`), run by `npm run test:e2e`: builds the
 * package and the page, serves it on 127.0.0.1 as `npm run learn` does, drives Debian's Chromium
 * headless, and reads back the numbers the page shows, comparing each with the library's own, computed
 * here in Node from the same settings (seed, shape, scheme, outlier). It drives both languages, two
 * granularities (per channel, per group) and the outlier demo, fails on any console error, and saves a
 * screenshot of each section under test/e2e/artifacts/ (gitignored).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import {
  Generator,
  Linear,
  QuantizedLinear,
  RANGES,
  Tensor,
  dequantize,
  quantize,
  roundHalfEven,
  sqnr,
  uniform_,
  type QuantScheme,
} from 'int8-linear';
import { layerKernelWeight } from '../../src/nn/quantized-linear.js';
import { buildLearnPage } from '../../examples/learn/build.js';
import { servePage } from '../../scripts/pages.js';
import { float32AccumulationLimit } from '../conformance/tolerance.js';
import { check, failures, finish, launchChromium, within } from './harness.js';

const ROOT = join(import.meta.dirname, '..', '..');
const ARTIFACTS = join(import.meta.dirname, 'artifacts');
/** Chromium on a loaded 2-core machine: a full redraw of a (1024, 512) layer, or every backend's timings. */
const STEP_TIMEOUT_MS = 120_000;
const SECTIONS = ['answer', 's-weight', 's-steps', 's-tie', 's-dist', 's-forward', 's-init'] as const;

interface Shown {
  out: number;
  in: number;
  seed: number;
  range: 'full' | 'restricted';
  granularity: 'tensor' | 'channel' | 'group';
  groupSize: number;
  outlier: 'none' | 'row' | 'column';
  outlierFactor: number;
  row: number;
}

/** The layer of the page's settings, built here independently: torch.manual_seed(seed); nn.Linear(in, out), then the outlier. */
function nodeLinear(s: Shown): Linear {
  const fc = new Linear(s.in, s.out, { generator: new Generator(s.seed) });
  const w = fc.weight.data;
  const at = Math.floor((s.outlier === 'row' ? s.out : s.in) / 3);
  for (let r = 0; r < s.out; r++) {
    for (let c = 0; c < s.in; c++) {
      if ((s.outlier === 'row' && r === at) || (s.outlier === 'column' && c === at)) w[r * s.in + c] *= s.outlierFactor;
    }
  }
  return fc;
}

function nodeScheme(s: Shown, granularity = s.granularity): QuantScheme {
  return granularity === 'group' ? { granularity, groupSize: s.groupSize, range: s.range } : { granularity, range: s.range };
}

async function text(page: Page, name: string): Promise<string> {
  return (await page.locator(`[data-v="${name}"]`).first().textContent())?.trim() ?? '';
}

/** A float32 shown as its shortest decimal, read back to the same float32. */
async function f32(page: Page, name: string): Promise<number> {
  const t = await text(page, name);
  const v = Math.fround(Number(t));
  if (t === '' || Number.isNaN(v)) throw new Error(`[data-v="${name}"] shows '${t}', not a number`);
  return v;
}

function same(what: string, got: number, want: number): void {
  if (!Object.is(got, want)) throw new Error(`${what}: page shows ${got}, library gives ${want}`);
}

function close(what: string, got: number, want: number, relative: number): void {
  if (!(Math.abs(got - want) <= relative * Math.abs(want) + 1e-30)) throw new Error(`${what}: page shows ${got}, library gives ${want} (relative limit ${relative})`);
}

/** Waits until the page has drawn these settings (body[data-rendered]) and returns them. */
async function rendered(page: Page, want: Partial<Shown> = {}): Promise<Shown> {
  await page.waitForFunction(
    (w) => {
      const r = document.body.dataset.rendered;
      if (r === undefined) return false;
      const s = JSON.parse(r) as Record<string, unknown>;
      return Object.entries(w).every(([k, v]) => s[k] === v);
    },
    want,
    { timeout: STEP_TIMEOUT_MS },
  );
  return JSON.parse((await page.evaluate(() => document.body.dataset.rendered)) as string) as Shown;
}

/** Checks every number of sections 1 to 4 and 6 against the library, for the settings shown. */
async function checkNumbers(page: Page, s: Shown, label: string): Promise<void> {
  const fc = nodeLinear(s);
  const w = fc.weight.data;
  const q = quantize(fc.weight, nodeScheme(s));
  const deq = dequantize(q).data;
  const shape = `(${q.scale.shape.join(', ')}${q.scale.shape.length === 1 ? ',' : ''})`;
  const caption = await text(page, 'scale-shape');
  check(`${label}: the scale is drawn as ${shape} (page: '${caption}')`, () => {
    if (!caption.endsWith(shape)) throw new Error(`caption '${caption}' does not end with ${shape}`);
  });
  const code = await text(page, 'answer-code');
  check(`${label}: the answer's computeScale(...).shape is [${q.scale.shape.join(', ')}]`, () => {
    if (!code.includes(`// [${q.scale.shape.join(', ')}]`)) throw new Error(`code block reads '${code}'`);
  });
  const canvas = await page.evaluate(() => {
    const c = document.querySelector('#scale-canvas') as HTMLCanvasElement;
    return [c.height, c.width];
  });
  check(`${label}: the scale canvas has ${q.scale.shape.length === 1 ? '1 x 1' : q.scale.shape.join(' x ')} cells`, () => {
    const want = q.scale.shape.length === 1 ? [1, 1] : q.scale.shape;
    if (canvas[0] !== want[0] || canvas[1] !== want[1]) throw new Error(`canvas is ${canvas.join(' x ')}`);
  });

  // The worked block: first block of row s.row (the whole tensor per tensor).
  const per = s.granularity === 'group' ? s.groupSize : s.in;
  const si = s.granularity === 'tensor' ? 0 : s.granularity === 'channel' ? s.row : s.row * (s.in / s.groupSize);
  const blockRows = s.granularity === 'tensor' ? [0, s.out] : [s.row, s.row + 1];
  let absmax = 0;
  for (let r = blockRows[0]; r < blockRows[1]; r++) for (let c = 0; c < per; c++) absmax = Math.max(absmax, Math.abs(w[r * s.in + c]));
  const scale = q.scale.data[si];
  const inv = Math.fround(1 / scale);
  const shown = { absmax: await f32(page, 'absmax'), scale: await f32(page, 'scale'), inv: await f32(page, 'inv') };
  check(`${label}: absmax ${shown.absmax}, scale ${shown.scale} = fround(absmax / ${RANGES[s.range].divisor}), inv ${shown.inv} as the library's`, () => {
    same('absmax', shown.absmax, Math.fround(absmax));
    same('scale', shown.scale, scale);
    same('scale from absmax', shown.scale, Math.max(Math.fround(absmax / RANGES[s.range].divisor), 2 ** -23));
    same('inv', shown.inv, inv);
  });
  const rows = await page.locator('#steps-body tr').count();
  const steps: string[][] = [];
  for (let i = 0; i < rows; i++) {
    steps.push(await Promise.all(['col', 'w', 'product', 'q', 'deq', 'err'].map((k) => text(page, `step-${i}-${k}`))));
  }
  check(`${label}: ${rows} worked elements of row ${s.row}: w, fround(w·inv), q, q·scale, error as the library's`, () => {
    if (rows < Math.min(per, 6)) throw new Error(`only ${rows} rows in the step table`);
    for (const [colText, wt, pt, qt, dt, et] of steps) {
      const c = Number.parseInt(colText, 10);
      const i = s.row * s.in + c;
      same(`w[${s.row}, ${c}]`, Math.fround(Number(wt)), w[i]);
      same(`fround(w·inv) at ${c}`, Math.fround(Number(pt)), Math.fround(w[i] * inv));
      same(`q at ${c}`, Number(qt), q.values.data[i]);
      same(`q·scale at ${c}`, Math.fround(Number(dt)), deq[i]);
      close(`error at ${c}`, Number(et), w[i] - deq[i], 0.01);
    }
  });

  // The tie: the page names an element; it must be a real tie that Math.round gets wrong.
  if ((await page.locator('[data-v="tie-p"]').count()) > 0) {
    const [r, c, wt, pt, mr, he] = await Promise.all(['r', 'c', 'w', 'p', 'mr', 'he'].map((k) => text(page, `tie-${k}`)));
    check(`${label}: the tie at [${r}, ${c}] is w·inv = ${pt}: Math.round ${mr}, PyTorch ${he}`, () => {
      const i = Number(r) * s.in + Number(c);
      const sIdx =
        s.granularity === 'tensor' ? 0 : s.granularity === 'channel' ? Number(r) : Number(r) * (s.in / s.groupSize) + Math.floor(Number(c) / s.groupSize);
      const p = Math.fround(w[i] * Math.fround(1 / q.scale.data[sIdx]));
      same('w', Math.fround(Number(wt)), w[i]);
      same('w·inv', Math.fround(Number(pt)), p);
      if (p - Math.floor(p) !== 0.5) throw new Error(`${p} is not a tie`);
      const { qmin, qmax } = RANGES[s.range];
      const clampQ = (x: number) => Math.min(qmax, Math.max(qmin, x));
      same('Math.round', Number(mr), clampQ(Math.round(p)));
      same('round half to even', Number(he), clampQ(roundHalfEven(p)));
      same('the library', Number(he), q.values.data[i]);
      if (Number(mr) === Number(he)) throw new Error('Math.round agrees here: not the tie it gets wrong');
    });
  } else if (s.range === 'full' && s.granularity !== 'tensor' && s.out >= 256) {
    failures.push(`${label}: no tie shown ('${await text(page, 'tie-example')}'), but range 'full' over hundreds of blocks has some`);
  }

  const bars: Record<string, number> = {};
  for (const g of ['tensor', 'channel', 'group'] as const) {
    bars[g] = Number.parseFloat(await text(page, `sqnr-${g}`));
    const want = sqnr(fc.weight, dequantize(quantize(fc.weight, nodeScheme(s, g))));
    check(`${label}: SQNR ${g} bar ${bars[g]} dB = library's ${want.toFixed(3)} dB`, () => close(`sqnr ${g}`, bars[g], want, 0.0005));
  }

  const [yo, yf, yq] = await Promise.all(['o', 'yf', 'yq'].map((k) => text(page, `y-${k}`)));
  check(`${label}: output ${yo} of the float and the int8 layer as Linear.forward / QuantizedLinear.forward`, () => {
    const x = uniform_(Tensor.zeros([1, s.in], 'float32'), -1, 1, new Generator(s.seed + 1));
    same(`float y[${yo}]`, Math.fround(Number(yf)), fc.forward(x).data[Number(yo)]);
    same(`int8 y[${yo}]`, Math.fround(Number(yq)), QuantizedLinear.fromQuantized(q, fc.bias).forward(x).data[Number(yo)]);
  });

  const torch = JSON.parse(readFileSync(join(ROOT, 'examples/learn/torch-values.json'), 'utf8')) as {
    cases: { seed: number; out: number; in: number; weight: number[]; bias: number[] }[];
  };
  const ref = torch.cases.find((c) => c.seed === s.seed && c.out === s.out && c.in === s.in);
  const fresh = new Linear(s.in, s.out, { generator: new Generator(s.seed) });
  const init: number[][] = [];
  for (let i = 0; i < 8; i++) init.push([await f32(page, `init-weight-${i}-lib`), await f32(page, `init-weight-${i}-torch`)]);
  check(`${label}: init table: the library's first 8 weights = Linear's = PyTorch's`, () => {
    if (ref === undefined) throw new Error('no PyTorch values for these settings');
    init.forEach(([lib, tv], i) => {
      same(`weight ${i} (library)`, lib, fresh.weight.data[i]);
      same(`weight ${i} (PyTorch column)`, tv, Math.fround(ref.weight[i]));
    });
  });
}

/**
 * Saves `png` with each colour channel inside `rect` (the weight heatmap) rounded to 9 levels, by
 * Chromium's canvas, for the README's screenshot: a heatmap of random weights is noise, which PNG
 * cannot compress; rounding it there brings the file under 300 KB and leaves the text and ramps as they are.
 */
async function savePosterized(page: Page, png: Buffer, rect: { x: number; y: number; width: number; height: number }, path: string): Promise<void> {
  const url = await page.evaluate(
    async ([b64, r]) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.width;
      c.height = img.height;
      const ctx = c.getContext('2d') as CanvasRenderingContext2D;
      ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(Math.round(r.x), Math.round(r.y), Math.round(r.width), Math.round(r.height));
      for (let i = 0; i < d.data.length; i++) if (i % 4 !== 3) d.data[i] = Math.min(255, Math.round(d.data[i] / 32) * 32);
      ctx.putImageData(d, Math.round(r.x), Math.round(r.y));
      return c.toDataURL('image/png');
    },
    [png.toString('base64'), rect] as const,
  );
  writeFileSync(path, Buffer.from(url.slice(url.indexOf(',') + 1), 'base64'));
}

/** Saves a screenshot of each section as test/e2e/artifacts/learn-<section>-<tag>.png. */
async function screenshots(page: Page, tag: string, sections: readonly string[] = SECTIONS): Promise<void> {
  for (const id of sections) {
    await page.locator(`#${id}`).screenshot({ path: join(ARTIFACTS, `learn-${id}-${tag}.png`), animations: 'disabled' });
  }
}

async function main(): Promise<void> {
  console.log('building the package (tsup) and the explainer page (esbuild)...');
  execFileSync('npx', ['tsup', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  const { outdir, inputs } = await buildLearnPage();
  check('the explainer page bundles int8-linear and int8-linear/gpu from dist/ (package exports), not src/', () => {
    for (const want of ['dist/index.js', 'dist/gpu.js']) if (!inputs.includes(want)) throw new Error(`${want} is not among the inputs`);
    const fromSrc = inputs.filter((f) => f.startsWith('src/'));
    if (fromSrc.length > 0) throw new Error(`bundled from src/: ${fromSrc.join(', ')}`);
  });
  check('the PyTorch values beside the page agree with test/golden (seed 42, nn.Linear(5, 3))', () => {
    const mine = JSON.parse(readFileSync(join(ROOT, 'examples/learn/torch-values.json'), 'utf8')) as { cases: { seed: number; out: number; in: number; weight: number[] }[] };
    const golden = JSON.parse(readFileSync(join(ROOT, 'test/golden/fixtures/init.json'), 'utf8')) as { cases: { seed: string; layers: { in: number; out: number; weight: number[] }[] }[] };
    const a = mine.cases.find((c) => c.seed === 42 && c.out === 3 && c.in === 5);
    const b = golden.cases.find((c) => c.seed === '42')?.layers[0];
    if (a === undefined || b === undefined) throw new Error('case missing');
    a.weight.forEach((x, i) => same(`weight ${i}`, x, b.weight[i]));
  });
  mkdirSync(ARTIFACTS, { recursive: true });

  const { server, url } = await servePage(outdir);
  const browser = await launchChromium();
  try {
    // Opened as a file, the page says what to run instead (and its module script does not load).
    const filePage = await browser.context.newPage();
    await filePage.goto(pathToFileURL(join(outdir, 'index.html')).href);
    const fileNote = await filePage.locator('#file-protocol').isVisible();
    const fileText = (await filePage.locator('#file-protocol').textContent()) ?? '';
    check('opened from file://, the page says to run npm run learn', () => {
      if (!fileNote || !fileText.includes('npm run learn')) throw new Error(`visible: ${fileNote}, text: '${fileText.trim()}'`);
    });
    await filePage.close();

    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 1180, height: 900 });
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(`page error: ${e.message}`));
    await page.goto(`${url}?lang=en`);
    let s = await rendered(page, { out: 1024, in: 512, granularity: 'channel' });
    // The sticky controls would cover the top of each section in an element screenshot.
    await page.addStyleTag({ content: '.controls { position: static !important; }' });
    await checkNumbers(page, s, 'per channel (1024, 512)');

    // Hovering a weight shows its value, q and scale.
    const box = await page.locator('#weight-canvas').boundingBox();
    if (box !== null) {
      const [r, c] = [700, 300];
      await page.locator('#weight-canvas').hover({ position: { x: ((c + 0.5) / s.in) * box.width, y: ((r + 0.5) / s.out) * box.height } });
      const hover = (await page.locator('#hover-readout').textContent()) ?? '';
      check(`hovering the weight at [${r}, ${c}] shows its value and q`, () => {
        const fc = nodeLinear(s);
        const q = quantize(fc.weight, nodeScheme(s));
        const hm = /w\[(\d+), (\d+)\] = (\S+) → q = (-?\d+)/.exec(hover);
        if (hm === null) throw new Error(`readout: '${hover}'`);
        const i = Number(hm[1]) * s.in + Number(hm[2]);
        // At about 0.47 CSS px per value, the mouse lands on whole pixels: within 3 cells.
        if (Math.abs(Number(hm[1]) - r) > 3 || Math.abs(Number(hm[2]) - c) > 3) throw new Error(`hovered [${hm[1]}, ${hm[2]}]`);
        same('w', Math.fround(Number(hm[3])), fc.weight.data[i]);
        same('q', Number(hm[4]), q.values.data[i]);
      });
      await screenshots(page, 'en-hover', ['s-weight']);
      // The README's picture (docs/learn.png is a copy of it).
      const section = await page.locator('#s-weight').boundingBox();
      const heat = await page.locator('#weight-canvas').boundingBox();
      if (section !== null && heat !== null) {
        const rect = { x: heat.x - section.x, y: heat.y - section.y, width: heat.width, height: heat.height };
        await savePosterized(page, await page.locator('#s-weight').screenshot({ animations: 'disabled' }), rect, join(ARTIFACTS, 'learn-readme.png'));
      }
    } else failures.push('the weight canvas has no bounding box');

    // Every backend's timing, with its error against the reference.
    await page.waitForFunction(() => document.body.dataset.backends === 'done', undefined, { timeout: STEP_TIMEOUT_MS });
    const labels = await page.locator('[data-v^="backend-"][data-v$="-label"]').allTextContents();
    const errs = await page.locator('[data-v^="backend-"][data-v$="-err"]').allTextContents();
    console.log(`  backends in the page: ${labels.join(' | ')}`);
    check('the page ran the layer on wasm-simd, js-packed, gpujs and the reference', () => {
      for (const want of ['wasm-simd', 'js-packed', 'gpujs / webgl2', 'reference']) {
        if (!labels.some((l) => l.startsWith(want))) throw new Error(`${want} missing from ${labels.join(', ')}`);
      }
    });
    check('on SwiftShader, the gpujs rows are flagged as a software GPU', () => {
      const gl = labels.find((l) => l.startsWith('gpujs / webgl2')) ?? '';
      if (!/software GPU/.test(gl)) throw new Error(`'${gl}' is not flagged`);
    });
    check('each backend is within FLOAT32_ACCUMULATION of the reference (largest per-element bound)', () => {
      const fc = nodeLinear(s);
      const layer = QuantizedLinear.fromLinear(fc, nodeScheme(s));
      const x = uniform_(Tensor.zeros([16, s.in], 'float32'), -1, 1, new Generator(s.seed + 1));
      const limit = float32AccumulationLimit(x.data, layerKernelWeight(layer), fc.bias?.data ?? null);
      let bound = 0;
      for (let i = 0; i < 16 * s.out; i++) bound = Math.max(bound, limit(i));
      errs.forEach((e, i) => {
        if (!(Number(e) <= bound)) throw new Error(`${labels[i]}: max error ${e} > ${bound}`);
      });
    });
    await screenshots(page, 'en-channel');

    // Per group, g = 128: the scale is (1024, 4).
    await page.selectOption('#granularity', 'group');
    s = await rendered(page, { granularity: 'group' });
    await checkNumbers(page, s, 'per group g=128');
    await screenshots(page, 'en-group', ['s-weight', 's-steps']);

    // Outliers: per tensor loses, per channel and per group hold (row); per group holds (column).
    const sq = async () => ({
      tensor: Number.parseFloat(await text(page, 'sqnr-tensor')),
      channel: Number.parseFloat(await text(page, 'sqnr-channel')),
      group: Number.parseFloat(await text(page, 'sqnr-group')),
    });
    const before = await sq();
    await page.click('[data-outlier="row"]');
    s = await rendered(page, { outlier: 'row' });
    await checkNumbers(page, s, 'outlier row x10, per group');
    const row = await sq();
    check(`outlier row: per tensor ${before.tensor} -> ${row.tensor} dB loses > 10 dB; per channel ${row.channel}, per group ${row.group} hold within 1 dB`, () => {
      if (!(before.tensor - row.tensor > 10)) throw new Error('per tensor did not lose');
      if (!(Math.abs(before.channel - row.channel) < 1 && Math.abs(before.group - row.group) < 1)) throw new Error('per channel / per group moved');
    });
    await screenshots(page, 'en-outlier-row', ['s-weight', 's-dist']);
    await page.click('[data-outlier="column"]');
    s = await rendered(page, { outlier: 'column' });
    await checkNumbers(page, s, 'outlier column x10, per group');
    const col = await sq();
    check(`outlier column: per group ${col.group} dB holds best (per channel ${col.channel}, per tensor ${col.tensor})`, () => {
      if (!(col.group > col.channel + 3 && col.channel > col.tensor - 1)) throw new Error('per group does not hold best');
    });
    await page.click('[data-outlier="none"]');
    await page.selectOption('#granularity', 'channel');
    s = await rendered(page, { outlier: 'none', granularity: 'channel' });

    // Korean: the words change, the numbers stay.
    const scaleEn = await text(page, 'scale');
    await page.click('#lang-ko');
    await page.waitForFunction(() => document.documentElement.lang === 'ko', undefined, { timeout: STEP_TIMEOUT_MS });
    s = await rendered(page, { granularity: 'channel' });
    const h1 = (await page.locator('h1').textContent()) ?? '';
    check(`Korean: the title is '${h1}' and the numbers are the same`, () => {
      if (!h1.includes('스케일')) throw new Error('the title is not Korean');
    });
    check('Korean: the scale shown is the same float32', () => {
      if (scaleEn === '') throw new Error('no scale shown');
    });
    await checkNumbers(page, s, 'Korean, per channel');
    await screenshots(page, 'ko-channel');
    // The small layer, in Korean, per tensor: every value visible.
    await page.selectOption('#shape', '16x32');
    await page.selectOption('#granularity', 'tensor');
    s = await rendered(page, { out: 16, in: 32, granularity: 'tensor' });
    await checkNumbers(page, s, 'Korean, per tensor (16, 32)');
    await screenshots(page, 'ko-tensor-16x32', ['s-weight', 's-steps']);
    await page.screenshot({ path: join(ARTIFACTS, 'learn-full-ko.png'), fullPage: true });

    check('no console errors', () => {
      if (consoleErrors.length > 0) throw new Error(consoleErrors.join(' | '));
    });
    console.log(`  screenshots in ${ARTIFACTS}`);
  } finally {
    await within(browser.close(), 30_000, 'closing Chromium').catch((e: unknown) => console.log(String(e)));
    server.close();
  }
  finish();
}

await main();
