/**
 * The memtable: the newest writes, in memory, sorted.
 *
 * Entries are not objects: a key or a version is a row of a few typed
 * arrays, and its bytes stay where they were written (the log arena, or
 * the arrays handed to {@linkcode MemTable.add}). An open-addressing hash
 * table over the keys' {@linkcode hash32} serves point lookups; a small
 * bloom filter in front of it answers most lookups of absent keys (the
 * common case: most reads are served by tables) from one word. Adding a
 * key touches only these two: it is sorted into the ordered index when an
 * iterator is next requested. An
 * iterator keeps the index it was made with; keys added later carry
 * sequence numbers above any read it serves. Each key chains its versions
 * from newest to oldest; a version that no reader can see any more is
 * replaced in place, so overwrites do not grow the table.
 *
 * Logged batches are indexed when the table is next read, not when they
 * are written: a table that is only written, then flushed from its log,
 * never indexes a key.
 *
 * @module
 */

import { hash32 } from "./coding.ts";
import { type Found, type InternalIterator, type Kind, KIND_PUT } from "./internal_key.ts";
import { endOfWordRun, firstAtLeast, wordOfRange } from "./key_fence.ts";
import { sortedOrder } from "./key_sort.ts";
import { type OpVisitor, visitBatch } from "./write_batch.ts";

// Bytes counted per entry beyond key and value, so the size limit tracks
// memory rather than payload alone.
const ENTRY_OVERHEAD = 48;
const NONE = -1;
const FIRST_CAPACITY = 256;

/** Options for a {@linkcode MemTable}. */
export interface MemTableOptions {
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

function grown<A extends Int32Array | Float64Array | Uint8Array>(array: A, length: number): A {
  const bigger = new (array.constructor as new (length: number) => A)(length);
  (bigger as Uint8Array).set(array as Uint8Array);
  return bigger;
}

/**
 * The rows of a memtable. Bytes live in `chunks`; a key or a version names
 * its chunk by number and its bytes by start and length.
 */
class Rows {
  chunks: Uint8Array[] = [];
  keys = 0;
  keyChunk = new Int32Array(FIRST_CAPACITY);
  keyStart = new Int32Array(FIRST_CAPACITY);
  keyLength = new Int32Array(FIRST_CAPACITY);
  keyHash = new Int32Array(FIRST_CAPACITY);
  // The key's newest version.
  keyNewest = new Int32Array(FIRST_CAPACITY);
  versions = 0;
  valueChunk = new Int32Array(FIRST_CAPACITY);
  valueStart = new Int32Array(FIRST_CAPACITY);
  valueLength = new Int32Array(FIRST_CAPACITY);
  seq = new Float64Array(FIRST_CAPACITY);
  kind = new Uint8Array(FIRST_CAPACITY);
  // The next older version of the same key, or NONE.
  older = new Int32Array(FIRST_CAPACITY);

  key(id: number): Uint8Array {
    const start = this.keyStart[id];
    return this.chunks[this.keyChunk[id]].subarray(start, start + this.keyLength[id]);
  }

  value(version: number): Uint8Array {
    const length = this.valueLength[version];
    if (length === 0) return EMPTY;
    const start = this.valueStart[version];
    return this.chunks[this.valueChunk[version]].subarray(start, start + length);
  }

  oldest(id: number): number {
    let v = this.keyNewest[id];
    while (this.older[v] !== NONE) v = this.older[v];
    return v;
  }

  // The version just newer than `version` of key `id`, or NONE.
  newer(id: number, version: number): number {
    for (let v = this.keyNewest[id]; v !== version; v = this.older[v]) {
      if (this.older[v] === version) return v;
    }
    return NONE;
  }

  /** The six bytes of key `id` after its first `p`, as {@linkcode wordOfRange} gives them. */
  word(id: number, p: number): number {
    const start = this.keyStart[id];
    return wordOfRange(this.chunks[this.keyChunk[id]], start, start + this.keyLength[id], p);
  }

