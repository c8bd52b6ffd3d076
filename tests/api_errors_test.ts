// Bad input gets a clear, typed error and changes nothing: wrong types are
// TypeErrors, sizes past the limits RangeErrors, use after close or release
// a ClosedError, and a rejected call leaves no trace in the database, even
// after a reopen.

import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ClosedError,
  type DB,
  MAX_KEY_SIZE,
  MAX_VALUE_SIZE,
  open,
  StrataError,
  WriteBatch,
} from "../mod.ts";

const decoder = new TextDecoder();

let dir = "";
let db: DB;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "strata-api-"));
  db = await open(dir);
  await db.put("a", "1");
});
afterEach(async () => {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

// Untyped access, to make the calls TypeScript would refuse.
// deno-lint-ignore no-explicit-any
const loose = (x: unknown): any => x;

async function contents(d: DB): Promise<string[]> {
  const out: string[] = [];
  for await (const e of d.scan()) out.push(`${decoder.decode(e.key)}=${decoder.decode(e.value)}`);
  return out;
}

// The database holds exactly what beforeEach put, now and after a reopen.
async function assertUntouched(): Promise<void> {
  assert.deepEqual(await contents(db), ["a=1"], "a rejected call changed the database");
  const sequence = db.stats().sequence;
  await db.close();
  db = await open(dir);
  assert.deepEqual(await contents(db), ["a=1"], "a rejected call reached the disk");
  assert.equal(db.stats().sequence, sequence, "a rejected call consumed a sequence number");
}

describe("wrong argument types are TypeErrors", () => {
  it("put, delete and get reject (not throw) a key or value that is neither string nor bytes", async () => {
    const d = loose(db);
    for (const bad of [123, null, undefined, {}, [1, 2], true, new ArrayBuffer(2)]) {
      await assert.rejects(d.put(bad, "v"), TypeError, `put key ${String(bad)}`);
      await assert.rejects(d.put("k", bad), TypeError, `put value ${String(bad)}`);
      await assert.rejects(d.delete(bad), TypeError, `delete key ${String(bad)}`);
      await assert.rejects(d.get(bad), TypeError, `get key ${String(bad)}`);
    }
    assert.throws(() => d.getSync(null), TypeError);
    await assertUntouched();
  });

  it("the error message says which argument is wrong and what it got", async () => {
    await assert.rejects(loose(db).put(123, "v"), /key.*number/);
    await assert.rejects(loose(db).put("k", null), /value.*null/);
  });

  it("write options other than an object with a boolean sync are TypeErrors", async () => {
    const d = loose(db);
    await assert.rejects(d.put("k", "v", { sync: "yes" }), TypeError);
    await assert.rejects(d.put("k", "v", "sync"), TypeError);
    await assert.rejects(d.delete("a", { sync: 1 }), TypeError);
    await assert.rejects(d.batch().put("k", "v").write({ sync: "no" }), TypeError);
    await assertUntouched();
  });

  it("scan options of the wrong type are TypeErrors, thrown when the scan is made", () => {
    const d = loose(db);
    for (
      const bad of [
        { limit: -1 },
        { limit: 1.5 },
        { limit: "3" },
        { limit: NaN },
        { start: 5 },
        { end: {} },
        { prefix: null },
        { reverse: "yes" },
      ]
    ) {
      assert.throws(() => d.scan(bad), TypeError, `scan(${JSON.stringify(bad)})`);
    }
    assert.throws(() => d.scan("a"), TypeError);
    assert.throws(() => d.scan(null), TypeError);
    // Nothing was left pinned by the rejected scans.
    assert.equal(db.stats().readers, 0);
  });

  it("a batch refuses a bad operation at once and stays as it was", async () => {
    const batch = db.batch().put("b", "2");
    assert.throws(() => batch.put(loose(1), "x"), TypeError);
    assert.throws(() => batch.put("c", loose(undefined)), TypeError);
    assert.throws(() => batch.delete(loose(null)), TypeError);
    assert.equal(batch.length, 1);
    await batch.write();
    assert.deepEqual(await contents(db), ["a=1", "b=2"]);
  });

  it("write() of something that is not a WriteBatch is a TypeError", async () => {
    await assert.rejects(db.write(loose({ ops: [] })), TypeError);
    await assert.rejects(db.write(loose(null)), TypeError);
    await assert.rejects(new WriteBatch().put("k", "v").write(), TypeError, "a batch with no db");
    await assertUntouched();
  });

  it("open() with options of the wrong type is a TypeError", async () => {
    const other = join(dir, "other");
    for (
      const bad of [
        { memtableSize: "x" },
        { memtableSize: -1 },
        { memtableSize: 1.5 },
        { blockCacheSize: "big" },
        { blockRestartInterval: 0 },
        { blockRestartInterval: 2.5 },
        { sync: "yes" },
        { createIfMissing: 1 },
        { compaction: "fast" },
        { compaction: { targetFileSize: 0 } },
      ]
    ) {
      await assert.rejects(open(other, loose(bad)), TypeError, JSON.stringify(bad));
    }
    await assert.rejects(open(loose(123)), TypeError);
    await assert.rejects(open(""), TypeError);
    await assert.rejects(open(other, loose("options")), TypeError);
    await assert.rejects(
      open(dir, loose({ memtableSize: "x" })),
      TypeError,
      "checked before the lock",
    );
  });

  it("compaction triggers in the wrong order are a RangeError", async () => {
    await assert.rejects(
      open(join(dir, "other"), { compaction: { l0CompactionTrigger: 10, l0SlowdownTrigger: 5 } }),
      RangeError,
    );
  });

  it("compact() with a bound of the wrong type is a TypeError", async () => {
    await assert.rejects(db.compact(loose({ start: 1 })), TypeError);
    await assert.rejects(db.compact(loose("all")), TypeError);
  });
});

describe("sizes past the limits are RangeErrors", () => {
  it(`a key of ${MAX_KEY_SIZE} bytes is accepted and one byte more is a RangeError`, async () => {
    assert.equal(MAX_KEY_SIZE, 65536);
    const largest = new Uint8Array(MAX_KEY_SIZE).fill(0x6b);
    await db.put(largest, "ok");
    assert.equal(decoder.decode(await db.get(largest)), "ok");
    await db.delete(largest);
    const tooLong = new Uint8Array(MAX_KEY_SIZE + 1);
    await assert.rejects(db.put(tooLong, "v"), RangeError);
    await assert.rejects(db.get(tooLong), RangeError);
    await assert.rejects(db.delete(tooLong), RangeError);
    assert.throws(() => db.batch().put(tooLong, "v"), RangeError);
    assert.throws(() => db.scan({ start: tooLong }), RangeError);
  });

  it("a string key is measured in UTF-8 bytes, not characters", async () => {
    const key = "é".repeat(MAX_KEY_SIZE / 2 + 1); // 65538 bytes in 32769 characters
    await assert.rejects(db.put(key, "v"), RangeError);
    await assertUntouched();
  });

  it("a value of more than 64 MiB is a RangeError and nothing is written", async () => {
    assert.equal(MAX_VALUE_SIZE, 64 * 1024 * 1024);
    const tooBig = new Uint8Array(MAX_VALUE_SIZE + 1);
    await assert.rejects(db.put("big", tooBig), RangeError);
    assert.throws(() => db.batch().put("big", tooBig), RangeError);
    await assertUntouched();
  });

  it("a batch that hit a RangeError keeps its earlier operations and writes only them", async () => {
    const batch = db.batch().put("b", "2");
    assert.throws(() => batch.put(new Uint8Array(MAX_KEY_SIZE + 1), "v"), RangeError);
    await batch.put("c", "3").write();
    assert.deepEqual(await contents(db), ["a=1", "b=2", "c=3"]);
  });
});

describe("use after close or release is a ClosedError", () => {
  it("every operation of a closed database fails with ClosedError", async () => {
    await db.close();
    await assert.rejects(db.put("k", "v"), ClosedError);
    await assert.rejects(db.delete("a"), ClosedError);
    await assert.rejects(db.get("a"), ClosedError);
    assert.throws(() => db.getSync("a"), ClosedError);
    assert.throws(() => db.scan(), ClosedError);
    assert.throws(() => db.snapshot(), ClosedError);
    assert.throws(() => db.batch(), ClosedError);
    await assert.rejects(db.write(new WriteBatch().put("k", "v")), ClosedError);
    await assert.rejects(db.flush(), ClosedError);
    await assert.rejects(db.compact(), ClosedError);
    assert.throws(() => db.stats(), ClosedError);
    db = await open(dir);
    await assertUntouched();
  });

  it("a batch made before close fails with ClosedError when written after it", async () => {
    const batch = db.batch().put("b", "2");
    await db.close();
    await assert.rejects(batch.write(), ClosedError);
    db = await open(dir);
    await assertUntouched();
  });

  it("a snapshot or scan still open when the database closes fails with ClosedError", async () => {
    const snap = db.snapshot();
    const scan = db.scan();
    await db.close();
    await assert.rejects(snap.get("a"), ClosedError);
    assert.throws(() => snap.scan(), ClosedError);
    assert.throws(() => scan.nextEntry(), ClosedError);
    snap.release();
    db = await open(dir);
  });

  it("a released snapshot fails with ClosedError, and releasing it again is harmless", async () => {
    const snap = db.snapshot();
    assert.equal(decoder.decode(await snap.get("a")), "1");
    snap.release();
    await assert.rejects(snap.get("a"), ClosedError);
    assert.throws(() => snap.getSync("a"), ClosedError);
    assert.throws(() => snap.scan(), ClosedError);
    snap.release();
    assert.equal(db.stats().readers, 0);
  });

  it("close() twice resolves both times, and closed reports it", async () => {
    assert.equal(db.closed, false);
    const first = db.close();
    const second = db.close();
    await first;
    await second;
    await db.close();
    assert.equal(db.closed, true);
    db = await open(dir);
    await assertUntouched();
  });

  it("writes issued before close() are applied, not rejected", async () => {
    const writes = [db.put("b", "2"), db.put("c", "3", { sync: true })];
    await db.close();
    await Promise.all(writes);
    db = await open(dir);
    assert.deepEqual(await contents(db), ["a=1", "b=2", "c=3"]);
  });
});

describe("opening", () => {
  it("createIfMissing: false on an empty directory is a StrataError, and creates nothing", async () => {
    const other = join(dir, "absent");
    await assert.rejects(open(other, { createIfMissing: false }), StrataError);
    assert.equal(existsSync(other), false, "the directory was created");
  });

  it("errorIfExists on an existing database is a StrataError and leaves it intact", async () => {
    await db.close();
    await assert.rejects(open(dir, { errorIfExists: true }), StrataError);
    db = await open(dir);
    await assertUntouched();
  });
});

describe("read-only open", () => {
  it("reads data, including what is only in the write-ahead log, and changes no file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "strata-readonly-"));
    try {
      const db = await open(dir);
      await db.put("flushed", "1");
      await db.flush();
      await db.put("logged", "2");
      await db.close();
      const before = new Map(
        readdirSync(dir).filter((n) => n !== "LOCK").map((n) => [
          n,
          readFileSync(join(dir, n)).toString("hex"),
        ]),
      );
      const ro = await open(dir, { readOnly: true });
      assert.equal(new TextDecoder().decode(await ro.get("flushed")), "1");
      assert.equal(new TextDecoder().decode(await ro.get("logged")), "2");
      assert.equal(ro.scan().toArray().length, 2);
      await ro.close();
      const after = new Map(
        readdirSync(dir).filter((n) => n !== "LOCK").map((n) => [
          n,
          readFileSync(join(dir, n)).toString("hex"),
        ]),
      );
      assert.deepEqual(after, before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it("rejects writes, batches, flushes and compactions with a StrataError", async () => {
    const dir = mkdtempSync(join(tmpdir(), "strata-readonly-"));
    try {
      await (await open(dir)).close();
      const ro = await open(dir, { readOnly: true });
      await assert.rejects(ro.put("k", "v"), /read-only/);
      await assert.rejects(ro.delete("k"), /read-only/);
      assert.throws(() => ro.batch(), /read-only/);
      await assert.rejects(ro.flush(), /read-only/);
      await assert.rejects(ro.compact(), /read-only/);
      await ro.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it("does not create a missing database", async () => {
    const dir = join(tmpdir(), `strata-readonly-missing-${Date.now()}`);
    await assert.rejects(open(dir, { readOnly: true }), /does not exist/);
    assert.equal(existsSync(dir), false);
  });
});
