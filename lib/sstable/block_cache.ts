/**
 * A cache of verified data blocks shared by every open table, bounded by
 * the bytes it holds.
 *
 * @module
 */

import { Block } from "./block.ts";

// A cached block.
interface Entry {
  file: number;
  key: number;
  block: Block;
  // Reads since it was cached or last given a second chance, counted up to 2.
  referenced: number;
  // The segment holding it; undefined once it is no longer cached.
  segment: Segment | undefined;
}

// A run of memory charged to the cache as a whole: a slab that blocks are
// carved from front to back, or one block allocated on its own.
interface Segment {
  // The slab, or undefined for a single block allocated on its own.
  bytes: Uint8Array | undefined;
  size: number;
  used: number;
  entries: Entry[];
}

const MAX_SLAB_SIZE = 256 << 10;
const MIN_SLAB_SIZE = 16 << 10;
// Fewer slabs than this would make eviction too coarse.
const MIN_SLABS = 8;
// Evicted slabs kept for reuse. Reading into memory already touched saves
// the page faults of a fresh slab and its allocation; one or two suffice,
// since every slab evicted is followed by one allocated.
const MAX_SPARE_SLABS = 2;

/**
 * Cache of {@linkcode Block}s keyed by (file number, block key) and bounded
 * in bytes; tables use the block's index in the file as its key. A `Map`
 * from file number to an array indexed by block key finds entries without
 * allocating (a combined numeric key would not fit a small integer).
 *
 * Blocks read for the cache take their bytes from
 * {@linkcode BlockCache.allocate}: views into slabs of up to 256 KiB,
 * because a fresh typed array per block costs as much as reading the block.
 * Eviction is first in, first out by slab, with a second chance: a block
 * read at least twice since it was cached is copied into the newest slab
 * instead of being dropped. (Under uniform reads nearly half the blocks are
 * read once before their slab goes, and copying those bought no hits; a
 * block that is actually hot is read twice.) That keeps nearly the hit rate
 * of LRU, costs a hit no more than bumping a counter, and frees memory a
 * whole slab at a time, so the memory charged never exceeds the capacity
 * (up to two evicted slabs wait beside it to be reused).
 *
 * An evicted slab's memory is reused for the blocks read next, which would
 * change the bytes under anyone still reading a block it held. A reader
 * that keeps blocks past the synchronous call that fetched them (an
 * iterator) must hold a {@linkcode BlockCache.pin} meanwhile: slabs evicted
 * while any pin is held are reused only once the last pin is gone.
 *
 * @example
 * ```ts
 * import { BlockCache } from "./block_cache.ts";
 * const cache = new BlockCache(8 << 20);
 * console.log(cache.get(7, 0)); // undefined
 * console.log(cache.misses); // 1
 * ```
 */
export class BlockCache {
  #capacity: number;
  #usage = 0;
  #files: Map<number, (Entry | undefined)[]> = new Map();
  #count = 0;
  // Oldest first; the last one is the slab being filled, if any.
  #segments: Segment[] = [];
  #first = 0;
  #slab: Segment | undefined;
  #slabSize: number;
  #hits = 0;
  #misses = 0;
  #pins = 0;
  // Evicted slabs ready for reuse, and those evicted while pinned.
  #spare: Uint8Array[] = [];
  #pinnedSpare: Uint8Array[] = [];

  /** Creates a cache holding at most `capacityBytes` bytes of blocks (0 caches nothing). */
  constructor(capacityBytes: number) {
    if (!(capacityBytes >= 0)) throw new RangeError(`bad cache capacity: ${capacityBytes}`);
    this.#capacity = capacityBytes;
    this.#slabSize = Math.min(MAX_SLAB_SIZE, Math.floor(capacityBytes / MIN_SLABS));
  }

  /**
   * A buffer of `size` bytes (its contents are arbitrary) for a block that
   * is about to be passed to {@linkcode BlockCache.set}; its bytes must not
   * change once they are.
   */
  allocate(size: number): Uint8Array {
    const slabSize = this.#slabSize;
    if (slabSize < MIN_SLAB_SIZE || size > slabSize >>> 2) return new Uint8Array(size);
    for (;;) {
      const view = this.#carve(size);
      if (view !== undefined) return view;
      this.#newSlab();
      // Second chances carve from the new slab too, and may fill it.
      this.#shrink();
    }
  }

