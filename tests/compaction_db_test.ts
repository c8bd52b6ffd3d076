// Leveled compaction seen from the outside: deleted keys stay deleted,
// snapshots keep their view, levels stay within bounds.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as nodeFs from "node:fs";
import * as path from "node:path";
import { type DB, open, type OpenOptions } from "../mod.ts";
import { defaultFileSystem } from "../lib/fs.ts";
import { Block } from "../lib/sstable/block.ts";
import { Table } from "../lib/sstable/table_reader.ts";
import { FaultFileSystem } from "./_fault_fs.ts";
import { withTempDir } from "./_temp.ts";

const SMALL: OpenOptions = {
  memtableSize: 8 * 1024,
  blockSize: 1024,
  compaction: {
    l0CompactionTrigger: 2,
    l0SlowdownTrigger: 6,
    l0StopTrigger: 8,
    levelBaseBytes: 32 * 1024,
    targetFileSize: 8 * 1024,
  },
};

const key = (i: number) => `key${String(i).padStart(6, "0")}`;
const text = (b: Uint8Array | undefined) =>
  b === undefined ? undefined : new TextDecoder().decode(b);

const withDb = (fn: (dir: string) => Promise<void>) => withTempDir("compaction", fn);

async function fill(db: DB, from: number, to: number, tag: string): Promise<void> {
  for (let i = from; i < to; i++) await db.put(key(i), `${tag}-${i}-${"x".repeat(40)}`);
}

