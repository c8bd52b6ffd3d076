import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as nodeFs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CorruptionError } from "../lib/errors.ts";
import { defaultFileSystem } from "../lib/fs.ts";
import { type FileMeta, Manifest, recoverManifest, Version } from "../lib/manifest.ts";

const fs = defaultFileSystem();
const b = (s: string) => new TextEncoder().encode(s);

function file(number: number, smallest: string, largest: string, maxSeq = number): FileMeta {
  return {
    number,
    size: 100,
    smallest: b(smallest),
    largest: b(largest),
    minSeq: 1,
    maxSeq,
    entries: 1,
  };
}

// A version holding only `level`, with one file per [smallest, largest] range, numbered from 1.
function levelOf(level: number, ...ranges: [string, string][]): Version {
  return Version.empty().apply({
    added: ranges.map(([smallest, largest], i) => ({
      level,
      file: file(i + 1, smallest, largest),
    })),
  });
}

function tempDir(): string {
  return nodeFs.mkdtempSync(path.join(os.tmpdir(), "strata-manifest-"));
}

describe("Version", () => {
  it("orders level 0 newest first and deeper levels by key", () => {
    const v = Version.empty().apply({
      added: [
        { level: 0, file: file(1, "a", "z", 5) },
        { level: 0, file: file(2, "a", "z", 9) },
        { level: 1, file: file(3, "m", "p") },
        { level: 1, file: file(4, "a", "c") },
      ],
    });
    assert.deepEqual(v.levels[0].map((f) => f.number), [2, 1]);
    assert.deepEqual(v.levels[1].map((f) => f.number), [4, 3]);
  });
  it("finds the files overlapping an inclusive range", () => {
    const v = levelOf(1, ["a", "c"], ["e", "g"]);
    assert.deepEqual(v.overlapping(1, b("c"), b("e")).map((f) => f.number), [1, 2]);
    assert.deepEqual(v.overlapping(1, b("d"), b("d")).map((f) => f.number), []);
  });
  it("finds the file of a sorted level whose range holds a key, and none in a gap", () => {
    const v = levelOf(2, ["a", "c"], ["e", "g"], ["h", "h"]);
    const at = (k: string) => v.fileFor(2, b(k))?.number;
    assert.deepEqual(["a", "b", "c", "d", "e", "g", "h", "i", ""].map(at), [
      1,
      1,
      1,
      undefined,
      2,
      2,
      3,
      undefined,
      undefined,
    ]);
    assert.equal(v.fileFor(3, b("a")), undefined, "an empty level");
  });
  it("lists the files of a sorted level that hold keys in a half-open range", () => {
    const v = levelOf(1, ["b", "d"], ["f", "h"], ["j", "l"]);
    const within = (start?: string, end?: string) =>
      v.filesIn(
        1,
        start === undefined ? undefined : b(start),
        end === undefined ? undefined : b(end),
      )
        .map((f) => f.number);
    assert.deepEqual(within(), [1, 2, 3]);
    assert.deepEqual(within("d", "f"), [1], "end is exclusive, start inclusive");
    assert.deepEqual(within("e", "f"), []);
    assert.deepEqual(within("e", "f\u0000"), [2]);
    assert.deepEqual(within("a", "b"), []);
    assert.deepEqual(within("h"), [2, 3]);
    assert.deepEqual(within(undefined, "g"), [1, 2]);
    assert.deepEqual(within("m"), []);
    assert.deepEqual(v.filesIn(2, b("a")), [], "an empty level");
  });
  it("rejects an edit that deletes a file that is not live", () => {
    assert.throws(
      () => Version.empty().apply({ deleted: [{ level: 1, number: 9 }] }),
      CorruptionError,
    );
  });
});

describe("manifest", () => {
  it("recovers the state of every edit appended", () => {
    const dir = tempDir();
    const m = Manifest.create(fs, dir, 1, {
      version: Version.empty(),
      logNumber: 2,
      nextFileNumber: 3,
      lastSequence: 0,
    });
    m.append({
      added: [{ level: 0, file: file(5, "a", "b") }],
      lastSequence: 10,
      nextFileNumber: 6,
    });
    m.append({
      deleted: [{ level: 0, number: 5 }],
      added: [{ level: 1, file: file(6, "a", "b") }],
      logNumber: 4,
    });
    m.close();
    const state = recoverManifest(fs, dir);
    assert.equal(state.lastSequence, 10);
    assert.equal(state.logNumber, 4);
    assert.equal(state.nextFileNumber, 6);
    assert.deepEqual(state.version.levels[1].map((f) => f.number), [6]);
    assert.deepEqual(state.version.levels[1][0].smallest, b("a"));
    nodeFs.rmSync(dir, { recursive: true });
  });
  it("reports a CURRENT that names no manifest as corruption", () => {
    const dir = tempDir();
    nodeFs.writeFileSync(path.join(dir, "CURRENT"), "garbage");
    assert.throws(() => recoverManifest(fs, dir), CorruptionError);
    nodeFs.writeFileSync(path.join(dir, "CURRENT"), "MANIFEST-000009\n");
    assert.throws(() => recoverManifest(fs, dir), /does not exist/);
    nodeFs.rmSync(dir, { recursive: true });
  });
});
