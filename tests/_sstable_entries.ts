// Entries of the internal-key space, for SSTable tests.

import assert from "node:assert/strict";
import type { RandomAccessFile } from "../lib/fs.ts";
import {
  type InternalIterator,
  type Kind,
  KIND_DELETE,
  KIND_PUT,
  MAX_SEQUENCE,
} from "../lib/internal_key.ts";
import { compare, rng } from "./_model.ts";

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

// Random entries in internal-key order: keys over a small alphabet (shared
// prefixes, 0x00 and 0xff bytes, an occasional empty key), one to six
// versions per key with unique sequence numbers, ~20% tombstones.
export function randomEntries(
  seed: number,
  keyCount: number,
  seqBase = 0,
  maxValue = 120,
): Entry[] {
  const r = rng(seed);
  const alphabet = [0x00, 0x01, 0x61, 0x62, 0x63, 0x64, 0xfe, 0xff];
  const seen = new Set<string>();
  const keys: Uint8Array[] = [];
  while (keys.length < keyCount) {
    const len = Math.floor(r() * 12);
    const key = Uint8Array.from({ length: len }, () => alphabet[Math.floor(r() * alphabet.length)]);
    const id = key.join(",");
    if (!seen.has(id)) {
      seen.add(id);
      keys.push(key);
    }
  }
  const versions = keys.map(() => 1 + Math.floor(r() * 6));
  const total = versions.reduce((a, b) => a + b, 0);
  const seqs = Array.from({ length: total }, (_, i) => seqBase + i + 1);
  for (let i = seqs.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [seqs[i], seqs[j]] = [seqs[j], seqs[i]];
  }
  const out: Entry[] = [];
  let next = 0;
  keys.forEach((key, k) => {
    for (let v = 0; v < versions[k]; v++) {
      const seq = seqs[next++];
      const kind: Kind = r() < 0.2 ? KIND_DELETE : KIND_PUT;
      const value = kind === KIND_DELETE
        ? new Uint8Array(0)
        : Uint8Array.from({ length: Math.floor(r() * maxValue) }, () => Math.floor(r() * 256));
      out.push({ key, seq, kind, value });
    }
  });
  return out.sort(compareEntries);
}
