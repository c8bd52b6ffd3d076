/**
 * The memtable: the newest writes, in memory, sorted.
 *
 * Keys are held as one-code-unit-per-byte strings, so that the engine's
 * native string hashing serves point lookups (a `Map`) and its native string
 * comparison orders the skip list that serves scans and flushes. Each key
 * keeps its versions in write order; a version that no reader can see any more
 * is replaced in place, so overwrites do not grow the table.
 *
 * @module
 */

import { bytesToKeyString, keyStringToBytes } from "./coding.ts";
import { type Found, type InternalIterator, type Kind, KIND_PUT } from "./internal_key.ts";

const MAX_HEIGHT = 12;
// Bytes counted per entry beyond key and value, so the size limit tracks
// memory rather than payload alone.
const ENTRY_OVERHEAD = 48;

/** One version of a key. */
interface Version {
  seq: number;
  kind: Kind;
  value: Uint8Array;
}

class Node {
  readonly keyString: string;
  readonly key: Uint8Array;
  /** Oldest first: appends never move a version an iterator stands on. */
  readonly versions: Version[];
  readonly next: (Node | null)[];
  prev: Node | null = null;
  constructor(keyString: string, key: Uint8Array, height: number) {
    this.keyString = keyString;
    this.key = key;
    this.versions = [];
    this.next = new Array(height).fill(null);
  }
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
 * mem.get("\x01", 1)?.value; // Uint8Array [42]
 * ```
 */
export class MemTable {
  #map = new Map<string, Node>();
  #head = new Node("", new Uint8Array(0), MAX_HEIGHT);
  #tail: Node | null = null;
  #height = 1;
  #size = 0;
  #entries = 0;
  #random = 0x9e3779b9;
  /** The sequence number of the newest entry, or -1. */
  maxSeq = -1;
  /** The sequence number of the oldest entry, or -1. */
  minSeq = -1;

  /** Approximate memory used, in bytes. */
  get approximateSize(): number {
    return this.#size;
  }

  /** Number of versions held. */
  get entries(): number {
    return this.#entries;
  }

  /** Number of distinct keys held. */
  get keys(): number {
    return this.#map.size;
  }

  /**
   * Adds a version. `seq` must exceed every sequence number added before.
   * The key's previous newest version is replaced when no reader can see it:
   * `newestReaderSeq` is the newest sequence number a live snapshot or
   * iterator reads at (-1 when there is none).
   */
  add(
    seq: number,
    kind: Kind,
    key: Uint8Array,
    value: Uint8Array,
    newestReaderSeq: number,
    keyString: string = bytesToKeyString(key),
  ): void {
    if (this.minSeq < 0) this.minSeq = seq;
    this.maxSeq = seq;
    const node = this.#map.get(keyString);
    if (node !== undefined) {
      const versions = node.versions;
      const newest = versions[versions.length - 1];
      if (newest.seq > newestReaderSeq) {
        this.#size += value.length - newest.value.length;
        versions[versions.length - 1] = { seq, kind, value };
      } else {
        versions.push({ seq, kind, value });
        this.#size += value.length + ENTRY_OVERHEAD;
        this.#entries++;
      }
      return;
    }
    const inserted = this.#insert(keyString, key.length === 0 ? key : key.slice());
    inserted.versions.push({ seq, kind, value });
    this.#map.set(keyString, inserted);
    this.#size += key.length * 2 + value.length + ENTRY_OVERHEAD * 2;
    this.#entries++;
  }

  /** The newest version of the key with a sequence number ≤ `readSeq`. */
  get(keyString: string, readSeq: number): Found | undefined {
    const node = this.#map.get(keyString);
    if (node === undefined) return undefined;
    const versions = node.versions;
    for (let i = versions.length - 1; i >= 0; i--) {
      const v = versions[i];
      if (v.seq <= readSeq) return v;
    }
    return undefined;
  }

  /** A cursor over every version in internal-key order. */
  iterator(): InternalIterator {
    return new MemTableIterator(this.#head, () => this.#tail, (k) => this.#findLess(k));
  }

  #randomHeight(): number {
    let h = 1;
    // xorshift: cheap and deterministic; branching factor 4.
    let x = this.#random;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#random = x >>> 0;
    while (h < MAX_HEIGHT && (x & 3) === 0) {
      h++;
      x >>>= 2;
    }
    return h;
  }

  #insert(keyString: string, key: Uint8Array): Node {
    const update: Node[] = new Array(MAX_HEIGHT);
    let x = this.#head;
    for (let level = this.#height - 1; level >= 0; level--) {
      let next = x.next[level];
      while (next !== null && next.keyString < keyString) {
        x = next;
        next = x.next[level];
      }
      update[level] = x;
    }
    const height = this.#randomHeight();
    if (height > this.#height) {
      for (let level = this.#height; level < height; level++) update[level] = this.#head;
      this.#height = height;
    }
    const node = new Node(keyString, key, height);
    for (let level = 0; level < height; level++) {
      node.next[level] = update[level].next[level];
      update[level].next[level] = node;
    }
    node.prev = update[0] === this.#head ? null : update[0];
    const after = node.next[0];
    if (after !== null) after.prev = node;
    else this.#tail = node;
    return node;
  }

  /** The last node whose key is < `keyString` (null when none). */
  #findLess(keyString: string): Node | null {
    let x = this.#head;
    for (let level = this.#height - 1; level >= 0; level--) {
      let next = x.next[level];
      while (next !== null && next.keyString < keyString) {
        x = next;
        next = x.next[level];
      }
    }
    return x === this.#head ? null : x;
  }
}

class MemTableIterator implements InternalIterator {
  #head: Node;
  #tail: () => Node | null;
  #findLess: (keyString: string) => Node | null;
  #node: Node | null = null;
  #index = 0;

  constructor(head: Node, tail: () => Node | null, findLess: (k: string) => Node | null) {
    this.#head = head;
    this.#tail = tail;
    this.#findLess = findLess;
  }

  valid(): boolean {
    return this.#node !== null;
  }
  // #index is an absolute position in the node's oldest-first version list;
  // internal-key order visits it from the end (newest) down to 0 (oldest).
  #atNewest(node: Node | null): void {
    this.#node = node;
    this.#index = node === null ? 0 : node.versions.length - 1;
  }
  seekToFirst(): void {
    this.#atNewest(this.#head.next[0]);
  }
  seekToLast(): void {
    this.#node = this.#tail();
    this.#index = 0;
  }
  seek(key: Uint8Array): void {
    const less = this.#findLess(bytesToKeyString(key));
    this.#atNewest(less === null ? this.#head.next[0] : less.next[0]);
  }
  seekBefore(key: Uint8Array): void {
    this.#node = this.#findLess(bytesToKeyString(key));
    this.#index = 0;
  }
  next(): void {
    if (this.#index > 0) this.#index--;
    else this.#atNewest(this.#node!.next[0]);
  }
  prev(): void {
    const node = this.#node!;
    if (this.#index + 1 < node.versions.length) {
      this.#index++;
    } else {
      this.#node = node.prev;
      this.#index = 0;
    }
  }
  key(): Uint8Array {
    return this.#node!.key;
  }
  seq(): number {
    return this.#node!.versions[this.#index].seq;
  }
  kind(): Kind {
    return this.#node!.versions[this.#index].kind;
  }
  value(): Uint8Array {
    return this.#node!.versions[this.#index].value;
  }
}

/** Decodes a key string back into bytes (for callers holding only the string). */
export const keyBytes: (s: string) => Uint8Array = keyStringToBytes;

/** True when a version is a value rather than a tombstone. */
export function isPut(found: Found): boolean {
  return found.kind === KIND_PUT;
}
