// The built CLI (dist/cli.js) on a pseudo-terminal of 60 and 100 columns (util-linux `script` gives it one),
// and piped: on a terminal one progress line is redrawn in place and cleared, and the table fits the width;
// piped there is no bar and every name is in full; --json is the report as JSON.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Generator, Tensor, uniform_, writeSafetensors } from 'int8-linear';

const cli = join(import.meta.dirname, '..', '..', 'dist', 'cli.js');
const dir = mkdtempSync(join(tmpdir(), 'int8-linear-tty-'));
const input = join(dir, 'in.safetensors');
const output = join(dir, 'out.safetensors');

// Layer names as long as a real model's (52 characters: wider than what a 60-column table leaves them).
const g = new Generator(1);
const tensors = {};
for (let i = 0; i < 6; i++) {
  for (const p of ['self_attn.q_proj', 'block_sparse_moe.experts.7.w2']) {
    const w = Tensor.zeros([512, 1024]);
    uniform_(w, -0.05, 0.05, g);
    tensors[`model.layers.${i}.${p}.weight`] = w;
  }
}
writeFileSync(input, writeSafetensors(tensors));
const longest = Object.keys(tensors).map((n) => n.slice(0, -'.weight'.length)).sort((a, b) => b.length - a.length)[0];

/**
 * Replays what a terminal `cols` wide shows for `raw`: the characters, CR/LF, and the few escapes a
 * progress bar uses (ESC 7 / ESC 8 save and restore the cursor, CSI n G column, CSI K / 0K / 2K erase,
 * CSI ?25 l/h cursor). Returns the screen and how many times a line ran past the right edge.
 */
function screen(raw, cols) {
  const lines = [[]];
  let x = 0;
  let y = 0;
  let saved = [0, 0];
  let overflows = 0;
  const row = () => (lines[y] ??= []);
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === '\x1b') {
      if (raw[i + 1] === '7') { saved = [x, y]; i++; continue; }
      if (raw[i + 1] === '8') { [x, y] = saved; i++; continue; }
      // eslint-disable-next-line no-control-regex -- terminal escapes are what this parses
      const m = /^\x1b\[(\??)(\d*)([A-Za-z])/.exec(raw.slice(i, i + 12));
      assert.ok(m !== null, `unexpected escape ${JSON.stringify(raw.slice(i, i + 8))}`);
      const [all, priv, num, cmd] = m;
      i += all.length - 1;
      if (priv === '?') continue;
      if (cmd === 'G') x = Math.max(0, Number(num || 1) - 1);
      else if (cmd === 'K') row().length = num === '2' ? 0 : Math.min(row().length, x);
      else assert.fail(`unexpected CSI ${cmd}`);
    } else if (c === '\r') x = 0;
    else if (c === '\n') y++;
    else {
      if (x >= cols) { overflows++; x = 0; y++; }
      const r = row();
      while (r.length < x) r.push(' ');
      r[x++] = c;
    }
  }
  return { lines: lines.map((l) => (l ?? []).join('').trimEnd()), overflows };
}

const hasScript = spawnSync('script', ['--version']).status === 0;
try {
  if (!hasScript) console.log('smoke cli-tty: skipped on a terminal (no util-linux `script`); piped checks only');
  for (const cols of hasScript ? [60, 100] : []) {
    const cmd = `stty cols ${cols} rows 50; node ${JSON.stringify(cli)} quantize ${JSON.stringify(input)} -o ${JSON.stringify(output)}`;
    const run = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', input: '' });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    const raw = run.stdout;
    // The bar: everything written before the report, on one line (no newline: every update redraws it in
    // place), drawn more than once, the last at 100%, each drawing narrower than the terminal.
    const bar = raw.slice(0, raw.indexOf('scheme:'));
    assert.ok(!bar.includes('\n'), `${cols} columns: the progress bar left a new line`);
    // eslint-disable-next-line no-control-regex -- terminal escapes are what this strips
    const draws = bar.split(/\r|\x1b\[1G/).map((d) => d.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, '')).filter((d) => /\d+%/.test(d));
    assert.ok(draws.length >= 2, `${cols} columns: ${draws.length} drawings`);
    for (const d of draws) assert.ok([...d.trimEnd()].length <= cols - 1, `${cols} columns: a drawing is ${[...d].length} wide: ${d}`);
    assert.match(draws.at(-1), /\] 100% +\S+ \S+\/\S+ /);
    assert.match(draws[0], / ETA /);
    // What the terminal shows at the end: no bar left, a table that fits, no line past the edge.
    const { lines, overflows } = screen(raw, cols);
    assert.equal(overflows, 0, `${cols} columns: ${overflows} lines ran past the edge`);
    assert.ok(!lines.some((l) => l.includes('ETA')), `${cols} columns: the progress line was not cleared`);
    const table = lines.slice(lines.findIndex((l) => l.startsWith('layer')));
    assert.ok(table.length > 12);
    for (const l of lines) assert.ok([...l].length <= cols, `${cols} columns: '${l}' is ${[...l].length} wide`);
    assert.ok(table.some((l) => l.includes('…')), `${cols} columns: long names were not shortened`);
    assert.match(lines.join('\n'), /wrote /);
    console.log(`smoke cli-tty: ${cols} columns: ${draws.length} progress drawings on one line, cleared; table fits (widest ${Math.max(...lines.map((l) => [...l].length))})`);
  }

  // Piped: no bar on stderr, every name in full, all columns.
  const piped = spawnSync(process.execPath, [cli, 'quantize', input, '-o', output], { encoding: 'utf8' });
  assert.equal(piped.status, 0, piped.stderr);
  assert.equal(piped.stderr, '');
  assert.ok(piped.stdout.includes(longest) && !piped.stdout.includes('…'));
  assert.match(piped.stdout, /max \|err\|/);

  // --json: the report for scripts.
  const report = JSON.parse(execFileSync(process.execPath, [cli, 'quantize', input, '-o', output, '--json'], { encoding: 'utf8' }));
  assert.equal(report.output, output);
  assert.equal(report.layers.length, 12);
  assert.deepEqual(report.layers[0].scaleShape, [512, 1]);
  console.log('smoke cli-tty ok: piped output has full names and no bar; --json parses');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
