/**
 * Canvas and SVG drawing for the explainer page: heatmaps (one pixel per value, scaled by CSS),
 * histograms and horizontal bar charts. Drawing only; every number comes from the library.
 */

/** Diverging blue-white-red for signed values in [-1, 1] (ColorBrewer RdBu ends). */
function diverging(t: number): [number, number, number] {
  const a = Math.min(1, Math.abs(t));
  const end: [number, number, number] = t < 0 ? [33, 102, 172] : [178, 24, 43];
  return [255 + (end[0] - 255) * a, 255 + (end[1] - 255) * a, 255 + (end[2] - 255) * a];
}

/** Sequential pale-yellow to deep-teal for values in [0, 1]. */
function sequential(t: number): [number, number, number] {
  const a = Math.max(0, Math.min(1, t));
  const lo = [250, 245, 215];
  const hi = [12, 84, 96];
  return [lo[0] + (hi[0] - lo[0]) * a, lo[1] + (hi[1] - lo[1]) * a, lo[2] + (hi[2] - lo[2]) * a];
}

export interface HeatmapOptions {
  /** 'signed': diverging around 0 with |v| <= max; 'positive': 0..max. */
  readonly kind: 'signed' | 'positive';
  readonly max: number;
  /** CSS pixels per value (may be below 1: the browser averages). */
  readonly cellWidth: number;
  readonly cellHeight: number;
}

/** Draws a (rows, cols) row-major array into `canvas`, one pixel per value, shown at cellWidth x cellHeight CSS px. */
export function heatmap(canvas: HTMLCanvasElement, values: ArrayLike<number>, rows: number, cols: number, o: HeatmapOptions): void {
  canvas.width = cols;
  canvas.height = rows;
  canvas.style.width = `${cols * o.cellWidth}px`;
  canvas.style.height = `${rows * o.cellHeight}px`;
  // Upscaled: crisp cells; downscaled: let the browser average neighbouring values.
  canvas.style.imageRendering = o.cellWidth >= 1 && o.cellHeight >= 1 ? 'pixelated' : 'auto';
  const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
  const img = ctx.createImageData(cols, rows);
  const color = o.kind === 'signed' ? diverging : sequential;
  const inv = o.max > 0 ? 1 / o.max : 0;
  for (let i = 0; i < rows * cols; i++) {
    const [r, g, b] = color(values[i] * inv);
    img.data[4 * i] = r;
    img.data[4 * i + 1] = g;
    img.data[4 * i + 2] = b;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

/** Places a highlight box over a heatmap: rows [r0, r1), columns [c0, c1), in its cell units. */
export function highlight(box: HTMLElement, r0: number, r1: number, c0: number, c1: number, cellWidth: number, cellHeight: number): void {
  box.hidden = false;
  box.style.top = `${r0 * cellHeight}px`;
  box.style.left = `${c0 * cellWidth}px`;
  box.style.height = `${Math.max(2, (r1 - r0) * cellHeight)}px`;
  box.style.width = `${Math.max(2, (c1 - c0) * cellWidth)}px`;
}

/** The (row, col) cell under a mouse event on a canvas drawn by `heatmap`. */
export function cellAt(canvas: HTMLCanvasElement, e: MouseEvent): [number, number] {
  const rect = canvas.getBoundingClientRect();
  const col = Math.floor(((e.clientX - rect.left) / rect.width) * canvas.width);
  const row = Math.floor(((e.clientY - rect.top) / rect.height) * canvas.height);
  return [Math.min(canvas.height - 1, Math.max(0, row)), Math.min(canvas.width - 1, Math.max(0, col))];
}

const INK = '#33312c';
const MUTED = '#8a857a';

/** A histogram of `counts` over [lo, hi) with the axis ends labelled; `marks` draws dashed lines at values. */
export function histogramChart(
  canvas: HTMLCanvasElement,
  counts: ArrayLike<number>,
  lo: number,
  hi: number,
  color: string,
  label: (v: number) => string,
  marks: readonly number[] = [],
): void {
  const w = 380;
  const h = 170;
  const dpr = window.devicePixelRatio || 1;
  canvas.width = w * dpr;
  canvas.height = h * dpr;
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
  ctx.scale(dpr, dpr);
  ctx.clearRect(0, 0, w, h);
  const pad = { l: 8, r: 8, t: 8, b: 24 };
  let max = 0;
  for (let i = 0; i < counts.length; i++) max = Math.max(max, counts[i]);
  const bw = (w - pad.l - pad.r) / counts.length;
  ctx.fillStyle = color;
  for (let i = 0; i < counts.length; i++) {
    const bh = max > 0 ? (counts[i] / max) * (h - pad.t - pad.b) : 0;
    ctx.fillRect(pad.l + i * bw + 0.5, h - pad.b - bh, Math.max(1, bw - 1), bh);
  }
  ctx.strokeStyle = MUTED;
  ctx.beginPath();
  ctx.moveTo(pad.l, h - pad.b + 0.5);
  ctx.lineTo(w - pad.r, h - pad.b + 0.5);
  ctx.stroke();
  ctx.setLineDash([3, 3]);
  ctx.strokeStyle = INK;
  for (const m of marks) {
    const x = pad.l + ((m - lo) / (hi - lo)) * (w - pad.l - pad.r);
    ctx.beginPath();
    ctx.moveTo(x, pad.t);
    ctx.lineTo(x, h - pad.b);
    ctx.stroke();
  }
  ctx.setLineDash([]);
  ctx.fillStyle = MUTED;
  ctx.font = '11px system-ui, sans-serif';
  ctx.textBaseline = 'top';
  ctx.textAlign = 'left';
  ctx.fillText(label(lo), pad.l, h - pad.b + 6);
  ctx.textAlign = 'center';
  ctx.fillText('0', pad.l + ((0 - lo) / (hi - lo)) * (w - pad.l - pad.r), h - pad.b + 6);
  ctx.textAlign = 'right';
  ctx.fillText(label(hi), w - pad.r, h - pad.b + 6);
}

export interface Bar {
  readonly label: string;
  readonly value: number;
  readonly text: string;
  readonly color: string;
  /** Extra words after the label (e.g. a "software GPU" flag). */
  readonly tag?: string;
}

/** Horizontal bars as HTML (label, bar, value), scaled to the largest value; `testid` names each value cell. */
export function barChart(root: HTMLElement, bars: readonly Bar[], testid: (i: number) => string): void {
  const max = Math.max(...bars.map((b) => b.value), 1e-9);
  root.replaceChildren(
    ...bars.map((b, i) => {
      const row = document.createElement('div');
      row.className = 'bar-row';
      const name = document.createElement('span');
      name.className = 'bar-label';
      name.textContent = b.label;
      if (b.tag !== undefined) {
        const tag = document.createElement('span');
        tag.className = 'tag';
        tag.textContent = b.tag;
        name.append(' ', tag);
      }
      const track = document.createElement('span');
      track.className = 'bar-track';
      const fill = document.createElement('span');
      fill.className = 'bar-fill';
      fill.style.width = `${Math.max(0.5, (100 * Math.max(0, b.value)) / max)}%`;
      fill.style.background = b.color;
      track.append(fill);
      const value = document.createElement('span');
      value.className = 'bar-value';
      value.dataset.v = testid(i);
      value.textContent = b.text;
      row.append(name, track, value);
      return row;
    }),
  );
}
