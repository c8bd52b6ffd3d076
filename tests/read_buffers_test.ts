// What reads hand out stays intact: values from point reads share buffers,
// and cached blocks live in shared slabs, yet nothing a reader holds changes.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { open } from "../mod.ts";
import { withTempDir } from "./_temp.ts";

const key = (i: number) => `key${String(i).padStart(6, "0")}`;
const value = (i: number, tag: string) => `${tag}-${i}-${"v".repeat(60 + (i % 50))}`;
const text = (b: Uint8Array | undefined) =>
  b === undefined ? undefined : new TextDecoder().decode(b);

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir("reads", fn);

// Enough data for many blocks, with a cache far smaller than it.
const OPTIONS = { memtableSize: 64 * 1024, blockSize: 1024, blockCacheSize: 128 * 1024 };
const N = 4000;

describe("read buffers", () => {
  it("values from point reads stay intact through later reads, writes and compaction", async () => {
    await withDir(async (dir) => {
      const db = await open(dir, OPTIONS);
      for (let i = 0; i < N; i++) await db.put(key(i), value(i, "a"));
      await db.flush();
      const held = new Map<number, Uint8Array>();
      for (let i = 0; i < N; i += 7) held.set(i, db.getSync(key(i))!);
      for (let i = 0; i < N; i++) db.getSync(key((i * 31) % N));
      for (let i = 0; i < N; i++) await db.put(key(i), value(i, "b"));
      await db.compact();
      for (let i = 0; i < N; i += 3) db.getSync(key(i));
      for (const [i, v] of held) assert.equal(text(v), value(i, "a"), `held value ${i}`);
      await db.close();
    });
  });

  it("a scan reads correct entries while point reads churn the cache under it", async () => {
    await withDir(async (dir) => {
      const db = await open(dir, OPTIONS);
      for (let i = 0; i < N; i++) await db.put(key(i), value(i, "a"));
      await db.flush();
      await db.compact();
      const seen: string[] = [];
      let i = 0;
      for (const e of db.scan()) {
        seen.push(`${text(e.key)}=${text(e.value)}`);
        // Each step evicts blocks, possibly the one the scan stands on.
        for (let j = 0; j < 20; j++) db.getSync(key((i * 977 + j * 131) % N));
        i++;
      }
      assert.equal(seen.length, N);
      for (let k = 0; k < N; k++) assert.equal(seen[k], `${key(k)}=${value(k, "a")}`);
      await db.close();
    });
  });
});