  /** The number of leading bytes keys `a` and `b` share. */
  sharedPrefix(a: number, b: number): number {
    const aBytes = this.chunks[this.keyChunk[a]];
    const bBytes = this.chunks[this.keyChunk[b]];
    const aStart = this.keyStart[a];
    const bStart = this.keyStart[b];
    const n = Math.min(this.keyLength[a], this.keyLength[b]);
    let i = 0;
    while (i < n && aBytes[aStart + i] === bBytes[bStart + i]) i++;
    return i;
  }

  /** Negative, zero or positive as key `id` sorts before, with or after `key`. */
  compareKey(id: number, key: Uint8Array): number {
    const bytes = this.chunks[this.keyChunk[id]];
    const start = this.keyStart[id];
    const length = this.keyLength[id];
    const n = Math.min(length, key.length);
    for (let i = 0; i < n; i++) {
      const d = bytes[start + i] - key[i];
      if (d !== 0) return d;
    }
    return length - key.length;
  }

  newKey(): number {
    const id = this.keys++;
    if (id === this.keyChunk.length) {
      const n = 2 * id;
      this.keyChunk = grown(this.keyChunk, n);
      this.keyStart = grown(this.keyStart, n);
      this.keyLength = grown(this.keyLength, n);
      this.keyHash = grown(this.keyHash, n);
      this.keyNewest = grown(this.keyNewest, n);
    }
    return id;
  }

  newVersion(): number {
    const v = this.versions++;
    if (v === this.seq.length) {
      const n = 2 * v;
      this.valueChunk = grown(this.valueChunk, n);
      this.valueStart = grown(this.valueStart, n);
      this.valueLength = grown(this.valueLength, n);
      this.seq = grown(this.seq, n);
      this.kind = grown(this.kind, n);
      this.older = grown(this.older, n);
    }
    return v;
  }
}

/**
 * Key ids in byte order, each with its word: the six bytes after the
 * `prefixLength` bytes every key shares, so that a search compares numbers
 * in one array and reads key bytes only where words tie.
 */
interface SortedKeys {
  ids: Int32Array;
  words: Float64Array;
  prefixLength: number;
}

const NO_KEYS: SortedKeys = { ids: new Int32Array(0), words: new Float64Array(0), prefixLength: 0 };

// The three bits a key with this hash sets in its filter word, taken from
// the hash's top fifteen bits: the word's position takes the low bits, and
// a filter needs over 2^17 words (a memtable of over half a million keys)
// before the two overlap.
function filterMask(hash: number): number {
  return (1 << ((hash >>> 17) & 31)) | (1 << ((hash >>> 22) & 31)) | (1 << ((hash >>> 27) & 31));
}

/**
 * A sorted in-memory table of versioned entries.
 *
 * @example
 * ```ts
 * import { MemTable } from "./memtable.ts";
 * import { KIND_PUT } from "./internal_key.ts";
 * const mem = new MemTable();
 * mem.add(1, KIND_PUT, new Uint8Array([1]), new Uint8Array([42]), -1);
 * mem.get(new Uint8Array([1]), 1)?.value; // Uint8Array [42]
 * ```
 */
export class MemTable {
  #rows = new Rows();
  // Open addressing with linear probing. Slot i is the pair at 2i: a
  // key's hash, then its id + 1 (0 when the slot is empty), side by side so
  // that a probe touches one cache line and reads no key bytes until the
  // hashes match. At most half the slots are used.
  #slots = new Int32Array(4 * FIRST_CAPACITY);
  // A bloom filter of one word per key, three bits set in it, at a quarter
  // of a word per slot (16 to 32 bits per key): a lookup of an absent key,
  // the common case, reads one word of an array an eighth the size of the
  // slots, and about 0.5% of absent keys get past it.
  #filter = new Int32Array(FIRST_CAPACITY);
  // Key ids from #sortedCount on are not in #sorted yet.
  #sorted = NO_KEYS;
  #sortedCount = 0;
  #size = 0;
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
  }

