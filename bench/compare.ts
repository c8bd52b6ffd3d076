/**
 * db_bench-style comparison of Strata with SQLite (node:sqlite), LevelDB (classic-level) and
 * Deno KV.
 *
 * Run: `deno run -A --unstable-kv bench/compare.ts [--quick] [--engines a,b] [--workloads a,b]
 * [--json out.json] [--markdown out.md]` (or `deno task compare`). `--help` lists every option.
 *
 * Each engine runs in its own child process (this script with `--engine-only NAME`) so that peak
 * RSS is per engine and one engine's heap or native threads cannot disturb another's numbers.
 *
 * @module
 */

import { closeSync, fdatasyncSync, openSync, writeSync } from "node:fs";
import { parseArgs } from "node:util";
import { type EngineFactory, KEY_SIZE, VALUE_SIZE } from "./common.ts";
import { type CompareReport, renderMarkdown, type ReportMeta } from "./report.ts";
import {
  type EngineResult,
  runEngine,
  type WorkloadName,
  WORKLOADS,
  type WorkloadSettings,
} from "./workloads.ts";

/** Engines known to the harness, loaded lazily so each child imports only its own. */
export const ENGINES: Record<string, () => Promise<EngineFactory>> = {
  strata: async () => (await import("./engines/strata.ts")).strataEngine,
  sqlite: async () => (await import("./engines/sqlite.ts")).sqliteEngine,
  leveldb: async () => (await import("./engines/leveldb.ts")).leveldbEngine,
  denokv: async () => (await import("./engines/denokv.ts")).denokvEngine,
};

const RESULT_MARKER = "@@compare-result@@";
// db_bench's shapes: 64 synced writers, 1000-entry batches, seek + 10 nexts.
const CONCURRENCY = 64;
const BATCH_SIZE = 1000;
const SEEK_ENTRIES = 11;
const BENCH_TMP = new URL("../.bench_tmp/", import.meta.url).pathname;

const HELP = `Usage: deno run -A --unstable-kv bench/compare.ts [options]

  --n N                keys / ops per workload (default 1000000)
  --quick              N = 200000 (unless --n is given)
  --engines LIST       comma-separated, from ${Object.keys(ENGINES).join(",")} (default: all)
  --workloads LIST     comma-separated, from:
                       ${WORKLOADS.join(",")}
                       (default: all)
  --json FILE          write the full results as JSON
  --markdown FILE      write the Markdown report
  --memtable-size B    memtable / write buffer bytes for strata and leveldb (default 4194304)
  --cache-size B       block / page cache bytes for strata, leveldb, sqlite (default 8388608)
  --async-reads        use async point reads and iteration where a sync API exists
  --cap S              time cap per workload, seconds (default 30)
  --kv-cap S           time cap per workload for Deno KV, seconds (default 5)
  --sync-cap S         time cap for fillsync / syncconcurrent / fdatasync probe (default 5)
  --sync-ops N         fillsync ops (default N/100)
  --concurrent-ops N   syncconcurrent total ops (default N/10)
  --seed N             base PRNG seed (default 301)
  --engine-only NAME   internal: run one engine in this process, print JSON on stdout
  --dir DIR            internal: scratch directory for --engine-only
`;

interface Config {
  n: number;
  quick: boolean;
  engines: string[];
  workloads: WorkloadName[];
  json?: string;
  markdown?: string;
  memtableSize: number;
  cacheSize: number;
  asyncReads: boolean;
  cap: number;
  kvCap: number;
  syncCap: number;
  syncOps: number;
  concurrentOps: number;
  seed: number;
  engineOnly?: string;
  dir?: string;
}

function list(value: string | undefined, known: readonly string[], what: string): string[] {
  if (value === undefined || value === "all") return [...known];
  const items = value.split(",").map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    if (!known.includes(item)) {
      throw new Error(`unknown ${what} "${item}" (known: ${known.join(", ")})`);
    }
  }
  return items;
}

function num(value: string | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  const x = Number(value.replaceAll("_", ""));
  if (!Number.isFinite(x) || x < 0) throw new Error(`--${what} must be a non-negative number`);
  return x;
}

