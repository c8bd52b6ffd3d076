/**
 * Private helper of `cli.ts`: `strata bench`, workloads modelled on
 * LevelDB's db_bench, run against a database directory that bench owns.
 *
 * @module
 */

import * as nodeFs from "node:fs";
import { type DB, open } from "./mod.ts";
import { defaultFileSystem, joinPath } from "./lib/fs.ts";

/**
 * The workloads, in the order they run by default: the other fills first, so
 * that the database left at the end is the one fillrandom made, less what
 * deleterandom removed.
 */
export const WORKLOADS: readonly string[] = [
  "fillseq",
  "fillbatch",
  "fillsync",
  "fillrandom",
  "readrandom",
  "readseq",
  "readreverse",
  "seekrandom",
  "deleterandom",
];

/** The file that marks a directory as bench's own, which bench may empty. */
export const BENCH_MARKER = ".strata-bench";

/** Keys are 16 decimal digits, as in db_bench. */
export const KEY_SIZE = 16;
const BATCH_SIZE = 1000;

/** One workload's measurement. */
export interface BenchResult {
  /** Workload name. */
  name: string;
  /** Operations timed (entries read, for scans). */
  ops: number;
  /** Wall-clock seconds. */
  seconds: number;
  /** Microseconds per operation. */
  microsPerOp: number;
  /** Operations per second. */
  opsPerSec: number;
  /** Megabytes (10^6) of keys and values moved per second, where that means something. */
  mbPerSec?: number;
  /** Keys found, for random reads and seeks. */
  found?: number;
}

/** Options of {@linkcode runBench}. */
export interface BenchOptions {
  /** Entries per workload. */
  num: number;
  /** Bytes per value. */
  valueSize: number;
  /** Workload names to run, in order (each in {@linkcode WORKLOADS}). */
  workloads: string[];
  /**
   * The database directory. Each fill empties it (all but the
   * {@linkcode BENCH_MARKER} file) and opens a new database there; the last
   * database is left in it.
   */
  dir: string;
  /** Called with the workload name and its operation count; returns a progress callback. */
  progress: (name: string, total: number) => { update(done: number): void; finish(): void };
  /** Called as each workload finishes. */
  onResult: (r: BenchResult) => void | Promise<void>;
}

/**
 * A seeded random source (mulberry32): small, fast, and the same sequence
 * for the same seed, so every run sees the same keys. Returns numbers in
 * [0, 1), each an unsigned 32-bit integer divided by 2^32.
 *
 * @example
 * ```ts
 * import { rng } from "./_cli_bench.ts";
 * const random = rng(7);
 * console.log(random() === rng(7)()); // true
 * ```
 */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Runs the workloads. Fills start from an empty database, as in db_bench;
 * reads, seeks and deletes use the current one, first filling it (untimed)
 * when no fill ran before them.
 */
