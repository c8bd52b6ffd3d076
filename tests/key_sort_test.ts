import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { compareBytes } from "../lib/coding.ts";
import { sortedOrder } from "../lib/key_sort.ts";
import { rng } from "./_model.ts";

// The order a plain comparison sort gives: bytes, then `tie`, then index.
function expected(keys: Uint8Array[], tie?: (a: number, b: number) => number): number[] {
  return keys.map((_, i) => i).sort((a, b) =>
    compareBytes(keys[a], keys[b]) || (tie === undefined ? 0 : tie(a, b)) || a - b
  );
}

describe("sortedOrder", () => {
  it("orders random keys that share a long prefix, tie within six bytes, extend one another and hold zero bytes", () => {
    const random = rng(17);
    for (const n of [0, 1, 5, 63, 64, 65, 500, 5000]) {
      const keys: Uint8Array[] = [];
      for (let i = 0; i < n; i++) {
        // A common prefix, then a few bytes from a tiny alphabet (so that
        // words tie and keys extend one another), sometimes nothing more.
        const length = Math.floor(random() * 12);
        const key = new Uint8Array(10 + length);
        key.fill(7, 0, 10);
        for (let j = 10; j < key.length; j++) key[j] = Math.floor(random() * 3);
        keys.push(key);
      }
      assert.deepEqual([...sortedOrder(keys)], expected(keys), `n = ${n}`);
    }
  });

  it("orders more than 2^16 keys whose six-byte words differ only in their last bits", () => {
    // Decimal keys after a shared run of zeros: the word holds every digit,
    // and keys one apart differ in the last byte of it.
    const random = rng(29);
    const n = 70_000;
    const keys = Array.from({ length: n }, () => {
      let v = Math.floor(random() * 1_000_000);
      const key = new Uint8Array(16).fill(48);
      for (let p = 15; v > 0; p--, v = Math.floor(v / 10)) key[p] = 48 + (v % 10);
      return key;
    });
    const tie = (a: number, b: number) => b - a;
    assert.deepEqual([...sortedOrder(keys, tie)], expected(keys, tie));
  });

  it("orders equal keys by the tie-break, then by index", () => {
    const random = rng(3);
    const keys = Array.from({ length: 300 }, () => new Uint8Array([Math.floor(random() * 4)]));
    const seq = Array.from({ length: 300 }, () => Math.floor(random() * 5));
    const tie = (a: number, b: number) => seq[b] - seq[a];
    assert.deepEqual([...sortedOrder(keys, tie)], expected(keys, tie));
  });

  it("orders keys that differ only past their first six distinct bytes", () => {
    const enc = new TextEncoder();
    const keys = Array.from(
      { length: 200 },
      (_, i) => enc.encode(`user/abcdefgh/${String((i * 37) % 200).padStart(3, "0")}`),
    );
    keys.push(enc.encode("user/"), enc.encode("user/abcdefgh/"), enc.encode("user/abcdefgh/\0"));
    assert.deepEqual([...sortedOrder(keys)], expected(keys));
  });
});
