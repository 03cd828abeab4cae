import cliProgress from 'cli-progress';
import { formatBytes, printable, shortenMiddle } from './format.js';

/**
 * The conversion's progress bar on a terminal, drawn by `cli-progress` (redraws in place at most 10 times a
 * second, hides the cursor while it runs, averages the rate over the last updates for the ETA, clears its line
 * at the end, and draws nothing where stderr is not a terminal). This module only decides what the line says:
 * bytes written of the total, the rate, the ETA and the tensor being written, laid out to the terminal's width.
 */

/** One update: bytes of tensor data written so far, of how many, and the tensor being written. */
export interface ByteProgress {
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly name: string;
}

/** What the line shows, as numbers (see `progressText`). */
export interface ProgressView extends ByteProgress {
  /** Bytes per second since the start. */
  readonly rate: number;
  /** Seconds left, or null while unknown. */
  readonly etaSeconds: number | null;
}

/** Bar cells: at least this many (else the bar is not worth drawing), at most this many (longer says no more). */
const MIN_BAR = 10;
const MAX_BAR = 30;
/** Characters of `formatBytes` up to 999.99 GiB ('512.00 MiB'). */
const BYTES_WIDTH = 10;
/** A tensor name shorter than this (after the ellipsis) tells little: leave it out. */
const MIN_NAME = 20;

/** '42s', '3m05s', '1h02m', '--' while unknown (cli-progress's own time format). */
function etaText(seconds: number | null): string {
  return seconds === null ? '--' : cliProgress.Format.TimeFormat(seconds, { autopaddingChar: '0' } as cliProgress.Options, 1);
}

/**
 * The progress line for a terminal `width` columns wide, never longer than `width`. As the width shrinks
 * the bar narrows (down to 10 cells) and the name is shortened in the middle, then the name is left out
 * (below 20 characters), then the rate; below that only the bytes are shown.
 *
 * Example:
 *   const v = { bytesDone: 1.2 * 2 ** 30, bytesTotal: 2.8 * 2 ** 30, name: 'model.layers.3.mlp.down_proj.weight', rate: 310.5 * 2 ** 20, etaSeconds: 5 };
 *   progressText(v, 99);   // '[#####-------]  42%   1.20 GiB/2.80 GiB 310.50 MiB/s ETA    05s model.layers.3.mlp.down_proj.weight'
 *   progressText(v, 79);   // '[############----------------]  42%   1.20 GiB/2.80 GiB 310.50 MiB/s ETA    05s'
 *   progressText(v, 59);   // '[#########------------]  42%   1.20 GiB/2.80 GiB ETA    05s'
 */
export function progressText(v: ProgressView, width: number): string {
  const fraction = v.bytesTotal > 0 ? Math.min(1, v.bytesDone / v.bytesTotal) : 1;
  // Every field has a fixed width, so the bar does not jump as the numbers change.
  const percent = `${String(Math.floor(fraction * 100)).padStart(3)}%`;
  const bytes = `${formatBytes(v.bytesDone).padStart(BYTES_WIDTH)}/${formatBytes(v.bytesTotal)}`;
  const rate = `${formatBytes(Math.round(v.rate)).padStart(BYTES_WIDTH)}/s`;
  const eta = `ETA ${etaText(v.etaSeconds).padStart(6)}`;
  for (const stats of [[percent, bytes, rate, eta], [percent, bytes, eta]]) {
    const info = stats.join(' ');
    // '[' bar '] ' info, and ' ' name when there is room for one.
    const room = width - info.length - 3;
    if (room < MIN_BAR) continue;
    // A name where it can have MIN_NAME characters (the bar narrows for it, down to MIN_BAR), else a wider bar.
    const name = printable(v.name);
    const withName = name !== '' && room >= MIN_BAR + 1 + MIN_NAME;
    const bar = withName ? Math.max(MIN_BAR, Math.min(MAX_BAR, room - 1 - name.length)) : Math.min(MAX_BAR, room);
    const filled = Math.round(fraction * bar);
    const line = `[${'#'.repeat(filled)}${'-'.repeat(bar - filled)}] ${info}`;
    return withName ? `${line} ${shortenMiddle(name, room - bar - 1)}` : line;
  }
  return `${percent} ${bytes}`.slice(0, Math.max(0, width));
}

/** A progress bar that was started; `stop()` clears its line (call it in a `finally`). */
export interface ProgressBar {
  update(p: ByteProgress): void;
  stop(): void;
}

/**
 * A progress bar on `stream` when it is a terminal, else null (piped or redirected output gets no bar).
 * The width is read at every redraw (`stream.columns`), so a resized terminal is followed; one column is
 * kept free, so the cursor never sits past the edge (where some terminals wrap).
 *
 * Example:
 *   const bar = progressBar(process.stderr);
 *   try { await quantizeCheckpoint(a, b, { onProgress: (p) => bar?.update(p) }); } finally { bar?.stop(); }
 */
export function progressBar(stream: NodeJS.WriteStream): ProgressBar | null {
  if (stream.isTTY !== true) return null;
  let current: ByteProgress = { bytesDone: 0, bytesTotal: 0, name: '' };
  const bar = new cliProgress.SingleBar({
    stream,
    fps: 10,
    etaBuffer: 50,
    hideCursor: true,
    clearOnComplete: true,
    // Our line already fits; true makes cli-progress cut, never toggle the terminal's autowrap mode.
    linewrap: true,
    format: (_options, params) => {
      const elapsed = (Date.now() - params.startTime) / 1000;
      const eta = typeof params.eta === 'number' && current.bytesDone > 0 ? params.eta : null;
      return progressText({ ...current, rate: elapsed > 0 ? current.bytesDone / elapsed : 0, etaSeconds: eta }, (stream.columns || 80) - 1);
    },
  });
  let started = false;
  return {
    update(p) {
      current = p;
      if (!started) {
        started = true;
        bar.start(p.bytesTotal, p.bytesDone);
      } else {
        if (p.bytesTotal !== bar.getTotal()) bar.setTotal(p.bytesTotal);
        bar.update(p.bytesDone);
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
