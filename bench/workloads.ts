/**
 * The db_bench-style workloads and the per-engine driver that runs them in order.
 *
 * @module
 */

import {
  currentRss,
  dirSize,
  type EngineDb,
  type EngineFactory,
  type EngineOptions,
  KEY_SIZE,
  makeKey,
  makeMissingKey,
  type MaybePromise,
  peakRss,
  permutation,
  Rng,
  VALUE_SIZE,
  ValueSource,
} from "./common.ts";

// The workloads that share one database, filled in random order by the first.
const RANDOM_PHASE = [
  "fillrandom",
  "overwrite",
  "readrandom",
  "readmissing",
  "readseq",
  "readreverse",
  "seekrandom",
  "deleterandom",
] as const;

/** Every workload, in the order they run (the order decides which db each one sees). */
export const WORKLOADS = [
  "fillseq",
  "fillbatch",
  ...RANDOM_PHASE,
  "fillsync",
  "syncconcurrent",
] as const;

/** Name of a workload. */
export type WorkloadName = typeof WORKLOADS[number];

/** What one workload's rate counts. */
export type Unit = "ops" | "entries" | "seeks";

/** Outcome of one workload on one engine. */
export interface WorkloadResult {
  /** Operations (or entries / seeks, see `unit`) completed in the timed section. */
  ops: number;
  /** Operations the workload asked for. */
  target: number;
  /** Wall time of the timed section. */
  seconds: number;
  /** `ops / seconds`. */
  opsPerSec: number;
  /** Microseconds per op (`1e6 / opsPerSec`). */
  usPerOp: number;
  /** What `ops` counts. */
  unit: Unit;
  /** Whether the time cap stopped the workload before `target`. */
  capped: boolean;
  /** Anything unexpected (e.g. reads that did not find their key). */
  detail?: string;
  /** Resident set size right after the workload. */
  rssAfter: number;
  /** Set when the workload threw; the other fields are then zero. */
  error?: string;
}

/** On-disk footprint after the random fill. */
export interface SpaceResult {
  /** Bytes of all files in the database directory. */
  diskBytes: number;
  /** Distinct keys × (16 + 100). */
  rawBytes: number;
  /** `diskBytes / rawBytes`. */
  amplification: number;
  /** How the db was filled ("fillrandom", or a batched load when fillrandom was not run). */
  filledBy: string;
}

/** Everything one engine's run produced. */
export interface EngineResult {
  /** Engine name. */
  engine: string;
  /** Settings used, human-readable. */
  settings: string;
  /** Caveats for readers. */
  notes: string[];
  /** Results by workload name. */
  workloads: Partial<Record<WorkloadName, WorkloadResult>>;
  /** Footprint after the random fill, when that phase ran. */
  space?: SpaceResult;
  /** Peak RSS of the engine's process (kernel high-water mark, else sampled maximum). */
  peakRssBytes: number;
  /** RSS before the first database was opened (runtime + harness + engine module). */
  baseRssBytes: number;
  /** Engine-reported statistics after the random-fill phase, when it offers any. */
  stats?: unknown;
  /** Fatal error that stopped the whole engine run. */
  error?: string;
}

/** Workload parameters that are the same for every engine of a run. */
export interface WorkloadSettings {
  /** Time cap for the fsync-bound workloads in seconds. */
  syncCapSeconds: number;
  /** Ops of fillsync. */
  syncOps: number;
  /** Total ops of syncconcurrent. */
  concurrentOps: number;
  /** Writers in syncconcurrent. */
  concurrency: number;
  /** Entries per batch in fillbatch. */
  batchSize: number;
  /** Entries read after each seek, including the one sought. */
  seekEntries: number;
  /** Base seed; each workload derives its own so subsets replay the same keys. */
  seed: number;
}

/** Parameters of one engine's run. */
export interface DriverConfig extends WorkloadSettings {
  /** Keys in the database / ops per workload. */
  n: number;
  /** Workloads to time. */
  workloads: WorkloadName[];
  /** Time cap per workload in seconds. */
  capSeconds: number;
  /** Engine settings. */
  engineOptions: EngineOptions;
  /** Scratch directory owned by this run. */
  dir: string;
  /** Progress sink. */
  log: (line: string) => void;
}

