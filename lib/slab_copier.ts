/**
 * Copies of byte arrays carved from shared slabs.
 *
 * @module
 */

const EMPTY = new Uint8Array(0);

/** Sizes of the slabs a {@linkcode SlabCopier} carves copies from. */
export interface SlabCopierOptions {
  /** Size of the first slab; each next one doubles, up to `maxSize`. */
  firstSize: number;
  /** Largest slab size; copies over a quarter of it get arrays of their own. */
  maxSize: number;
}

/**
 * Copies byte arrays into slabs and hands out views, the way Node pools
 * small Buffers: one allocation per slab instead of one per copy, which
 * matters because a typed array over 64 bytes gets a backing store of its
 * own, and that costs as much as a lookup. A slab is never written again
 * once a view of it is handed out, so every view stays valid while it is
 * held; a held view keeps its whole slab alive.
 *
 * @example
 * ```ts
 * import { SlabCopier } from "./slab_copier.ts";
 * const copier = new SlabCopier({ firstSize: 1024, maxSize: 8192 });
 * const source = new Uint8Array([1, 2, 3]);
 * const copy = copier.copy(source);
 * source[0] = 9;
 * console.log(copy[0]); // 1
 * ```
 */
export class SlabCopier {
  #slab = EMPTY;
  #pos = 0;
  #first: number;
  #max: number;

  /** Creates a copier whose slabs grow from `firstSize` to `maxSize` bytes. */
  constructor(options: SlabCopierOptions) {
    this.#first = options.firstSize;
    this.#max = options.maxSize;
  }

  /** A copy of `bytes` that nothing else writes to. */
  copy(bytes: Uint8Array): Uint8Array {
    const n = bytes.length;
    if (n > this.#max >>> 2) return bytes.slice();
    const at = this.#room(n);
    const slab = this.#slab;
    // A native set() costs more than a loop for short values.
    if (n <= 16) {
      for (let i = 0; i < n; i++) slab[at + i] = bytes[i];
    } else {
      slab.set(bytes, at);
    }
    return slab.subarray(at, at + n);
  }

  /**
   * `size` zeroed bytes for the caller alone to fill: a region of a slab
   * that is handed out once, or an array of its own when large.
   */
  take(size: number): Uint8Array {
    if (size > this.#max >>> 2) return new Uint8Array(size);
    const at = this.#room(size);
    return this.#slab.subarray(at, at + size);
  }

  // Reserves `n` bytes of the current slab (a new one when they do not fit)
  // and returns their offset.
  #room(n: number): number {
    let at = this.#pos;
    if (at + n > this.#slab.length) {
      const grown = Math.min(this.#max, Math.max(this.#first, this.#slab.length * 2));
      this.#slab = new Uint8Array(Math.max(grown, n));
      at = 0;
    }
    this.#pos = at + n;
    return at;
  }
}
