/**
 * Internal keys: a user key with the sequence number and kind of one write.
 * Order: user key ascending (bytewise), then sequence number descending, so
 * that the newest version of a key comes first.
 *
 * @module
 */

import { compareBytes } from "./coding.ts";

/** The kind of a tombstone (a delete). */
export const KIND_DELETE = 0 as const;
/** The kind of a value (a put). */
export const KIND_PUT = 1 as const;
/** The kind of an entry: {@linkcode KIND_DELETE} or {@linkcode KIND_PUT}. */
export type Kind = typeof KIND_DELETE | typeof KIND_PUT;

/** The largest sequence number (2^53 - 1): reads at it see everything. */
export const MAX_SEQUENCE: number = Number.MAX_SAFE_INTEGER;

/** Compares (key, seq) pairs in internal-key order. */
export function compareInternal(
  aKey: Uint8Array,
  aSeq: number,
  bKey: Uint8Array,
  bSeq: number,
): number {
  const c = compareBytes(aKey, bKey);
  return c !== 0 ? c : bSeq - aSeq;
}

/**
 * A cursor over every version of every key of one sorted source (a memtable,
 * a table, a level), in internal-key order. The views returned by `key()`
 * and `value()` stay valid only until the cursor moves.
 */
export interface InternalIterator {
  /** True when the cursor is on an entry. */
  valid(): boolean;
  /** Moves to the first entry. */
  seekToFirst(): void;
  /** Moves to the last entry. */
  seekToLast(): void;
  /** Moves to the first entry whose user key is ≥ `key` (its newest version). */
  seek(key: Uint8Array): void;
  /** Moves to the last entry whose user key is < `key` (its oldest version). */
  seekBefore(key: Uint8Array): void;
  /** Moves to the next entry; invalid past the end. */
  next(): void;
  /** Moves to the previous entry; invalid before the start. */
  prev(): void;
  /** The user key of the current entry. */
  key(): Uint8Array;
  /** The sequence number of the current entry. */
  seq(): number;
  /** The kind of the current entry. */
  kind(): Kind;
  /** The value of the current entry (empty for a tombstone). */
  value(): Uint8Array;
}

/** The newest version of a key found by a point lookup. */
export interface Found {
  /** {@linkcode KIND_PUT} or {@linkcode KIND_DELETE}. */
  kind: Kind;
  /** The sequence number of that version. */
  seq: number;
  /** The value (empty for a tombstone). */
  value: Uint8Array;
}