async function settle(db: DB): Promise<void> {
  await db.flush();
  for (let i = 0; i < 400; i++) {
    const s = db.stats();
    if (s.levels.every((l) => l.score < 1)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`compaction did not settle in 4 s: ${JSON.stringify(db.stats().levels)}`);
}

// Two level-0 tables holding the same keys, so that a compaction rewrites both.
async function twoOverlappingTables(db: DB): Promise<void> {
  await fill(db, 0, 300, "a");
  await db.flush();
  await fill(db, 0, 300, "b");
  await db.flush();
}

function deepestLevel(db: DB): number {
  const levels = db.stats().levels;
  for (let l = levels.length - 1; l >= 0; l--) if (levels[l].files > 0) return l;
  return 0;
}

describe("leveled compaction", () => {
  it("a key deleted after its older versions reached deeper levels stays deleted through compactions and a reopen", async () => {
    await withDb(async (dir) => {
      let db = await open(dir, SMALL);
      await fill(db, 0, 2000, "old");
      await db.compact();
      assert.ok(deepestLevel(db) >= 2, `old versions reached level ${deepestLevel(db)}, not 2+`);
      for (let i = 0; i < 2000; i += 3) await db.delete(key(i));
      // Unrelated writes push the tombstones down through automatic compactions.
      await fill(db, 2000, 6000, "new");
      await settle(db);
      for (let i = 0; i < 2000; i++) {
        assert.equal(await db.get(key(i)) === undefined, i % 3 === 0, `key ${i} after compactions`);
      }
      await db.compact();
      await db.close();
      db = await open(dir, SMALL);
      for (let i = 0; i < 2000; i++) {
        assert.equal(await db.get(key(i)) === undefined, i % 3 === 0, `key ${i} after reopen`);
      }
      assert.equal(db.scan({ end: key(2000) }).toArray().length, 2000 - Math.ceil(2000 / 3));
      await db.close();
    });
  });

  it("a snapshot held across compactions keeps reading the versions it saw", async () => {
    await withDb(async (dir) => {
      const db = await open(dir, SMALL);
      await fill(db, 0, 1000, "v1");
      const snap = db.snapshot();
      await fill(db, 0, 1000, "v2");
      for (let i = 0; i < 1000; i += 2) await db.delete(key(i));
      await db.compact();
      await settle(db);
      for (let i = 0; i < 1000; i += 37) {
        assert.equal(text(await snap.get(key(i))), `v1-${i}-${"x".repeat(40)}`);
        assert.equal(
          text(await db.get(key(i))),
          i % 2 === 0 ? undefined : `v2-${i}-${"x".repeat(40)}`,
        );
      }
      assert.equal(snap.scan().toArray().length, 1000);
      snap.release();
      await db.compact();
      await db.close();
    });
  });

  it("a table replaced under an open scan stays on disk until that scan ends, and no longer", async () => {
    await withDb(async (dir) => {
      const db = await open(dir, { ...SMALL, autoCompaction: false });
      await twoOverlappingTables(db);
      const tables = () => new Set(nodeFs.readdirSync(dir).filter((n) => n.endsWith(".sst")));
      const before = tables();
      const held = db.scan();
      assert.equal(text(held.nextEntry()?.value), `b-0-${"x".repeat(40)}`);
      await db.compact();
      // Scans of the new tables come and go while the old ones are held.
      for (let i = 0; i < 3; i++) assert.equal(db.scan({ limit: 5 }).toArray().length, 5);
      await new Promise((r) => setTimeout(r, 20));
      for (const name of before) assert.ok(tables().has(name), `${name} removed under a scan`);
      assert.equal(held.toArray().length, 299);
      await db.close();
      const after = tables();
      for (const name of before) assert.ok(!after.has(name), `${name} left after the scan ended`);
      assert.ok(after.size > 0);
    });
  });

  it("compact() and close() wait for the replaced files being removed in the background", async () => {
    const fs = new FaultFileSystem();
    const db = await open("/db", { ...SMALL, fs, autoCompaction: false, compactionWorker: false });
    await twoOverlappingTables(db);
    const tables = () => fs.list("/db").filter((n) => n.endsWith(".sst"));
    const before = tables();
    fs.backgroundRemovals.hold = true;
    let compacted = false;
    const compacting = db.compact().then(() => compacted = true);
    for (let i = 0; i < 100 && fs.backgroundRemovals.held < before.length; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(fs.backgroundRemovals.held, before.length, "removals under way");
    let closed = false;
    const closing = db.close().then(() => closed = true);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(compacted, false, "compact() resolved with removals under way");
    assert.equal(closed, false, "close() resolved with removals under way");
    fs.backgroundRemovals.release();
    await Promise.all([compacting, closing]);
    const after = tables();
    for (const name of before) assert.ok(!after.includes(name), `${name} left after close()`);
  });

  it("a replaced table whose removal failed is removed by the next open, and no data is lost", async () => {
    const fs = new FaultFileSystem();
    const options: OpenOptions = { ...SMALL, fs, autoCompaction: false, compactionWorker: false };
    let db = await open("/db", options);
    await twoOverlappingTables(db);
    const tables = () => fs.list("/db").filter((n) => n.endsWith(".sst"));
    const before = tables();
    fs.failAt("remove", 1, { match: /\.sst$/ });
    await db.compact();
    await db.close();
    assert.equal(before.filter((name) => tables().includes(name)).length, 1, "one removal failed");
    db = await open("/db", options);
    for (const name of before) assert.ok(!tables().includes(name), `${name} left after reopening`);
    for (let i = 0; i < 300; i += 7) {
      assert.equal(text(await db.get(key(i))), `b-${i}-${"x".repeat(40)}`);
    }
    await db.close();
  });

  it("dropping overwritten versions keeps the table bytes near the live data", async () => {
    await withDb(async (dir) => {
      const db = await open(dir, SMALL);
      for (let round = 0; round < 5; round++) await fill(db, 0, 1000, `r${round}`);
      await db.compact();
      const live = db.scan().toArray().reduce((n, e) => n + e.key.length + e.value.length, 0);
      const bytes = db.stats().totalTableBytes;
      assert.ok(bytes < live * 1.5, `table bytes ${bytes} vs live ${live}`);
      await db.close();
    });
  });

  it("compact() of a range leaves keys outside it where they were and inside it in the deepest level", async () => {
    await withDb(async (dir) => {
      const db = await open(dir, { ...SMALL, autoCompaction: false });
      await fill(db, 0, 3000, "a");
      await db.flush();
      const before = db.stats().levels[0].files;
      assert.ok(before > 1);
      await db.compact({ start: key(0), end: key(100) });
      const after = db.stats();
      assert.ok(after.levels.slice(1).some((l) => l.files > 0), "range reached a deeper level");
      for (let i = 0; i < 3000; i += 97) {
        assert.equal(text(await db.get(key(i))), `a-${i}-${"x".repeat(40)}`);
      }
      await db.close();
    });
  });

  it("a sequential load reaches the sorted levels without any table being rewritten", async () => {
    await withDb(async (dir) => {
      let db = await open(dir, SMALL);
      await fill(db, 0, 3000, "s");
      await settle(db);
      const s = db.stats();
      assert.ok(s.compactions > 0, "no compaction ran");
      assert.equal(s.compactionBytesWritten, 0);
      assert.ok(deepestLevel(db) >= 2, `levels ${JSON.stringify(s.levels)}`);
      await db.close();
      db = await open(dir, SMALL);
      for (let i = 0; i < 3000; i++) {
        assert.equal(text(await db.get(key(i))), `s-${i}-${"x".repeat(40)}`);
      }
      let count = 0;
      for await (const _ of db.scan()) count++;
      assert.equal(count, 3000);
      await db.close();
    });
  });

  it("writes wait rather than let level 0 pass its stop threshold", async () => {
    await withDb(async (dir) => {
      const db = await open(dir, SMALL);
      let maxL0 = 0;
      for (let i = 0; i < 20000; i++) {
        await db.put(key(i % 5000), `${i}-${"y".repeat(60)}`);
        if (i % 50 === 0) maxL0 = Math.max(maxL0, db.stats().levels[0].files);
      }
      assert.ok(maxL0 <= 8, `level 0 reached ${maxL0} files`);
      assert.ok(db.stats().compactions > 0);
      await db.close();
    });
  });
});

describe("the manifest", () => {
  it("is replaced by a fresh snapshot once it passes maxManifestSize, and the data survives a reopen", async () => {
    await withDb(async (dir) => {
      const options = { ...SMALL, maxManifestSize: 4096 };
      let db = await open(dir, options);
      await fill(db, 0, 3000, "m");
      await settle(db);
      const manifests = nodeFs.readdirSync(dir).filter((n) => n.startsWith("MANIFEST-"));
      assert.equal(manifests.length, 1, `one manifest, found ${manifests.join(", ")}`);
      const current = nodeFs.readFileSync(path.join(dir, "CURRENT"), "utf8").trim();
      assert.equal(current, manifests[0]);
      assert.ok(nodeFs.statSync(path.join(dir, current)).size < 64 * 1024);
      assert.notEqual(current, "MANIFEST-000001", "rolled at least once");
      await db.close();
      db = await open(dir, options);
      for (let i = 0; i < 3000; i += 101) {
        assert.equal(text(await db.get(key(i))), `m-${i}-${"x".repeat(40)}`);
      }
      await db.close();
    });
  });
});

describe("background work", () => {
  it("a database left quiet merges its level-0 files down", async () => {
    await withDb(async (dir) => {
      const db = await open(dir, SMALL);
      await fill(db, 0, 300, "q");
      await db.flush();
      assert.ok(db.stats().levels[0].files > 0, "level 0 holds the flushed table");
      let files = db.stats().levels[0].files;
      for (let waited = 0; waited < 5000 && files > 0; waited += 100) {
        await new Promise((r) => setTimeout(r, 100));
        files = db.stats().levels[0].files;
      }
      assert.equal(files, 0);
      assert.equal(text(await db.get(key(7))), `q-7-${"x".repeat(40)}`);
      await db.close();
    });
  });

  it("a long synchronous read loop still sees compactions through to the end", async () => {
    await withDb(async (dir) => {
      const quiet = await open(dir, { ...SMALL, autoCompaction: false });
      await fill(quiet, 0, 3000, "r");
      await quiet.flush();
      assert.ok(quiet.stats().levels[0].files > 2, "level 0 is past its trigger");
      await quiet.close();
      const db = await open(dir, SMALL);
      // Never yields to the event loop, which would deliver the workers' replies.
      const deadline = Date.now() + 30_000;
      let reads = 0;
      while (Date.now() < deadline && db.stats().levels.some((l) => l.score >= 1)) {
        assert.equal(text(db.getSync(key(reads % 3000))), `r-${reads % 3000}-${"x".repeat(40)}`);
        reads++;
      }
      const s = db.stats();
      assert.deepEqual(s.levels.filter((l) => l.score >= 1), [], "every level within its target");
      assert.ok(s.compactions >= 1, `${s.compactions} compactions after ${reads} reads`);
      await db.close();
    });
  });

  it("scans and compactions of many sorted-level files hold one of them open at a time", async () => {
    const fs = new FaultFileSystem();
    const options: OpenOptions = { ...SMALL, fs, maxOpenFiles: 16, compactionWorker: false };
    const db = await open("/db", { ...options, autoCompaction: false });
    await fill(db, 0, 6000, "o");
    await db.compact();
    const deepest = db.stats().levels[deepestLevel(db)];
    assert.ok(deepest.files > 40, `only ${deepest.files} files in the deepest level`);
    const openTables = () => [...fs.openFiles.values()].filter((p) => p.endsWith(".sst")).length;
    let mostOpen = 0;
    let seen = 0;
    for (const { key: k } of db.scan()) {
      assert.equal(new TextDecoder().decode(k), key(seen++));
      mostOpen = Math.max(mostOpen, openTables());
    }
    assert.equal(seen, 6000);
    assert.ok(mostOpen <= 16, `${mostOpen} tables open during a scan with maxOpenFiles 16`);
    // A manual compaction of the whole range merges every file of the level.
    await db.compact();
    assert.ok(openTables() <= 16, `${openTables()} tables open after a compaction`);
    await db.close();
    assert.deepEqual([...fs.openFiles.values()], []);
  });

  it("stats() reports every level and the work done", async () => {
    await withDb(async (dir) => {
      const db = await open(dir, SMALL);
      // Two passes: the second overlaps the first, so compactions must merge.
      await fill(db, 0, 1500, "s");
      await fill(db, 0, 1500, "t");
      await settle(db);
      const s = db.stats();
      assert.deepEqual(s.levels.map((l) => l.level), [0, 1, 2, 3, 4, 5, 6]);
      for (const l of s.levels) {
        assert.ok(l.files >= 0 && l.bytes >= 0 && l.target > 0 && l.score >= 0, `level ${l.level}`);
      }
      assert.equal(s.sequence, 3000);
      assert.ok(s.flushes > 0 && s.compactions > 0);
      assert.ok(s.flushBytesWritten > 0 && s.compactionBytesWritten > 0);
      assert.ok(s.writeAmplification > 1);
      assert.equal(s.totalTableBytes, s.levels.reduce((n, l) => n + l.bytes, 0));
      assert.equal(s.readers, 0);
      await db.close();
    });
  });
});

describe("table settings", () => {
  // Restart points in the first data block of each table in `dir`, and its entries.
  function firstBlockShape(dir: string): { restarts: number; entries: number }[] {
    const fs = defaultFileSystem();
    return nodeFs.readdirSync(dir).filter((n) => n.endsWith(".sst")).map((name) => {
      const table = Table.open(fs.openRead(path.join(dir, name)), { fileNumber: 1 });
      try {
        const { offset, size } = table.describe().dataBlocks[0];
        const block = new Block(
          nodeFs.readFileSync(path.join(dir, name)).subarray(offset, offset + size),
        );
        let entries = 0;
        const it = block.iterator();
        for (it.seekToFirst(); it.valid(); it.next()) entries++;
        return { restarts: block.numRestarts, entries };
      } finally {
        table.close();
      }
    });
  }

  for (const interval of [1, 16]) {
    it(`tables are written with a restart point every ${interval} entries when opened so`, async () => {
      await withDb(async (dir) => {
        const db = await open(dir, { blockRestartInterval: interval, autoCompaction: false });
        await fill(db, 0, 200, "v");
        await db.flush();
        await db.close();
        const shapes = firstBlockShape(dir);
        assert.equal(shapes.length, 1);
        const { restarts, entries } = shapes[0];
        assert.ok(entries > 16, `${entries} entries`);
        assert.equal(restarts, Math.ceil(entries / interval));
      });
    });
  }
});
