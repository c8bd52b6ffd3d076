import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as nodeFs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { defaultFileSystem, joinPath } from "../lib/fs.ts";
import { KIND_PUT } from "../lib/internal_key.ts";
import { BlockCache } from "../lib/sstable/block_cache.ts";
import { TableBuilder } from "../lib/sstable/table_builder.ts";
import { TableCache, TableLeases, tableName } from "../lib/table_cache.ts";

const fs = defaultFileSystem();

function makeTables(count: number): string {
  const dir = nodeFs.mkdtempSync(path.join(os.tmpdir(), "strata-tcache-"));
  for (let n = 1; n <= count; n++) {
    const file = fs.openWrite(joinPath(dir, tableName(n)));
    const builder = new TableBuilder(file);
    builder.add(new TextEncoder().encode(`k${n}`), n, KIND_PUT, new Uint8Array([n]));
    builder.finish();
    file.close();
  }
  return dir;
}

// Runs `body` on a cache over `count` new tables, then closes the cache and removes the tables.
function withCache(
  count: number,
  options: ConstructorParameters<typeof TableCache>[2],
  body: (cache: TableCache) => void,
): void {
  const dir = makeTables(count);
  const cache = new TableCache(fs, dir, options);
  try {
    body(cache);
  } finally {
    cache.close();
    nodeFs.rmSync(dir, { recursive: true });
  }
}

describe("TableCache", () => {
  it("tells of each mapped table's first read, once per opening, and not of a preload", () => {
    const firstReads: number[] = [];
    withCache(3, { capacity: 1, map: true, onFirstRead: (t) => firstReads.push(t.fileNumber) }, (
      cache,
    ) => {
      if (!cache.get(1).mapped) return;
      cache.get(1);
      cache.preload(2);
      cache.acquire(2);
      cache.release(2);
      cache.preload(3);
      // Opening 3 closed 1 and 2: reading 1 again opens it anew.
      cache.get(1);
      assert.deepEqual(firstReads, [1, 2, 1]);
      assert.ok(cache.get(1).checks.buffer instanceof SharedArrayBuffer);
    });
  });
  it("leaves a table preloaded as just written unscrubbed, its blocks in memory marked checked", () => {
    const firstReads: number[] = [];
    withCache(2, { capacity: 2, map: true, onFirstRead: (t) => firstReads.push(t.fileNumber) }, (
      cache,
    ) => {
      cache.preload(1, { justWritten: true });
      cache.preload(2);
      if (!cache.get(1).mapped) return;
      cache.get(2);
      assert.deepEqual(firstReads, [2]);
      assert.deepEqual([...new Set(cache.get(1).checks)], [1]);
      assert.deepEqual([...new Set(cache.get(2).checks)], [0]);
    });
  });
  it("keeps at most its capacity of unused tables open", () => {
    withCache(5, { capacity: 2 }, (cache) => {
      for (let n = 1; n <= 5; n++) cache.get(n);
      assert.equal(cache.openCount, 2);
    });
  });
  it("never closes a table in use, even past capacity", () => {
    withCache(4, { capacity: 1 }, (cache) => {
      const held = [1, 2, 3].map((n) => cache.acquire(n));
      cache.get(4);
      for (const t of held) assert.ok(t.get(new TextEncoder().encode(`k${t.fileNumber}`), 99));
      for (const n of [1, 2, 3]) cache.release(n);
    });
  });
  it("closes a dropped table only when its last user releases it", () => {
    withCache(1, { capacity: 10 }, (cache) => {
      const t = cache.acquire(1);
      cache.drop(1);
      assert.ok(t.get(new TextEncoder().encode("k1"), 99), "still readable while held");
      cache.release(1);
      assert.equal(cache.openCount, 0);
    });
  });
  it("holds a pin on the block cache from each acquire to its release, and none for get", () => {
    const blocks = new BlockCache(1 << 20);
    withCache(2, { capacity: 10, blocks }, (cache) => {
      cache.get(1);
      assert.equal(blocks.pins, 0);
      cache.acquire(1);
      cache.acquire(2);
      cache.acquire(1);
      assert.equal(blocks.pins, 3);
      for (const n of [1, 2, 1]) cache.release(n);
      assert.equal(blocks.pins, 0);
    });
  });
});

describe("TableLeases", () => {
  it("releases exactly the acquisitions it still holds", () => {
    const blocks = new BlockCache(1 << 20);
    withCache(3, { capacity: 10, blocks }, (cache) => {
      const leases = new TableLeases(cache);
      for (const n of [1, 2, 2, 3]) leases.iterator(n);
      leases.release(2);
      leases.release(3);
      assert.equal(leases.held, 2);
      assert.equal(blocks.pins, 2);
      leases.releaseAll();
      assert.equal(leases.held, 0);
      assert.equal(blocks.pins, 0);
    });
  });
  it("hands a released iterator to the next lease of its table, unpositioned", () => {
    withCache(2, { capacity: 10 }, (cache) => {
      const leases = new TableLeases(cache);
      const first = leases.iterator(1);
      first.seekToFirst();
      assert.ok(first.valid());
      leases.release(1);
      const again = new TableLeases(cache).iterator(1);
      assert.equal(again, first);
      assert.equal(again.valid(), false);
      assert.notEqual(new TableLeases(cache).iterator(2), first, "never to another table");
    });
  });
  it("gives two leases of one table two iterators, and recycles both", () => {
    withCache(1, { capacity: 10 }, (cache) => {
      const leases = new TableLeases(cache);
      const a = leases.iterator(1);
      const b = leases.iterator(1);
      assert.notEqual(a, b);
      a.seekToFirst();
      b.seekToFirst();
      leases.release(1);
      assert.ok(a.valid() || b.valid(), "the other lease's iterator is still in use");
      leases.releaseAll();
      const next = new TableLeases(cache);
      const reused = [next.iterator(1), next.iterator(1)];
      assert.deepEqual(new Set(reused), new Set([a, b]));
    });
  });
  it("ignores a release of a table it does not hold", () => {
    const blocks = new BlockCache(1 << 20);
    withCache(1, { capacity: 10, blocks }, (cache) => {
      const other = cache.acquire(1);
      const leases = new TableLeases(cache);
      leases.release(1);
      assert.equal(blocks.pins, 1, "the other holder's pin stays");
      assert.ok(other.get(new TextEncoder().encode("k1"), 99));
      cache.release(1);
    });
  });
});
