import {
  availableBackends as cpuBackends,
  computeScale,
  createReferenceBackend,
  formatShape,
  type Backend,
  type Granularity,
  type QuantRange,
  type QuantizedLinear,
} from 'int8-linear';
import { layerKernelWeight, releaseWeight } from 'int8-linear/advanced';
import type { GpuBackend } from 'int8-linear/gpu';
import { barChart, cellAt, heatmap, highlight, histogramChart, type Bar } from './draw.js';
import { LANGS, t, type Key, type Lang } from './i18n.js';
import {
  DEFAULTS,
  GRANULARITIES,
  SEEDS,
  SHAPES,
  f32,
  fitGroupSize,
  groupSizes,
  lesson,
  makeInput,
  outlierIndex,
  quantizedLayer,
  scaleIndexOf,
  scheme,
  type Lesson,
  type Outlier,
  type Settings,
} from './lesson.js';
import torchValues from './torch-values.json';

/**
 * The explainer page: wires the controls to `lesson()` and draws its numbers. Every element whose
 * number the e2e test reads back carries `data-v="name"`; `document.body.dataset.rendered` holds the
 * settings last drawn (JSON) and `data-backends` is 'done' once the backend timings are in.
 */

const $ = <T extends HTMLElement = HTMLElement>(sel: string): T => document.querySelector(sel) as T;
const v = (name: string): HTMLElement => $(`[data-v="${name}"]`);

let lang: Lang = 'en';
let settings: Settings = DEFAULTS;
let current: Lesson;
/** Output picked in the forward section. */
let output = 0;

const GRANULARITY_KEY: Record<Granularity, Key> = { tensor: 'gTensor', channel: 'gChannel', group: 'gGroup' };
const RANGE_KEY: Record<QuantRange, Key> = { full: 'rangeFull', restricted: 'rangeRestricted' };
const COLORS: Record<Granularity, string> = { tensor: '#c9a227', channel: '#2a7f8f', group: '#6b5ca5' };

function tr(key: Key, vars: Record<string, string | number> = {}): string {
  return t(lang, key, vars);
}

/** Wraps each value in a `<span data-v="prefix-name">`, so the e2e test reads numbers inside a sentence in any language. */
function marked(prefix: string, vars: Record<string, string | number>): Record<string, string> {
  return Object.fromEntries(Object.entries(vars).map(([k, x]) => [k, `<span data-v="${prefix}-${k}">${x}</span>`]));
}

/** A float64 error (difference of two float32 values) with 3 significant digits. */
function e3(x: number): string {
  return x === 0 ? '0' : x.toExponential(2);
}

/** CSS pixels per weight value so the weight fits in about 480 x 480, never above 40 px per cell. */
function cellSize(s: Settings): number {
  return Math.min(480 / s.out, 480 / s.in, 40);
}

function options<T extends string | number>(select: HTMLSelectElement, items: readonly T[], label: (x: T) => string, selected: T): void {
  select.replaceChildren(
    ...items.map((x) => {
      const o = document.createElement('option');
      o.value = String(x);
      o.textContent = label(x);
      o.selected = x === selected;
      return o;
    }),
  );
}

function fillControls(): void {
  const s = settings;
  options($<HTMLSelectElement>('#shape'), SHAPES.map(([o, i]) => `${o}x${i}`), (x) => `(${x.replace('x', ', ')})`, `${s.out}x${s.in}`);
  options($<HTMLSelectElement>('#seed'), SEEDS, String, s.seed);
  options($<HTMLSelectElement>('#range'), ['full', 'restricted'] as QuantRange[], (r) => tr(RANGE_KEY[r]), s.range);
  options($<HTMLSelectElement>('#granularity'), GRANULARITIES, (g) => tr(GRANULARITY_KEY[g]), s.granularity);
  options($<HTMLSelectElement>('#groupSize'), groupSizes(s.in), String, s.groupSize);
  const row = $<HTMLInputElement>('#row');
  row.max = String(s.out - 1);
  row.value = String(s.row);
}

