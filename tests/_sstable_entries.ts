// Entries of the internal-key space, for SSTable tests.

import type { Kind } from "../lib/internal_key.ts";
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
