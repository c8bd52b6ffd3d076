/**
 * An LRU cache of verified data blocks shared by every open table, bounded
 * by the bytes the blocks hold.
 *
 * @module
 */

import type { Block } from "./block.ts";

const TWO_32 = 0x1_0000_0000;

// A cached block in the recency list (most recent right after the head).
interface Entry {
  key: number;
  block: Block;
  charge: number;
  prev: Entry;
  next: Entry;
}

/**
 * LRU cache of {@linkcode Block}s keyed by (file number, block offset) and
 * bounded in bytes. Keys are numbers (`fileNumber * 2^32 + offset`), so file
 * numbers must stay below 2^21 and offsets below 2^32. A `Map` finds
 * entries; a doubly linked list keeps recency, because moving an entry to
 * the end of the `Map` (delete + set) would cost a hit several times more.
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
  #map: Map<number, Entry> = new Map();
  #head: Entry;
  #hits = 0;
  #misses = 0;

  /** Creates a cache holding at most `capacityBytes` bytes of blocks (0 caches nothing). */
  constructor(capacityBytes: number) {
    if (!(capacityBytes >= 0)) throw new RangeError(`bad cache capacity: ${capacityBytes}`);
    this.#capacity = capacityBytes;
    const head = { key: -1, charge: 0 } as Entry;
    head.prev = head;
    head.next = head;
    this.#head = head;
  }

  /** The block cached for (`fileNumber`, `offset`), made most recently used; counts a hit or miss. */
  get(fileNumber: number, offset: number): Block | undefined {
    const e = this.#map.get(fileNumber * TWO_32 + offset);
    if (e === undefined) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    const head = this.#head;
    if (head.next !== e) {
      e.prev.next = e.next;
      e.next.prev = e.prev;
      e.next = head.next;
      e.prev = head;
      head.next.prev = e;
      head.next = e;
    }
    return e.block;
  }

  /**
   * Caches `block` for (`fileNumber`, `offset`), evicting least recently used
   * blocks until the cache fits. A block larger than the whole cache is not
   * kept.
   */
  set(fileNumber: number, offset: number, block: Block): void {
    const key = fileNumber * TWO_32 + offset;
    const old = this.#map.get(key);
    if (old !== undefined) this.#remove(old);
    const charge = block.data.byteLength;
    if (charge > this.#capacity) return;
    const head = this.#head;
    const e: Entry = { key, block, charge, prev: head, next: head.next };
    head.next.prev = e;
    head.next = e;
    this.#map.set(key, e);
    this.#usage += charge;
    while (this.#usage > this.#capacity) this.#remove(head.prev);
  }

  #remove(e: Entry): void {
    e.prev.next = e.next;
    e.next.prev = e.prev;
    this.#map.delete(e.key);
    this.#usage -= e.charge;
  }

  /** Drops every block of `fileNumber` (after the file is deleted). O(cached blocks). */
  evictFile(fileNumber: number): void {
    for (const [k, e] of this.#map) {
      if (Math.floor(k / TWO_32) === fileNumber) this.#remove(e);
    }
  }

  /** Drops every block. */
  clear(): void {
    this.#map.clear();
    this.#head.next = this.#head;
    this.#head.prev = this.#head;
    this.#usage = 0;
  }

  /** Bytes of block data currently cached. */
  get usage(): number {
    return this.#usage;
  }

  /** The most bytes the cache holds. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Number of cached blocks. */
  get size(): number {
    return this.#map.size;
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
