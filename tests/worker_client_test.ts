import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { open } from "../mod.ts";
import { runningWorkerThreads } from "../lib/worker_client.ts";
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
});