export async function runBench(o: BenchOptions): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const random = rng(301);
  const randomIndex = () => Math.floor(random() * o.num);
  // The engine copies keys and values on write, so one buffer of each serves
  // every operation and the loop measures the store, not the allocator.
  const keyBuf = new Uint8Array(KEY_SIZE);
  const key = (i: number): Uint8Array => {
    for (let p = KEY_SIZE - 1; p >= 0; p--) {
      keyBuf[p] = 48 + (i % 10);
      i = Math.floor(i / 10);
    }
    return keyBuf;
  };
  const pool = new Uint8Array(Math.max(1 << 20, o.valueSize * 2));
  for (let i = 0; i < pool.length; i++) pool[i] = 32 + Math.floor(random() * 95);
  const value = (i: number): Uint8Array => {
    const at = (i * 7919) % (pool.length - o.valueSize + 1);
    return pool.subarray(at, at + o.valueSize);
  };

  let db: DB | undefined;
  let filled = false;
  const fresh = async (): Promise<DB> => {
    await db?.close();
    db = undefined;
    emptyDir(o.dir);
    db = await open(o.dir);
    filled = false;
    return db;
  };
  const withData = async (): Promise<DB> => {
    if (db !== undefined && filled) return db;
    const d = db ?? await fresh();
    for (let i = 0; i < o.num; i++) await d.put(key(i), value(i));
    filled = true;
    return d;
  };

  const entryBytes = KEY_SIZE + o.valueSize;
  try {
    for (const name of o.workloads) {
      let ops = name === "fillsync" ? Math.max(1, Math.floor(o.num / 1000)) : o.num;
      const d = name.startsWith("fill") ? await fresh() : await withData();
      const bar = o.progress(name, ops);
      let found: number | undefined;
      let bytes = 0;
      const started = performance.now();
      switch (name) {
        case "fillseq":
        case "fillrandom":
        case "fillsync": {
          const options = { sync: name === "fillsync" };
          for (let i = 0; i < ops; i++) {
            const k = name === "fillseq" ? i : randomIndex();
            await d.put(key(k), value(i), options);
            if ((i & 1023) === 0) bar.update(i);
          }
          bytes = ops * entryBytes;
          filled = true;
          break;
        }
        case "fillbatch": {
          for (let i = 0; i < ops;) {
            const batch = d.batch();
            for (let j = 0; j < BATCH_SIZE && i < ops; j++, i++) batch.put(key(i), value(i));
            await batch.write();
            bar.update(i);
          }
          bytes = ops * entryBytes;
          filled = true;
          break;
        }
        case "readrandom": {
          found = 0;
          for (let i = 0; i < ops; i++) {
            const v = d.getSync(key(randomIndex()));
            if (v !== undefined) {
              found++;
              bytes += KEY_SIZE + v.length;
            }
            if ((i & 1023) === 0) bar.update(i);
          }
          break;
        }
        case "readseq":
        case "readreverse": {
          let n = 0;
          for (const e of d.scan({ reverse: name === "readreverse" })) {
            bytes += e.key.length + e.value.length;
            if ((++n & 1023) === 0) bar.update(n);
          }
          ops = n;
          break;
        }
        case "seekrandom": {
          found = 0;
          for (let i = 0; i < ops; i++) {
            const scan = d.scan({ start: key(randomIndex()), limit: 1 });
            if (scan.nextEntry() !== undefined) found++;
            scan.close();
            if ((i & 1023) === 0) bar.update(i);
          }
          break;
        }
        case "deleterandom": {
          for (let i = 0; i < ops; i++) {
            await d.delete(key(randomIndex()));
            if ((i & 1023) === 0) bar.update(i);
          }
          break;
        }
        default:
          throw new TypeError(`unknown workload ${name}`);
      }
      const seconds = (performance.now() - started) / 1000;
      bar.finish();
      const r: BenchResult = {
        name,
        ops,
        seconds,
        microsPerOp: ops === 0 ? 0 : (seconds * 1e6) / ops,
        opsPerSec: seconds === 0 ? 0 : ops / seconds,
      };
      if (bytes > 0 && seconds > 0) r.mbPerSec = bytes / 1e6 / seconds;
      if (found !== undefined) r.found = found;
      results.push(r);
      await o.onResult(r);
    }
  } finally {
    await db?.close();
  }
  return results;
}

/**
 * Removes everything in `dir` but the marker file, holding the database
 * lock meanwhile: a database that another handle has open is refused with a
 * LockError rather than deleted under it.
 */
function emptyDir(dir: string): void {
  nodeFs.mkdirSync(dir, { recursive: true });
  const lock = defaultFileSystem().lock(joinPath(dir, "LOCK"));
  try {
    for (const name of nodeFs.readdirSync(dir)) {
      if (name === BENCH_MARKER || name === "LOCK") continue;
      nodeFs.rmSync(joinPath(dir, name), { recursive: true, force: true });
    }
  } finally {
    lock.release();
  }
}

/** A result as a db_bench line: `fillseq      :       2.345 micros/op;   426439 ops/sec; …`. */
export function formatResult(r: BenchResult, num: number): string {
  let line = `${r.name.padEnd(12)} : ${r.microsPerOp.toFixed(3).padStart(11)} micros/op; ${
    Math.round(r.opsPerSec).toString().padStart(9)
  } ops/sec;`;
  if (r.mbPerSec !== undefined) line += ` ${r.mbPerSec.toFixed(1).padStart(7)} MB/s`;
  if (r.found !== undefined) line += ` (${r.found} of ${num} found)`;
  return line;
}
