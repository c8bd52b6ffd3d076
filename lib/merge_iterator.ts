/**
 * The k-way merge of sorted sources, and the view of it a reader sees: for
 * each user key, the newest version visible at the read's sequence number,
 * with tombstones hiding older values.
 *
 * @module
 */

import { compareBytes, equalBytes } from "./coding.ts";
import { compareInternal, type InternalIterator, type Kind, KIND_PUT } from "./internal_key.ts";
import { SlabCopier } from "./slab_copier.ts";

const EMPTY = new Uint8Array(0);

// A source with its current key and sequence number, read once each time
// it moves: the heap compares these fields instead of calling through the
// layers of a source of one of several kinds at every comparison.
class Source {
  readonly it: InternalIterator;
  key: Uint8Array = EMPTY;
  seq = 0;

  constructor(it: InternalIterator) {
    this.it = it;
  }

  // Reads the position after a move; false when the source is exhausted.
  load(): boolean {
    const it = this.it;
    if (!it.valid()) return false;
    this.key = it.key();
    this.seq = it.seq();
    return true;
  }
}

/**
 * Merges sources with a binary heap, in one direction chosen at
 * construction: forward (internal-key order) or reverse.
 *
 * @example
 * ```ts
 * import { MergingIterator } from "./merge_iterator.ts";
 * import { MemTable } from "./memtable.ts";
 * const it = new MergingIterator([new MemTable().iterator()], false);
 * it.seekToFirst();
 * console.log(it.valid()); // false
 * ```
 */
export class MergingIterator {
  #sources: Source[];
  #heap: Source[] = [];
  #reverse: boolean;

  /** Merges `children`; `reverse` walks from the largest key down. */
  constructor(children: InternalIterator[], reverse: boolean) {
    this.#sources = children.map((child) => new Source(child));
    this.#reverse = reverse;
  }

