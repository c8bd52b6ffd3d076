/**
 * Sustained random writes with background compaction only: N writes over a
 * smaller key space (default 1,000,000 over 200,000 keys, 16-byte keys and
 * 100-byte values), default options. Reports the write rate, put latency
 * percentiles, the deepest level-0 pile-up seen, stalls, write
 * amplification, and on-disk size against the live data once background
 * work settles.
 *
 * Run: `deno run -A bench/sustained_write.ts [--writes N] [--keys K] [--json]`
 * (also `bun bench/sustained_write.ts`).
 *
 * @module
 */

import * as nodeFs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { open } from "../mod.ts";
import { Rng } from "./common.ts";

const { values: args } = parseArgs({
  options: {
    writes: { type: "string", default: "1000000" },
    keys: { type: "string", default: "200000" },
    json: { type: "boolean", default: false },
    dir: { type: "string" },
  },
});
const writes = Number(args.writes);
const keySpace = Number(args.keys);
const KEY_SIZE = 16;
const VALUE_SIZE = 100;

function dirSize(dir: string): number {
  let total = 0;
  for (const name of nodeFs.readdirSync(dir)) total += nodeFs.statSync(path.join(dir, name)).size;
  return total;
}

function tableBytes(dir: string): number {
  let total = 0;
  for (const name of nodeFs.readdirSync(dir)) {
    if (name.endsWith(".sst")) total += nodeFs.statSync(path.join(dir, name)).size;
  }
  return total;
}

const rng = new Rng(42);

const dir = args.dir ?? nodeFs.mkdtempSync(path.join(".bench_tmp_sustained_"));
nodeFs.mkdirSync(dir, { recursive: true });
const db = await open(dir);
const key = new Uint8Array(KEY_SIZE);
const value = new Uint8Array(VALUE_SIZE);
const latencies = new Float64Array(writes);
const live = new Set<number>();
let maxL0 = 0;
let maxImmutable = 0;
let peakDisk = 0;
const started = performance.now();
for (let i = 0; i < writes; i++) {
  const k = rng.below(keySpace);
  live.add(k);
  const digits = String(k).padStart(KEY_SIZE, "0");
  for (let j = 0; j < KEY_SIZE; j++) key[j] = digits.charCodeAt(j);
  for (let j = 0; j < VALUE_SIZE; j += 4) value[j] = (i >>> (j & 24)) & 0xff;
  const t0 = performance.now();
  await db.put(key, value);
  latencies[i] = performance.now() - t0;
  if ((i & 4095) === 0) {
    const s = db.stats();
    maxL0 = Math.max(maxL0, s.levels[0].files);
    maxImmutable = Math.max(maxImmutable, s.memtables.immutable);
    if ((i & 65535) === 0) peakDisk = Math.max(peakDisk, dirSize(dir));
  }
}
const writeMs = performance.now() - started;
const atEnd = db.stats();
// Let background flushes and compactions finish.
const settleStart = performance.now();
await db.flush();
// Settled: nothing frozen, no level due, and level 0 merged down once the
// database has been quiet (or 30 s have passed).
for (let waited = 0; waited < 30_000; waited += 50) {
  await new Promise((r) => setTimeout(r, 50));
  const s = db.stats();
  if (
    s.memtables.immutable === 0 && s.levels.every((l) => l.score < 1) && s.levels[0].files === 0
  ) {
    break;
  }
}
const settleMs = performance.now() - settleStart;
const settled = db.stats();
await db.close();
peakDisk = Math.max(peakDisk, dirSize(dir));
const liveBytes = live.size * (KEY_SIZE + VALUE_SIZE);
const sorted = Array.from(latencies).sort((a, b) => a - b);
const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
const result = {
  runtime: "Deno" in globalThis ? "deno" : "bun",
  writes,
  keySpace,
  liveKeys: live.size,
  writesPerSec: Math.round(writes / (writeMs / 1000)),
  putLatencyUs: {
    p50: +(pct(0.5) * 1000).toFixed(1),
    p99: +(pct(0.99) * 1000).toFixed(1),
    p999: +(pct(0.999) * 1000).toFixed(1),
    max: +(sorted[sorted.length - 1] * 1000).toFixed(1),
  },
  maxL0Files: maxL0,
  l0StopTrigger: 12,
  maxImmutableMemtables: maxImmutable,
  longestStallMs: +settled.longestStallMs.toFixed(1),
  totalStallMs: +settled.stallMs.toFixed(1),
  writeAmplification: +settled.writeAmplification.toFixed(2),
  compactions: settled.compactions,
  settleMs: Math.round(settleMs),
  liveBytes,
  tableBytesAtEnd: atEnd.totalTableBytes,
  tableBytesSettled: tableBytes(dir),
  spaceAmplification: +(tableBytes(dir) / liveBytes).toFixed(3),
  diskBytesSettled: dirSize(dir),
  peakDiskBytes: peakDisk,
  levels: settled.levels.filter((l) => l.files > 0).map((l) =>
    `L${l.level}:${l.files}f/${(l.bytes / 1048576).toFixed(1)}MiB`
  ).join(" "),
};
if (args.dir === undefined) nodeFs.rmSync(dir, { recursive: true, force: true });
console.log(args.json ? JSON.stringify(result) : result);
