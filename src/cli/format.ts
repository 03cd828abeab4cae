/** Plain-text tables and numbers for the CLI's reports. */

/** '1.50 MiB', '980 B': bytes in binary units. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(2)} ${units[u]}`;
}

/**
 * `text` cut to `width` characters by taking out its middle: the start of a layer name says where in the
 * model, the end which tensor. Unchanged when it fits.
 *
 * Example:
 *   shortenMiddle('model.layers.10.mlp.down_proj.weight', 31);   // 'model.layers.10…own_proj.weight'
 *   shortenMiddle('model.layers.10.mlp.down_proj.weight', 20);   // 'model.laye…oj.weight'
 */
export function shortenMiddle(text: string, width: number): string {
  const chars = [...text];
  if (chars.length <= width) return text;
  if (width <= 1) return '…'.slice(0, Math.max(0, width));
  const tail = Math.floor((width - 1) / 2);
  return `${chars.slice(0, width - 1 - tail).join('')}…${tail > 0 ? chars.slice(-tail).join('') : ''}`;
}

/**
 * `text` broken into lines of at most `width` characters at spaces, continuation lines indented by two
 * spaces; a word longer than a line is cut in the middle (`shortenMiddle`) rather than left to wrap.
 *
 * Example:
 *   wrapText('3 layers quantized, 3 tensors copied unchanged', 24);   // '3 layers quantized, 3\n  tensors copied\n  unchanged'
 */
export function wrapText(text: string, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const room = width - (lines.length > 0 ? 2 : 0);
    const next = line === '' ? word : `${line} ${word}`;
    if ([...next].length <= room) {
      line = next;
      continue;
    }
    if (line !== '') lines.push(line);
    line = shortenMiddle(word, width - 2);
  }
  lines.push(line);
  return lines.map((l, i) => (i === 0 ? l : `  ${l}`)).join('\n');
}

/**
 * How `table` fits a width: cells of column `shrink` (default 0, the names) are shortened in the middle
 * until the table is at most `maxWidth` wide (a terminal's columns), down to the header's width or 12
 * characters.
 */
export interface TableFit {
  readonly maxWidth: number;
  readonly shrink?: number;
  /**
   * Columns that may be left out, first to last, while the table would leave the names fewer than 28
   * characters (a note under the table names them); then the names are shortened to fit.
   */
  readonly drop?: readonly number[];
}

/** Fewest characters a shortened name keeps, so it still says something. */
const MIN_SHRUNK = 12;
/** Columns are left out (`drop`) while the names would get fewer characters than this (or than their full width). */
const MIN_FITTED = 28;

/**
 * Columns padded to their widest cell, two spaces apart; `right` lists the columns aligned right
 * (numbers). With `fit`, the table is made to fit a width (see TableFit); without (output to a pipe or
 * a file), nothing is cut or left out.
 *
 * Example:
 *   table(['layer', 'bytes'], [['fc1.weight', '1.00 KiB']], [1]);
 *   // 'layer       bytes\n----------  --------\nfc1.weight  1.00 KiB'
 */
export function table(header: readonly string[], rows: readonly (readonly string[])[], right: readonly number[] = [], fit?: TableFit): string {
  // A loop, not Math.max(...cells): spreading 125k+ rows into arguments overflows the stack.
  const widths = header.map((h) => h.length);
  for (const r of rows) for (let c = 0; c < widths.length; c++) if (r[c].length > widths[c]) widths[c] = r[c].length;
  const shrink = fit?.shrink ?? 0;
  let kept = header.map((_, c) => c);
  const dropped: string[] = [];
  if (fit !== undefined) {
    const width = (columns: readonly number[], nameWidth: number): number =>
      columns.reduce((a, c) => a + (c === shrink ? nameWidth : widths[c]), 0) + 2 * (columns.length - 1);
    const narrowest = Math.min(widths[shrink], Math.max(header[shrink].length, MIN_SHRUNK));
    const comfortable = Math.min(widths[shrink], Math.max(header[shrink].length, MIN_FITTED));
    for (const c of fit.drop ?? []) {
      if (width(kept, comfortable) <= fit.maxWidth) break;
      kept = kept.filter((k) => k !== c);
      dropped.push(header[c]);
    }
    const over = width(kept, widths[shrink]) - fit.maxWidth;
    if (over > 0) widths[shrink] = Math.max(narrowest, widths[shrink] - over);
  }
  const line = (cells: readonly string[]): string =>
    kept
      .map((c) => {
        const cell = fit !== undefined && c === shrink ? shortenMiddle(cells[c], widths[c]) : cells[c];
        return right.includes(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]);
      })
      .join('  ')
      .trimEnd();
  const lines = [line(header), kept.map((c) => '-'.repeat(widths[c])).join('  '), ...rows.map(line)];
  if (dropped.length > 0) lines.push(`(left out to fit ${fit?.maxWidth} columns: ${dropped.join(', ')})`);
  return lines.join('\n');
}

/**
 * Text from a file made safe to print on a terminal: control characters (C0, DEL, C1), the Unicode
 * line separators and bidirectional overrides are written as visible escapes (`\x1b`, `\n`,
 * `\u202e`), and a backslash as `\\`, so a tensor name can neither move the cursor, clear the
 * screen, set the window title, reorder text nor forge a table row, and every escape reads back
 * unambiguously.
 *
 * Example:
 *   printable('a\x1b[2Jb\n');   // 'a\\x1b[2Jb\\n'
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\\\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const named = ESCAPES[c];
    if (named !== undefined) return named;
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`;
  });
}

const ESCAPES: Readonly<Record<string, string>> = Object.assign(Object.create(null) as Record<string, string>, {
  '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t',
});