function readControls(): Settings {
  const [out, inF] = $<HTMLSelectElement>('#shape').value.split('x').map(Number);
  const row = Math.max(0, Math.min(out - 1, Math.floor(Number($<HTMLInputElement>('#row').value) || 0)));
  return {
    ...settings,
    out,
    in: inF,
    seed: Number($<HTMLSelectElement>('#seed').value),
    range: $<HTMLSelectElement>('#range').value as QuantRange,
    granularity: $<HTMLSelectElement>('#granularity').value as Granularity,
    groupSize: fitGroupSize(inF, Number($<HTMLSelectElement>('#groupSize').value)),
    row,
  };
}

function translateStatic(): void {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll<HTMLElement>('[data-i18n]')) el.innerHTML = tr(el.dataset.i18n as Key);
  for (const b of document.querySelectorAll<HTMLButtonElement>('[data-lang]')) b.setAttribute('aria-pressed', String(b.dataset.lang === lang));
  document.title = `${tr('title')} · int8-linear`;
}

// --- 1. weight and scale -------------------------------------------------------------------------

/** Rows and columns of the scale as drawn, and CSS px per scale cell. */
function scaleGeometry(l: Lesson): { rows: number; cols: number; cw: number; ch: number } {
  const s = l.settings;
  const [rows, cols] = l.q.scale.shape.length === 1 ? [1, 1] : l.q.scale.shape;
  if (s.granularity === 'tensor') return { rows, cols, cw: 28, ch: 28 };
  return { rows, cols, cw: Math.min(16, 240 / cols), ch: cellSize(s) };
}

function absmaxOf(data: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < data.length; i++) m = Math.max(m, Math.abs(data[i]));
  return m;
}

function drawWeightAndScale(l: Lesson): void {
  const s = l.settings;
  const c = cellSize(s);
  const wmax = absmaxOf(l.linear.weight.data);
  heatmap($<HTMLCanvasElement>('#weight-canvas'), l.linear.weight.data, s.out, s.in, { kind: 'signed', max: wmax, cellWidth: c, cellHeight: c });
  const g = scaleGeometry(l);
  // The scale's colours span its own min..max, so rows whose scales differ a little still look different.
  let smin = Infinity;
  let smax = 0;
  for (const x of l.q.scale.data) {
    smin = Math.min(smin, x);
    smax = Math.max(smax, x);
  }
  const shifted = l.q.scale.data.map((x) => x - smin);
  heatmap($<HTMLCanvasElement>('#scale-canvas'), smax > smin ? shifted : shifted.fill(1), g.rows, g.cols, {
    kind: 'positive',
    max: smax > smin ? smax - smin : 1,
    cellWidth: g.cw,
    cellHeight: g.ch,
  });
  v('w-min').textContent = f32(-wmax);
  v('w-max').textContent = f32(wmax);
  v('s-min').textContent = f32(smin);
  v('s-max').textContent = f32(smax);
  $('#weight-hl').hidden = true;
  $('#scale-hl').hidden = true;
  $('#hover-readout').textContent = tr('hoverHint');
}

/** Highlights the block that scale `si` covers, in the weight and in the scale. */
function showBlock(l: Lesson, si: number): string {
  const s = l.settings;
  const c = cellSize(s);
  const g = scaleGeometry(l);
  const n = s.granularity === 'tensor' ? s.out * s.in : s.granularity === 'channel' ? s.in : s.groupSize;
  let what: string;
  if (s.granularity === 'tensor') {
    highlight($('#weight-hl'), 0, s.out, 0, s.in, c, c);
    highlight($('#scale-hl'), 0, 1, 0, 1, g.cw, g.ch);
    what = tr('shareTensor');
  } else {
    const r = Math.floor(si / g.cols);
    const k = si % g.cols;
    const per = s.in / g.cols;
    highlight($('#weight-hl'), r, r + 1, k * per, (k + 1) * per, c, c);
    highlight($('#scale-hl'), r, r + 1, k, k + 1, g.cw, g.ch);
    what = s.granularity === 'channel' ? tr('shareRow', { r }) : tr('shareGroup', { r, a: k * per, b: (k + 1) * per - 1 });
  }
  return tr('hoverScale', { si: scaleIndexLabel(l, si), s: f32(l.q.scale.data[si]), n, what });
}

/** The index of scale element `si` as PyTorch writes it: [0], [r, 0] or [r, k]. */
function scaleIndexLabel(l: Lesson, si: number): string {
  if (l.settings.granularity === 'tensor') return '0';
  const cols = scaleGeometry(l).cols;
  return `${Math.floor(si / cols)}, ${si % cols}`;
}

