import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const NON_FINITE: Readonly<Record<string, number>> = { Infinity, '-Infinity': -Infinity, NaN };

/** Reads a committed fixture written by make_golden.py (non-finite floats are stored as strings). */
export function fixture<T>(name: string): T {
  const text = readFileSync(fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url)), 'utf8');
  return JSON.parse(text, (_key, value: unknown) => (typeof value === 'string' && value in NON_FINITE ? NON_FINITE[value] : value)) as T;
}
