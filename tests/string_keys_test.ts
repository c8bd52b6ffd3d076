// Strings as keys and values are stored as their UTF-8 bytes: each write
// keeps the bytes of its own strings, whatever is written after it, and a
// string reads the same entry as its bytes.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type DB, open } from "../mod.ts";
import { withTempDir } from "./_temp.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
// Runs `fn` with a database open in a new directory, then closes it.
async function withDb(fn: (db: DB) => Promise<void>): Promise<void> {
  await withTempDir("strings", async (dir) => {
    const db = await open(dir);
    try {
      await fn(db);
    } finally {
      await db.close();
    }
  });
}

const text = (b: Uint8Array | undefined) => b === undefined ? undefined : decoder.decode(b);

// Short and long, ASCII and not: long ones are encoded on a path of their own.
const SAMPLES: [string, string][] = [
  ["a", "1"],
  ["b", "2"],
  ["clé", "valeur accentuée"],
  ["キー", "値🙂"],
  ["k".repeat(2000), "long key"],
  ["long value", "v".repeat(20000)],
  ["ü".repeat(1500), "é".repeat(6000)],
];

describe("strings as keys and values", () => {
  it("each put keeps its own key and value bytes, through a reopen", async () => {
    await withTempDir("strings", async (dir) => {
      let db = await open(dir);
      for (const [k, v] of SAMPLES) await db.put(k, v);
      for (const [k, v] of SAMPLES) {
        assert.equal(text(db.getSync(k)), v);
        assert.equal(text(db.getSync(encoder.encode(k))), v);
      }
      const scanned = db.scan().toArray().map((e) => [text(e.key), text(e.value)]);
      assert.deepEqual(scanned, [...SAMPLES].sort((a, b) => compareUtf8(a[0], b[0])));
      await db.close();
      db = await open(dir);
      for (const [k, v] of SAMPLES) assert.equal(text(await db.get(k)), v);
      await db.close();
    });
  });

  it("a batch keeps the bytes of each of its operations", async () => {
    await withDb(async (db) => {
      await db.put("gone", "x");
      const batch = db.batch();
      for (const [k, v] of SAMPLES) batch.put(k, v);
      batch.delete("gone");
      await batch.write();
      for (const [k, v] of SAMPLES) assert.equal(text(db.getSync(k)), v);
      assert.equal(db.getSync("gone"), undefined);
    });
  });

  it("writes queued behind a synced write keep their own string bytes", async () => {
    await withDb(async (db) => {
      await Promise.all(SAMPLES.map(([k, v], i) => db.put(k, v, { sync: i % 2 === 0 })));
      await Promise.all([db.delete("a", { sync: true }), db.delete("b")]);
      for (const [k, v] of SAMPLES.slice(2)) assert.equal(text(db.getSync(k)), v);
      assert.equal(db.getSync("a"), undefined);
      assert.equal(db.getSync("b"), undefined);
    });
  });

  it("code run by the write's own options cannot change the strings it writes", async () => {
    await withDb(async (db) => {
      const meddling = {
        get sync() {
          void db.put("other key", "other value");
          return false;
        },
      };
      await db.put("gone", "soon");
      await db.put("key", "value", meddling);
      await db.delete("gone", meddling);
      assert.equal(text(db.getSync("key")), "value");
      assert.equal(text(db.getSync("other key")), "other value");
      assert.equal(db.getSync("gone"), undefined);
    });
  });

  it("a snapshot reads a string key as its bytes", async () => {
    await withDb(async (db) => {
      await db.put("clé", "old");
      using snap = db.snapshot();
      await db.put("clé", "new");
      assert.equal(text(await snap.get("clé")), "old");
      assert.equal(text(await snap.get(encoder.encode("clé"))), "old");
    });
  });
});

function compareUtf8(a: string, b: string): number {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}
