/**
 * The memtable: the newest writes, in memory, sorted.
 *
 * Keys are held as one-code-unit-per-byte strings, so that the engine's
 * native string hashing serves point lookups (a `Map`) and its native string
 * sort orders keys. Writes only touch the map: a new key joins an unsorted
 * list, which is sorted and merged into the ordered index when an iterator
 * is next requested. An iterator keeps the index it was made with; keys
 * added later carry sequence numbers above any read it serves. Each key
 * keeps its versions in write order; a version that no reader can see any
 * more is replaced in place, so overwrites do not grow the table.
 *
 * A small bloom filter over the keys answers most lookups of absent keys
 * (the common case: most reads are served by tables) without building the
 * key's string or probing the map, whose memory is scattered.
 *
 * Logged batches are indexed when the table is next read, not when they
 * are written: a table that is only written, then flushed from its log,
 * never builds a key string or a map entry.
 *
 * @module
 */

import { bytesToKeyString, hash32 } from "./coding.ts";
import { type Found, type InternalIterator, type Kind, KIND_PUT } from "./internal_key.ts";
import { sortedOrder } from "./key_sort.ts";
import { type OpVisitor, visitBatch } from "./write_batch.ts";

// Bytes counted per entry beyond key and value, so the size limit tracks
// memory rather than payload alone.
const ENTRY_OVERHEAD = 48;

/** One version of a key. */
interface Version {
  seq: number;
  kind: Kind;
  value: Uint8Array;
}

// A key and its oldest version; most keys have only the one, which then
// costs no further allocation. Newer versions follow in `more`, oldest
// first: appends never move a version an iterator stands on.
interface Node extends Version {
  readonly keyString: string;
  readonly key: Uint8Array;
  more: Version[] | undefined;
}

function versionCount(node: Node): number {
  const more = node.more;
  return more === undefined ? 1 : more.length + 1;
}

// Version i of the node, oldest (0) first.
function versionAt(node: Node, i: number): Version {
  return i === 0 ? node : node.more![i - 1];
}

// The least memory an entry is charged, so the most entries per byte of
// limit, for sizing the filter.
const MIN_ENTRY_BYTES = 2 * ENTRY_OVERHEAD;
// Filter bits per entry of a full memtable; with three bits set within one
// 32-bit word, about 0.5% of absent keys pass.
const FILTER_BITS_PER_ENTRY = 16;
const MIN_FILTER_WORDS = 64;
const MAX_FILTER_WORDS = 1 << 20;

// The three bits a key with this hash sets in its filter word.
function filterMask(hash: number): number {
  return (1 << (hash & 31)) | (1 << ((hash >>> 5) & 31)) | (1 << ((hash >>> 10) & 31));
}

/** Options for a {@linkcode MemTable}. */
export interface MemTableOptions {
  /**
   * The size (in {@linkcode MemTable.approximateSize} bytes) the table is
   * expected to reach, which sizes its key filter. A table that grows past
   * it stays correct; its filter just rejects fewer absent keys.
   */
  expectedSize?: number;
  /**
   * The newest sequence number a live snapshot or iterator reads at (-1
   * when there is none), asked when batches added by
   * {@linkcode MemTable.addBatch} are indexed. Defaults to none.
   */
  newestReaderSeq?: () => number;
}

const EMPTY = new Uint8Array(0);
// Batches are encoded by this process before they are added, so a walk
// error can only name the table.
const BATCH_PLACE = { fileName: "memtable", fileOffset: 0 };

/**
 * A sorted in-memory table of versioned entries.
 *
 * @example
 * ```ts
 * import { MemTable } from "./memtable.ts";
 * import { KIND_PUT } from "./internal_key.ts";
 * const mem = new MemTable();
 * mem.add(1, KIND_PUT, new Uint8Array([1]), new Uint8Array([42]), -1);
 * mem.get("\x01", 1)?.value; // Uint8Array [42]
 * ```
 */
export class MemTable {
  #map = new Map<string, Node>();
  // One-word-per-key bloom filter over hash32 of the keys.
  #filter: Int32Array;
  #filterShift: number;
  #sorted: Node[] = [];
  #unsorted: Node[] = [];
  #size = 0;
  #entries = 0;
  // Batches added but not yet indexed: payload i is
  // pendingBytes[i][pendingStarts[i], pendingEnds[i]).
  #pendingBytes: Uint8Array[] = [];
  #pendingStarts: number[] = [];
  #pendingEnds: number[] = [];
  #pendingSize = 0;
  #newestReaderSeq: () => number;

