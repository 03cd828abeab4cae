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

/** Columns padded to their widest cell; `right` lists the columns aligned right (numbers). */
export function table(header: readonly string[], rows: readonly (readonly string[])[], right: readonly number[] = []): string {
  // A loop, not Math.max(...cells): spreading 125k+ rows into arguments overflows the stack.
  const widths = header.map((h) => h.length);
  for (const r of rows) for (let c = 0; c < widths.length; c++) if (r[c].length > widths[c]) widths[c] = r[c].length;
  const line = (cells: readonly string[]): string =>
    cells.map((cell, c) => (right.includes(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** A one-line progress bar for a TTY: `[#####-----] 12/40 name`, redrawn in place. */
export function progressLine(done: number, total: number, label: string, width = 30): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} ${label}`.slice(0, 120).padEnd(80);
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