function wireHover(): void {
  $('#weight-canvas').addEventListener('mousemove', (e) => {
    const l = current;
    const [r, c] = cellAt($<HTMLCanvasElement>('#weight-canvas'), e);
    const si = scaleIndexOf(l.settings, r, c);
    showBlock(l, si);
    const i = r * l.settings.in + c;
    $('#hover-readout').textContent = tr('hoverWeight', {
      r,
      c,
      w: f32(l.linear.weight.data[i]),
      q: l.q.values.data[i],
      si: scaleIndexLabel(l, si),
      s: f32(l.q.scale.data[si]),
      d: f32(l.dequantized[i]),
      e: e3(l.linear.weight.data[i] - l.dequantized[i]),
    });
  });
  $('#scale-canvas').addEventListener('mousemove', (e) => {
    const l = current;
    const [r, c] = cellAt($<HTMLCanvasElement>('#scale-canvas'), e);
    $('#hover-readout').textContent = showBlock(l, r * scaleGeometry(l).cols + c);
  });
  for (const id of ['#weight-canvas', '#scale-canvas']) {
    $(id).addEventListener('mouseleave', () => {
      $('#weight-hl').hidden = true;
      $('#scale-hl').hidden = true;
    });
  }
  $('#y-canvas').addEventListener('mousemove', (e) => {
    const [o] = cellAt($<HTMLCanvasElement>('#y-canvas'), e);
    if (o !== output) {
      output = o;
      drawForwardPick(current);
    }
  });
}

// --- 2. and 3. the worked block and the tie ----------------------------------------------------

function drawSteps(l: Lesson): void {
  const s = l.settings;
  const b = l.worked;
  const div = String(b.divisor);
  v('block').textContent =
    s.granularity === 'tensor'
      ? tr('blockTensor', { n: s.out * s.in })
      : s.granularity === 'channel'
        ? tr('blockRow', { r: b.row, n: s.in })
        : tr('blockGroup', { r: b.row, a: b.start, b: b.end - 1, n: s.groupSize });
  v('absmax').textContent = f32(b.absmax);
  v('absmax-at').textContent = tr('at', { r: b.absmaxAt[0], c: b.absmaxAt[1] });
  v('scale-exact-label').textContent = tr('scaleExact', { div });
  v('scale-exact').textContent = String(b.exactScale);
  v('scale-label').textContent = tr('scaleF32', { div });
  v('scale').textContent = f32(b.scale);
  v('inv').textContent = f32(b.inv);
  $('#steps-body').replaceChildren(
    ...b.steps.map((st, i) => {
      const tr_ = document.createElement('tr');
      const isMax = b.absmaxAt[0] === b.row && st.col === b.absmaxAt[1];
      if (isMax) tr_.className = 'max';
      const cells: [string, string][] = [
        ['col', isMax ? `${st.col} (${tr('absmaxMark')})` : String(st.col)],
        ['w', f32(st.w)],
        ['product', f32(st.product)],
        ['q', String(st.q)],
        ['deq', f32(st.dequantized)],
        ['err', e3(st.error)],
      ];
      for (const [name, text] of cells) {
        const td = document.createElement('td');
        td.dataset.v = `step-${i}-${name}`;
        td.textContent = text;
        tr_.append(td);
      }
      return tr_;
    }),
  );
  v('tie-count').textContent = tr('tieCount', { ties: l.ties.ties, wrong: l.ties.wrong });
  const ex = l.ties.example;
  v('tie-example').innerHTML =
    ex === null
      ? tr('tieNone')
      : tr(
          'tieExample',
          marked('tie', { r: ex.row, c: ex.col, w: f32(ex.step.w), p: f32(ex.step.product), mr: ex.step.mathRound, he: ex.step.halfEven }),
        );
}

// --- 4. distributions, SQNR, outliers ------------------------------------------------------------

