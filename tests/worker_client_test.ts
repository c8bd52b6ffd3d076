import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { open } from "../mod.ts";
import { endWorkerThreads, runningWorkerThreads } from "../lib/worker_client.ts";
import { setImmediate } from "node:timers";
import { withTempDir } from "./_temp.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("worker threads", () => {
  it("are shared by the databases of a process, one per kind of job", async () => {
    await withTempDir("strata-workers-", async (dir) => {
      const a = await open(`${dir}/a`);
      const b = await open(`${dir}/b`);
      try {
        await a.put("k", "a");
        await a.flush();
        await b.put("k", "b");
        await b.flush();
        assert.deepEqual(runningWorkerThreads().filter((k) => k === "flush"), ["flush"]);
        assert.equal(a.stats().levels[0].files + a.stats().levels[1].files, 1);
        assert.equal(b.stats().levels[0].files + b.stats().levels[1].files, 1);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });

  it("keep running for the next database when one closes", async () => {
    await withTempDir("strata-workers-", async (dir) => {
      const a = await open(`${dir}/a`);
      await a.put("k", "a");
      await a.flush();
      await a.close();
      assert.ok(runningWorkerThreads().includes("flush"));
      const b = await open(`${dir}/b`);
      try {
        await b.put("k", "b");
        await b.flush();
        assert.equal(new TextDecoder().decode(await b.get("k")), "b");
      } finally {
        await b.close();
      }
    });
  });

  it("stop after two seconds without work", async () => {
    await withTempDir("strata-workers-", async (dir) => {
      const db = await open(dir);
      await db.put("k", "v");
      await db.flush();
      await db.close();
      assert.ok(runningWorkerThreads().includes("flush"));
      await sleep(2300);
      assert.deepEqual(runningWorkerThreads(), []);
    });
  });

  it("that die under load leave every write readable, the jobs run by the database itself", async () => {
    await withTempDir("strata-workers-", async (dir) => {
      const value = new Uint8Array(200);
      let db = await open(dir, { memtableSize: 16 * 1024 });
      try {
        for (let i = 0; i < 3000; i++) {
          await db.put(`key${String(i).padStart(5, "0")}`, value);
          if (i % 500 === 250) {
            // A turn of the event loop sends the due flush to its thread,
            // which then dies before it can answer.
            await new Promise((resolve) => setImmediate(resolve));
            endWorkerThreads();
          }
        }
        await db.flush();
      } finally {
        await db.close();
      }
      db = await open(dir);
      try {
        let n = 0;
        for await (const _ of db.scan()) n++;
        assert.equal(n, 3000);
      } finally {
        await db.close();
      }
    });
  });
});