  /** Creates an empty table. */
  constructor(options: MemTableOptions = {}) {
    this.#newestReaderSeq = options.newestReaderSeq ?? (() => -1);
    const entries = (options.expectedSize ?? 1 << 20) / MIN_ENTRY_BYTES;
    let words = MIN_FILTER_WORDS;
    while (words < MAX_FILTER_WORDS && words * 32 < entries * FILTER_BITS_PER_ENTRY) words *= 2;
    this.#filter = new Int32Array(words);
    this.#filterShift = 32 - Math.log2(words);
  }

  /**
   * False when no key with this {@linkcode hash32} was ever added, so
   * {@linkcode MemTable.get} would find nothing.
   */
  mayContain(hash: number): boolean {
    this.index();
    const mask = filterMask(hash);
    return (this.#filter[hash >>> this.#filterShift] & mask) === mask;
  }

  /** Approximate memory used, in bytes. */
  get approximateSize(): number {
    return this.#size + this.#pendingSize;
  }

  /** Number of versions held. */
  get entries(): number {
    this.index();
    return this.#entries;
  }

  /** Batches added by {@linkcode MemTable.addBatch} and not yet indexed. */
  get unindexedBatches(): number {
    return this.#pendingStarts.length;
  }

  /** Indexes the batches added since the last read now rather than at the next read. */
  index(): void {
    if (this.#pendingStarts.length > 0) this.#indexPending();
  }

  /** True when nothing was ever added. */
  get isEmpty(): boolean {
    return this.#entries === 0 && this.#pendingStarts.length === 0;
  }

  /**
   * Adds every operation of a batch in its log encoding, `bytes[start, end)`
   * (first sequence number, count, operations; see `write_batch.ts`), which
   * must be well formed and numbered above every version added before. The
   * operations are indexed when the table is next read; until then they
   * are views into `bytes`, which the caller must not change afterwards.
   */
  addBatch(bytes: Uint8Array, start: number, end: number): void {
    this.#pendingBytes.push(bytes);
    this.#pendingStarts.push(start);
    this.#pendingEnds.push(end);
    // Until indexed, a batch costs its encoding alone; indexing adds the
    // per-entry cost.
    this.#pendingSize += end - start;
  }

  #indexPending(): void {
    const all = this.#pendingBytes;
    const starts = this.#pendingStarts;
    const ends = this.#pendingEnds;
    this.#pendingBytes = [];
    this.#pendingStarts = [];
    this.#pendingEnds = [];
    this.#pendingSize = 0;
    const readerSeq = this.#newestReaderSeq();
    let bytes: Uint8Array = EMPTY;
    // The pending lists are empty by now, so add() inserts at once.
    const insert: OpVisitor = (seq, kind, keyStart, keyEnd, valueStart, valueEnd) =>
      this.add(
        seq,
        kind,
        bytes.subarray(keyStart, keyEnd),
        kind === KIND_PUT ? bytes.subarray(valueStart, valueEnd) : EMPTY,
        readerSeq,
      );
    for (let i = 0; i < all.length; i++) {
      bytes = all[i];
      visitBatch(bytes, starts[i], ends[i], BATCH_PLACE, insert);
    }
  }

  /**
   * Adds a version. `seq` must exceed every sequence number added before.
   * The key's previous newest version is replaced when no reader can see it:
   * `newestReaderSeq` is the newest sequence number a live snapshot or
   * iterator reads at (-1 when there is none). The memtable keeps `key` and
   * `value` as given: the caller must not change them afterwards.
   */
  add(
    seq: number,
    kind: Kind,
    key: Uint8Array,
    value: Uint8Array,
    newestReaderSeq: number,
  ): void {
    this.index();
    const keyString = bytesToKeyString(key);
    const node = this.#map.get(keyString);
    if (node !== undefined) {
      const more = node.more;
      const newest = more === undefined ? node : more[more.length - 1];
      if (newest.seq > newestReaderSeq) {
        this.#size += value.length - newest.value.length;
        newest.seq = seq;
        newest.kind = kind;
        newest.value = value;
      } else {
        if (more === undefined) node.more = [{ seq, kind, value }];
        else more.push({ seq, kind, value });
        this.#size += value.length + ENTRY_OVERHEAD;
        this.#entries++;
      }
      return;
    }
    const created: Node = { seq, kind, value, keyString, key, more: undefined };
    this.#map.set(keyString, created);
    const hash = hash32(key);
    this.#filter[hash >>> this.#filterShift] |= filterMask(hash);
    this.#unsorted.push(created);
    this.#size += key.length * 2 + value.length + ENTRY_OVERHEAD * 2;
    this.#entries++;
  }

  /** The newest version of the key with a sequence number ≤ `readSeq`. */
  get(keyString: string, readSeq: number): Found | undefined {
    this.index();
    const node = this.#map.get(keyString);
    if (node === undefined) return undefined;
    const more = node.more;
    if (more !== undefined) {
      for (let i = more.length - 1; i >= 0; i--) {
        const v = more[i];
        if (v.seq <= readSeq) return v;
      }
    }
    return node.seq <= readSeq ? node : undefined;
  }

  /** A cursor over every version present now, in internal-key order. */
  iterator(): InternalIterator {
    this.index();
    return new MemTableIterator(this.#sortedNodes());
  }

  /** The ordered index, with keys added since the last call merged in. */
  #sortedNodes(): Node[] {
    const added = this.#unsorted;
    if (added.length === 0) return this.#sorted;
    const order = sortedOrder(added.map((node) => node.key));
    const fresh: Node[] = new Array(order.length);
    for (let i = 0; i < order.length; i++) fresh[i] = added[order[i]];
    const old = this.#sorted;
    // A new array each time: iterators hold on to the one they were made with.
    const merged: Node[] = new Array(old.length + fresh.length);
    let i = 0;
    let j = 0;
    let k = 0;
    while (i < old.length && j < fresh.length) {
      merged[k++] = old[i].keyString < fresh[j].keyString ? old[i++] : fresh[j++];
    }
    while (i < old.length) merged[k++] = old[i++];
    while (j < fresh.length) merged[k++] = fresh[j++];
    this.#sorted = merged;
    this.#unsorted = [];
    return merged;
  }
}

class MemTableIterator implements InternalIterator {
  #nodes: Node[];
  #pos = -1;
  // An absolute position in the node's oldest-first version list;
  // internal-key order visits it from the end (newest) down to 0 (oldest).
  #index = 0;