function parseConfig(args: string[]): Config | undefined {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      n: { type: "string" },
      quick: { type: "boolean", default: false },
      engines: { type: "string" },
      workloads: { type: "string" },
      json: { type: "string" },
      markdown: { type: "string" },
      "memtable-size": { type: "string" },
      "cache-size": { type: "string" },
      "async-reads": { type: "boolean", default: false },
      cap: { type: "string" },
      "kv-cap": { type: "string" },
      "sync-cap": { type: "string" },
      "sync-ops": { type: "string" },
      "concurrent-ops": { type: "string" },
      seed: { type: "string" },
      "engine-only": { type: "string" },
      dir: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return undefined;
  }
  const n = Math.floor(num(values.n, values.quick ? 200_000 : 1_000_000, "n"));
  if (n < 1000) throw new Error("--n must be at least 1000");
  const selected = list(values.workloads, WORKLOADS, "workload");
  return {
    n,
    quick: values.quick && values.n === undefined,
    engines: list(values.engines, Object.keys(ENGINES), "engine"),
    // Run order is fixed by WORKLOADS whatever order they were given in.
    workloads: WORKLOADS.filter((w) => selected.includes(w)),
    json: values.json,
    markdown: values.markdown,
    memtableSize: num(values["memtable-size"], 4 << 20, "memtable-size"),
    cacheSize: num(values["cache-size"], 8 << 20, "cache-size"),
    asyncReads: values["async-reads"],
    cap: num(values.cap, 30, "cap"),
    kvCap: num(values["kv-cap"], 5, "kv-cap"),
    syncCap: num(values["sync-cap"], 5, "sync-cap"),
    syncOps: Math.max(1, Math.floor(num(values["sync-ops"], n / 100, "sync-ops"))),
    concurrentOps: Math.max(1, Math.floor(num(values["concurrent-ops"], n / 10, "concurrent-ops"))),
    seed: Math.floor(num(values.seed, 301, "seed")),
    engineOnly: values["engine-only"],
    dir: values.dir,
  };
}

/** The workload settings every engine runs with, as the runner takes them and the report records them. */
function workloadSettings(cfg: Config): WorkloadSettings {
  return {
    syncCapSeconds: cfg.syncCap,
    syncOps: cfg.syncOps,
    concurrentOps: cfg.concurrentOps,
    concurrency: CONCURRENCY,
    batchSize: BATCH_SIZE,
    seekEntries: SEEK_ENTRIES,
    seed: cfg.seed,
  };
}

