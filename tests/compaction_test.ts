import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  buildTables,
  canMove,
  DeeperLevels,
  DEFAULT_COMPACTION_OPTIONS,
  levelTargets,
  OutputSplitter,
  pickCompaction,
  planRange,
  VersionFilter,
} from "../lib/compaction.ts";
import type { WritableFile } from "../lib/fs.ts";
import { KIND_DELETE, KIND_PUT } from "../lib/internal_key.ts";
import { type FileMeta, Version } from "../lib/manifest.ts";
import { MemTable } from "../lib/memtable.ts";

const b = (s: string) => new TextEncoder().encode(s);
const MiB = 1024 * 1024;

function file(number: number, smallest: string, largest: string, size = MiB): FileMeta {
  return {
    number,
    size,
    smallest: b(smallest),
    largest: b(largest),
    minSeq: 1,
    maxSeq: number,
    entries: 1,
  };
}

describe("VersionFilter", () => {
  it("keeps only the newest version when no snapshot is live", () => {
    const f = new VersionFilter([], () => true);
    assert.deepEqual([f.keep(b("a"), 9, KIND_PUT, true), f.keep(b("a"), 5, KIND_PUT, false)], [
      true,
      false,
    ]);
  });
  it("keeps the version a snapshot reads", () => {
    const f = new VersionFilter([6], () => true);
    assert.deepEqual(
      [
        f.keep(b("a"), 9, KIND_PUT, true),
        f.keep(b("a"), 5, KIND_PUT, false),
        f.keep(b("a"), 2, KIND_PUT, false),
      ],
      [true, true, false],
    );
  });
  it("drops a tombstone when no snapshot predates it and no deeper level holds the key", () => {
    assert.equal(new VersionFilter([], () => false).keep(b("a"), 4, KIND_DELETE, true), false);
  });
  it("keeps a tombstone that hides a value in a deeper level", () => {
    assert.equal(new VersionFilter([], () => true).keep(b("a"), 4, KIND_DELETE, true), true);
  });
  it("keeps a tombstone while an older snapshot sees the value beneath it", () => {
    const f = new VersionFilter([2], () => false);
    assert.deepEqual([f.keep(b("a"), 4, KIND_DELETE, true), f.keep(b("a"), 1, KIND_PUT, false)], [
      true,
      true,
    ]);
  });
  it("starts afresh at each new key", () => {
    const f = new VersionFilter([], () => true);
    assert.deepEqual([f.keep(b("a"), 9, KIND_PUT, true), f.keep(b("b"), 5, KIND_PUT, true)], [
      true,
      true,
    ]);
  });
});

describe("picking compactions", () => {
  it("picks nothing when every level is under target", () => {
    const v = Version.empty().apply({ added: [{ level: 0, file: file(1, "a", "b") }] });
    assert.equal(pickCompaction(v, DEFAULT_COMPACTION_OPTIONS, new Map()), undefined);
  });
  it("compacts level 0 into level 1 once it holds the trigger count", () => {
    const added = [1, 2, 3, 4].map((n) => ({ level: 0, file: file(n, "a", "c") }));
    added.push({ level: 1, file: file(5, "b", "b") }, { level: 1, file: file(6, "x", "y") });
    const plan = pickCompaction(
      Version.empty().apply({ added }),
      DEFAULT_COMPACTION_OPTIONS,
      new Map(),
    )!;
    assert.equal(plan.level, 0);
    assert.deepEqual(plan.inputs.map((f) => f.number).sort(), [1, 2, 3, 4]);
    assert.deepEqual(plan.overlaps.map((f) => f.number), [5]);
  });
  it("takes one file of a deeper level at a time, going round the key space", () => {
    const opts = { ...DEFAULT_COMPACTION_OPTIONS, levelBaseBytes: 2 * MiB };
    const v = Version.empty().apply({
      added: [
        { level: 1, file: file(1, "a", "b") },
        { level: 1, file: file(2, "c", "d") },
        { level: 1, file: file(3, "e", "f") },
      ],
    });
    const pointers = new Map<number, Uint8Array>();
    const first = pickCompaction(v, opts, pointers)!;
    assert.deepEqual(first.inputs.map((f) => f.number), [1]);
    pointers.set(1, first.inputs[0].largest);
    assert.deepEqual(pickCompaction(v, opts, pointers)!.inputs.map((f) => f.number), [2]);
  });
  it("sizes upper levels from the deepest one", () => {
    const v = Version.empty().apply({
      added: [{ level: 3, file: file(1, "a", "z", 1000 * MiB) }],
    });
    const t = levelTargets(v, DEFAULT_COMPACTION_OPTIONS);
    assert.equal(t[2], 100 * MiB);
    assert.equal(t[1], 10 * MiB);
  });
  it("grows a manual level-0 range to every file it overlaps", () => {
    const v = Version.empty().apply({
      added: [
        { level: 0, file: file(1, "a", "c") },
        { level: 0, file: file(2, "b", "f") },
        { level: 0, file: file(3, "x", "z") },
      ],
    });
    const plan = planRange(v, 0, b("a"), b("a"))!;
    assert.deepEqual(plan.inputs.map((f) => f.number).sort(), [1, 2]);
  });
});