interface Timed {
  ops: number;
  seconds: number;
  capped: boolean;
}

/**
 * Runs `body(0..total-1)` sequentially, awaiting only real promises, until done or the cap.
 * `checkMask` trades cap precision for clock reads (checked when `(i & checkMask) === checkMask`).
 */
async function timedLoop(
  total: number,
  capSeconds: number,
  checkMask: number,
  body: (i: number) => MaybePromise<unknown>,
): Promise<Timed> {
  const start = performance.now();
  const deadline = start + capSeconds * 1000;
  let i = 0;
  let capped = false;
  while (i < total) {
    const r = body(i);
    if (r instanceof Promise) await r;
    i++;
    if ((i & checkMask) === 0 && i < total && performance.now() > deadline) {
      capped = true;
      break;
    }
  }
  return { ops: i, seconds: (performance.now() - start) / 1000, capped };
}

function result(t: Timed, target: number, unit: Unit, detail?: string): WorkloadResult {
  const opsPerSec = t.seconds > 0 ? t.ops / t.seconds : 0;
  return {
    ops: t.ops,
    target,
    seconds: t.seconds,
    opsPerSec,
    usPerOp: opsPerSec > 0 ? 1e6 / opsPerSec : 0,
    unit,
    capped: t.capped,
    ...(detail ? { detail } : {}),
    rssAfter: currentRss(),
  };
}