  #carve(size: number): Uint8Array | undefined {
    const slab = this.#slab;
    if (slab === undefined || slab.used + size > slab.size) return undefined;
    const at = slab.used;
    // Word-aligned starts let block checksums read whole words.
    slab.used = (at + size + 7) & ~7;
    return slab.bytes!.subarray(at, at + size);
  }

  #newSlab(): void {
    const size = this.#slabSize;
    const bytes = this.#spare.pop() ?? new Uint8Array(size);
    const slab: Segment = { bytes, size, used: 0, entries: [] };
    this.#slab = slab;
    this.#push(slab);
  }

  /** The block cached for (`fileNumber`, `key`); counts a hit or miss. */
  get(fileNumber: number, key: number): Block | undefined {
    const e = this.#files.get(fileNumber)?.[key];
    if (e === undefined) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    if (e.referenced < 2) e.referenced++;
    return e.block;
  }

  /**
   * Caches `block` for (`fileNumber`, `key`), evicting blocks until the
   * cache fits. A block larger than the whole cache is not kept. `key` is a
   * small non-negative integer.
   */
  set(fileNumber: number, key: number, block: Block): void {
    let slots = this.#files.get(fileNumber);
    const old = slots?.[key];
    if (old !== undefined) this.#drop(old);
    const size = block.data.byteLength;
    if (size > this.#capacity) return;
    if (slots === undefined) {
      slots = [];
      this.#files.set(fileNumber, slots);
    }
    const slab = this.#slab;
    const inSlab = slab !== undefined && block.data.buffer === slab.bytes!.buffer;
    const e: Entry = { file: fileNumber, key, block, referenced: 0, segment: undefined };
    slots[key] = e;
    this.#count++;
    if (inSlab) {
      e.segment = slab;
      slab.entries.push(e);
    } else {
      this.#pushAlone(e);
      this.#shrink();
    }
  }

  // Charges a block allocated on its own as a segment of its own.
  #pushAlone(e: Entry): void {
    const size = e.block.data.byteLength;
    const segment: Segment = { bytes: undefined, size, used: size, entries: [e] };
    e.segment = segment;
    this.#push(segment);
  }

  #push(segment: Segment): void {
    this.#segments.push(segment);
    this.#usage += segment.size;
  }

  // Evicts the oldest segments until the cache fits its capacity, giving
  // blocks read twice since they were cached a second chance.
  #shrink(): void {
    const segments = this.#segments;
    while (this.#usage > this.#capacity && this.#first < segments.length) {
      const oldest = segments[this.#first];
      // Blocks allocated on their own may queue behind the slab being
      // filled: it goes too (second chances then carve from a new one).
      if (oldest === this.#slab) this.#slab = undefined;
      segments[this.#first++] = undefined as unknown as Segment;
      this.#usage -= oldest.size;
      oldest.size = 0;
      for (const e of oldest.entries) {
        if (e.segment !== oldest) continue;
        if (e.referenced === 2) this.#reinsert(e);
        else this.#drop(e);
      }
      if (oldest.bytes !== undefined) this.#retire(oldest.bytes);
    }
    if (this.#first > 64 && this.#first * 2 > segments.length) {
      this.#segments = segments.slice(this.#first);
      this.#first = 0;
    }
  }

  // Gives `e` a second chance as the newest block.
  #reinsert(e: Entry): void {
    e.referenced = 0;
    const data = e.block.data;
    if (e.segment!.bytes === undefined) {
      // A block allocated on its own moves without a copy.
      this.#pushAlone(e);
      return;
    }
    let copy = this.#carve(data.length);
    if (copy === undefined) {
      // The eviction under way makes room for it.
      this.#newSlab();
      copy = this.#carve(data.length)!;
    }
    copy.set(data);
    e.block = new Block(copy, { file: e.block.file, offset: e.block.offset, trusted: true });
    const slab = this.#slab!;
    e.segment = slab;
    slab.entries.push(e);
  }

  // Keeps an evicted slab's memory for reuse, once nothing can read it.
  #retire(bytes: Uint8Array): void {
    const spare = this.#pins === 0 ? this.#spare : this.#pinnedSpare;
    if (spare.length < MAX_SPARE_SLABS) spare.push(bytes);
  }

  /**
   * Declares a reader that keeps blocks beyond the call that fetched them:
   * until the matching {@linkcode BlockCache.unpin}, no memory of a block
   * evicted meanwhile is reused.
   */
  pin(): void {
    this.#pins++;
  }

  /** Pins held now. */
  get pins(): number {
    return this.#pins;
  }

  /** Ends a {@linkcode BlockCache.pin}. */
  unpin(): void {
    if (this.#pins === 0) throw new RangeError("unpin without a pin");
    if (--this.#pins > 0) return;
    for (const bytes of this.#pinnedSpare.splice(0)) {
      if (this.#spare.length < MAX_SPARE_SLABS) this.#spare.push(bytes);
    }
  }

  #drop(e: Entry): void {
    this.#files.get(e.file)![e.key] = undefined;
    this.#count--;
    const segment = e.segment!;
    e.segment = undefined;
    if (segment.bytes === undefined) {
      // Its memory goes with it.
      this.#usage -= segment.size;
      segment.size = 0;
    }
  }

  /**
   * Drops every block of `fileNumber` (after the file is deleted). Blocks
   * allocated on their own free their bytes at once; those in slabs when
   * their slab is evicted.
   */
  evictFile(fileNumber: number): void {
    const slots = this.#files.get(fileNumber);
    if (slots === undefined) return;
    for (const e of slots) if (e !== undefined) this.#drop(e);
    this.#files.delete(fileNumber);
  }

  /** Drops every block. */
  clear(): void {
    this.#files.clear();
    this.#count = 0;
    for (let i = this.#first; i < this.#segments.length; i++) {
      for (const e of this.#segments[i].entries) e.segment = undefined;
    }
    this.#segments = [];
    this.#first = 0;
    this.#slab = undefined;
    this.#usage = 0;
    this.#spare = [];
    this.#pinnedSpare = [];
  }

  /** Bytes charged against the capacity: blocks and the slabs holding them. */
  get usage(): number {
    return this.#usage;
  }

  /** The most bytes the cache holds. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Number of cached blocks. */
  get size(): number {
    return this.#count;
  }

  /** Lookups that found their block. */
  get hits(): number {
    return this.#hits;
  }

  /** Lookups that did not. */
  get misses(): number {
    return this.#misses;
  }
}
