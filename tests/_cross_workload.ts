/**
 * The database the cross-runtime tests write under one runtime and read
 * under the other, and a digest of what a reader sees.
 *
 * The workload leaves data in every place it can be: compacted levels, a
 * level-0 table, and the write-ahead log (close() syncs the log but does
 * not flush). Keys and values include bytes that are not UTF-8, empty
 * values, and a value of several blocks.
 *
 * @module
 */

import type { DB } from "../mod.ts";
import { hexOf as hex, rng } from "./_model.ts";

/** Options both writer and reader use: small memtables, so tables form quickly. */
export const CROSS_OPTIONS = { memtableSize: 16 * 1024, blockSize: 1024 } as const;

type Step =
  | { kind: "batch"; ops: { key: Uint8Array; value?: Uint8Array }[] }
  | { kind: "flush" }
  | { kind: "compact" };

const encoder = new TextEncoder();

function bytes(s: string): Uint8Array {
  return encoder.encode(s);
}

function steps(phase: "base" | "extend"): Step[] {
  const random = rng(phase === "base" ? 42 : 43);
  const out: Step[] = [];
  const key = (i: number): Uint8Array => {
    // Every 10th key carries bytes that are not valid UTF-8 (and a zero).
    if (i % 10 === 3) return Uint8Array.of(0xff, 0x00, i & 0xff, (i >> 8) & 0xff, 0xfe);
    return bytes(`user:${String(i).padStart(5, "0")}`);
  };
  const value = (i: number, round: number): Uint8Array => {
    if (i % 17 === 0) return new Uint8Array(0);
    if (i % 29 === 0) return Uint8Array.from({ length: 300 }, (_, j) => (i * 7 + j * 13) & 0xff);
    return bytes(`${phase}.${round}.${i}:${"v".repeat(Math.floor(random() * 80))}`);
  };
  const rounds = phase === "base" ? 4 : 1;
  for (let round = 0; round < rounds; round++) {
    for (let start = 0; start < 1200; start += 100) {
      const ops: { key: Uint8Array; value?: Uint8Array }[] = [];
      for (let i = start; i < start + 100; i++) {
        const r = random();
        if (round > 0 && r < 0.15) ops.push({ key: key(i) });
        else if (round === 0 || r < 0.5) ops.push({ key: key(i), value: value(i, round) });
      }
      out.push({ kind: "batch", ops });
    }
    if (phase === "base" && round === 1) out.push({ kind: "compact" });
    if (phase === "base" && round === 2) out.push({ kind: "flush" });
  }
  // One value spanning several blocks, and a last batch left in the log.
  out.push({
    kind: "batch",
    ops: [{
      key: bytes(`big:${phase}`),
      value: Uint8Array.from({ length: 70_000 }, (_, j) => j % 251),
    }],
  });
  out.push({
    kind: "batch",
    ops: [
      { key: bytes(`wal:${phase}:a`), value: bytes("only in the log") },
      { key: key(5) },
      { key: key(6), value: bytes(`wal:${phase}`) },
    ],
  });
  return out;
}

/** Applies the workload `phase` to `db`. */
export async function writeWorkload(db: DB, phase: "base" | "extend"): Promise<void> {
  for (const step of steps(phase)) {
    if (step.kind === "flush") await db.flush();
    else if (step.kind === "compact") await db.compact();
    else {
      const batch = db.batch();
      for (const op of step.ops) {
        if (op.value === undefined) batch.delete(op.key);
        else batch.put(op.key, op.value);
      }
      await batch.write();
    }
  }
}

/** The state after the given phases, keyed by hex key. */
export function model(phases: ("base" | "extend")[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const phase of phases) {
    for (const step of steps(phase)) {
      if (step.kind !== "batch") continue;
      for (const op of step.ops) {
        if (op.value === undefined) m.delete(hex(op.key));
        else m.set(hex(op.key), hex(op.value));
      }
    }
  }
  return m;
}

/** What a reader reports: a full scan, a reverse scan, a prefix scan and point reads. */
export interface Digest {
  entries: [string, string][];
  reverseKeys: string[];
  prefixCount: number;
  gets: [string, string | null][];
}

function unhex(s: string): Uint8Array {
  return Uint8Array.from(
    { length: s.length / 2 },
    (_, i) => parseInt(s.slice(i * 2, i * 2 + 2), 16),
  );
}

// The keys whose point reads the digest records: a sample of present and
// absent ones.
function probeKeys(m: Map<string, string>): string[] {
  const keys = [...m.keys()].filter((_, i) => i % 13 === 0);
  for (let i = 0; i < 1200; i += 41) keys.push(hex(bytes(`user:${String(i).padStart(5, "0")}`)));
  keys.push(hex(bytes("absent")), hex(bytes("wal:base:a")), hex(bytes("big:base")));
  return [...new Set(keys)].sort();
}

/** The digest a correct reader of the state `m` reports. */
export function expectedDigest(m: Map<string, string>): Digest {
  const entries = [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const prefix = hex(bytes("user:"));
  return {
    entries,
    reverseKeys: entries.map(([k]) => k).reverse(),
    prefixCount: entries.filter(([k]) => k.startsWith(prefix)).length,
    gets: probeKeys(m).map((k) => [k, m.get(k) ?? null]),
  };
}

/** The digest of what `db` holds; `m` chooses which keys to read. */
export async function readDigest(db: DB, m: Map<string, string>): Promise<Digest> {
  const entries: [string, string][] = [];
  for await (const e of db.scan()) entries.push([hex(e.key), hex(e.value)]);
  const gets: [string, string | null][] = [];
  for (const k of probeKeys(m)) {
    const v = await db.get(unhex(k));
    gets.push([k, v === undefined ? null : hex(v)]);
  }
  return {
    entries,
    reverseKeys: db.scan({ reverse: true }).toArray().map((e) => hex(e.key)),
    prefixCount: db.scan({ prefix: "user:" }).toArray().length,
    gets,
  };
}
