import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { KIND_PUT } from "../lib/internal_key.ts";
import { LevelIterator } from "../lib/level_iterator.ts";
import type { FileMeta } from "../lib/manifest.ts";
import { MemTable } from "../lib/memtable.ts";

const b = (s: string) => new TextEncoder().encode(s);
const s = (x: Uint8Array) => new TextDecoder().decode(x);

// Three "files" of a sorted level, each backed by a memtable.
const contents = [["a", "b"], ["d", "e"], ["g"]];
const files: FileMeta[] = contents.map((keys, i) => ({
  number: i,
  size: 1,
  smallest: b(keys[0]),
  largest: b(keys[keys.length - 1]),
  minSeq: 1,
  maxSeq: 1,
  entries: keys.length,
}));
const tables = contents.map((keys) => {
  const m = new MemTable();
  let seq = 1;
  for (const k of keys) m.add(seq++, KIND_PUT, b(k), b(k), Infinity);
  return m;
});

function level(opened: number[] = [], released: number[] = []): LevelIterator {
  return new LevelIterator(files, (f) => {
    opened.push(f.number);
    return tables[f.number].iterator();
  }, { release: (f) => released.push(f.number) });
}

function walk(it: LevelIterator, reverse = false): string[] {
  const out: string[] = [];
  for (; it.valid(); reverse ? it.prev() : it.next()) out.push(s(it.key()));
  return out;
}

describe("LevelIterator", () => {
  it("walks every file in order, both ways", () => {
    const it = level();
    it.seekToFirst();
    assert.deepEqual(walk(it), ["a", "b", "d", "e", "g"]);
    it.seekToLast();
    assert.deepEqual(walk(it, true), ["g", "e", "d", "b", "a"]);
  });
  it("seeks into the file holding the key, or the next one", () => {
    const it = level();
    it.seek(b("c"));
    assert.deepEqual(walk(it), ["d", "e", "g"]);
    it.seek(b("h"));
    assert.equal(it.valid(), false);
  });
  it("seeks before a key across a file boundary", () => {
    const it = level();
    it.seekBefore(b("d"));
    assert.deepEqual(walk(it, true), ["b", "a"]);
    it.seekBefore(b("a"));
    assert.equal(it.valid(), false);
  });
  it("opens only the files it reaches", () => {
    const opened: number[] = [];
    const it = level(opened);
    it.seek(b("e"));
    assert.deepEqual(opened, [1]);
  });
  it("releases each file once it has opened the next, never the one it ends on", () => {
    const opened: number[] = [];
    const released: number[] = [];
    const it = level(opened, released);
    it.seekToFirst();
    assert.deepEqual(walk(it), ["a", "b", "d", "e", "g"]);
    assert.deepEqual(opened, [0, 1, 2]);
    assert.deepEqual(released, [0, 1]);
  });
  it("releases as many times as it opened when it comes back to a file", () => {
    const opened: number[] = [];
    const released: number[] = [];
    const it = level(opened, released);
    it.seek(b("g"));
    it.seek(b("a"));
    it.seekToLast();
    assert.deepEqual(opened, [2, 0, 2]);
    assert.deepEqual(released, [2, 0]);
  });
});
