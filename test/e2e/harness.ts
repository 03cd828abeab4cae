/**
 * What the Chromium e2e scripts share: a failure list with `check`, and Debian's Chromium launched
 * headless through playwright-core (nothing is downloaded).
 * Env: CHROMIUM=/path/to/chromium to use another binary; E2E_CHROMIUM_ARGS="..." adds flags, e.g. on a
 * machine with a real GPU `--ignore-gpu-blocklist --enable-features=Vulkan --use-angle=vulkan`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const failures: string[] = [];

/** Runs one named check: prints ok or FAIL and records the failure instead of stopping. */
export function check(what: string, fn: () => void): void {
  try {
    fn();
    console.log(`  ok   ${what}`);
  } catch (e) {
    failures.push(`${what}: ${(e as Error).message}`);
    console.log(`  FAIL ${what}: ${(e as Error).message}`);
  }
}

/** Prints the failures and exits 1 if there are any. */
export function finish(): void {
  if (failures.length > 0) {
    console.log(`\n${failures.length} e2e check(s) failed:\n${failures.map((f) => `  - ${f}`).join('\n')}`);
    process.exit(1);
  }
  console.log('\nall e2e checks passed');
}

/** Headless Chromium with WebGPU enabled, in a throw-away profile; `close()` removes the profile. */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'int8-linear-e2e-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
      '--enable-unsafe-webgpu',
      ...(process.env.E2E_CHROMIUM_ARGS ?? '').split(/\s+/).filter((a) => a !== ''),
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Resolves `p`, or rejects after `ms` with a message naming `what`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