  constructor(nodes: Node[]) {
    this.#nodes = nodes;
  }

  /** Index of the first node whose key is ≥ `keyString`. */
  #lowerBound(keyString: string): number {
    const nodes = this.#nodes;
    let lo = 0;
    let hi = nodes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (nodes[mid].keyString < keyString) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #atNewest(pos: number): void {
    this.#pos = pos;
    this.#index = pos >= 0 && pos < this.#nodes.length ? versionCount(this.#nodes[pos]) - 1 : 0;
  }

  valid(): boolean {
    return this.#pos >= 0 && this.#pos < this.#nodes.length;
  }
  seekToFirst(): void {
    this.#atNewest(0);
  }
  seekToLast(): void {
    this.#pos = this.#nodes.length - 1;
    this.#index = 0;
  }
  seek(key: Uint8Array): void {
    this.#atNewest(this.#lowerBound(bytesToKeyString(key)));
  }
  seekBefore(key: Uint8Array): void {
    this.#pos = this.#lowerBound(bytesToKeyString(key)) - 1;
    this.#index = 0;
  }
  next(): void {
    if (this.#index > 0) this.#index--;
    else this.#atNewest(this.#pos + 1);
  }
  prev(): void {
    const node = this.#nodes[this.#pos];
    if (this.#index + 1 < versionCount(node)) {
      this.#index++;
    } else {
      this.#pos--;
      this.#index = 0;
    }
  }
  key(): Uint8Array {
    return this.#nodes[this.#pos].key;
  }
  seq(): number {
    return versionAt(this.#nodes[this.#pos], this.#index).seq;
  }
  kind(): Kind {
    return versionAt(this.#nodes[this.#pos], this.#index).kind;
  }
  value(): Uint8Array {
    return versionAt(this.#nodes[this.#pos], this.#index).value;
  }
}
