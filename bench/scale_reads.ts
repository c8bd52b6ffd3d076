/**
 * Point reads as the database outgrows memory: fills N keys (16-byte keys,
 * 100-byte values, batches of 1000), lets background compaction settle,
 * then times random point reads of existing keys with an 8 MiB block
 * cache. Run at two sizes and compare the rates.
 *
 * Run: `deno run -A bench/scale_reads.ts --n 10000000 [--reads 200000]`
 *
 * @module
 */

import * as nodeFs from "node:fs";
import { parseArgs } from "node:util";
import { open } from "../mod.ts";

const { values: args } = parseArgs({
  options: {
    n: { type: "string", default: "200000" },
    reads: { type: "string", default: "200000" },
    dir: { type: "string", default: ".bench_tmp_scale" },
  },
});
const n = Number(args.n);
const reads = Number(args.reads);
const dir = args.dir;
nodeFs.rmSync(dir, { recursive: true, force: true });

function key(i: number): string {
  // Spread keys over the key space so fills are random-order writes.
  return String((i * 2654435761) % 4294967296).padStart(16, "0");
}

const value = new Uint8Array(100).map((_, i) => i * 7);
let db = await open(dir, { blockCacheSize: 8 << 20 });
const fillStart = performance.now();
for (let i = 0; i < n; i += 1000) {
  const batch = db.batch();
  for (let j = i; j < Math.min(n, i + 1000); j++) batch.put(key(j), value);
  await batch.write();
}
const fillSeconds = (performance.now() - fillStart) / 1000;
await db.flush();
for (let waited = 0; waited < 600_000; waited += 200) {
  await new Promise((r) => setTimeout(r, 200));
  const s = db.stats();
  if (s.levels.every((l) => l.score < 1) && s.levels[0].files === 0) break;
}
await db.close();
db = await open(dir, { blockCacheSize: 8 << 20 });
const stats = db.stats();
let state = 12345;
const pick = () => {
  state = (Math.imul(state, 1103515245) + 12345) >>> 0;
  return state % n;
};
for (let i = 0; i < 20000; i++) db.getSync(key(pick()));
const t = performance.now();
let found = 0;
for (let i = 0; i < reads; i++) if (db.getSync(key(pick())) !== undefined) found++;
const seconds = (performance.now() - t) / 1000;
await db.close();
console.log(JSON.stringify({
  runtime: "Deno" in globalThis ? "deno" : "bun",
  keys: n,
  fillPerSec: Math.round(n / fillSeconds),
  readsPerSec: Math.round(reads / seconds),
  found,
  reads,
  tableMiB: Math.round(stats.totalTableBytes / 1048576),
  levels: stats.levels.filter((l) => l.files > 0).map((l) => `L${l.level}:${l.files}`).join(" "),
}));
nodeFs.rmSync(dir, { recursive: true, force: true });
