// Tables read through memory maps (the default where the runtime allows it)
// and through positional reads (`mmapReads: false`) behave the same.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as nodeFs from "node:fs";
import { join } from "node:path";
import { CorruptionError, open, type OpenOptions } from "../mod.ts";
import { canMapFiles } from "../lib/file_map.ts";
import { withTempDir } from "./_temp.ts";

const KEYS = 2000;
const decoder = new TextDecoder();
const key = (i: number) => `key${String(i).padStart(6, "0")}`;
const value = (i: number) => `value-${i}-`.repeat(8);

// Writes KEYS keys into two flushed tables and closes the database.
async function writeTables(dir: string, options: OpenOptions = {}): Promise<void> {
  const db = await open(dir, { autoCompaction: false, ...options });
  for (let i = 0; i < KEYS; i++) {
    await db.put(key(i), value(i));
    if (i === KEYS / 2) await db.flush();
  }
  await db.flush();
  await db.close();
}

// Flips a byte of the first table's first data block; returns the table's name.
function flipFirstTableByte(dir: string): string {
  const name = tableFiles(dir)[0];
  const path = join(dir, name);
  const bytes = nodeFs.readFileSync(path);
  bytes[100] ^= 0x10;
  nodeFs.writeFileSync(path, bytes);
  return name;
}

// Waits (up to 20 s) for background work to make `done` true.
async function until(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!done()) {
    assert.ok(Date.now() < deadline, "timed out waiting for background work");
    await new Promise((r) => setTimeout(r, 10));
  }
}

function tableFiles(dir: string): string[] {
  return nodeFs.readdirSync(dir).filter((n) => n.endsWith(".sst")).sort();
}

// Opens the database, runs `first`, then reads every key, expecting a
// CorruptionError that names `table`.
async function assertReadsFindCorruption(
  dir: string,
  table: string,
  options: OpenOptions,
  first?: (db: Awaited<ReturnType<typeof open>>) => Promise<void>,
): Promise<void> {
  const db = await open(dir, { blockCacheSize: 0, ...options });
  try {
    await first?.(db);
    assert.throws(
      () => {
        for (let i = 0; i < KEYS; i++) db.getSync(key(i));
      },
      (e: unknown) => e instanceof CorruptionError && e.message.includes(table),
    );
  } finally {
    await db.close();
  }
}

describe("table reads", () => {
  for (const mmapReads of [true, false]) {
    it(`find every key ${mmapReads ? "through memory maps" : "with positional reads"}`, async () => {
      await withTempDir("mmap", async (dir) => {
        await writeTables(dir);
        const db = await open(dir, { mmapReads, blockCacheSize: 0 });
        try {
          for (let i = 0; i < KEYS; i++) {
            assert.equal(decoder.decode(db.getSync(key(i))), value(i), key(i));
          }
          let n = 0;
          for (const _ of db.scan()) n++;
          assert.equal(n, KEYS);
          const { tables } = db.stats();
          assert.equal(tables.open, 2);
          assert.equal(tables.mapped, mmapReads && canMapFiles() ? 2 : 0);
        } finally {
          await db.close();
        }
      });
    });

    it(
      `report a flipped byte as corruption naming the table ${
        mmapReads ? "through memory maps" : "with positional reads"
      }`,
      async () => {
        await withTempDir("mmap", async (dir) => {
          await writeTables(dir);
          await assertReadsFindCorruption(dir, flipFirstTableByte(dir), { mmapReads });
        });
      },
    );
  }

  it("scrub each table opened through a map in the background, ahead of its reads", async () => {
    if (!canMapFiles()) return;
    await withTempDir("mmap", async (dir) => {
      await writeTables(dir);
      const db = await open(dir, { blockCacheSize: 0 });
      try {
        db.getSync(key(0));
        db.getSync(key(KEYS - 1));
        assert.equal(db.stats().tables.open, 2);
        await until(() => db.stats().tables.scrubbed === 2);
        for (let i = 0; i < KEYS; i++) {
          assert.equal(decoder.decode(db.getSync(key(i))), value(i), key(i));
        }
      } finally {
        await db.close();
      }
    });
  });

  it("leave a block damaged before its table's scrub for the read that needs it to report", async () => {
    if (!canMapFiles()) return;
    await withTempDir("mmap", async (dir) => {
      await writeTables(dir);
      const name = flipFirstTableByte(dir);
      await assertReadsFindCorruption(dir, name, {}, async (db) => {
        // A key far from the damage opens the table without reading the damaged block.
        assert.equal(decoder.decode(db.getSync(key(KEYS / 2 - 10))), value(KEYS / 2 - 10));
        await until(() => db.stats().tables.scrubbed === 1);
      });
    });
  });

  it("report a table cut short before it was opened as corruption, not a crash", async () => {
    await withTempDir("mmap", async (dir) => {
      await writeTables(dir);
      const name = tableFiles(dir)[1];
      const path = join(dir, name);
      nodeFs.truncateSync(path, Math.floor(nodeFs.statSync(path).size / 2));
      await assertReadsFindCorruption(dir, name, {});
    });
  });

  it("release the maps of tables closed to stay within maxOpenFiles", async () => {
    await withTempDir("mmap", async (dir) => {
      const db = await open(dir, { autoCompaction: false, maxOpenFiles: 16 });
      try {
        for (let t = 0; t < 24; t++) {
          await db.put(key(t), value(t));
          await db.flush();
        }
        for (let t = 0; t < 24; t++) assert.ok(db.getSync(key(t)) !== undefined);
        const { tables } = db.stats();
        assert.ok(tables.open <= 17, `${tables.open} tables open`);
        assert.equal(tables.mapped, canMapFiles() ? tables.open : 0);
      } finally {
        await db.close();
      }
    });
  });

  it("open each table a flush or compaction writes before any read asks for it", async () => {
    await withTempDir("mmap", async (dir) => {
      const db = await open(dir, { autoCompaction: false });
      try {
        for (let t = 0; t < 3; t++) {
          await db.put(key(t), value(t));
          await db.flush();
          assert.equal(db.stats().tables.open, t + 1, `after flush ${t + 1}`);
        }
        await db.compact();
        const { tables, levels } = db.stats();
        const files = levels.reduce((n, l) => n + l.files, 0);
        assert.ok(tables.open >= files, `${tables.open} open, ${files} live`);
        for (let t = 0; t < 3; t++) assert.equal(decoder.decode(db.getSync(key(t))), value(t));
      } finally {
        await db.close();
      }
    });
  });

  it("reject an mmapReads that is not a boolean", async () => {
    await withTempDir("mmap", async (dir) => {
      await assert.rejects(
        open(dir, { mmapReads: 1 as unknown as boolean }),
        /mmapReads must be a boolean/,
      );
    });
  });
});
