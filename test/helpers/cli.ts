import { main } from '../../src/cli/main.js';

/** A stand-in for process.stdout / stderr that keeps what is written. */
export function sink(tty = false): NodeJS.WriteStream & { text: string } {
  const s = { text: '', isTTY: tty, write(chunk: string) { s.text += chunk; return true; } };
  return s as unknown as NodeJS.WriteStream & { text: string };
}

/** Runs the CLI in-process with `argv`; returns its exit code and what it wrote. */
export async function runCli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = sink();
  const err = sink();
  const code = await main(argv, out, err);
  return { code, out: out.text, err: err.text };
}
