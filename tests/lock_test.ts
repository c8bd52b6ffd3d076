// One process opens a database directory at a time: a second open, from this
// process or another (on either runtime), fails with a LockError while the
// first holds it, and a lock left behind by a dead process blocks nobody.

import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import process from "node:process";
import { type DB, LockError, open } from "../mod.ts";
import { otherRuntime, runScript, runtime, runtimeBinary, startScript } from "./_spawn.ts";

const CHILD = new URL("./_lock_child.ts", import.meta.url).pathname;
const decoder = new TextDecoder();

let dir = "";
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "strata-lock-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

// Opens `dir` in a child under `name` and reports what happened.
async function childTriesToOpen(name: "deno" | "bun" = runtime): Promise<string> {
  return (await runScript(CHILD, [dir, "try"], name)).trim();
}

// Starts a child under `name` that opens `dir` and holds it.
async function childHolds(name: "deno" | "bun" = runtime) {
  const child = startScript(CHILD, [dir, "hold"], name);
  const line = await child.waitForLine(/^(holding|LockError|error)/);
  assert.equal(line, "holding", `the child could not open the database: ${line}`);
  return child;
}

// Expects `opening` to fail with LockError; a handle that opened anyway is
// closed so that it cannot outlive the test.
async function expectLockError(opening: Promise<DB>): Promise<void> {
  let db: DB | undefined;
  await assert.rejects(
    opening.then((d) => {
      db = d;
    }),
    LockError,
  ).finally(() => db?.close());
}

// Opens the directory and finds what the child that held it wrote.
async function expectOpensWithHeldData(): Promise<void> {
  const db = await open(dir);
  try {
    assert.equal(decoder.decode(await db.get("held")), "yes");
  } finally {
    await db.close();
  }
}

async function kill(child: ReturnType<typeof startScript>): Promise<void> {
  child.proc.kill("SIGKILL");
  await child.exited;
}

describe("the directory lock within one process", () => {
  it("a second open of an open directory fails with LockError and the first handle keeps working", async () => {
    const db = await open(dir);
    try {
      await db.put("k", "v");
      await expectLockError(open(dir));
      // The failed open must not have taken or dropped anything.
      await db.put("k2", "v2", { sync: true });
      assert.equal(decoder.decode(await db.get("k")), "v");
      await expectLockError(open(dir));
    } finally {
      await db.close();
    }
  });

  it("a second open through the path with a trailing slash also fails", async () => {
    const db = await open(dir);
    try {
      await expectLockError(open(`${dir}/`));
    } finally {
      await db.close();
    }
  });

  it("a second open through a relative path to the same directory also fails", async () => {
    const db = await open(dir);
    try {
      // e.g. "../../tmp/strata-lock-xyz" from the working directory.
      const rel = relative(process.cwd(), dir);
      assert.ok(rel.startsWith(".."), `expected a path with "..": ${rel}`);
      await expectLockError(open(rel));
      await db.put("k", "v", { sync: true });
    } finally {
      await db.close();
    }
  });

  it("a second open through a path with a redundant ./ segment also fails", async () => {
    const db = await open(dir);
    try {
      await expectLockError(open(join(dir, ".") + "/./"));
      const parts = dir.split("/");
      await expectLockError(open([...parts.slice(0, -1), ".", parts.at(-1)].join("/")));
    } finally {
      await db.close();
    }
  });

  it("after close the directory opens again, with its data", async () => {
    const db = await open(dir);
    await db.put("k", "v");
    await db.close();
    const again = await open(dir);
    try {
      assert.equal(decoder.decode(await again.get("k")), "v");
    } finally {
      await again.close();
    }
  });

  it("a handle's lock is released by close even when opens failed meanwhile", async () => {
    const db = await open(dir);
    await expectLockError(open(dir));
    await db.close();
    await (await open(dir)).close();
  });
});

describe("the directory lock across processes", () => {
  it(
    "another process cannot open a directory this process holds",
    { timeout: 30_000 },
    async () => {
      const db = await open(dir);
      try {
        assert.match(await childTriesToOpen(), /^LockError /);
        await db.put("still", "mine", { sync: true });
      } finally {
        await db.close();
      }
      assert.equal(await childTriesToOpen(), "opened", "after close another process may open it");
    },
  );

  it(
    "this process cannot open a directory another process holds",
    { timeout: 30_000 },
    async () => {
      const child = await childHolds();
      try {
        await expectLockError(open(dir));
      } finally {
        await kill(child);
      }
    },
  );

  it("a lock left by a process killed with SIGKILL does not block a new open", {
    timeout: 30_000,
  }, async () => {
    const child = await childHolds();
    await kill(child);
    await expectOpensWithHeldData();
  });
});

const other = runtimeBinary(otherRuntime);
const skipOther = other === undefined
  ? `${otherRuntime} is not on PATH, so the cross-runtime lock cannot be tested`
  : false;

describe(`the directory lock between ${runtime} and ${otherRuntime}`, () => {
  it(`${otherRuntime} cannot open a directory ${runtime} holds`, {
    skip: skipOther,
    timeout: 30_000,
  }, async () => {
    const db = await open(dir);
    try {
      assert.match(await childTriesToOpen(otherRuntime), /^LockError /);
    } finally {
      await db.close();
    }
    assert.equal(await childTriesToOpen(otherRuntime), "opened");
  });

  it(`${runtime} cannot open a directory ${otherRuntime} holds`, {
    skip: skipOther,
    timeout: 30_000,
  }, async () => {
    const child = await childHolds(otherRuntime);
    try {
      await expectLockError(open(dir));
    } finally {
      await kill(child);
    }
  });

  it(`a lock left by a killed ${otherRuntime} process does not block ${runtime}`, {
    skip: skipOther,
    timeout: 30_000,
  }, async () => {
    const child = await childHolds(otherRuntime);
    await kill(child);
    await expectOpensWithHeldData();
  });

  it(`a lock left by a killed ${runtime} process does not block ${otherRuntime}`, {
    skip: skipOther,
    timeout: 30_000,
  }, async () => {
    const child = await childHolds(runtime);
    await kill(child);
    assert.equal(await childTriesToOpen(otherRuntime), "opened");
  });
});
