import { BackendError } from '../../errors.js';

/**
 * A first-fit allocator over a wasm linear memory, run from JS (the kernels themselves never
 * allocate). Blocks are 16-byte aligned; freed blocks coalesce with their free neighbours and the
 * free block at the end of memory shrinks the bump pointer, so packing a layer again and again reuses
 * the same bytes instead of growing memory. The memory grows (never shrinks) when nothing fits.
 */
export class WasmHeap {
  private readonly memory: WebAssembly.Memory;
  /** Free blocks below `top`, sorted by address, never adjacent (coalesced). */
  private readonly free: { ptr: number; size: number }[] = [];
  private readonly sizes = new Map<number, number>();
  private top: number;
  /** Bytes of address space this heap may use (at most the wasm32 limit, 4 GiB). */
  readonly limitBytes: number;

  /**
   * `base`: first usable byte (the bytes below it are reserved). `limitBytes`: the most memory the
   * heap may grow to; a wasm32 memory can never exceed 4 GiB (65536 pages of 64 KiB).
   */
  constructor(memory: WebAssembly.Memory, base = 16, limitBytes = WASM32_MAX_BYTES) {
    this.memory = memory;
    this.top = align(base);
    this.limitBytes = limitBytes;
  }

  /** Bytes currently handed out. */
  get allocated(): number {
    let total = 0;
    for (const size of this.sizes.values()) total += size;
    return total;
  }

  /** Size of the used region of memory (the bump pointer). */
  get highWater(): number {
    return this.top;
  }

  /**
   * A 16-byte aligned block of at least `bytes` bytes; its content is unspecified. When the memory
   * cannot grow that far (the heap's limit, or the engine refusing `memory.grow`) this throws a
   * BackendError and changes nothing: no block is handed out, none is freed.
   */
  alloc(bytes: number): number {
    const size = align(Math.max(bytes, 1));
    for (let i = 0; i < this.free.length; i++) {
      const block = this.free[i];
      if (block.size < size) continue;
      const ptr = block.ptr;
      if (block.size === size) this.free.splice(i, 1);
      else {
        block.ptr += size;
        block.size -= size;
      }
      this.sizes.set(ptr, size);
      return ptr;
    }
    const ptr = this.top;
    const end = ptr + size;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      if (end > this.limitBytes) throw this.outOfMemory(bytes, 'past the limit');
      try {
        this.memory.grow(Math.ceil((end - have) / 65536));
      } catch (e) {
        // RangeError: past the memory's declared maximum, or the engine could not commit the pages.
        throw this.outOfMemory(bytes, `the engine refused to grow the memory: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    this.top = end;
    this.sizes.set(ptr, size);
    return ptr;
  }

  private outOfMemory(bytes: number, why: string): BackendError {
    return new BackendError(
      `wasm backend: out of memory: asked for ${bytes} bytes with ${this.allocated} bytes in use and a limit of ${this.limitBytes} bytes (${why}); ` +
        `nothing was changed. A wasm32 memory holds at most 4 GiB per backend: put groups of layers on separate backends ` +
        `(one createWasmBackend() each), or run the rest on createJsBackend()`,
    );
  }

  /** Returns a block from `alloc`; freeing anything else is a bug and throws. */
  release(ptr: number): void {
    const size = this.sizes.get(ptr);
    if (size === undefined) throw new BackendError(`WasmHeap.release: ${ptr} is not an allocated block`);
    this.sizes.delete(ptr);
    let i = 0;
    while (i < this.free.length && this.free[i].ptr < ptr) i++;
    this.free.splice(i, 0, { ptr, size });
    const next = this.free[i + 1];
    if (next !== undefined && ptr + size === next.ptr) {
      this.free[i].size += next.size;
      this.free.splice(i + 1, 1);
    }
    const prev = this.free[i - 1];
    if (prev !== undefined && prev.ptr + prev.size === ptr) {
      prev.size += this.free[i].size;
      this.free.splice(i, 1);
    }
    const last = this.free[this.free.length - 1];
    if (last !== undefined && last.ptr + last.size === this.top) {
      this.top = last.ptr;
      this.free.pop();
    }
  }
}

/** The wasm32 address space: 65536 pages of 64 KiB. */
export const WASM32_MAX_BYTES = 2 ** 32;

function align(bytes: number): number {
  return Math.ceil(bytes / 16) * 16;
}
