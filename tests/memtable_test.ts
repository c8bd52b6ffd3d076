import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { bytesToKeyString, hash32 } from "../lib/coding.ts";
import { type InternalIterator, KIND_DELETE, KIND_PUT } from "../lib/internal_key.ts";
import { MemTable } from "../lib/memtable.ts";

const k = (s: string) => new TextEncoder().encode(s);
const v = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

function entries(it: InternalIterator, reverse = false): string[] {
  const out: string[] = [];
  if (reverse) {
    for (it.seekToLast(); it.valid(); it.prev()) out.push(`${str(it.key())}@${it.seq()}`);
  } else for (it.seekToFirst(); it.valid(); it.next()) out.push(`${str(it.key())}@${it.seq()}`);
  return out;
}

describe("MemTable", () => {
  it("returns the newest version at or below the read sequence", () => {
    const m = new MemTable();
    m.add(1, KIND_PUT, k("a"), v("1"), 10);
    m.add(2, KIND_PUT, k("a"), v("2"), 10);
    m.add(3, KIND_DELETE, k("a"), new Uint8Array(0), 10);
    assert.equal(str(m.get(bytesToKeyString(k("a")), 1)!.value), "1");
    assert.equal(str(m.get(bytesToKeyString(k("a")), 2)!.value), "2");
    assert.equal(m.get(bytesToKeyString(k("a")), 3)!.kind, KIND_DELETE);
    assert.equal(m.get(bytesToKeyString(k("a")), 0), undefined);
  });
  it("replaces a version no reader can see", () => {
    const m = new MemTable();
    m.add(1, KIND_PUT, k("a"), v("1"), -1);
    m.add(2, KIND_PUT, k("a"), v("2"), -1);
    assert.equal(m.entries, 1);
    assert.equal(m.get(bytesToKeyString(k("a")), 1), undefined);
  });
  it("keeps a version a reader still sees", () => {
    const m = new MemTable();
    m.add(1, KIND_PUT, k("a"), v("1"), -1);
    m.add(2, KIND_PUT, k("a"), v("2"), 1);
    assert.equal(m.entries, 2);
    assert.equal(str(m.get(bytesToKeyString(k("a")), 1)!.value), "1");
  });
  it("iterates keys in byte order, newest version first, both ways", () => {
    const m = new MemTable();
    let seq = 1;
    for (const key of ["d", "b", "a", "c", "b"]) m.add(seq++, KIND_PUT, k(key), v(key), 100);
    const forward = entries(m.iterator());
    assert.deepEqual(forward, ["a@3", "b@5", "b@2", "c@4", "d@1"]);
    assert.deepEqual(entries(m.iterator(), true), forward.toReversed());
  });
  it("seeks to the first version of the first key at or after the target", () => {
    const m = new MemTable();
    m.add(1, KIND_PUT, k("a"), v(""), 100);
    m.add(2, KIND_PUT, k("c"), v(""), 100);
    m.add(3, KIND_PUT, k("c"), v(""), 100);
    const it = m.iterator();
    it.seek(k("b"));
    assert.equal(`${str(it.key())}@${it.seq()}`, "c@3");
    it.seek(k("d"));
    assert.equal(it.valid(), false);
  });
  it("seeks before a key to the oldest version of the previous key", () => {
    const m = new MemTable();
    m.add(1, KIND_PUT, k("a"), v(""), 100);
    m.add(2, KIND_PUT, k("a"), v(""), 100);
    m.add(3, KIND_PUT, k("c"), v(""), 100);
    const it = m.iterator();
    it.seekBefore(k("c"));
    assert.equal(`${str(it.key())}@${it.seq()}`, "a@1");
    it.seekBefore(k("a"));
    assert.equal(it.valid(), false);
  });
  it("keeps an iterator's position stable while newer versions arrive", () => {
    const m = new MemTable();
    m.add(1, KIND_PUT, k("a"), v("1"), 100);
    m.add(2, KIND_PUT, k("b"), v("1"), 100);
    const it = m.iterator();
    it.seekToFirst();
    m.add(3, KIND_PUT, k("a"), v("2"), 100);
    it.next();
    assert.equal(str(it.key()), "b");
  });
  it("grows its size estimate with every new version", () => {
    const m = new MemTable();
    const before = m.approximateSize;
    m.add(1, KIND_PUT, k("key"), new Uint8Array(1000), -1);
    assert.ok(m.approximateSize >= before + 1000);
  });
});

describe("MemTable key filter", () => {
  // A table sized for `expectedSize`, filled with `count` 16-byte keys and
  // 100-byte values, as the benchmarks write them.
  function filled(count: number, expectedSize: number): MemTable {
    const m = new MemTable({ expectedSize });
    const value = new Uint8Array(100);
    for (let i = 0; i < count; i++) {
      m.add(i + 1, KIND_PUT, k(`key${String(i).padStart(13, "0")}`), value, -1);
    }
    return m;
  }
  const absent = (i: number) => hash32(k(`absent${String(i).padStart(10, "0")}`));

  it("never rules out a key that was added, even far past its expected size", () => {
    const m = filled(20_000, 4096);
    for (let i = 0; i < 20_000; i++) {
      assert.ok(m.mayContain(hash32(k(`key${String(i).padStart(13, "0")}`))), `key ${i}`);
    }
  });

  it("rules out nearly every absent key while within its expected size", () => {
    const m = filled(20_000, 4 << 20);
    let passed = 0;
    for (let i = 0; i < 100_000; i++) if (m.mayContain(absent(i))) passed++;
    assert.ok(passed < 1000, `${passed} of 100000 absent keys passed`);
  });

  it("rules out every key of an empty table", () => {
    const m = new MemTable();
    for (let i = 0; i < 1000; i++) assert.equal(m.mayContain(absent(i)), false);
  });
});
