// Differential test: thousands of random operations run against the store
// and a plain in-memory model; every read must agree.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as nodeFs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type DB, open, type OpenOptions, type Snapshot } from "../mod.ts";
import { hexOf, Model, type ModelScan, rng } from "./_model.ts";

const SMALL: OpenOptions = {
  memtableSize: 4 * 1024,
  blockSize: 512,
  blockCacheSize: 64 * 1024,
  maxOpenFiles: 16,
  compaction: {
    l0CompactionTrigger: 2,
    l0SlowdownTrigger: 4,
    l0StopTrigger: 6,
    levelBaseBytes: 16 * 1024,
    targetFileSize: 4 * 1024,
  },
};

function tempDir(): string {
  return nodeFs.mkdtempSync(path.join(os.tmpdir(), "strata-model-"));
}

function randomKey(random: () => number): Uint8Array {
  // A small key space forces overwrites; 0x00 and 0xff bytes exercise the
  // edges of prefix and range bounds.
  const alphabet = [0x00, 0x01, 0x61, 0x62, 0x63, 0x7f, 0xfe, 0xff];
  const len = 1 + Math.floor(random() * 3);
  const k = new Uint8Array(len);
  for (let i = 0; i < len; i++) k[i] = alphabet[Math.floor(random() * alphabet.length)];
  return k;
}

function randomValue(random: () => number, step: number): Uint8Array {
  const len = Math.floor(random() * (random() < 0.05 ? 3000 : 40));
  const v = new Uint8Array(len + 4);
  new DataView(v.buffer).setUint32(0, step);
  for (let i = 4; i < v.length; i++) v[i] = Math.floor(random() * 256);
  return v;
}

function randomScan(random: () => number): ModelScan {
  const o: ModelScan = {};
  if (random() < 0.4) o.start = randomKey(random);
  if (random() < 0.4) o.end = randomKey(random);
  if (random() < 0.2) o.prefix = randomKey(random).subarray(0, 1 + Math.floor(random() * 2));
  if (random() < 0.5) o.reverse = true;
  if (random() < 0.3) o.limit = Math.floor(random() * 10);
  return o;
}

function rows(entries: { key: Uint8Array; value: Uint8Array }[]): string[] {
  return entries.map((e) => `${hexOf(e.key)}=${hexOf(e.value)}`);
}

function modelRows(model: [Uint8Array, Uint8Array][]): string[] {
  return model.map(([k, v]) => `${hexOf(k)}=${hexOf(v)}`);
}

async function runModel(seed: number, steps: number, options: OpenOptions): Promise<void> {
  const random = rng(seed);
  const dir = tempDir();
  let db: DB = await open(dir, options);
  const model = new Model();
  const snapshots: { snap: Snapshot; model: Model }[] = [];
  const where = (step: number, op: string) => `seed ${seed}, step ${step}: ${op}`;
  try {
    for (let step = 0; step < steps; step++) {
      const r = random();
      if (r < 0.35) {
        const k = randomKey(random);
        const v = randomValue(random, step);
        await db.put(k, v, { sync: random() < 0.02 });
        model.put(k, v);
      } else if (r < 0.45) {
        const k = randomKey(random);
        await db.delete(k);
        model.delete(k);
      } else if (r < 0.52) {
        const batch = db.batch();
        const n = 1 + Math.floor(random() * 8);
        for (let i = 0; i < n; i++) {
          const k = randomKey(random);
          if (random() < 0.7) {
            const v = randomValue(random, step);
            batch.put(k, v);
            model.put(k, v);
          } else {
            batch.delete(k);
            model.delete(k);
          }
        }
        await batch.write();
      } else if (r < 0.72) {
        const k = randomKey(random);
        assert.deepEqual(await db.get(k), model.get(k), where(step, `get ${hexOf(k)}`));
      } else if (r < 0.82) {
        const o = randomScan(random);
        const got = random() < 0.5 ? db.scan(o).toArray() : await asyncRows(db.scan(o));
        assert.deepEqual(
          rows(got),
          modelRows(model.scan(o)),
          where(step, `scan ${JSON.stringify(o)}`),
        );
      } else if (r < 0.86) {
        if (snapshots.length < 4) snapshots.push({ snap: db.snapshot(), model: model.clone() });
      } else if (r < 0.9) {
        if (snapshots.length > 0) {
          const i = Math.floor(random() * snapshots.length);
          const { snap, model: m } = snapshots[i];
          const k = randomKey(random);
          assert.deepEqual(await snap.get(k), m.get(k), where(step, `snapshot get ${hexOf(k)}`));
          const o = randomScan(random);
          assert.deepEqual(
            rows(snap.scan(o).toArray()),
            modelRows(m.scan(o)),
            where(step, `snapshot scan ${JSON.stringify(o)}`),
          );
          if (random() < 0.3) {
            snap.release();
            snapshots.splice(i, 1);
          }
        }
      } else if (r < 0.93) {
        await db.flush();
      } else if (r < 0.95) {
        await db.compact(
          random() < 0.5 ? {} : { start: randomKey(random), end: randomKey(random) },
        );
      } else if (r < 0.97) {
        for (const s of snapshots) s.snap.release();
        snapshots.length = 0;
        await db.close();
        db = await open(dir, options);
      } else {
        // Let background flushes and compactions run between operations.
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }
    assert.deepEqual(
      rows(db.scan().toArray()),
      modelRows(model.scan({})),
      `seed ${seed}: final scan`,
    );
    await db.close();
    db = await open(dir, options);
    assert.deepEqual(
      rows(db.scan().toArray()),
      modelRows(model.scan({})),
      `seed ${seed}: scan after reopen`,
    );
  } finally {
    await db.close();
    nodeFs.rmSync(dir, { recursive: true, force: true });
  }
}

async function asyncRows(scan: AsyncIterable<{ key: Uint8Array; value: Uint8Array }>) {
  const out = [];
  for await (const e of scan) out.push(e);
  return out;
}

describe("the store agrees with an in-memory model", () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`over 3000 random operations with tiny memtables and files (seed ${seed})`, async () => {
      await runModel(seed, 3000, SMALL);
    });
  }
  it("over 3000 random operations with positional reads instead of memory maps", async () => {
    await runModel(5, 3000, { ...SMALL, mmapReads: false });
  });
  it("over 3000 random operations with default options", async () => {
    await runModel(99, 3000, {});
  });
  it("over 2000 random operations with no block cache and compaction off", async () => {
    await runModel(7, 2000, { ...SMALL, blockCacheSize: 0, autoCompaction: false });
  });
});