function drawDistributions(l: Lesson): void {
  const s = l.settings;
  const wh = l.weightHistogram;
  histogramChart($<HTMLCanvasElement>('#hist-weights'), wh.counts, wh.lo, wh.hi, '#2a7f8f', f32);
  const eh = l.errorHistogram;
  histogramChart($<HTMLCanvasElement>('#hist-error'), eh.counts, eh.lo, eh.hi, COLORS[s.granularity], e3);
  barChart(
    $('#sqnr-bars'),
    GRANULARITIES.map((g) => ({
      label: g === 'group' ? `${tr(GRANULARITY_KEY[g])} (g = ${s.groupSize})` : tr(GRANULARITY_KEY[g]),
      value: l.sqnr[g],
      text: `${l.sqnr[g].toFixed(2)} dB`,
      color: COLORS[g],
    })),
    (i) => `sqnr-${GRANULARITIES[i]}`,
  );
  v('sqnr-caption').textContent = tr('sqnrCaption', { g: s.groupSize });
  const f = s.outlierFactor;
  for (const b of document.querySelectorAll<HTMLButtonElement>('[data-outlier]')) {
    const o = b.dataset.outlier as Outlier;
    b.textContent = tr(o === 'none' ? 'outlierNone' : o === 'row' ? 'outlierRow' : 'outlierColumn', { f });
    b.setAttribute('aria-pressed', String(o === s.outlier));
  }
  v('outlier-text').textContent = tr('outlierText', { f });
  const what = s.outlier === 'none' ? tr('noOutlier') : tr('outlierIs', { what: s.outlier === 'row' ? tr('wordRow') : tr('wordColumn'), i: outlierIndex(s) });
  v('outlier-now').textContent = tr('outlierNow', { what, t: l.sqnr.tensor.toFixed(2), c: l.sqnr.channel.toFixed(2), g: l.sqnr.group.toFixed(2) });
}

// --- 5. forward ----------------------------------------------------------------------------------

interface Forward {
  readonly x: Float32Array;
  readonly yFloat: Float32Array;
  readonly yInt8: Float32Array;
}
let forward: Forward;

function drawForward(l: Lesson): void {
  const s = l.settings;
  const x = makeInput(s, 1);
  forward = { x: x.data, yFloat: l.linear.forward(x).data, yInt8: quantizedLayer(l).forward(x).data };
  const c = cellSize(s) * 0.75;
  const xc = Math.max(c, 10);
  heatmap($<HTMLCanvasElement>('#x-canvas'), forward.x, 1, s.in, { kind: 'signed', max: 1, cellWidth: c, cellHeight: xc });
  heatmap($<HTMLCanvasElement>('#fw-canvas'), l.linear.weight.data, s.out, s.in, { kind: 'signed', max: absmaxOf(l.linear.weight.data), cellWidth: c, cellHeight: c });
  heatmap($<HTMLCanvasElement>('#y-canvas'), forward.yInt8, s.out, 1, { kind: 'signed', max: absmaxOf(forward.yInt8), cellWidth: xc, cellHeight: c });
  output = Math.min(output, s.out - 1);
  drawForwardPick(l);
}

function drawForwardPick(l: Lesson): void {
  const s = l.settings;
  const c = cellSize(s) * 0.75;
  const xc = Math.max(c, 10);
  highlight($('#fw-hl'), output, output + 1, 0, s.in, c, c);
  highlight($('#y-hl'), output, output + 1, 0, 1, xc, c);
  const yf = forward.yFloat[output];
  const yq = forward.yInt8[output];
  v('forward-readout').innerHTML = `${tr('forwardFor', marked('y', { o: output, yf: f32(yf), yq: f32(yq), d: e3(yq - yf) }))} ${tr('hoverOutput')}`;
}

interface BackendRun {
  readonly label: string;
  /** The layer it ran: m × in × out. */
  readonly shape: string;
  readonly software: string | null;
  readonly firstMs: number;
  readonly medianMs: number;
  readonly maxAbsError: number;
}

const RUNS = 9;
const BENCH_M = 16;
let backendRuns: BackendRun[] = [];
/** The weight shape the timings were taken on. */
let benchedShape = '';
let softwareWhy: string[] = [];

