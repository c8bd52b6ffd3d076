/**
 * Strata adapter for the comparison benchmark.
 *
 * @module
 */

import { open } from "../../mod.ts";
import type { EngineDb, EngineFactory, EngineOptions } from "../common.ts";

/** Strata through its public API. */
export const strataEngine: EngineFactory = {
  name: "strata",
  settings(o: EngineOptions): string {
    return `memtableSize=${o.memtableSize}, blockCacheSize=${o.cacheSize}, ` +
      `sync per write for fillsync/syncconcurrent, ` +
      (o.asyncReads ? "async get + for-await scans" : "getSync + synchronous scan iteration");
  },
  notes(o: EngineOptions): string[] {
    return o.asyncReads ? [] : [
      "point reads use db.getSync() and scans iterate db.scan() synchronously (pass --async-reads " +
      "to measure db.get() / for-await instead)",
    ];
  },
  async open(dir: string, o: EngineOptions): Promise<EngineDb> {
    const db = await open(dir, { memtableSize: o.memtableSize, blockCacheSize: o.cacheSize });
    const syncOpt = { sync: true };
    const get = o.asyncReads
      ? (key: Uint8Array) => db.get(key)
      : (key: Uint8Array) => db.getSync(key);
    return {
      put: (key, value) => db.put(key, value),
      putDurable: (key, value) => db.put(key, value, syncOpt),
      get,
      delete: (key) => db.delete(key),
      writeBatch(keys, values) {
        const b = db.batch();
        for (let i = 0; i < keys.length; i++) b.put(keys[i], values[i]);
        return b.write();
      },
      seek: o.asyncReads
        ? async (key, count) => {
          let n = 0;
          for await (const _ of db.scan({ start: key, limit: count })) n++;
          return n;
        }
        : (key, count) => {
          let n = 0;
          for (const _ of db.scan({ start: key, limit: count })) n++;
          return n;
        },
      scan: o.asyncReads
        ? async (reverse, max, deadline) => {
          let n = 0;
          for await (const _ of db.scan({ reverse, limit: max })) {
            // Checking the clock on every entry would cost more than the entry itself.
            if ((++n & 1023) === 0 && performance.now() > deadline) break;
          }
          return n;
        }
        : (reverse, max, deadline) => {
          let n = 0;
          for (const _ of db.scan({ reverse, limit: max })) {
            if ((++n & 1023) === 0 && performance.now() > deadline) break;
          }
          return n;
        },
      close: () => db.close(),
      stats: () => db.stats(),
    };
  },
};
