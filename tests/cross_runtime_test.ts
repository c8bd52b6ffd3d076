// A database is a set of files, not a runtime's private state: one written
// under Deno must read back exactly under Bun, and the other way round —
// tables in several levels, a level-0 table and unflushed log records alike.

import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { open } from "../mod.ts";
import {
  CROSS_OPTIONS,
  type Digest,
  expectedDigest,
  model,
  readDigest,
  writeWorkload,
} from "./_cross_workload.ts";
import { otherRuntime, runScript, runtime, runtimeBinary } from "./_spawn.ts";

const CHILD = new URL("./_cross_runtime_child.ts", import.meta.url).pathname;

let dir = "";
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "strata-cross-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const skip = runtimeBinary(otherRuntime) === undefined
  ? `${otherRuntime} is not on PATH, so databases cannot be exchanged with it`
  : false;

// Compares digests piece by piece, so a failure names what differs rather
// than dumping thousands of entries.
function assertSameDigest(actual: Digest, expected: Digest, who: string): void {
  assert.equal(actual.entries.length, expected.entries.length, `${who}: number of entries`);
  const i = actual.entries.findIndex(([k, v], j) =>
    k !== expected.entries[j][0] || v !== expected.entries[j][1]
  );
  assert.equal(
    i,
    -1,
    i < 0 ? "" : `${who}: entry ${i} is ${actual.entries[i]}, expected ${expected.entries[i]}`,
  );
  assert.deepEqual(actual.reverseKeys, expected.reverseKeys, `${who}: reverse scan`);
  assert.equal(actual.prefixCount, expected.prefixCount, `${who}: prefix scan`);
  assert.deepEqual(actual.gets, expected.gets, `${who}: point reads`);
}

async function writeHere(phase: "base" | "extend"): Promise<void> {
  const db = await open(dir, CROSS_OPTIONS);
  try {
    await writeWorkload(db, phase);
  } finally {
    await db.close();
  }
}

async function readHere(phases: ("base" | "extend")[]): Promise<Digest> {
  const db = await open(dir, CROSS_OPTIONS);
  try {
    return await readDigest(db, model(phases));
  } finally {
    await db.close();
  }
}

async function readThere(phases: ("base" | "extend")[]): Promise<Digest> {
  return JSON.parse(await runScript(CHILD, ["read", dir, phases.join(",")], otherRuntime));
}

describe(`databases exchanged between ${runtime} and ${otherRuntime}`, () => {
  it(
    "the workload leaves data in levels, in level 0 and in the log",
    { timeout: 30_000 },
    async () => {
      const db = await open(dir, CROSS_OPTIONS);
      try {
        await writeWorkload(db, "base");
        const { levels, memtables } = db.stats();
        assert.ok(levels[0].files > 0, "no level-0 table");
        assert.ok(levels.slice(1).some((l) => l.files > 0), "no table below level 0");
        assert.ok(memtables.activeEntries > 0, "nothing left in the memtable (and log)");
      } finally {
        await db.close();
      }
      assert.ok(readdirSync(dir).some((n) => n.endsWith(".log")), "no log");
      // What this runtime reads back is the reference the other must match.
      assertSameDigest(await readHere(["base"]), expectedDigest(model(["base"])), runtime);
    },
  );

  it(`a database written by ${runtime} reads back exactly under ${otherRuntime}`, {
    skip,
    timeout: 30_000,
  }, async () => {
    await writeHere("base");
    assertSameDigest(await readThere(["base"]), expectedDigest(model(["base"])), otherRuntime);
  });

  it(`a database written by ${otherRuntime} reads back exactly under ${runtime}`, {
    skip,
    timeout: 30_000,
  }, async () => {
    await runScript(CHILD, ["write", dir, "base"], otherRuntime);
    assertSameDigest(await readHere(["base"]), expectedDigest(model(["base"])), runtime);
  });

  it(`a database can be written alternately by both runtimes`, {
    skip,
    timeout: 30_000,
  }, async () => {
    await runScript(CHILD, ["write", dir, "base"], otherRuntime);
    await writeHere("extend");
    const expected = expectedDigest(model(["base", "extend"]));
    assertSameDigest(await readThere(["base", "extend"]), expected, otherRuntime);
    assertSameDigest(await readHere(["base", "extend"]), expected, runtime);
  });
});