/** Every backend this browser has: int8-linear/gpu's list where gpu.js loads (plus webgpu if present), else the main entry's. */
async function allBackends(): Promise<Backend[]> {
  try {
    const gpu = await import('int8-linear/gpu');
    const list = await gpu.availableBackends();
    if ('gpu' in navigator) {
      try {
        list.splice(list.length - 1, 0, await gpu.createGpuBackend({ mode: 'webgpu' }));
      } catch {
        // no usable WebGPU adapter: the list stays as gpu.js found it
      }
    }
    return list;
  } catch {
    return cpuBackends();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function runBackends(l: Lesson): Promise<void> {
  document.body.dataset.backends = 'running';
  $('#run-backends').setAttribute('disabled', '');
  $('#backend-chart').textContent = tr('running');
  const s = l.settings;
  const x = makeInput(s, BENCH_M);
  const expected = quantizedLayer(l).to(createReferenceBackend()).forward(x).data;
  const runs: BackendRun[] = [];
  const why = new Set<string>();
  for (const b of await allBackends()) {
    let layer: QuantizedLinear | null = null;
    try {
      layer = quantizedLayer(l).to(b);
      let t0 = performance.now();
      let y = (await layer.forwardAsync(x)).data;
      const firstMs = performance.now() - t0;
      const times: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        t0 = performance.now();
        y = (await layer.forwardAsync(x)).data;
        times.push(performance.now() - t0);
      }
      let err = 0;
      for (let i = 0; i < y.length; i++) err = Math.max(err, Math.abs(y[i] - expected[i]));
      // int8-linear/gpu says itself whether the backend is software-emulated (its renderer name, WebGPU's
      // isFallbackAdapter, or gpu.js's own CPU modes): see docs/gpu.md.
      const g = b as Partial<GpuBackend>;
      const software = g.softwareEmulated === true ? (g.renderer ? `${b.mode}: “${g.renderer}”` : `gpu.js mode ${b.mode}`) : null;
      if (software !== null) why.add(software);
      runs.push({ label: `${b.name} / ${b.mode}`, shape: `${BENCH_M} × ${s.in} × ${s.out}`, software, firstMs, medianMs: median(times), maxAbsError: err });
    } catch (e) {
      console.warn(`backend ${b.name}/${b.mode} skipped: ${String(e)}`);
    } finally {
      // gpu.js keeps a layer's kernels until released; a wasm backend gives the weight back on the move.
      if (layer !== null) {
        releaseWeight(b, layerKernelWeight(layer));
        layer.to(createReferenceBackend());
      }
      b.dispose();
    }
  }
  backendRuns = runs;
  benchedShape = `(${s.out}, ${s.in})`;
  softwareWhy = [...why];
  $('#run-backends').removeAttribute('disabled');
  drawBackends();
  document.body.dataset.backends = 'done';
}

function drawBackends(): void {
  const shape = `(${current.settings.out}, ${current.settings.in})`;
  v('backends-text').textContent =
    tr('backendsText', { runs: RUNS }) + (benchedShape === '' || benchedShape === shape ? '' : ` ${tr('backendsStale', { shape: benchedShape })}`);
  if (document.body.dataset.backends !== 'done' && backendRuns.length === 0) return;
  barChart(
    $('#backend-chart'),
    backendRuns.map<Bar>((r) => ({
      label: r.label,
      value: r.medianMs,
      text: `${r.medianMs.toFixed(2)} ms`,
      color: r.software === null ? '#2a7f8f' : '#b9b3a5',
      ...(r.software === null ? {} : { tag: tr('software') }),
    })),
    (i) => `backend-${i}-median`,
  );
  const head = `<tr><th>${tr('colBackend')}</th><th>m × in × out</th><th>${tr('colFirst')}</th><th>${tr('colMedian')}</th><th>${tr('colMaxErr')}</th></tr>`;
  const rows = backendRuns.map(
    (r, i) =>
      `<tr><td data-v="backend-${i}-label">${r.label}${r.software === null ? '' : ` <span class="tag">${tr('software')}</span>`}</td>` +
      `<td>${r.shape}</td><td>${r.firstMs.toFixed(1)}</td><td>${r.medianMs.toFixed(2)}</td>` +
      `<td data-v="backend-${i}-err">${e3(r.maxAbsError)}</td></tr>`,
  );
  $('#backend-table').innerHTML = head + rows.join('');
  v('software-note').textContent = softwareWhy.length === 0 ? '' : tr('softwareNote', { why: softwareWhy.join('; ') });
}

// --- 6. init -------------------------------------------------------------------------------------

interface TorchCase {
  readonly seed: number;
  readonly out: number;
  readonly in: number;
  readonly weight: number[];
  readonly bias: number[];
}

function drawInit(l: Lesson): void {
  const s = l.settings;
  v('bound').textContent = tr('bound', { n: s.in, b: f32(Math.fround(1 / Math.sqrt(s.in))) });
  const ref = (torchValues.cases as TorchCase[]).find((c) => c.seed === s.seed && c.out === s.out && c.in === s.in);
  const head =
    `<tr><th></th><th>${tr('colIndex')}</th><th>${tr('colLib')}</th><th>${tr('colTorch', { v: torchValues.torch })}</th>` +
    `<th>${tr('colSame')}</th></tr>`;
  const rows: string[] = [];
  const add = (what: 'weight' | 'bias', lib: ArrayLike<number>, torch: number[] | undefined) => {
    const n = Math.min(torchValues.first, lib.length);
    for (let i = 0; i < n; i++) {
      const tv = torch?.[i];
      const same = tv !== undefined && Math.fround(tv) === lib[i];
      const idx = what === 'weight' ? `[${Math.floor(i / s.in)}, ${i % s.in}]` : `[${i}]`;
      rows.push(
        `<tr><td>${i === 0 ? tr(what === 'weight' ? 'weightRow' : 'biasRow') : ''}</td><td>${idx}</td>` +
          `<td data-v="init-${what}-${i}-lib">${f32(lib[i])}</td><td data-v="init-${what}-${i}-torch">${tv === undefined ? '–' : f32(Math.fround(tv))}</td>` +
          `<td class="${same ? 'good' : 'bad'}">${same ? '✓ ' + tr('yes') : tr('no')}</td></tr>`,
      );
    }
  };
  add('weight', l.linear.weight.data, ref?.weight);
  add('bias', l.linear.bias?.data ?? [], ref?.bias);
  $('#init-table').innerHTML = head + rows.join('');
}

// --- everything ----------------------------------------------------------------------------------

function drawText(l: Lesson): void {
  const s = l.settings;
  const sch = s.granularity === 'group' ? `{ granularity: 'group', groupSize: ${s.groupSize} }` : `{ granularity: '${s.granularity}' }`;
  const range = s.range === 'full' ? '' : `, range: 'restricted'`;
  v('answer-code').textContent =
    `manualSeed(${s.seed}); const fc = new Linear(${s.in}, ${s.out});\n` +
    `computeScale(fc.weight, ${sch.replace(' }', `${range} }`)}).shape;   // [${computeScale(l.linear.weight, scheme(s)).shape.join(', ')}]`;
  v('weight-shape').textContent = tr('weightCaption', { shape: formatShape(l.linear.weight.shape) });
  v('scale-shape').textContent = tr('scaleCaption', { shape: l.scaleShape });
}