  /** Approximate memory used, in bytes. */
  get approximateSize(): number {
    return this.#size + this.#pendingSize;
  }

  /** Number of versions held. */
  get entries(): number {
    this.index();
    return this.#rows.versions;
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
    return this.#rows.versions === 0 && this.#pendingStarts.length === 0;
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
    let chunk = 0;
    const insert: OpVisitor = (seq, kind, keyStart, keyEnd, valueStart, valueEnd) =>
      this.#insert(seq, kind, chunk, keyStart, keyEnd, chunk, valueStart, valueEnd, readerSeq);
    for (let i = 0; i < all.length; i++) {
      chunk = this.#chunkOf(all[i]);
      visitBatch(all[i], starts[i], ends[i], BATCH_PLACE, insert);
    }
  }

  // The number of the chunk `bytes`: the last one when it is the same array.
  #chunkOf(bytes: Uint8Array): number {
    const chunks = this.#rows.chunks;
    if (bytes !== chunks[chunks.length - 1]) chunks.push(bytes);
    return chunks.length - 1;
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
    const keyChunk = this.#chunkOf(key);
    const valueChunk = value.length === 0 ? keyChunk : this.#chunkOf(value);
    this.#insert(seq, kind, keyChunk, 0, key.length, valueChunk, 0, value.length, newestReaderSeq);
  }

  // Adds a version whose key and value are byte ranges of chunks.
  #insert(
    seq: number,
    kind: Kind,
    keyChunk: number,
    keyStart: number,
    keyEnd: number,
    valueChunk: number,
    valueStart: number,
    valueEnd: number,
    readerSeq: number,
  ): void {
    const rows = this.#rows;
    const valueLength = kind === KIND_PUT ? valueEnd - valueStart : 0;
    const hash = hash32(rows.chunks[keyChunk], keyStart, keyEnd) | 0;
    const found = this.#findKey(rows.chunks[keyChunk], keyStart, keyEnd, hash);
    let v: number;
    if (found >= 0) {
      const newest = rows.keyNewest[found];
      if (rows.seq[newest] > readerSeq) {
        this.#size += valueLength - rows.valueLength[newest];
        v = newest;
      } else {
        v = rows.newVersion();
        rows.older[v] = newest;
        rows.keyNewest[found] = v;
        this.#size += valueLength + ENTRY_OVERHEAD;
      }
    } else {
      const id = rows.newKey();
      rows.keyChunk[id] = keyChunk;
      rows.keyStart[id] = keyStart;
      rows.keyLength[id] = keyEnd - keyStart;
      rows.keyHash[id] = hash;
      v = rows.newVersion();
      rows.older[v] = NONE;
      rows.keyNewest[id] = v;
      this.#occupy(~found, id, hash);
      this.#size += (keyEnd - keyStart) * 2 + valueLength + ENTRY_OVERHEAD * 2;
    }
    rows.valueChunk[v] = valueChunk;
    rows.valueStart[v] = valueStart;
    rows.valueLength[v] = valueLength;
    rows.seq[v] = seq;
    rows.kind[v] = kind;
  }

  // The id of the key equal to bytes[start, end), or, when there is none,
  // the complement (~) of the empty slot where it would go.
  #findKey(bytes: Uint8Array, start: number, end: number, hash: number): number {
    const slots = this.#slots;
    const mask = (slots.length >> 1) - 1;
    const rows = this.#rows;
    const length = end - start;
    for (let slot = hash & mask;; slot = (slot + 1) & mask) {
      const entry = slots[2 * slot + 1];
      if (entry === 0) return ~slot;
      if (slots[2 * slot] !== hash) continue;
      const id = entry - 1;
      if (rows.keyLength[id] !== length) continue;
      const keyBytes = rows.chunks[rows.keyChunk[id]];
      const keyStart = rows.keyStart[id];
      let i = 0;
      while (i < length && keyBytes[keyStart + i] === bytes[start + i]) i++;
      if (i === length) return id;
    }
  }

  #occupy(slot: number, id: number, hash: number): void {
    this.#slots[2 * slot] = hash;
    this.#slots[2 * slot + 1] = id + 1;
    const filter = this.#filter;
    filter[(hash >>> 0) % filter.length] |= filterMask(hash);
    // At most half the slots in use: twice as many once past that.
    if (2 * this.#rows.keys > this.#slots.length >> 1) this.#rehash(this.#slots.length);
  }

  #rehash(count: number): void {
    const rows = this.#rows;
    const slots = new Int32Array(2 * count);
    const mask = count - 1;
    const filter = new Int32Array(count >> 2);
    for (let id = 0; id < rows.keys; id++) {
      const hash = rows.keyHash[id];
      let slot = hash & mask;
      while (slots[2 * slot + 1] !== 0) slot = (slot + 1) & mask;
      slots[2 * slot] = hash;
      slots[2 * slot + 1] = id + 1;
      filter[(hash >>> 0) % filter.length] |= filterMask(hash);
    }
    this.#slots = slots;
    this.#filter = filter;
  }

  /**
   * The newest version of `key` with a sequence number ≤ `readSeq`.
   * `hash` is the key's {@linkcode hash32}, when the caller has it.
   */
  get(key: Uint8Array, readSeq: number, hash: number = hash32(key)): Found | undefined {
    this.index();
    const filter = this.#filter;
    const mask = filterMask(hash);
    if ((filter[(hash >>> 0) % filter.length] & mask) !== mask) return undefined;
    const id = this.#findKey(key, 0, key.length, hash | 0);
    if (id < 0) return undefined;
    const rows = this.#rows;
    for (let v = rows.keyNewest[id]; v !== NONE; v = rows.older[v]) {
      if (rows.seq[v] <= readSeq) {
        return { seq: rows.seq[v], kind: rows.kind[v] as Kind, value: rows.value(v) };
      }
    }
    return undefined;
  }

  /** A cursor over every version present now, in internal-key order. */
  iterator(): InternalIterator {
    this.index();
    return new MemTableIterator(this.#rows, this.#sortedKeys());
  }

  /** The ordered index, with keys added since the last call merged in. */
  #sortedKeys(): SortedKeys {
    const rows = this.#rows;
    const first = this.#sortedCount;
    const old = this.#sorted;
    if (first === rows.keys) return old;
    const added: Uint8Array[] = [];
    for (let id = first; id < rows.keys; id++) added.push(rows.key(id));
    const order = sortedOrder(added);
    const oldIds = old.ids;
    let smallest = first + order[0];
    let largest = first + order[order.length - 1];
    if (oldIds.length > 0) {
      if (rows.compareKey(oldIds[0], added[order[0]]) < 0) smallest = oldIds[0];
      const oldLast = oldIds[oldIds.length - 1];
      if (rows.compareKey(oldLast, added[order[order.length - 1]]) > 0) largest = oldLast;
    }
    const p = rows.sharedPrefix(smallest, largest);
    let oldWords = old.words;
    if (p !== old.prefixLength) {
      oldWords = new Float64Array(oldIds.length);
      for (let i = 0; i < oldIds.length; i++) oldWords[i] = rows.word(oldIds[i], p);
    }
    // New arrays each time: iterators hold on to the ones they were made with.
    const n = oldIds.length + order.length;
    const ids = new Int32Array(n);
    const words = new Float64Array(n);
    let i = 0;
    let j = 0;
    let k = 0;
    let addedWord = rows.word(first + order[0], p);
    while (i < oldIds.length && j < order.length) {
      const oldWord = oldWords[i];
      // An added key is never equal to an older one.
      if (
        oldWord < addedWord ||
        (oldWord === addedWord && rows.compareKey(oldIds[i], added[order[j]]) < 0)
      ) {
        ids[k] = oldIds[i++];
        words[k++] = oldWord;
      } else {
        ids[k] = first + order[j++];
        words[k++] = addedWord;
        if (j < order.length) addedWord = rows.word(first + order[j], p);
      }
    }
    while (i < oldIds.length) {
      ids[k] = oldIds[i];
      words[k++] = oldWords[i++];
    }
    while (j < order.length) {
      const id = first + order[j++];
      ids[k] = id;
      words[k++] = rows.word(id, p);
    }
    this.#sorted = { ids, words, prefixLength: p };
    this.#sortedCount = rows.keys;
    return this.#sorted;
  }
}

