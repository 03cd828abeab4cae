import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { FormatError, Tensor, writeSafetensors } from '../../src/index.js';
import { openSafetensors, writeFileAtomic, writeSafetensorsFile, writeSafetensorsStream } from '../../src/io/node.js';
import { planSafetensors } from '../../src/io/safetensors.js';
import * as api from '../../src/index.js';
import * as nodeApi from '../../src/node.js';

const dir = mkdtempSync(join(tmpdir(), 'int8-linear-node-'));
const tensors = {
  w: new Tensor(Float32Array.from({ length: 12 }, (_, i) => i / 4), [3, 4]),
  h: new Tensor(new Uint16Array([0x3c00, 0x4000]), [2], 'float16'),
  q: new Tensor(new Int8Array([-128, 5, 127]), [3]),
};

describe('int8-linear/node', () => {
  it('read(name) reads the tensor straight into its own buffer: one allocation of its size, no copy (issue 9, item 16)', async () => {
    const path = join(dir, 'lazy.safetensors');
    const big = new Tensor(Float32Array.from({ length: 1 << 16 }, (_, i) => i), [256, 256]);
    await writeSafetensorsFile(path, { big, small: tensors.q });
    const f = await openSafetensors(path);
    try {
      const probe = await open(path, 'r');
      const proto = Object.getPrototypeOf(probe) as { read: (...a: unknown[]) => Promise<unknown> };
      await probe.close();
      const original = proto.read;
      const seen: ArrayBufferLike[] = [];
      proto.read = async function (this: unknown, ...args: unknown[]) {
        seen.push((args[0] as Uint8Array).buffer);
        return original.apply(this, args);
      };
      try {
        const t = await f.read('big');
        expect([...t.data.subarray(0, 3)]).toEqual([0, 1, 2]);
        expect(seen.length).toBeGreaterThan(0);
        // The buffer the file was read into is the Tensor's own buffer, exactly its size.
        for (const b of seen) expect(b).toBe(t.data.buffer);
        expect(t.data.buffer.byteLength).toBe(big.nbytes);
      } finally {
        proto.read = original;
      }
    } finally {
      await f.close();
    }
  });

  it('writers refuse, before creating a file, what the reader would refuse: a header above 100 MB, a hand-made bad plan (issue 9, item 5)', async () => {
    const path = join(dir, 'huge-header.safetensors');
    await expect(writeSafetensorsFile(path, { w: tensors.w }, { big: 'a'.repeat(100_000_000) })).rejects.toThrow(/HeaderTooLarge/);
    const plan = planSafetensors([{ name: 'w', dtype: 'F32', shape: [3, 4] }]);
    const lying = { ...plan, entries: [{ ...plan.entries[0], dataOffsets: [0, 40] as const }] };
    await expect(writeSafetensorsStream(path, lying, () => new Uint8Array(40))).rejects.toThrow(/plan's entries/);
    const truncated = { ...plan, fileSize: plan.fileSize - 4 };
    await expect(writeSafetensorsStream(path, truncated, () => new Uint8Array(44))).rejects.toThrow(/MetadataIncompleteBuffer/);
    expect(readdirSync(dir).filter((n) => n.includes('huge-header'))).toEqual([]);
  });

  it('writeSafetensorsFile writes the same bytes as writeSafetensors; openSafetensors reads tensors and byte ranges', async () => {
    const path = join(dir, 'a.safetensors');
    await writeSafetensorsFile(path, tensors, { format: 'pt' });
    expect(Buffer.from(readFileSync(path)).equals(Buffer.from(writeSafetensors(tensors, { format: 'pt' })))).toBe(true);
    const f = await openSafetensors(path);
    try {
      expect(f.entries.map((e) => e.name)).toEqual(['w', 'h', 'q']);
      expect(f.metadata).toEqual(Object.assign(Object.create(null), { format: 'pt' }));
      expect([...(await f.read('w')).data]).toEqual([...tensors.w.data]);
      expect([...(await f.read('h')).toFloat32().data]).toEqual([1, 2]);
      // Row 1 of w: bytes [16, 32).
      expect([...new Float32Array((await f.readBytes('w', 16, 32)).slice().buffer)]).toEqual([1, 1.25, 1.5, 1.75]);
      expect(() => f.entry('nope')).toThrow(/no tensor named 'nope' \(it has 3: w, h, q\)/);
      expect(() => f.readBytes('w', 40, 52)).toThrow(FormatError);
    } finally {
      await f.close();
    }
  });

  it('openSafetensors validates the header like readSafetensors', async () => {
    const path = join(dir, 'bad.safetensors');
    const bytes = writeSafetensors(tensors);
    writeFileSync(path, bytes.subarray(0, bytes.length - 1));
    await expect(openSafetensors(path)).rejects.toThrow(/MetadataIncompleteBuffer/);
  });

  it('atomic writes: a failed write leaves the old file and no temporary file', async () => {
    const path = join(dir, 'keep.bin');
    writeFileSync(path, 'old');
    await expect(writeFileAtomic(path, async (fh) => {
      await fh.write('partial');
      throw new Error('disk on fire');
    })).rejects.toThrow('disk on fire');
    expect(readFileSync(path, 'utf8')).toBe('old');
    const plan = planSafetensors([{ name: 'x', dtype: 'F32', shape: [4] }]);
    const out = join(dir, 'short.safetensors');
    await expect(writeSafetensorsStream(out, plan, () => new Uint8Array(12))).rejects.toThrow(/got 12 bytes of data but its F32 shape \[4\] needs 16/);
    await expect(writeSafetensorsStream(out, plan, () => [new Uint8Array(12), new Uint8Array(8)])).rejects.toThrow(/more than 16 bytes/);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it("writeSafetensorsStream's docstring example runs with what the public entries export", async () => {
    // planSafetensors and tensorBytes come from 'int8-linear', writeSafetensorsStream from 'int8-linear/node'.
    const w = new Tensor(Float32Array.of(1, 2, 3, 4, 5, 6), [2, 3]);
    const path = join(dir, 'stream.safetensors');
    const plan = api.planSafetensors([{ name: 'w', dtype: 'F32', shape: [2, 3] }]);
    await nodeApi.writeSafetensorsStream(path, plan, async () => api.tensorBytes(w));
    expect(Buffer.from(readFileSync(path)).equals(Buffer.from(writeSafetensors({ w })))).toBe(true);
  });
});