  // True when a should come out before b.
  #before(a: Source, b: Source): boolean {
    const c = compareInternal(a.key, a.seq, b.key, b.seq);
    return this.#reverse ? c > 0 : c < 0;
  }

  #rebuild(): void {
    const heap = this.#heap;
    heap.length = 0;
    for (const source of this.#sources) if (source.load()) heap.push(source);
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) this.#siftDown(i);
  }

  #siftDown(i: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const item = heap[i];
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.#before(heap[r], heap[l]) ? r : l;
      if (!this.#before(heap[c], item)) break;
      heap[i] = heap[c];
      i = c;
    }
    heap[i] = item;
  }

  /** Positions at the first entry (forward) or last entry (reverse). */
  seekToStart(): void {
    for (const { it } of this.#sources) {
      if (this.#reverse) it.seekToLast();
      else it.seekToFirst();
    }
    this.#rebuild();
  }

  /**
   * Forward: positions at the first entry with user key ≥ `key`. Reverse:
   * at the last entry with user key < `key`.
   */
  seek(key: Uint8Array): void {
    for (const { it } of this.#sources) {
      if (this.#reverse) it.seekBefore(key);
      else it.seek(key);
    }
    this.#rebuild();
  }

  /** True when positioned on an entry. */
  valid(): boolean {
    return this.#heap.length > 0;
  }

  /** Moves one entry on, in the iterator's direction. */
  next(): void {
    const heap = this.#heap;
    const top = heap[0];
    if (this.#reverse) top.it.prev();
    else top.it.next();
    if (!top.load()) {
      const last = heap.pop()!;
      if (heap.length === 0) return;
      heap[0] = last;
    }
    if (heap.length > 1) this.#siftDown(0);
  }

  /** The current entry's user key. */
  key(): Uint8Array {
    return this.#heap[0].key;
  }
  /** The current entry's sequence number. */
  seq(): number {
    return this.#heap[0].seq;
  }
  /** The current entry's kind. */
  kind(): Kind {
    return this.#heap[0].it.kind();
  }
  /** The current entry's value. */
  value(): Uint8Array {
    return this.#heap[0].it.value();
  }
}

/** One key and its value, as a reader sees them. */
export interface Entry {
  /** The key. */
  key: Uint8Array;
  /** The value. */
  value: Uint8Array;
}

/** Where a visible scan starts and stops. */
export interface ScanBounds {
  /** Smallest key included. */
  start?: Uint8Array;
  /** Keys from here on are excluded. */
  end?: Uint8Array;
  /** Walk from the largest key down. */
  reverse: boolean;
  /** Where keys and values are copied to; scans of one database share one. */
  copier?: SlabCopier;
}

/**
 * Yields, in key order (or reverse), the newest version of each key visible
 * at `readSeq`, skipping keys whose newest visible version is a tombstone.
 * Keys and values are copied out, so they outlive the scan.
 *
 * @example
 * ```ts
 * import { VisibleIterator } from "./merge_iterator.ts";
 * import { MemTable } from "./memtable.ts";
 * const it = new VisibleIterator([new MemTable().iterator()], 10, { reverse: false });
 * console.log(it.next()); // undefined
 * ```
 */
export class VisibleIterator {
  #merge: MergingIterator;
  #readSeq: number;
  #bounds: ScanBounds;
  #started = false;
  #done = false;
  // Keys and values are copied into slabs, one allocation per slab rather
  // than two per entry.
  #copier: SlabCopier;

  /** Views `sources` at `readSeq` within `bounds`. */
  constructor(sources: InternalIterator[], readSeq: number, bounds: ScanBounds) {
    this.#merge = new MergingIterator(sources, bounds.reverse);
    this.#readSeq = readSeq;
    this.#bounds = bounds;
    this.#copier = bounds.copier ?? new SlabCopier({ firstSize: 1024, maxSize: 64 * 1024 });
  }

  #start(): void {
    this.#started = true;
    const { start, end, reverse } = this.#bounds;
    const from = reverse ? end : start;
    if (from === undefined) this.#merge.seekToStart();
    else this.#merge.seek(from);
  }

  /** The next visible entry, or undefined at the end. */
  next(): Entry | undefined {
    if (this.#done) return undefined;
    if (!this.#started) this.#start();
    const entry = this.#bounds.reverse ? this.#prevVisible() : this.#nextVisible();
    if (entry === undefined) this.#done = true;
    return entry;
  }

  /** Ends the scan early. */
  stop(): void {
    this.#done = true;
  }

  #nextVisible(): Entry | undefined {
    const merge = this.#merge;
    const readSeq = this.#readSeq;
    const end = this.#bounds.end;
    let skip: Uint8Array | undefined;
    while (merge.valid()) {
      const key = merge.key();
      if (merge.seq() > readSeq || (skip !== undefined && equalBytes(key, skip))) {
        merge.next();
        continue;
      }
      if (end !== undefined && compareBytes(key, end) >= 0) return undefined;
      // The newest visible version of this key: older ones must be skipped.
      const copy = this.#copier.copy(key);
      if (merge.kind() === KIND_PUT) {
        const value = this.#copier.copy(merge.value());
        merge.next();
        this.#skipVersionsOf(copy);
        return { key: copy, value };
      }
      skip = copy;
      merge.next();
    }
    return undefined;
  }

  #skipVersionsOf(key: Uint8Array): void {
    const merge = this.#merge;
    while (merge.valid() && equalBytes(merge.key(), key)) merge.next();
  }

  #prevVisible(): Entry | undefined {
    const merge = this.#merge;
    const readSeq = this.#readSeq;
    const start = this.#bounds.start;
    while (merge.valid()) {
      const key = this.#copier.copy(merge.key());
      if (start !== undefined && compareBytes(key, start) < 0) return undefined;
      // Reverse order meets a key's versions oldest first: the last visible
      // one is the newest visible.
      let kind: Kind | undefined;
      let value: Uint8Array | undefined;
      while (merge.valid() && equalBytes(merge.key(), key)) {
        if (merge.seq() <= readSeq) {
          kind = merge.kind();
          value = kind === KIND_PUT ? merge.value() : undefined;
          if (value !== undefined) value = this.#copier.copy(value);
        }
        merge.next();
      }
      if (kind === KIND_PUT) return { key, value: value! };
    }
    return undefined;
  }
}
