import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { hash32, writeU32, writeU64 } from "../lib/coding.ts";
import { type InternalIterator, KIND_DELETE, KIND_PUT } from "../lib/internal_key.ts";
import { MemTable } from "../lib/memtable.ts";
import { batchBody, WriteBatch } from "../lib/write_batch.ts";
import { open } from "../mod.ts";
import { withTempDir } from "./_temp.ts";

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
    assert.equal(str(m.get(k("a"), 1)!.value), "1");
    assert.equal(str(m.get(k("a"), 2)!.value), "2");
    assert.equal(m.get(k("a"), 3)!.kind, KIND_DELETE);
    assert.equal(m.get(k("a"), 0), undefined);
  });
  it("replaces a version no reader can see", () => {
    const m = new MemTable();
    m.add(1, KIND_PUT, k("a"), v("1"), -1);
    m.add(2, KIND_PUT, k("a"), v("2"), -1);
    assert.equal(m.entries, 1);
    assert.equal(m.get(k("a"), 1), undefined);
  });
  it("keeps a version a reader still sees", () => {
    const m = new MemTable();
    m.add(1, KIND_PUT, k("a"), v("1"), -1);
    m.add(2, KIND_PUT, k("a"), v("2"), 1);
    assert.equal(m.entries, 2);
    assert.equal(str(m.get(k("a"), 1)!.value), "1");
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
  it("seeks right among keys that share prefixes, extend each other or end in zero bytes", () => {
    // Keys over a four-letter alphabet with 0 and 255, from a few shared
    // stems: the ordered index compares six bytes past the common prefix
    // as one number, and its prefix shrinks as keys arrive.
    let state = 7;
    const random = (n: number) => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) % n;
    const alphabet = [0, 1, 2, 255];
    const stems = [[9, 9, 9, 9, 9, 9, 9, 9], [9, 9, 9, 9], [9], []];
    const makeKey = (stemCount: number) => {
      const stem = stems[random(stemCount)];
      const tail = Array.from({ length: random(9) }, () => alphabet[random(4)]);
      return new Uint8Array([...stem, ...tail]);
    };
    const compare = (a: Uint8Array, b: Uint8Array) => {
      for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
      return a.length - b.length;
    };
    const m = new MemTable();
    const model: Uint8Array[] = [];
    let seq = 1;
    for (let round = 1; round <= stems.length; round++) {
      for (let i = 0; i < 60; i++) {
        const key = makeKey(round);
        m.add(seq++, KIND_PUT, key, v(""), -1);
        if (!model.some((x) => compare(x, key) === 0)) model.push(key);
      }
      model.sort(compare);
      const it = m.iterator();
      for (let t = 0; t < 300; t++) {
        const target = makeKey(stems.length);
        const want = model.find((x) => compare(x, target) >= 0);
        it.seek(target);
        assert.deepEqual(
          it.valid() ? it.key() : undefined,
          want,
          `seek ${target} in round ${round}`,
        );
      }
    }
  });
  it("grows its size estimate with every new version", () => {
    const m = new MemTable();
    const before = m.approximateSize;
    m.add(1, KIND_PUT, k("key"), new Uint8Array(1000), -1);
    assert.ok(m.approximateSize >= before + 1000);
  });
});

