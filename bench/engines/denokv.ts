/**
 * Deno KV adapter (the SQLite-backed local implementation behind `Deno.openKv(path)`) for the
 * comparison benchmark. Requires `--unstable-kv`.
 *
 * @module
 */

import type { EngineDb, EngineFactory } from "../common.ts";

// Sorts after every 16-byte key: list() needs an upper bound when it has a start key.
const END: Deno.KvKey = [new Uint8Array(17).fill(0xff)];

/** Deno KV with single-part Uint8Array keys and Uint8Array values. */
export const denokvEngine: EngineFactory = {
  name: "denokv",
  settings(): string {
    return "Deno.openKv(path), keys [Uint8Array], Uint8Array values, atomic() for batches, " +
      "list() with batchSize 1000 for scans; no tuning knobs";
  },
  notes(): string[] {
    return [
      "every workload is time-capped (see --kv-cap); ops/s is from the ops that ran",
      "no per-write durability knob, but every set()/delete()/commit() is already fsynced (one " +
      "fsync per write under strace), so all its write workloads are fsync-bound; " +
      "fillsync/syncconcurrent use the same plain set()",
      "no memtable/cache settings are applied",
    ];
  },
  async open(dir: string): Promise<EngineDb> {
    const kv = await Deno.openKv(`${dir}/kv.sqlite3`);
    const set = async (key: Uint8Array, value: Uint8Array) => {
      await kv.set([key], value);
    };
    return {
      put: set,
      putDurable: set,
      async get(key) {
        return (await kv.get<Uint8Array>([key])).value ?? undefined;
      },
      delete: (key) => kv.delete([key]),
      async writeBatch(keys, values) {
        const op = kv.atomic();
        for (let i = 0; i < keys.length; i++) op.set([keys[i]], values[i]);
        const res = await op.commit();
        if (!res.ok) throw new Error("Deno KV atomic commit failed");
      },
      async seek(key, count) {
        let n = 0;
        for await (const _ of kv.list({ start: [key], end: END }, { limit: count })) n++;
        return n;
      },
      async scan(reverse, max, deadline) {
        let n = 0;
        for await (const _ of kv.list({ prefix: [] }, { reverse, limit: max, batchSize: 1000 })) {
          if ((++n & 1023) === 0 && performance.now() > deadline) break;
        }
        return n;
      },
      close() {
        kv.close();
      },
    };
  },
};
