/**
 * LevelDB adapter (npm:classic-level, which bundles prebuilt LevelDB binaries) for the comparison
 * benchmark.
 *
 * @module
 */

// Inline npm: specifier on purpose: a benchmark-only dependency stays out of deno.json's import
// map, which the published library shares.
// deno-lint-ignore no-import-prefix
import { ClassicLevel } from "npm:classic-level@3.0.0";
import type { EngineDb, EngineFactory, EngineOptions } from "../common.ts";

/** LevelDB through classic-level 3 with binary (Uint8Array) keys and values. */
export const leveldbEngine: EngineFactory = {
  name: "leveldb",
  settings(o: EngineOptions): string {
    return `classic-level 3.0.0, writeBufferSize=${o.memtableSize}, cacheSize=${o.cacheSize}, ` +
      "snappy on (default), bloom 10 bits/key (classic-level built-in), blockSize=4096, " +
      "view encodings, sync:true per write for fillsync/syncconcurrent, " +
      (o.asyncReads ? "async get" : "getSync") + ", iterator.nextv() for scans";
  },
  notes(o: EngineOptions): string[] {
    return [
      ...(o.asyncReads ? [] : ["point reads use db.getSync()"]),
      "writes and iterators are asynchronous only: every put/delete/batch and every iterator " +
      "(creation, nextv, close) is a round trip through the libuv threadpool, which dominates " +
      "the single-op write workloads and seekrandom",
    ];
  },
  async open(dir: string, o: EngineOptions): Promise<EngineDb> {
    const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, {
      keyEncoding: "view",
      valueEncoding: "view",
      writeBufferSize: o.memtableSize,
      cacheSize: o.cacheSize,
    });
    await db.open();
    const syncOpt = { sync: true };
    return {
      put: (key, value) => db.put(key, value),
      putDurable: (key, value) => db.put(key, value, syncOpt),
      get: o.asyncReads ? (key) => db.get(key) : (key) => db.getSync(key),
      delete: (key) => db.del(key),
      writeBatch(keys, values) {
        const b = db.batch();
        for (let i = 0; i < keys.length; i++) b.put(keys[i], values[i]);
        return b.write();
      },
      async seek(key, count) {
        const it = db.iterator({ gte: key, limit: count });
        try {
          return (await it.nextv(count)).length;
        } finally {
          await it.close();
        }
      },
      async scan(reverse, max, deadline) {
        const it = db.iterator({ reverse, limit: max });
        let n = 0;
        try {
          while (n < max && performance.now() <= deadline) {
            const rows = await it.nextv(1000);
            if (rows.length === 0) break;
            n += rows.length;
          }
        } finally {
          await it.close();
        }
        return n;
      },
      close: () => db.close(),
    };
  },
};
