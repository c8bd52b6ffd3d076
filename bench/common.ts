/**
 * Shared pieces of the comparison benchmark: the engine adapter contract, deterministic key and
 * value generation, and small filesystem / process helpers.
 *
 * @module
 */

import { rng } from "../_cli_bench.ts";

/** Key length in bytes, as in db_bench. */
export const KEY_SIZE = 16;
/** Value length in bytes, as in db_bench. */
export const VALUE_SIZE = 100;

/**
 * Result of a call that may or may not be asynchronous. Adapters return plain values from
 * synchronous engines so the harness can skip an `await` (a microtask per op would otherwise
 * dominate sub-microsecond operations).
 */
export type MaybePromise<T> = T | Promise<T>;

/** Settings shared by all engines; each adapter maps them onto its own knobs. */
export interface EngineOptions {
  /** Write-buffer / memtable size in bytes. */
  memtableSize: number;
  /** Block / page cache size in bytes. */
  cacheSize: number;
  /** Use asynchronous point reads and iteration even where a synchronous API exists. */
  asyncReads: boolean;
  /**
   * The database will only see durable (synced) writes; engines whose durability is a
   * per-connection setting (SQLite) configure it at open.
   */
  durable: boolean;
}

/** One open database, as seen by the workloads. */
export interface EngineDb {
  /** Non-durable write. */
  put(key: Uint8Array, value: Uint8Array): MaybePromise<void>;
  /** Write that is durable once the returned promise resolves. */
  putDurable(key: Uint8Array, value: Uint8Array): MaybePromise<void>;
  /** Point read. */
  get(key: Uint8Array): MaybePromise<Uint8Array | undefined>;
  /** Non-durable delete. */
  delete(key: Uint8Array): MaybePromise<void>;
  /** Atomic write of all pairs (non-durable). */
  writeBatch(keys: Uint8Array[], values: Uint8Array[]): MaybePromise<void>;
  /** Positions at the first key >= `key` and reads up to `count` entries; returns how many. */
  seek(key: Uint8Array, count: number): MaybePromise<number>;
  /**
   * Reads up to `max` entries in key order (or reverse), stopping early once
   * `performance.now()` passes `deadline`; returns how many were read.
   */
  scan(reverse: boolean, max: number, deadline: number): MaybePromise<number>;
  /** Closes the database; pending buffered data need not be flushed. */
  close(): MaybePromise<void>;
  /** Engine-specific statistics worth keeping in the JSON output, if any. */
  stats?(): unknown;
}

/** Describes one engine and how to open it. */
export interface EngineFactory {
  /** Short identifier used on the command line. */
  readonly name: string;
  /** Human-readable settings used, for the report. */
  settings(options: EngineOptions): string;
  /** Caveats the reader of the results should know. */
  notes(options: EngineOptions): string[];
  /** Opens (creating) a database inside the empty directory `dir`. */
  open(dir: string, options: EngineOptions): Promise<EngineDb>;
}

/**
 * A seeded PRNG (the CLI benchmark's mulberry32). Statistical quality is more than enough for
 * picking keys, and determinism makes runs comparable across engines and machines.
 */
export class Rng {
  #next: () => number;

  /** Creates a generator from a 32-bit seed. */
  constructor(seed: number) {
    this.#next = rng(seed);
  }

  /** Next uniformly distributed unsigned 32-bit integer. */
  nextU32(): number {
    return this.#next() * 4294967296;
  }

  /** Uniform integer in [0, n), n <= 2^32. */
  below(n: number): number {
    return Math.floor(this.#next() * n);
  }
}

// Keys are carved from shared slabs. On Deno a new 16-byte Uint8Array (an ArrayBuffer of its
// own) costs about 0.4 µs, more than some of the operations measured; a view into a slab costs a
// tenth of that. A slab is never written again once a key of it is handed out, so every key stays
// a stable array that an engine may keep (e.g. in a memtable).
const KEY_SLAB_SIZE = 64 * 1024;
let keySlab = new Uint8Array(0);
let keySlabPos = 0;

function freshKey(): Uint8Array {
  if (keySlabPos + KEY_SIZE > keySlab.length) {
    keySlab = new Uint8Array(KEY_SLAB_SIZE);
    keySlabPos = 0;
  }
  const key = keySlab.subarray(keySlabPos, keySlabPos + KEY_SIZE);
  keySlabPos += KEY_SIZE;
  return key;
}

// Writes `i` (a non-negative integer) as zero-padded decimal into key[0, end).
function writeDigits(key: Uint8Array, end: number, i: number): void {
  let p = end - 1;
  for (let n = i; n > 0 && p >= 0; p--) {
    const q = Math.floor(n / 10);
    key[p] = 48 + (n - q * 10);
    n = q;
  }
  for (; p >= 0; p--) key[p] = 48;
}

/**
 * Key for index `i`: zero-padded decimal, 16 bytes. A fresh array each call (a view of its own
 * into a slab) because an engine may keep a reference to the key it was given.
 */
export function makeKey(i: number): Uint8Array {
  const key = freshKey();
  writeDigits(key, KEY_SIZE, i);
  return key;
}

/**
 * A 16-byte key that is never written: 15 digits of `i` followed by '.'. Since '.' sorts before
 * '0', it falls just before key `10 * i`, i.e. inside the populated key range, so an engine cannot
 * reject it by a min/max key check alone (db_bench appends '.' for the same reason).
 */
export function makeMissingKey(i: number): Uint8Array {
  const key = freshKey();
  key[KEY_SIZE - 1] = 46;
  writeDigits(key, KEY_SIZE - 1, i);
  return key;
}

/**
 * Serves 100-byte values cut from a 1 MiB pool of seeded random bytes, as db_bench's
 * RandomGenerator does. The bytes are incompressible, so engines that compress (LevelDB's Snappy)
 * gain nothing in space and pay little in time.
 */
export class ValueSource {
  #pool: Uint8Array;
  #pos = 0;

  /** Creates the pool from `seed`. */
  constructor(seed: number) {
    const rng = new Rng(seed);
    this.#pool = new Uint8Array(1 << 20);
    const words = new Uint32Array(this.#pool.buffer);
    for (let i = 0; i < words.length; i++) words[i] = rng.nextU32();
  }

  /**
   * Next value. A view into the immutable pool: engines must not mutate their inputs, and sharing
   * avoids measuring a 100-byte copy per op.
   */
  next(): Uint8Array {
    if (this.#pos + VALUE_SIZE > this.#pool.length) this.#pos = 0;
    const v = this.#pool.subarray(this.#pos, this.#pos + VALUE_SIZE);
    this.#pos += VALUE_SIZE;
    return v;
  }
}

/** A seeded random permutation of [0, n) (Fisher–Yates). */
export function permutation(n: number, seed: number): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  const rng = new Rng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}

/** Total size in bytes of all regular files below `dir` (apparent size, not blocks). */
export async function dirSize(dir: string): Promise<number> {
  let total = 0;
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) total += await dirSize(path);
    else if (entry.isFile) {
      try {
        total += (await Deno.stat(path)).size;
      } catch {
        // Engines delete obsolete files concurrently (compaction); a vanished file has no size.
      }
    }
  }
  return total;
}

/**
 * Peak resident set size of this process in bytes, from the kernel's high-water mark (exact, unlike
 * sampling); undefined where /proc is unavailable.
 */
export function peakRss(): number | undefined {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Current resident set size in bytes. */
export function currentRss(): number {
  return Deno.memoryUsage().rss;
}