class MemTableIterator implements InternalIterator {
  #rows: Rows;
  #ids: Int32Array;
  #sorted: SortedKeys;
  #pos = -1;
  #version = NONE;
  // The current key's bytes, made once per key visited.
  #key: Uint8Array | undefined;

  constructor(rows: Rows, sorted: SortedKeys) {
    this.#rows = rows;
    this.#ids = sorted.ids;
    this.#sorted = sorted;
  }

  /** Index of the first key that is ≥ `key`. */
  #lowerBound(key: Uint8Array): number {
    const ids = this.#ids;
    const n = ids.length;
    if (n === 0) return 0;
    const rows = this.#rows;
    // Every key starts with the same p bytes: a target that does not is
    // below or above all of them.
    const { words, prefixLength: p } = this.#sorted;
    const shared = rows.chunks[rows.keyChunk[ids[0]]];
    const sharedStart = rows.keyStart[ids[0]];
    const m = key.length < p ? key.length : p;
    for (let i = 0; i < m; i++) {
      const b = shared[sharedStart + i];
      if (key[i] !== b) return key[i] < b ? 0 : n;
    }
    if (key.length < p) return 0;
    const target = wordOfRange(key, 0, key.length, p);
    let lo = firstAtLeast(words, target);
    // Unequal words order keys where they differ; only keys whose word
    // equals the target's need their bytes compared.
    if (lo === n || words[lo] !== target) return lo;
    let hi = endOfWordRun(words, lo);
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (rows.compareKey(ids[mid], key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #at(pos: number, newest: boolean): void {
    this.#pos = pos;
    this.#key = undefined;
    if (pos < 0 || pos >= this.#ids.length) {
      this.#version = NONE;
      return;
    }
    const id = this.#ids[pos];
    this.#version = newest ? this.#rows.keyNewest[id] : this.#rows.oldest(id);
  }

  valid(): boolean {
    return this.#pos >= 0 && this.#pos < this.#ids.length;
  }
  seekToFirst(): void {
    this.#at(0, true);
  }
  seekToLast(): void {
    this.#at(this.#ids.length - 1, false);
  }
  seek(key: Uint8Array): void {
    this.#at(this.#lowerBound(key), true);
  }
  seekBefore(key: Uint8Array): void {
    this.#at(this.#lowerBound(key) - 1, false);
  }
  next(): void {
    const older = this.#rows.older[this.#version];
    if (older !== NONE) this.#version = older;
    else this.#at(this.#pos + 1, true);
  }
  prev(): void {
    const newer = this.#rows.newer(this.#ids[this.#pos], this.#version);
    if (newer !== NONE) this.#version = newer;
    else this.#at(this.#pos - 1, false);
  }
  key(): Uint8Array {
    return this.#key ??= this.#rows.key(this.#ids[this.#pos]);
  }
  seq(): number {
    return this.#rows.seq[this.#version];
  }
  kind(): Kind {
    return this.#rows.kind[this.#version] as Kind;
  }
  value(): Uint8Array {
    return this.#rows.value(this.#version);
  }
}
