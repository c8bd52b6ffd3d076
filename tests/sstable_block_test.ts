import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CorruptionError } from "../lib/errors.ts";
import { KIND_DELETE, KIND_PUT, MAX_SEQUENCE } from "../lib/internal_key.ts";
import { Block, BlockBuilder, BlockIterator } from "../lib/sstable/block.ts";
import { compare as compareBytes, rng } from "./_model.ts";
import {
  backward,
  bytes,
  compareEntries,
  current,
  type Entry,
  forward,
  lowerBound,
  randomEntries,
  randomWalk,
} from "./_sstable_entries.ts";

function build(entries: Entry[], restartInterval = 16): Block {
  const b = new BlockBuilder(restartInterval);
  for (const e of entries) b.add(e.key, e.seq, e.kind, e.value);
  return new Block(b.finish().slice());
}

describe("block", () => {
  const entries = randomEntries(1, 300);

  it("round-trips entries in order for restart intervals 1, 2, 16 and 1000", () => {
    for (const interval of [1, 2, 16, 1000]) {
      const block = build(entries, interval);
      assert.equal(block.entries, entries.length);
      assert.equal(block.numRestarts, Math.ceil(entries.length / interval));
      assert.deepEqual(forward(block.iterator()), entries);
    }
  });

  it("iterates backwards across restart points", () => {
    for (const interval of [1, 3, 16]) {
      assert.deepEqual(backward(build(entries, interval).iterator()), [...entries].reverse());
    }
  });

  it("an empty block has no entries and every positioning leaves it invalid", () => {
    const block = build([]);
    assert.equal(block.entries, 0);
    const it = block.iterator();
    it.seekToFirst();
    assert.equal(it.valid(), false);
    it.seekToLast();
    assert.equal(it.valid(), false);
    it.seek(bytes("a"));
    assert.equal(it.valid(), false);
    it.seekBefore(bytes("a"));
    assert.equal(it.valid(), false);
  });

  it("seek lands on the newest version of the first user key ≥ the target", () => {
    const block = build(entries);
    const it = block.iterator();
    const r = rng(2);
    const targets: Uint8Array[] = [
      new Uint8Array(0),
      new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff]),
    ];
    for (const e of entries) targets.push(e.key);
    for (let i = 0; i < 200; i++) {
      targets.push(Uint8Array.from({ length: Math.floor(r() * 6) }, () => Math.floor(r() * 256)));
    }
    for (const t of targets) {
      const want = lowerBound(entries, t, MAX_SEQUENCE);
      it.seek(t);
      if (want === entries.length) assert.equal(it.valid(), false);
      else assert.deepEqual(current(it), entries[want]);
    }
  });

  it("seekInternal lands on the first entry at or below a sequence number and reports a user-key match", () => {
    const block = build(entries);
    const it = block.iterator();
    for (const e of entries) {
      for (const seq of [e.seq, e.seq - 1, e.seq + 1, 0, MAX_SEQUENCE]) {
        const want = lowerBound(entries, e.key, seq);
        const c = it.seekInternal(e.key, seq);
        if (want === entries.length) {
          assert.equal(it.valid(), false);
          assert.equal(c, 2);
        } else {
          assert.deepEqual(current(it), entries[want]);
          assert.equal(c <= 1, compareBytes(entries[want].key, e.key) === 0);
        }
      }
    }
  });

  it("seekBefore lands on the oldest version of the last user key < the target", () => {
    const block = build(entries, 4);
    const it = block.iterator();
    const targets: Uint8Array[] = [
      new Uint8Array(0),
      new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    ];
    for (const e of entries) targets.push(e.key, Uint8Array.of(...e.key, 0));
    for (const t of targets) {
      const want = lowerBound(entries, t, MAX_SEQUENCE) - 1;
      it.seekBefore(t);
      if (want < 0) assert.equal(it.valid(), false);
      else assert.deepEqual(current(it), entries[want]);
    }
  });

  it("a random walk of next and prev matches the model", () => {
    const block = build(entries, 5);
    randomWalk(block.iterator(), entries, rng(3), { steps: 3000, reseek: 0 });
  });

  it("key() is the user key alone; seq() and kind() decode the trailer", () => {
    const block = build([
      { key: bytes("k"), seq: MAX_SEQUENCE, kind: KIND_DELETE, value: new Uint8Array(0) },
      { key: bytes("k"), seq: 2 ** 40 + 5, kind: KIND_PUT, value: bytes("x") },
      { key: bytes("k"), seq: 0, kind: KIND_PUT, value: bytes("y") },
    ]);
    assert.deepEqual(forward(block.iterator()).map((e) => [e.key.length, e.seq, e.kind]), [
      [1, MAX_SEQUENCE, KIND_DELETE],
      [1, 2 ** 40 + 5, KIND_PUT],
      [1, 0, KIND_PUT],
    ]);
  });

  it("key() reuses one view while the key length stays the same", () => {
    const block = build([
      { key: bytes("aa"), seq: 1, kind: KIND_PUT, value: bytes("1") },
      { key: bytes("ab"), seq: 1, kind: KIND_PUT, value: bytes("2") },
    ]);
    const it = block.iterator();
    it.seekToFirst();
    const first = it.key();
    it.next();
    assert.equal(it.key(), first);
    assert.deepEqual(first, bytes("ab"));
  });

  it("handles empty keys and values, and keys and values needing multi-byte lengths", () => {
    const big = new Uint8Array(70_000).map((_, i) => i % 251);
    const list: Entry[] = [
      { key: new Uint8Array(0), seq: 9, kind: KIND_PUT, value: new Uint8Array(0) },
      { key: big.subarray(0, 300), seq: 1, kind: KIND_PUT, value: big },
      { key: big.subarray(0, 301), seq: 1, kind: KIND_PUT, value: bytes("v") },
      { key: bytes("z"), seq: 1, kind: KIND_PUT, value: big.subarray(0, 200) },
    ];
    for (const interval of [1, 16]) {
      const block = build(list, interval);
      assert.deepEqual(forward(block.iterator()), list);
      assert.deepEqual(backward(block.iterator()), [...list].reverse());
    }
  });

  it("seeks find every key when restart entries need multi-byte lengths", () => {
    const big = new Uint8Array(70_000).map((_, i) => i % 251);
    const list: Entry[] = [
      { key: big.subarray(0, 130), seq: 2, kind: KIND_PUT, value: bytes("v") },
      { key: big.subarray(0, 131), seq: 1, kind: KIND_PUT, value: big.subarray(0, 128) },
      { key: bytes("a"), seq: 3, kind: KIND_PUT, value: big.subarray(0, 127) },
      { key: bytes("b"), seq: 4, kind: KIND_PUT, value: big.subarray(0, 200) },
      { key: bytes("c"), seq: 4, kind: KIND_PUT, value: big.subarray(0, 20_000) },
      { key: bytes("d"), seq: 4, kind: KIND_PUT, value: bytes("d") },
      { key: bytes("m"), seq: 5, kind: KIND_DELETE, value: new Uint8Array(0) },
      { key: bytes("z"), seq: 1, kind: KIND_PUT, value: big },
    ];
    for (const interval of [1, 2]) {
      const b = new BlockBuilder(interval);
      for (const e of list) b.add(e.key, e.seq, e.kind, e.value);
      const contents = b.finish().slice();
      for (const checkOrder of [true, false]) {
        const block = new Block(contents, { checkOrder });
        for (let r = 0; r < block.numRestarts; r++) {
          const e = list[r * interval];
          const at = block.restartKeyStart(r);
          assert.equal(block.restartKeyLength(r), e.key.length + 8);
          assert.deepEqual(block.data.subarray(at, at + e.key.length), e.key);
        }
        const it = block.iterator();
        for (const e of list) {
          it.seek(e.key);
          assert.deepEqual(current(it), e, `interval ${interval}, checkOrder ${checkOrder}`);
        }
      }
    }
  });

  it("one iterator can be re-pointed at another block", () => {
    const a = build([{ key: bytes("a"), seq: 1, kind: KIND_PUT, value: bytes("1") }]);
    const b = build([{ key: bytes("b"), seq: 2, kind: KIND_PUT, value: bytes("2") }]);
    const it = new BlockIterator();
    it.reset(a);
    it.seekToFirst();
    assert.deepEqual(it.key(), bytes("a"));
    it.reset(b);
    assert.equal(it.valid(), false);
    it.seekToFirst();
    assert.deepEqual(it.key(), bytes("b"));
  });

  it("rejects a block whose keys are out of order", () => {
    const b = new BlockBuilder(16);
    b.add(bytes("b"), 1, KIND_PUT, bytes("1"));
    b.add(bytes("a"), 1, KIND_PUT, bytes("2"));
    assert.throws(() => new Block(b.finish().slice()), CorruptionError);
  });

  it("errors name the file and the offset of the damage", () => {
    const data = build(entries).data.slice();
    data[data.length - 1] = 0x7f; // an impossible restart count
    try {
      new Block(data, { file: "000042.sst", offset: 1000 });
      assert.fail("expected a CorruptionError");
    } catch (e) {
      assert.ok(e instanceof CorruptionError);
      assert.equal(e.file, "000042.sst");
      assert.equal(e.offset, 1000 + data.length - 4);
      assert.match(e.message, /000042\.sst/);
    }
  });

  it("any damaged byte or truncation is rejected or still yields a safely iterable block", () => {
    const small = entries.slice(0, 40);
    const good = build(small, 4).data;
    const variants: Uint8Array[] = [];
    for (let n = 0; n < good.length; n++) variants.push(good.slice(0, n));
    for (let i = 0; i < good.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const d = good.slice();
        d[i] ^= mask;
        variants.push(d);
      }
    }
    for (const d of variants) {
      let block: Block;
      try {
        block = new Block(d);
      } catch (e) {
        assert.ok(e instanceof CorruptionError, `unexpected ${e}`);
        continue;
      }
      // No checksum guards a bare block, so different data may be fine; it
      // must stay consistent: sorted, and the same both ways.
      const fwd = forward(block.iterator());
      assert.equal(fwd.length, block.entries);
      for (let i = 1; i < fwd.length; i++) assert.ok(compareEntries(fwd[i - 1], fwd[i]) < 0);
      assert.deepEqual(backward(block.iterator()), fwd.reverse());
    }
  });
});