function render(): void {
  current = lesson(settings);
  fillControls();
  drawText(current);
  drawWeightAndScale(current);
  drawSteps(current);
  drawDistributions(current);
  drawForward(current);
  drawInit(current);
  drawBackends();
  document.body.dataset.rendered = JSON.stringify(settings);
}

function setLang(next: Lang): void {
  lang = next;
  try {
    localStorage.setItem('int8-linear-learn-lang', lang);
  } catch {
    // storage may be unavailable (private mode): the choice lasts for this visit
  }
  translateStatic();
  render();
}

function main(): void {
  const params = new URLSearchParams(location.search);
  let stored: string | null;
  try {
    stored = localStorage.getItem('int8-linear-learn-lang');
  } catch {
    stored = null;
  }
  const wanted = params.get('lang') ?? stored ?? (navigator.language.startsWith('ko') ? 'ko' : 'en');
  lang = LANGS.includes(wanted as Lang) ? (wanted as Lang) : 'en';
  translateStatic();
  for (const id of ['#shape', '#seed', '#range', '#granularity', '#groupSize', '#row']) {
    $(id).addEventListener('change', () => {
      settings = readControls();
      render();
    });
  }
  for (const b of document.querySelectorAll<HTMLButtonElement>('[data-outlier]')) {
    b.addEventListener('click', () => {
      settings = { ...settings, outlier: b.dataset.outlier as Outlier };
      render();
    });
  }
  for (const b of document.querySelectorAll<HTMLButtonElement>('[data-lang]')) b.addEventListener('click', () => setLang(b.dataset.lang as Lang));
  $('#run-backends').addEventListener('click', () => void runBackends(current));
  wireHover();
  render();
  // The timings run once by themselves, after the first picture is on screen.
  setTimeout(() => void runBackends(current), 50);
}

main();
