import { describe, expect, it } from 'vitest';
import { formatQuantizeReport } from '../../src/cli/main.js';
import { shortenMiddle, table, wrapText } from '../../src/cli/format.js';
import { progressText, type ProgressView } from '../../src/cli/progress.js';
import type { QuantizeReport } from '../../src/io/node-quantize.js';

const NAME = 'model.layers.10.block_sparse_moe.experts.7.w2';
const chars = (s: string): number => [...s].length;

describe('shortenMiddle', () => {
  it('keeps the start and the end of a name, with one ellipsis, at exactly the width', () => {
    expect(shortenMiddle('model.layers.10.mlp.down_proj.weight', 31)).toBe('model.layers.10…own_proj.weight');
    expect(shortenMiddle('model.layers.10.mlp.down_proj.weight', 20)).toBe('model.laye…oj.weight');
    for (let w = 1; w < NAME.length; w++) expect(chars(shortenMiddle(NAME, w))).toBe(w);
    expect(shortenMiddle(NAME, NAME.length)).toBe(NAME);
    expect(shortenMiddle('ab', 0)).toBe('');
  });
});

describe('wrapText', () => {
  it('breaks at spaces within the width, indents continuations, cuts a word longer than a line', () => {
    expect(wrapText('3 layers quantized, 3 tensors copied unchanged', 24)).toBe('3 layers quantized, 3\n  tensors copied\n  unchanged');
    expect(wrapText('short', 24)).toBe('short');
    for (const l of wrapText(`ignored: ${NAME}, ${NAME}${NAME}`, 30).split('\n')) expect(chars(l)).toBeLessThanOrEqual(30);
  });
});

describe('table fitted to a width', () => {
  const header = ['layer', 'weight', 'scale', 'after'];
  const rows = Array.from({ length: 5 }, (_, i) => [`${NAME}.${i}`, 'F32 (4096, 11008)', '(4096, 1)', '43.00 MiB']);

  it('without a width: every name in full, nothing left out', () => {
    const t = table(header, rows, [3]);
    for (const r of rows) expect(t).toContain(r[0]);
    expect(t).not.toContain('…');
  });

  it.each([60, 80, 100])('at %i columns every line fits, names shortened in the middle, still told apart', (width) => {
    const lines = table(header, rows, [3], { maxWidth: width, drop: [1] }).split('\n');
    for (const l of lines) expect(chars(l)).toBeLessThanOrEqual(width);
    const names = lines.slice(2, 7).map((l) => l.split('  ')[0]);
    expect(new Set(names).size).toBe(5);
    for (const [i, n] of names.entries()) expect(n === rows[i][0] || /^model\.layers\.1.*….*w2\.\d$/.test(n)).toBe(true);
    if (width < 100) expect(names[0]).toContain('…');
  });

  it('leaves out the drop columns, in order, only where the names would get under 28 characters, and says so', () => {
    const wide = table(header, rows, [3], { maxWidth: 100, drop: [1] });
    expect(wide).toContain('weight');
    const narrow = table(header, rows, [3], { maxWidth: 60, drop: [1] }).split('\n');
    expect(narrow[0]).not.toContain('weight');
    expect(narrow.at(-1)).toBe('(left out to fit 60 columns: weight)');
  });
});

describe('the quantize report', () => {
  const report: QuantizeReport = {
    layers: [{ name: 'evil\x1b[2J\nfake row', shape: [4, 8], dtype: 'F32', scaleShape: [4, 1], sqnrDb: 40, maxAbsError: 1e-3, bytesBefore: 128, bytesAfter: 48 }],
    copied: [],
    notQuantizable: ['odd\x07name'],
    ignored: ['lm_head\r'],
    bytesIn: 200,
    bytesOut: 100,
    scheme: { granularity: 'channel', groupSize: null, range: 'full' },
    config: null,
    lowSqnr: ['evil\x1b[2J\nfake row'],
    conv1d: ['conv\x1b]0;t\x07'],
    sourceDtypes: ['F32'],
    files: ['out.safetensors'],
  } as unknown as QuantizeReport;

  it('escapes control characters in names from the file (table and lists)', () => {
    const text = formatQuantizeReport(report);
    expect(text).toContain('evil\\x1b[2J\\nfake row');
    expect(text).toContain('odd\\x07name');
    expect(text).toContain('lm_head\\r');
    expect(text).toContain('conv\\x1b]0;t\\x07');
    // eslint-disable-next-line no-control-regex -- the point: no control character reaches the terminal
    expect(text).not.toMatch(/[\x00-\x09\x0b-\x1f]/);
  });

  it('fits a 60-column terminal, leaving out max |err|, before and weight in that order as needed', () => {
    const long = { ...report, layers: Array.from({ length: 3 }, (_, i) => ({ ...report.layers[0], name: `${NAME}.${i}`, shape: [11008, 4096] })) };
    const lines = formatQuantizeReport(long as QuantizeReport, 60).split('\n');
    // The table, its total, the note and the sentences around it (wrapped) all fit.
    const note = lines.indexOf('(left out to fit 60 columns: max |err|, before, weight)');
    expect(note).toBeGreaterThan(4);
    for (const l of lines) expect(chars(l)).toBeLessThanOrEqual(60);
    expect(lines[3]).toMatch(/^model\.layers\.10.*….*\.w2\.0 {2}\(4, 1\)/);
    const full = formatQuantizeReport(long as QuantizeReport);
    expect(full).toContain(`${NAME}.2`);
    expect(full).toContain('max |err|');
  });
});

describe('progressText', () => {
  const v: ProgressView = { bytesDone: 1.2 * 2 ** 30, bytesTotal: 2.8 * 2 ** 30, name: `${NAME}.weight`, rate: 310.5 * 2 ** 20, etaSeconds: 65 };

  it.each([30, 59, 79, 99, 140])('is never wider than %i columns', (width) => {
    expect(chars(progressText(v, width))).toBeLessThanOrEqual(width);
  });

  it('says bytes done of the total, the percentage, the rate and the ETA; the name where it has room', () => {
    const wide = progressText(v, 140);
    expect(wide).toMatch(/^\[#+-+\] {2}42% {3}1\.20 GiB\/2\.80 GiB 310\.50 MiB\/s ETA 01m05s model\.layers\.10\.block_sparse_moe\.experts\.7\.w2\.weight$/);
    expect(progressText(v, 99)).toMatch(/ETA 01m05s model\.layers\.1.*….*\.w2\.weight$/);
    expect(progressText(v, 79)).not.toContain('model');
    expect(progressText(v, 59)).not.toContain('MiB/s');
    expect(progressText({ ...v, etaSeconds: null }, 79)).toContain('ETA     --');
  });

  it('keeps the bar the same width as the numbers change (fixed-width fields)', () => {
    const a = progressText({ ...v, bytesDone: 3 * 1024, rate: 0 }, 79);
    const b = progressText({ ...v, bytesDone: 2.8 * 2 ** 30, rate: 5e9 }, 79);
    expect(a.indexOf(']')).toBe(b.indexOf(']'));
    expect(a.length).toBe(b.length);
    expect(b).toMatch(/^\[#+\] 100%/);
  });

  it('escapes control characters in the tensor name', () => {
    expect(progressText({ ...v, name: 'a\x1b]0;title\x07b' }, 140)).toContain('a\\x1b]0;title\\x07b');
  });
});