describe("moving files down unchanged", () => {
  const target = DEFAULT_COMPACTION_OPTIONS.targetFileSize;
  const level0 = (ranges: [string, string][], below: FileMeta[] = [], level = 1) =>
    Version.empty().apply({
      added: [
        ...ranges.map(([lo, hi], i) => ({ level: 0, file: file(i + 1, lo, hi) })),
        ...below.map((f) => ({ level, file: f })),
      ],
    });
  const plan = (v: Version) => pickCompaction(v, DEFAULT_COMPACTION_OPTIONS, new Map())!;

  it("moves level-0 files that overlap neither each other nor level 1", () => {
    const v = level0([["a", "b"], ["e", "f"], ["c", "d"], ["g", "h"]], [file(9, "x", "z")]);
    assert.equal(canMove(plan(v), target), true);
  });
  it("merges level-0 files that share a key at their edges", () => {
    const v = level0([["a", "b"], ["b", "c"], ["d", "e"], ["f", "g"]]);
    assert.equal(canMove(plan(v), target), false);
  });
  it("merges when a level-1 file falls inside the inputs' range", () => {
    const v = level0([["a", "b"], ["e", "f"], ["g", "h"], ["i", "j"]], [file(9, "c", "d")]);
    assert.equal(canMove(plan(v), target), false);
  });
  it("merges a file that would overlap more than ten target files two levels down", () => {
    const deep = Array.from({ length: 11 }, (_, i) => file(20 + i, `c${i}`, `c${i}`, target));
    const v = level0([["a", "b"], ["c", "d"], ["e", "f"], ["g", "h"]], deep, 2);
    assert.equal(canMove(plan(v), target), false);
    const few = deep.slice(0, 10);
    assert.equal(
      canMove(plan(level0([["a", "b"], ["c", "d"], ["e", "f"], ["g", "h"]], few, 2)), target),
      true,
    );
  });
});

describe("DeeperLevels", () => {
  it("answers for ascending keys whether a deeper file may hold them", () => {
    const v = Version.empty().apply({
      added: [{ level: 2, file: file(1, "c", "e") }, { level: 3, file: file(2, "x", "y") }],
    });
    const d = new DeeperLevels(v, 1);
    assert.deepEqual(["a", "d", "f", "x", "z"].map((k) => d.mayHold(b(k))), [
      false,
      true,
      false,
      true,
      false,
    ]);
  });
});

describe("OutputSplitter", () => {
  it("cuts when the output reaches the target size", () => {
    const s = new OutputSplitter([], 1000);
    assert.equal(s.cutBefore(b("a"), 0), false);
    assert.equal(s.cutBefore(b("b"), 999), false);
    assert.equal(s.cutBefore(b("c"), 1000), true);
  });
  it("cuts when the output would overlap too much of the level below", () => {
    const gp = [file(1, "a", "b", 6000), file(2, "c", "d", 6000), file(3, "e", "f", 6000)];
    const s = new OutputSplitter(gp, 1000);
    assert.equal(s.cutBefore(b("a"), 1), false);
    assert.equal(s.cutBefore(b("c"), 1), false);
    assert.equal(s.cutBefore(b("e"), 1), true);
  });
});

describe("buildTables", () => {
  // An output file that counts its syncs, finished and started in the background.
  class CountingFile implements WritableFile {
    readonly path = "out.sst";
    size = 0;
    syncs = 0;
    backgroundSyncs = 0;
    append(data: Uint8Array): void {
      this.size += data.length;
    }
    sync(): void {
      this.syncs++;
    }
    syncInBackground(): void {
      this.backgroundSyncs++;
    }
    close(): void {}
  }

  it("starts a sync in the background for each MiB of a table it writes, then syncs it", async () => {
    const mem = new MemTable();
    for (let i = 0; i < 3500; i++) {
      mem.add(i + 1, KIND_PUT, b(`key${String(i).padStart(6, "0")}`), new Uint8Array(1000), -1);
    }
    const source = mem.iterator();
    source.seekToFirst();
    const files: CountingFile[] = [];
    const outputs = await buildTables(source, new VersionFilter([], () => true), undefined, {
      create: () => {
        files.push(new CountingFile());
        return files.at(-1)!;
      },
      remove: () => {},
      numbers: [1],
      blockSize: 4096,
      blockRestartInterval: 16,
      bloomBitsPerKey: 10,
    });
    assert.equal(outputs?.length, 1);
    assert.ok(files[0].backgroundSyncs >= 2, `${files[0].backgroundSyncs} background syncs`);
    assert.equal(files[0].syncs, 1);
  });
});