function workloadSeed(base: number, name: WorkloadName): number {
  return (base * 1000003 + WORKLOADS.indexOf(name) * 7919) >>> 0;
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Runs the selected workloads on one engine, in db_bench order, each on the db it expects. */
export async function runEngine(engine: EngineFactory, cfg: DriverConfig): Promise<EngineResult> {
  const { n, engineOptions } = cfg;
  const selected = new Set<WorkloadName>(cfg.workloads);
  const values = new ValueSource(cfg.seed);
  let maxRss = currentRss();
  const out: EngineResult = {
    engine: engine.name,
    settings: engine.settings(engineOptions),
    notes: engine.notes(engineOptions),
    workloads: {},
    peakRssBytes: 0,
    baseRssBytes: maxRss,
  };
  let dbCount = 0;

  const record = (name: WorkloadName, r: WorkloadResult) => {
    out.workloads[name] = r;
    maxRss = Math.max(maxRss, r.rssAfter);
    const cap = r.capped ? ` (capped after ${r.ops}/${r.target})` : "";
    cfg.log(
      `  ${name.padEnd(15)} ${Math.round(r.opsPerSec).toLocaleString("en-US").padStart(11)} ` +
        `${r.unit}/s ${r.usPerOp.toFixed(2).padStart(9)} µs/op${cap}${
          r.detail ? ` [${r.detail}]` : ""
        }`,
    );
  };

  // Runs one timed workload; an exception is recorded rather than aborting the engine's run.
  const attempt = async (name: WorkloadName, fn: () => Promise<WorkloadResult>) => {
    if (!selected.has(name)) return;
    try {
      record(name, await fn());
    } catch (e) {
      cfg.log(`  ${name.padEnd(15)} FAILED: ${errorText(e)}`);
      out.workloads[name] = {
        ops: 0,
        target: 0,
        seconds: 0,
        opsPerSec: 0,
        usPerOp: 0,
        unit: "ops",
        capped: false,
        rssAfter: currentRss(),
        error: errorText(e),
      };
    }
  };

  // Each phase gets a fresh database in its own directory, removed afterwards.
  const withDb = async (durable: boolean, fn: (db: EngineDb, dir: string) => Promise<void>) => {
    const dir = `${cfg.dir}/db${dbCount++}`;
    await Deno.mkdir(dir, { recursive: true });
    try {
      const db = await engine.open(dir, { ...engineOptions, durable });
      try {
        await fn(db, dir);
      } finally {
        await db.close();
        maxRss = Math.max(maxRss, currentRss());
      }
    } catch (e) {
      // A failure outside a timed workload (open, load, close) loses this phase only.
      cfg.log(`  phase FAILED: ${errorText(e)}`);
      out.error = [out.error, errorText(e)].filter(Boolean).join("; ");
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  };

  const cap = cfg.capSeconds;
  const syncCap = Math.min(cfg.capSeconds, cfg.syncCapSeconds);

  if (selected.has("fillseq")) {
    await withDb(false, async (db) => {
      await attempt("fillseq", async () => {
        const t = await timedLoop(n, cap, 15, (i) => db.put(makeKey(i), values.next()));
        return result(t, n, "ops");
      });
    });
  }

  if (selected.has("fillbatch")) {
    await withDb(false, async (db) => {
      await attempt("fillbatch", async () => {
        const batches = Math.ceil(n / cfg.batchSize);
        let entries = 0;
        const t = await timedLoop(batches, cap, 0, (b) => {
          const first = b * cfg.batchSize;
          const last = Math.min(n, first + cfg.batchSize);
          const keys: Uint8Array[] = [];
          const vals: Uint8Array[] = [];
          for (let i = first; i < last; i++) {
            keys.push(makeKey(i));
            vals.push(values.next());
          }
          entries += last - first;
          return db.writeBatch(keys, vals);
        });
        return result({ ...t, ops: entries }, n, "entries");
      });
    });
  }

  if (RANDOM_PHASE.some((w) => selected.has(w))) {
    await withDb(false, async (db, dir) => {
      const perm = permutation(n, workloadSeed(cfg.seed, "fillrandom"));
      let loaded = 0;
      await attempt("fillrandom", async () => {
        const t = await timedLoop(n, cap, 15, (i) => db.put(makeKey(perm[i]), values.next()));
        loaded = t.ops;
        return result(t, n, "ops");
      });
      // Reads must see all N keys whatever the fill managed in its time cap, so the rest is loaded
      // untimed; batches keep that quick for slow engines.
      const filledBy = loaded === n
        ? "fillrandom"
        : loaded > 0
        ? `fillrandom (${loaded} timed) + batched load`
        : "batched load (random order)";
      if (loaded < n) {
        cfg.log(`  (loading ${n - loaded} remaining keys untimed)`);
        for (let first = loaded; first < n; first += cfg.batchSize) {
          const keys: Uint8Array[] = [];
          const vals: Uint8Array[] = [];
          for (let i = first; i < Math.min(n, first + cfg.batchSize); i++) {
            keys.push(makeKey(perm[i]));
            vals.push(values.next());
          }
          await db.writeBatch(keys, vals);
        }
      }
      const diskBytes = await dirSize(dir);
      const rawBytes = n * (KEY_SIZE + VALUE_SIZE);
      out.space = { diskBytes, rawBytes, amplification: diskBytes / rawBytes, filledBy };
      cfg.log(
        `  space after fill: ${(diskBytes / 1048576).toFixed(1)} MiB on disk, ` +
          `${(rawBytes / 1048576).toFixed(1)} MiB raw (${out.space.amplification.toFixed(2)}x)`,
      );

      await attempt("overwrite", async () => {
        const rng = new Rng(workloadSeed(cfg.seed, "overwrite"));
        const t = await timedLoop(n, cap, 15, () => db.put(makeKey(rng.below(n)), values.next()));
        return result(t, n, "ops");
      });

      await attempt("readrandom", async () => {
        const rng = new Rng(workloadSeed(cfg.seed, "readrandom"));
        let found = 0;
        let wrongSize = 0;
        const check = (v: Uint8Array | undefined) => {
          if (v !== undefined) {
            found++;
            if (v.length !== VALUE_SIZE) wrongSize++;
          }
        };
        const t = await timedLoop(n, cap, 15, () => {
          const r = db.get(makeKey(rng.below(n)));
          if (r instanceof Promise) return r.then(check);
          check(r);
        });
        const problems = [
          ...(found < t.ops ? [`found only ${found}/${t.ops}`] : []),
          ...(wrongSize ? [`${wrongSize} values of wrong size`] : []),
        ];
        return result(t, n, "ops", problems.join("; ") || undefined);
      });

      await attempt("readmissing", async () => {
        const rng = new Rng(workloadSeed(cfg.seed, "readmissing"));
        const range = Math.max(1, Math.floor(n / 10));
        let found = 0;
        const check = (v: Uint8Array | undefined) => {
          if (v !== undefined) found++;
        };
        const t = await timedLoop(n, cap, 15, () => {
          const r = db.get(makeMissingKey(rng.below(range)));
          if (r instanceof Promise) return r.then(check);
          check(r);
        });
        return result(t, n, "ops", found ? `${found} missing keys were found` : undefined);
      });

      for (const name of ["readseq", "readreverse"] as const) {
        await attempt(name, async () => {
          const start = performance.now();
          const deadline = start + cap * 1000;
          const r = db.scan(name === "readreverse", n, deadline);
          const count = r instanceof Promise ? await r : r;
          const seconds = (performance.now() - start) / 1000;
          const capped = count < n && performance.now() > deadline;
          const detail = count < n && !capped ? `scan returned ${count}/${n} entries` : undefined;
          return result({ ops: count, seconds, capped }, n, "entries", detail);
        });
      }

      await attempt("seekrandom", async () => {
        const rng = new Rng(workloadSeed(cfg.seed, "seekrandom"));
        let short = 0;
        const want = cfg.seekEntries;
        // Random keys near the end legitimately have fewer than `want` successors.
        const check = (got: number) => {
          if (got < want) short++;
        };
        const t = await timedLoop(n, cap, 15, () => {
          const r = db.seek(makeKey(rng.below(n - want)), want);
          if (r instanceof Promise) return r.then(check);
          check(r);
        });
        return result(t, n, "seeks", short ? `${short} seeks read < ${want} entries` : undefined);
      });

      await attempt("deleterandom", async () => {
        const rng = new Rng(workloadSeed(cfg.seed, "deleterandom"));
        const t = await timedLoop(n, cap, 15, () => db.delete(makeKey(rng.below(n))));
        return result(t, n, "ops");
      });

      if (db.stats) {
        try {
          out.stats = JSON.parse(
            JSON.stringify(db.stats(), (_k, v) => typeof v === "bigint" ? v.toString() : v),
          );
        } catch {
          // Statistics are a bonus; an unserialisable shape is not worth failing the run.
        }
      }
    });
  }

  if (selected.has("fillsync")) {
    await withDb(true, async (db) => {
      await attempt("fillsync", async () => {
        const rng = new Rng(workloadSeed(cfg.seed, "fillsync"));
        const t = await timedLoop(
          cfg.syncOps,
          syncCap,
          0,
          () => db.putDurable(makeKey(rng.below(n)), values.next()),
        );
        return result(t, cfg.syncOps, "ops");
      });
    });
  }

  if (selected.has("syncconcurrent")) {
    await withDb(true, async (db) => {
      await attempt("syncconcurrent", async () => {
        const rng = new Rng(workloadSeed(cfg.seed, "syncconcurrent"));
        const total = cfg.concurrentOps;
        let issued = 0;
        let done = 0;
        let capped = false;
        const start = performance.now();
        const deadline = start + syncCap * 1000;
        const writer = async () => {
          while (issued < total) {
            if (performance.now() > deadline) {
              capped = true;
              return;
            }
            issued++;
            await db.putDurable(makeKey(rng.below(n)), values.next());
            done++;
          }
        };
        await Promise.all(Array.from({ length: cfg.concurrency }, writer));
        const seconds = (performance.now() - start) / 1000;
        return result({ ops: done, seconds, capped }, total, "ops");
      });
    });
  }

  out.peakRssBytes = Math.max(peakRss() ?? 0, maxRss);
  return out;
}
