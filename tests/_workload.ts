/**
 * A deterministic stream of write batches and its model, shared by the crash
 * tests and their child processes.
 *
 * Batch `b` is a pure function of `b`: a few puts (values name the batch), a
 * delete now and then, and `meta:last = b`. Batches are applied in order, so
 * the state after any crash must equal `modelAfter(p)` for the `p` that
 * `meta:last` reports: every batch up to `p`, nothing of any later one. That
 * one comparison checks atomicity (no part of batch p+1 is visible, nothing
 * of batch ≤ p is missing), deletes, newest-version-wins, and that nothing
 * appears from nowhere.
 *
 * @module
 */

import type { DB, OpenOptions } from "../mod.ts";
import { rng } from "./_model.ts";

/**
 * Options under which a flush or a compaction is running most of the time:
 * tiny memtables and a level 0 that compacts at two files.
 */
export const BUSY_COMPACTION_OPTIONS: OpenOptions = {
  memtableSize: 4 * 1024,
  compaction: { l0CompactionTrigger: 2, targetFileSize: 16 * 1024, levelBaseBytes: 48 * 1024 },
};

/** One operation of a batch. */
export type Op = { kind: "put"; key: string; value: string } | { kind: "delete"; key: string };

const KEY_SPACE = 1500;
const FILLER = "abcdefghijklmnopqrstuvwxyz0123456789".repeat(8);

function key(n: number): string {
  return `k:${String(n).padStart(5, "0")}`;
}

/** The operations of batch `b` (b ≥ 1). */
export function batchOps(b: number): Op[] {
  const random = rng(b * 7919);
  const ops: Op[] = [];
  const puts = 3 + Math.floor(random() * 6);
  for (let i = 0; i < puts; i++) {
    const len = Math.floor(random() * 100);
    ops.push({
      kind: "put",
      key: key(Math.floor(random() * KEY_SPACE)),
      value: `b${b}.${i}:${FILLER.slice(0, len)}`,
    });
  }
  if (random() < 0.3) ops.push({ kind: "delete", key: key(Math.floor(random() * KEY_SPACE)) });
  ops.push({ kind: "put", key: "meta:last", value: String(b) });
  return ops;
}

/** Writes batch `b` to `db` as one atomic batch. */
export function writeBatch(db: DB, b: number, sync: boolean): Promise<void> {
  const batch = db.batch();
  for (const op of batchOps(b)) {
    if (op.kind === "put") batch.put(op.key, op.value);
    else batch.delete(op.key);
  }
  return batch.write({ sync });
}

/** The state after batches 1..p. */
export function modelAfter(p: number): Map<string, string> {
  const m = new Map<string, string>();
  for (let b = 1; b <= p; b++) {
    for (const op of batchOps(b)) {
      if (op.kind === "put") m.set(op.key, op.value);
      else m.delete(op.key);
    }
  }
  return m;
}

const decoder = new TextDecoder();

/** The batch number `meta:last` reports (0 for an empty database). */
export async function lastBatch(db: DB): Promise<number> {
  const v = await db.get("meta:last");
  return v === undefined ? 0 : Number(decoder.decode(v));
}

/**
 * Checks that the database holds exactly `modelAfter(p)` where p is what
 * `meta:last` says, and returns p. Returns a description of the first
 * difference instead of throwing, so child processes can report it too.
 */
export async function checkPrefixState(
  db: DB,
): Promise<{ p: number; problem: string | undefined }> {
  const p = await lastBatch(db);
  if (!Number.isSafeInteger(p) || p < 0) return { p, problem: `meta:last is ${p}` };
  const model = modelAfter(p);
  const expected = [...model].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const actual = db.scan().toArray().map((e) => [decoder.decode(e.key), decoder.decode(e.value)]);
  const n = Math.max(expected.length, actual.length);
  for (let i = 0; i < n; i++) {
    const [ek, ev] = expected[i] ?? [];
    const [ak, av] = actual[i] ?? [];
    if (ek !== ak || ev !== av) {
      return {
        p,
        problem: `state after batch ${p} differs at entry ${i}: expected ${ek}=${
          ev?.slice(0, 24)
        }, got ${ak}=${av?.slice(0, 24)} (${actual.length} entries, model ${expected.length})`,
      };
    }
  }
  // Point reads go through a different path (bloom filters, level search).
  for (const [k, v] of expected) {
    const got = await db.get(k);
    if (got === undefined || decoder.decode(got) !== v) {
      return { p, problem: `get(${k}) returned ${got && decoder.decode(got).slice(0, 24)}` };
    }
  }
  for (let n = 0; n < KEY_SPACE; n++) {
    const k = key(n);
    if (!model.has(k) && (await db.get(k)) !== undefined) {
      return { p, problem: `get(${k}) found a value the model deleted or never wrote` };
    }
  }
  return { p, problem: undefined };
}
