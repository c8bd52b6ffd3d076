/**
 * An LRU cache of verified data blocks shared by every open table, bounded
 * by the bytes the blocks hold.
 *
 * @module
 */

import type { Block } from "./block.ts";

// A cached block in the recency list (most recent right after the head).
interface Entry {
  file: number;
  key: number;
  block: Block;
  charge: number;
  prev: Entry;
  next: Entry;
}

/**
 * LRU cache of {@linkcode Block}s keyed by (file number, block key) and
 * bounded in bytes; tables use the block's index in the file as its key. A
 * `Map` from file number to an array indexed by block key finds entries
 * without allocating (a combined numeric key would not fit a small
 * integer); a doubly linked list keeps recency, because moving an entry to
 * the end of a `Map` (delete + set) would cost a hit several times more.
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
  #head: Entry;
  #hits = 0;
  #misses = 0;

  /** Creates a cache holding at most `capacityBytes` bytes of blocks (0 caches nothing). */
  constructor(capacityBytes: number) {
    if (!(capacityBytes >= 0)) throw new RangeError(`bad cache capacity: ${capacityBytes}`);
    this.#capacity = capacityBytes;
    const head = { file: -1, key: -1, charge: 0 } as Entry;
    head.prev = head;
    head.next = head;
    this.#head = head;
  }

  /** The block cached for (`fileNumber`, `key`), made most recently used; counts a hit or miss. */
  get(fileNumber: number, key: number): Block | undefined {
    const e = this.#files.get(fileNumber)?.[key];
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
   * Caches `block` for (`fileNumber`, `key`), evicting least recently used
   * blocks until the cache fits. A block larger than the whole cache is not
   * kept. `key` is a small non-negative integer.
   */
  set(fileNumber: number, key: number, block: Block): void {
    let slots = this.#files.get(fileNumber);
    const old = slots?.[key];
    if (old !== undefined) this.#remove(old);
    const charge = block.data.byteLength;
    if (charge > this.#capacity) return;
    if (slots === undefined) {
      slots = [];
      this.#files.set(fileNumber, slots);
    }
    const head = this.#head;
    const e: Entry = { file: fileNumber, key, block, charge, prev: head, next: head.next };
    head.next.prev = e;
    head.next = e;
    slots[key] = e;
    this.#count++;
    this.#usage += charge;
    while (this.#usage > this.#capacity) this.#remove(head.prev);
  }

  #remove(e: Entry): void {
    e.prev.next = e.next;
    e.next.prev = e.prev;
    const slots = this.#files.get(e.file)!;
    slots[e.key] = undefined;
    this.#count--;
    this.#usage -= e.charge;
  }

  /** Drops every block of `fileNumber` (after the file is deleted). */
  evictFile(fileNumber: number): void {
    const slots = this.#files.get(fileNumber);
    if (slots === undefined) return;
    for (const e of slots) if (e !== undefined) this.#remove(e);
    this.#files.delete(fileNumber);
  }

  /** Drops every block. */
  clear(): void {
    this.#files.clear();
    this.#count = 0;
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