/** Child mode: runs every selected workload on one engine and prints the result as JSON. */
async function engineOnly(cfg: Config, name: string): Promise<void> {
  const log = (line: string) => console.error(line);
  let result: EngineResult;
  const dir = cfg.dir ?? await Deno.makeTempDir({ dir: mkTmpRoot(), prefix: `${name}-` });
  try {
    const factory = await ENGINES[name]();
    result = await runEngine(factory, {
      n: cfg.n,
      workloads: cfg.workloads,
      capSeconds: name === "denokv" ? Math.min(cfg.cap, cfg.kvCap) : cfg.cap,
      ...workloadSettings(cfg),
      engineOptions: {
        memtableSize: cfg.memtableSize,
        cacheSize: cfg.cacheSize,
        asyncReads: cfg.asyncReads,
        durable: false,
      },
      dir,
      log,
    });
  } catch (e) {
    const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    log(`  FAILED: ${message}`);
    result = {
      engine: name,
      settings: "",
      notes: [],
      workloads: {},
      peakRssBytes: 0,
      baseRssBytes: 0,
      error: message,
    };
  } finally {
    if (cfg.dir === undefined) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  console.log(RESULT_MARKER + JSON.stringify(result));
}

function mkTmpRoot(): string {
  Deno.mkdirSync(BENCH_TMP, { recursive: true });
  return BENCH_TMP;
}

/** Forwards the resolved configuration to a child, so parent and child cannot disagree. */
function childArgs(cfg: Config, engine: string, dir: string): string[] {
  return [
    "run",
    "-A",
    "--unstable-kv",
    new URL(import.meta.url).pathname,
    "--engine-only",
    engine,
    "--dir",
    dir,
    "--n",
    String(cfg.n),
    "--workloads",
    cfg.workloads.join(","),
    "--memtable-size",
    String(cfg.memtableSize),
    "--cache-size",
    String(cfg.cacheSize),
    ...(cfg.asyncReads ? ["--async-reads"] : []),
    "--cap",
    String(cfg.cap),
    "--kv-cap",
    String(cfg.kvCap),
    "--sync-cap",
    String(cfg.syncCap),
    "--sync-ops",
    String(cfg.syncOps),
    "--concurrent-ops",
    String(cfg.concurrentOps),
    "--seed",
    String(cfg.seed),
  ];
}

async function runChild(cfg: Config, engine: string): Promise<EngineResult> {
  const dir = await Deno.makeTempDir({ dir: mkTmpRoot(), prefix: `${engine}-` });
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: childArgs(cfg, engine, dir),
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const { code, stdout } = await child.output();
    const text = new TextDecoder().decode(stdout);
    const line = text.split("\n").findLast((l) => l.startsWith(RESULT_MARKER));
    if (line) return JSON.parse(line.slice(RESULT_MARKER.length)) as EngineResult;
    return {
      engine,
      settings: "",
      notes: [],
      workloads: {},
      peakRssBytes: 0,
      baseRssBytes: 0,
      error: `child process exited with code ${code} without a result`,
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * The ceiling for a synced single writer: append 116 bytes (one key + value) and fdatasync, in a
 * loop, on the same filesystem the engines use.
 */
function measureFdatasync(
  maxOps: number,
  capSeconds: number,
): { ops: number; seconds: number; opsPerSec: number } {
  const path = `${mkTmpRoot()}fdatasync-${Deno.pid}.bin`;
  const fd = openSync(path, "a");
  const record = new Uint8Array(KEY_SIZE + VALUE_SIZE).fill(0x61);
  try {
    const start = performance.now();
    const deadline = start + capSeconds * 1000;
    let ops = 0;
    while (ops < maxOps && performance.now() < deadline) {
      writeSync(fd, record);
      fdatasyncSync(fd);
      ops++;
    }
    const seconds = (performance.now() - start) / 1000;
    return { ops, seconds, opsPerSec: ops / seconds };
  } finally {
    closeSync(fd);
    Deno.removeSync(path);
  }
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(Deno.readTextFileSync("/proc/cpuinfo"));
    if (m) return m[1].trim();
  } catch {
    // Not Linux: the model name is a nicety.
  }
  return "unknown CPU";
}

/** Entry point: parses `args`, runs each engine in a child process, prints and writes reports. */
export async function main(args: string[]): Promise<void> {
  let cfg: Config | undefined;
  try {
    cfg = parseConfig(args);
  } catch (e) {
    // A usage mistake deserves one line, not a stack trace.
    console.error(`compare: ${e instanceof Error ? e.message : e}\n\n${HELP}`);
    Deno.exitCode = 2;
    return;
  }
  if (!cfg) return;
  if (cfg.engineOnly !== undefined) {
    if (!(cfg.engineOnly in ENGINES)) throw new Error(`unknown engine "${cfg.engineOnly}"`);
    await engineOnly(cfg, cfg.engineOnly);
    return;
  }

  const started = performance.now();
  const date = new Date().toISOString();
  console.error(
    `compare: N=${cfg.n}, engines=${cfg.engines.join(",")}, workloads=${cfg.workloads.join(",")}`,
  );
  const wantsSync = cfg.workloads.includes("fillsync") || cfg.workloads.includes("syncconcurrent");
  let fdatasync: ReportMeta["fdatasync"];
  if (wantsSync) {
    fdatasync = measureFdatasync(Math.max(1000, cfg.syncOps), cfg.syncCap);
    console.error(`raw fdatasync: ${Math.round(fdatasync.opsPerSec)}/s (${fdatasync.ops} ops)`);
  }

  const results: EngineResult[] = [];
  for (const engine of cfg.engines) {
    console.error(`== ${engine}`);
    results.push(await runChild(cfg, engine));
  }
  // The temp root may be shared with a concurrent run; only remove it if it is now empty.
  await Deno.remove(BENCH_TMP).catch(() => {});

  const report: CompareReport = {
    meta: {
      date,
      n: cfg.n,
      quick: cfg.quick,
      keySize: KEY_SIZE,
      valueSize: VALUE_SIZE,
      engines: cfg.engines,
      workloads: cfg.workloads,
      runtime: {
        deno: Deno.version.deno,
        v8: Deno.version.v8,
        os: Deno.build.os,
        arch: Deno.build.arch,
        cpu: cpuModel(),
        cores: navigator.hardwareConcurrency,
      },
      settings: {
        memtableSize: cfg.memtableSize,
        cacheSize: cfg.cacheSize,
        asyncReads: cfg.asyncReads,
        capSeconds: cfg.cap,
        kvCapSeconds: cfg.kvCap,
        ...workloadSettings(cfg),
      },
      ...(fdatasync ? { fdatasync } : {}),
      durationSeconds: (performance.now() - started) / 1000,
    },
    engines: results,
  };

  const markdown = renderMarkdown(report);
  console.log(markdown);
  if (cfg.markdown) await Deno.writeTextFile(cfg.markdown, markdown);
  if (cfg.json) await Deno.writeTextFile(cfg.json, JSON.stringify(report, null, 2) + "\n");
  if (results.some((r) => r.error)) {
    console.error("compare: some engines failed; see the report");
  }
}

if (import.meta.main) {
  await main(Deno.args);
}