describe("MemTable batches", () => {
  // `batch` in its log encoding, numbered from `firstSeq`, at `offset` in a larger buffer.
  function logged(firstSeq: number, batch: WriteBatch, offset = 7): [Uint8Array, number, number] {
    const body = batchBody(batch);
    const bytes = new Uint8Array(offset + 12 + body.length + 5);
    writeU64(bytes, offset, firstSeq);
    writeU32(bytes, offset + 8, batch.length);
    bytes.set(body, offset + 12);
    return [bytes, offset, offset + 12 + body.length];
  }
  const value = (m: MemTable, key: string, seq: number) => {
    const found = m.get(k(key), seq);
    return found === undefined ? undefined : found.kind === KIND_PUT ? str(found.value) : "deleted";
  };

  it("serves every operation of a batch, numbered in order", () => {
    const m = new MemTable({ newestReaderSeq: () => 100 });
    m.addBatch(...logged(5, new WriteBatch().put("a", "1").put("b", "2").delete("a")));
    assert.equal(value(m, "a", 5), "1");
    assert.equal(value(m, "a", 7), "deleted");
    assert.equal(value(m, "b", 7), "2");
    assert.deepEqual(entries(m.iterator()), ["a@7", "a@5", "b@6"]);
  });

  it("counts a batch in its size before anything reads it", () => {
    const m = new MemTable();
    assert.ok(m.isEmpty);
    m.addBatch(...logged(1, new WriteBatch().put("key", new Uint8Array(1000))));
    assert.ok(!m.isEmpty);
    assert.ok(m.approximateSize >= 1000);
    assert.equal(m.entries, 1);
  });

  it("finds every key of a batch not yet read", () => {
    const m = new MemTable();
    const batch = new WriteBatch();
    for (let i = 0; i < 100; i++) batch.put(`key${i}`, `v${i}`);
    m.addBatch(...logged(1, batch));
    for (let i = 0; i < 100; i++) assert.equal(value(m, `key${i}`, 100), `v${i}`);
  });

  it("keeps versions readers can see when the batches are read, not when added", () => {
    let reader = -1;
    const m = new MemTable({ newestReaderSeq: () => reader });
    m.addBatch(...logged(1, new WriteBatch().put("a", "1")));
    m.addBatch(...logged(2, new WriteBatch().put("a", "2")));
    reader = 1;
    assert.equal(value(m, "a", 1), "1");
    assert.equal(value(m, "a", 2), "2");
    assert.equal(m.entries, 2);
  });

  it("replaces versions no reader sees once the batches are read", () => {
    const m = new MemTable({ newestReaderSeq: () => -1 });
    m.addBatch(...logged(1, new WriteBatch().put("a", "1")));
    m.addBatch(...logged(2, new WriteBatch().put("a", "2")));
    assert.equal(m.entries, 1);
    assert.equal(value(m, "a", 2), "2");
  });

  it("orders a batch between the single versions added around it", () => {
    const m = new MemTable({ newestReaderSeq: () => 10 });
    m.add(1, KIND_PUT, k("a"), v("1"), 10);
    m.addBatch(...logged(2, new WriteBatch().put("a", "2")));
    m.add(3, KIND_PUT, k("a"), v("3"), 10);
    assert.deepEqual(entries(m.iterator()), ["a@3", "a@2", "a@1"]);
  });

  it("keeps an iterator made before a batch unchanged", () => {
    const m = new MemTable();
    m.addBatch(...logged(1, new WriteBatch().put("b", "1")));
    const it = m.iterator();
    m.addBatch(...logged(2, new WriteBatch().put("a", "2").put("c", "3")));
    assert.deepEqual(entries(it), ["b@1"]);
    assert.deepEqual(entries(m.iterator()), ["a@2", "b@1", "c@3"]);
  });
});

describe("MemTable lookups", () => {
  const key = (i: number) => k(`key${String(i).padStart(13, "0")}`);
  // A table of `count` 16-byte keys with 100-byte values, as the benchmarks write them.
  function filled(count: number): MemTable {
    const m = new MemTable();
    const value = new Uint8Array(100);
    for (let i = 0; i < count; i++) m.add(i + 1, KIND_PUT, key(i), value, -1);
    return m;
  }

  it("finds every key after growing far past its first capacity", () => {
    const m = filled(20_000);
    for (let i = 0; i < 20_000; i++) assert.equal(m.get(key(i), 1e9)?.seq, i + 1, `key ${i}`);
  });

  it("finds no absent key, whatever its hash", () => {
    const m = filled(20_000);
    for (let i = 20_000; i < 60_000; i++) assert.equal(m.get(key(i), 1e9), undefined, `key ${i}`);
  });

  it("probes with the hash it is given rather than hashing the key again", () => {
    const m = filled(100);
    assert.equal(m.get(key(5), 1e9, hash32(key(5)))?.seq, 6);
    assert.equal(m.get(key(5), 1e9, hash32(key(5)) ^ 0x5555), undefined);
  });

  it("tells apart keys that share a prefix or are prefixes of each other", () => {
    const m = new MemTable();
    const names = ["", "a", "ab", "abc", "abd", "b", "a\x00", "a\xff"];
    names.forEach((name, i) => m.add(i + 1, KIND_PUT, k(name), v(`v${i}`), -1));
    names.forEach((name, i) => {
      const found = m.get(k(name), 1e9)!;
      assert.equal(str(found.value), `v${i}`);
      assert.equal(found.seq, i + 1);
    });
    assert.equal(m.get(k("abe"), 1e9), undefined);
  });

  it("keeps each value apart from the values added after it", () => {
    const m = new MemTable();
    m.add(1, KIND_PUT, k("a"), v("1"), -1);
    m.add(2, KIND_DELETE, k("b"), new Uint8Array(0), -1);
    m.add(3, KIND_PUT, k("c"), v("3"), -1);
    assert.equal(str(m.get(k("a"), 9)!.value), "1");
    assert.equal(m.get(k("b"), 9)!.value.length, 0);
    assert.equal(str(m.get(k("c"), 9)!.value), "3");
  });
});

describe("a database's memtables", () => {
  it("index the writes they buffered once writes pause", async () => {
    await withTempDir("strata-memtable-", async (dir) => {
      const db = await open(dir);
      try {
        for (let i = 0; i < 100; i++) await db.put(`a${i}`, "v");
        // Counted before stats() reads the active memtable's entries.
        assert.equal(db.stats().memtables.unindexedBatches, 100);
        for (let i = 0; i < 100; i++) await db.put(`b${i}`, "v");
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.equal(db.stats().memtables.unindexedBatches, 0);
        assert.equal(new TextDecoder().decode(await db.get("b99")), "v");
      } finally {
        await db.close();
      }
    });
  });
});
