import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { compareBytes } from "../lib/coding.ts";
import { KeyFence, wordAfter, wordOfRange } from "../lib/key_fence.ts";
import { rng } from "./_model.ts";

const b = (s: string) => new TextEncoder().encode(s);

// The index of the first key ≥ target, by walking every key.
function linearLowerBound(keys: Uint8Array[], target: Uint8Array): number {
  let i = 0;
  while (i < keys.length && compareBytes(keys[i], target) < 0) i++;
  return i;
}

// Sorted distinct keys drawn from a small alphabet over a shared stem, so
// that keys tie in their first bytes, extend one another and differ late.
function sortedKeys(random: () => number, count: number, stem: string): Uint8Array[] {
  const set = new Map<string, Uint8Array>();
  while (set.size < count) {
    let k = stem;
    const len = Math.floor(random() * 12);
    for (let i = 0; i < len; i++) k += "ab\u0000\u00ff"[Math.floor(random() * 4)];
    const bytes = new Uint8Array([...k].map((c) => c.charCodeAt(0)));
    set.set(Array.from(bytes).join(","), bytes);
  }
  return [...set.values()].sort(compareBytes);
}

describe("KeyFence", () => {
  it("finds the first key at or after a target", () => {
    const fence = new KeyFence(["apple", "kiwi", "pear"].map(b));
    assert.deepEqual(
      ["", "apple", "banana", "kiwi", "pear", "plum"].map((k) => fence.lowerBound(b(k))),
      [
        0,
        0,
        1,
        1,
        2,
        3,
      ],
    );
  });
  it("answers 0 for an empty list", () => {
    assert.equal(new KeyFence([]).lowerBound(b("a")), 0);
  });
  it("places targets that leave the shared prefix before or after every key", () => {
    const fence = new KeyFence(["user:0001", "user:0500", "user:0999"].map(b));
    assert.equal(fence.lowerBound(b("user")), 0, "a target shorter than the prefix");
    assert.equal(fence.lowerBound(b("app")), 0);
    assert.equal(fence.lowerBound(b("zoo")), 3);
  });
  it("agrees with a linear search on keys that tie past six bytes, extend one another and hold zero bytes", () => {
    const random = rng(7);
    for (let round = 0; round < 200; round++) {
      const stem = round % 2 === 0 ? "" : "stem:";
      const keys = sortedKeys(random, 1 + Math.floor(random() * 60), stem);
      const fence = new KeyFence(keys);
      for (let q = 0; q < 50; q++) {
        const target = sortedKeys(random, 1, round % 3 === 0 ? "" : stem)[0];
        assert.equal(fence.lowerBound(target), linearLowerBound(keys, target), `round ${round}`);
      }
      for (let i = 0; i < keys.length; i++) assert.equal(fence.lowerBound(keys[i]), i);
    }
  });
  it("finds the range that holds a key, or none between and around them", () => {
    const lower = ["b", "f", "m"].map(b);
    const upper = ["d", "k", "m"].map(b);
    const fence = new KeyFence(upper, { lowerKeys: lower });
    assert.deepEqual(
      ["a", "b", "c", "d", "e", "f", "k", "ka", "m", "ma", "z"].map((k) =>
        fence.rangeHolding(b(k))
      ),
      [-1, 0, 0, 0, -1, 1, 1, -1, 2, -1, -1],
    );
  });
  it("finds a holding range among ranges that share no prefix with their lowest key", () => {
    const fence = new KeyFence(["user:5", "user:9"].map(b), {
      lowerKeys: ["app", "user:7"].map(b),
    });
    assert.deepEqual(
      ["ap", "app", "b", "user:5", "user:6", "user:8", "zoo"].map((k) => fence.rangeHolding(b(k))),
      [-1, 0, 0, 0, -1, 1, -1],
    );
  });
  it("agrees with a linear search for the holding range on keys that tie past six bytes", () => {
    const random = rng(11);
    for (let round = 0; round < 200; round++) {
      const stem = round % 2 === 0 ? "" : "stem:";
      // Consecutive pairs of sorted distinct keys make disjoint ranges; a
      // lone last key makes a range of one key.
      const keys = sortedKeys(random, 1 + Math.floor(random() * 60), stem);
      const lower: Uint8Array[] = [];
      const upper: Uint8Array[] = [];
      for (let i = 0; i < keys.length; i += 2) {
        lower.push(keys[i]);
        upper.push(keys[Math.min(i + 1, keys.length - 1)]);
      }
      const fence = new KeyFence(upper, { lowerKeys: lower });
      const holding = (target: Uint8Array) =>
        lower.findIndex((l, i) =>
          compareBytes(l, target) <= 0 && compareBytes(target, upper[i]) <= 0
        );
      for (let q = 0; q < 50; q++) {
        const target = sortedKeys(random, 1, round % 3 === 0 ? "" : stem)[0];
        assert.equal(fence.rangeHolding(target), holding(target), `round ${round}`);
      }
      for (const k of keys) assert.equal(fence.rangeHolding(k), holding(k));
    }
  });
  it("refuses a range lookup without lower keys, and lower keys that do not pair with the keys", () => {
    assert.throws(() => new KeyFence([b("a")]).rangeHolding(b("a")), TypeError);
    assert.throws(() => new KeyFence([b("a")], { lowerKeys: [] }), RangeError);
  });
});

describe("wordOfRange", () => {
  it("reads a key inside a larger buffer as wordAfter reads the key alone", () => {
    const buffer = new Uint8Array([7, 7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9]);
    for (let start = 0; start < 4; start++) {
      for (let end = start; end <= 10; end++) {
        for (let p = 0; p <= end - start; p++) {
          const key = buffer.slice(start, end);
          assert.equal(
            wordOfRange(buffer, start, end, p),
            wordAfter(key, p),
            `${start} ${end} ${p}`,
          );
        }
      }
    }
  });
});
