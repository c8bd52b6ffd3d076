import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { KIND_DELETE, KIND_PUT } from "../lib/internal_key.ts";
import { MemTable } from "../lib/memtable.ts";
import { MergingIterator, VisibleIterator } from "../lib/merge_iterator.ts";

const b = (s: string) => new TextEncoder().encode(s);
const s = (x: Uint8Array) => new TextDecoder().decode(x);

function table(rows: [string, number, "put" | "del", string?][]): MemTable {
  const m = new MemTable();
  for (const [k, seq, kind, v] of rows.sort((x, y) => x[1] - y[1])) {
    m.add(seq, kind === "put" ? KIND_PUT : KIND_DELETE, b(k), b(v ?? ""), Infinity);
  }
  return m;
}

function read(tables: MemTable[], seq: number, reverse = false, start?: string, end?: string) {
  const it = new VisibleIterator(tables.map((t) => t.iterator()), seq, {
    reverse,
    start: start === undefined ? undefined : b(start),
    end: end === undefined ? undefined : b(end),
  });
  const out: string[] = [];
  for (let e = it.next(); e !== undefined; e = it.next()) out.push(`${s(e.key)}=${s(e.value)}`);
  return out;
}

describe("VisibleIterator", () => {
  const newer = table([["a", 5, "put", "a5"], ["b", 6, "del"], ["d", 7, "put", "d7"]]);
  const older = table([["a", 1, "put", "a1"], ["b", 2, "put", "b2"], ["c", 3, "put", "c3"]]);

  it("yields the newest version of each key across sources", () => {
    assert.deepEqual(read([newer, older], 10), ["a=a5", "c=c3", "d=d7"]);
  });
  it("hides keys whose newest visible version is a tombstone", () => {
    assert.ok(!read([newer, older], 10).some((r) => r.startsWith("b=")));
  });
  it("sees only versions at or below the read sequence", () => {
    assert.deepEqual(read([newer, older], 4), ["a=a1", "b=b2", "c=c3"]);
  });
  it("yields the same entries in reverse", () => {
    assert.deepEqual(read([newer, older], 10, true), ["d=d7", "c=c3", "a=a5"]);
    assert.deepEqual(read([newer, older], 4, true), ["c=c3", "b=b2", "a=a1"]);
  });
  it("honours an inclusive start and exclusive end in both directions", () => {
    assert.deepEqual(read([newer, older], 10, false, "b", "d"), ["c=c3"]);
    assert.deepEqual(read([newer, older], 10, true, "a", "d"), ["c=c3", "a=a5"]);
  });
  it("returns copies that outlive the sources", () => {
    const it = new VisibleIterator([older.iterator()], 10, { reverse: false });
    const e = it.next()!;
    older.add(20, KIND_PUT, b("a"), b("zz"), Infinity);
    assert.equal(s(e.value), "a1");
  });
});

describe("MergingIterator", () => {
  it("merges many sources with shared and repeated keys, both ways, from any seek", () => {
    let state = 3;
    const random = (n: number) => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) % n;
    const sources = Array.from({ length: 5 }, () => new MemTable());
    const all: [string, number][] = [];
    for (let seq = 1; seq <= 400; seq++) {
      const key = "k" + "x".repeat(random(3)) + String(random(60)).padStart(2, "0");
      sources[random(sources.length)].add(seq, KIND_PUT, b(key), b(""), Infinity);
      all.push([key, seq]);
    }
    // Internal-key order: key ascending, then newest first.
    all.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : y[1] - x[1]));
    const walk = (reverse: boolean, from?: string) => {
      const merge = new MergingIterator(sources.map((m) => m.iterator()), reverse);
      if (from === undefined) merge.seekToStart();
      else merge.seek(b(from));
      const out: string[] = [];
      for (; merge.valid(); merge.next()) out.push(`${s(merge.key())}@${merge.seq()}`);
      return out;
    };
    const names = all.map(([key, seq]) => `${key}@${seq}`);
    assert.deepEqual(walk(false), names);
    assert.deepEqual(walk(true), names.toReversed());
    for (const from of ["k00", "k30", "kx17", "kxx59", "ky"]) {
      assert.deepEqual(walk(false, from), names.filter((_, i) => all[i][0] >= from), from);
      assert.deepEqual(
        walk(true, from),
        names.filter((_, i) => all[i][0] < from).toReversed(),
        from,
      );
    }
  });
});
