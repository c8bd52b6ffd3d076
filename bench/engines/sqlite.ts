/**
 * SQLite adapter (node:sqlite, i.e. the SQLite linked into Deno) for the comparison benchmark.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import type { EngineDb, EngineFactory, EngineOptions } from "../common.ts";

/** SQLite as a key-value store: one WITHOUT ROWID table keyed by a BLOB. */
export const sqliteEngine: EngineFactory = {
  name: "sqlite",
  settings(o: EngineOptions): string {
    return "node:sqlite DatabaseSync, journal_mode=WAL, synchronous=NORMAL (FULL for " +
      `fillsync/syncconcurrent), cache_size=${Math.round(o.cacheSize / 1024)} KiB, ` +
      "page_size=4096, WITHOUT ROWID table (k BLOB PRIMARY KEY, v BLOB), prepared statements " +
      "(INSERT OR REPLACE), batches in BEGIN/COMMIT, seeks as SELECT … WHERE k >= ? LIMIT 11";
  },
  notes(): string[] {
    return [
      "synchronous=NORMAL in WAL mode does not fsync commits (only checkpoints), which matches " +
      "an unsynced LSM write",
      "the API is synchronous, so syncconcurrent's 64 writers run one after another (no group " +
      "commit): each write is its own fsynced transaction",
    ];
  },
  open(dir: string, o: EngineOptions): Promise<EngineDb> {
    const db = new DatabaseSync(`${dir}/db.sqlite3`);
    db.exec(`
      PRAGMA page_size = 4096;
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = ${o.durable ? "FULL" : "NORMAL"};
      PRAGMA cache_size = -${Math.max(1, Math.round(o.cacheSize / 1024))};
      CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;
    `);
    const putStmt = db.prepare("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)");
    const getStmt = db.prepare("SELECT v FROM kv WHERE k = ?");
    const delStmt = db.prepare("DELETE FROM kv WHERE k = ?");
    const seekStmt = db.prepare("SELECT k, v FROM kv WHERE k >= ? ORDER BY k LIMIT ?");
    const scanFwd = db.prepare("SELECT k, v FROM kv ORDER BY k LIMIT ?");
    const scanRev = db.prepare("SELECT k, v FROM kv ORDER BY k DESC LIMIT ?");
    const begin = db.prepare("BEGIN");
    const commit = db.prepare("COMMIT");

    return Promise.resolve({
      put(key, value) {
        putStmt.run(key, value);
      },
      putDurable(key, value) {
        // Durability comes from synchronous=FULL, set at open for durable databases.
        putStmt.run(key, value);
      },
      get(key) {
        const row = getStmt.get(key) as { v: Uint8Array } | undefined;
        return row?.v;
      },
      delete(key) {
        delStmt.run(key);
      },
      writeBatch(keys, values) {
        begin.run();
        try {
          for (let i = 0; i < keys.length; i++) putStmt.run(keys[i], values[i]);
          commit.run();
        } catch (e) {
          db.exec("ROLLBACK");
          throw e;
        }
      },
      seek(key, count) {
        // all() rather than iterate(): for 11 rows the per-iterator setup costs more than the array.
        return seekStmt.all(key, count).length;
      },
      scan(reverse, max, deadline) {
        let n = 0;
        for (const _ of (reverse ? scanRev : scanFwd).iterate(max)) {
          if ((++n & 1023) === 0 && performance.now() > deadline) break;
        }
        return n;
      },
      close() {
        db.close();
      },
    });
  },
};
