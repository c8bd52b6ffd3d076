// Entries of the internal-key space, for SSTable tests.

import assert from "node:assert/strict";
import type { RandomAccessFile } from "../lib/fs.ts";
import { type InternalIterator, type Kind, MAX_SEQUENCE } from "../lib/internal_key.ts";
import { compare } from "./_model.ts";

export interface Entry {
  key: Uint8Array;
  seq: number;
  kind: Kind;
  value: Uint8Array;
}

const enc = new TextEncoder();
export const bytes = (s: string): Uint8Array => enc.encode(s);

/** Internal-key order: user key ascending, sequence number descending. */
export function compareEntries(a: Entry, b: Entry): number {
  return compare(a.key, b.key) || b.seq - a.seq;
}

/** A copy of the entry an iterator stands on. */
export function current(it: InternalIterator): Entry {
  return { key: it.key().slice(), seq: it.seq(), kind: it.kind(), value: it.value().slice() };
}

/** Index of the first entry at or after (key, seq) in internal-key order. */
export function lowerBound(entries: Entry[], key: Uint8Array, seq: number): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const e = entries[mid];
    if ((compare(e.key, key) || seq - e.seq) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Moves `it` at random (next or prev, a seek to a random entry's key after
 * stepping off either end or with probability `reseek`) for `steps` steps,
 * checking every position against `entries` (all of the iterator's entries,
 * in order).
 */
export function randomWalk(
  it: InternalIterator,
  entries: Entry[],
  r: () => number,
  options: { steps: number; reseek: number },
): void {
  let pos = -1;
  for (let step = 0; step < options.steps; step++) {
    if (pos < 0 || pos >= entries.length || r() < options.reseek) {
      const e = entries[Math.floor(r() * entries.length)];
      it.seek(e.key);
      pos = lowerBound(entries, e.key, MAX_SEQUENCE);
    }
    assert.deepEqual(current(it), entries[pos], `step ${step}`);
    if (r() < 0.5) {
      it.next();
      pos++;
    } else {
      it.prev();
      pos--;
    }
    if (pos < 0 || pos >= entries.length) assert.equal(it.valid(), false, `step ${step}`);
  }
}

/** Every entry, first to last. */
export function forward(it: InternalIterator): Entry[] {
  const out: Entry[] = [];
  for (it.seekToFirst(); it.valid(); it.next()) out.push(current(it));
  return out;
}

/** Every entry, last to first. */
export function backward(it: InternalIterator): Entry[] {
  const out: Entry[] = [];
  for (it.seekToLast(); it.valid(); it.prev()) out.push(current(it));
  return out;
}

/** Wraps a file so that tests can count the reads that reach it. */
export function countingFile(
  inner: RandomAccessFile,
): { file: RandomAccessFile; reads: () => number } {
  let reads = 0;
  const file: RandomAccessFile = {
    path: inner.path,
    size: inner.size,
    read(buf, position) {
      reads++;
      return inner.read(buf, position);
    },
    close: () => inner.close(),
  };
  return { file, reads: () => reads };
}
