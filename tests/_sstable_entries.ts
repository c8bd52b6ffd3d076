// Entries of the internal-key space, for SSTable tests.

import type { RandomAccessFile } from "../lib/fs.ts";
import type { InternalIterator, Kind } from "../lib/internal_key.ts";
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
