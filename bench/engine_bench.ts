/**
 * Strata-only micro-benchmarks for `deno bench -A bench/`.
 *
 * Two databases are prepared once at module load in a scratch directory under `.bench_tmp/`: a
 * read database pre-filled with {@link PREFILL} keys (never written by the benches, so read numbers
 * do not drift as benches run) and a write database that the put and batch benches overwrite
 * within the same key range (so it stays bounded however many iterations Deno.bench picks).
 *
 * @module
 */

import { open } from "../mod.ts";
import { makeKey, makeMissingKey, Rng, ValueSource } from "./common.ts";

/** Keys in the read database; also the size of the full scan. */
export const PREFILL = 100_000;
const BATCH = 1000;

const root = new URL("../.bench_tmp/", import.meta.url).pathname;
await Deno.mkdir(root, { recursive: true });
const dir = await Deno.makeTempDir({ dir: root, prefix: "engine_bench-" });

// Deno.bench has no teardown hook; unload still fires once every bench has run.
globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(dir, { recursive: true });
    Deno.removeSync(root);
  } catch {
    // The root is shared with other runs and may not be empty.
  }
});

const values = new ValueSource(301);
const readDb = await open(`${dir}/read`);
const writeDb = await open(`${dir}/write`);
for (let first = 0; first < PREFILL; first += BATCH) {
  const r = readDb.batch();
  const w = writeDb.batch();
  for (let i = first; i < Math.min(PREFILL, first + BATCH); i++) {
    const v = values.next();
    r.put(makeKey(i), v);
    w.put(makeKey(i), v);
  }
  await r.write();
  await w.write();
}
// Reads should measure the on-disk read path, not only the memtable.
await readDb.flush();

const rng = new Rng(42);

Deno.bench({
  name: "put (random key, no sync)",
  group: "put",
  async fn() {
    await writeDb.put(makeKey(rng.below(PREFILL)), values.next());
  },
});

Deno.bench({
  name: `batch (${BATCH} puts, random keys)`,
  group: "batch",
  async fn() {
    const b = writeDb.batch();
    for (let i = 0; i < BATCH; i++) b.put(makeKey(rng.below(PREFILL)), values.next());
    await b.write();
  },
});

Deno.bench({
  name: "get hit (getSync)",
  group: "get",
  baseline: true,
  fn() {
    if (readDb.getSync(makeKey(rng.below(PREFILL))) === undefined) throw new Error("miss");
  },
});

Deno.bench({
  name: "get hit (async get)",
  group: "get",
  async fn() {
    if ((await readDb.get(makeKey(rng.below(PREFILL)))) === undefined) throw new Error("miss");
  },
});

Deno.bench({
  name: "get miss (getSync)",
  group: "get",
  fn() {
    if (readDb.getSync(makeMissingKey(rng.below(PREFILL / 10))) !== undefined) {
      throw new Error("unexpected hit");
    }
  },
});

Deno.bench({
  name: `scan (full, ${PREFILL} entries, sync iteration)`,
  group: "scan",
  baseline: true,
  n: 30,
  fn() {
    let n = 0;
    for (const _ of readDb.scan({})) n++;
    if (n !== PREFILL) throw new Error(`scan saw ${n} entries`);
  },
});

Deno.bench({
  name: `scan (full, ${PREFILL} entries, for await)`,
  group: "scan",
  n: 30,
  async fn() {
    let n = 0;
    for await (const _ of readDb.scan({})) n++;
    if (n !== PREFILL) throw new Error(`scan saw ${n} entries`);
  },
});
