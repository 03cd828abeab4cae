import { spawnSync } from 'node:child_process';
import { expect } from 'vitest';

/**
 * Runs `lines` as an ES module script (tsx, from the repository root) in a child Node process and
 * expects it to exit by itself within 20 s, cleanly, printing exactly `stdout`: how the tests show
 * that a backend's workers do not keep a process alive that never calls dispose().
 */
export function expectScriptExits(lines: readonly string[], stdout: string): void {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', lines.join('\n')], { cwd: process.cwd(), timeout: 20000, encoding: 'utf8' });
  expect(r.error).toBeUndefined(); // ETIMEDOUT if the process hangs on a worker
  expect(r.stderr).toBe('');
  expect(r.stdout.trim()).toBe(stdout);
  expect(r.status).toBe(0);
}
