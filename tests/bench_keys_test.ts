// The comparison benchmark's keys: every engine must get the same bytes,
// and a key handed to an engine must keep them (an engine may hold on to
// it), however many keys are made after it.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { KEY_SIZE, makeKey, makeMissingKey } from "../bench/common.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("benchmark keys", () => {
  it("are the index in zero-padded decimal, and a missing key ends in '.'", () => {
    assert.equal(text(makeKey(0)), "0000000000000000");
    assert.equal(text(makeKey(42)), "0000000000000042");
    assert.equal(text(makeKey(9_999_999_999)), "0000009999999999");
    assert.equal(text(makeMissingKey(7)), "000000000000007.");
    assert.equal(makeKey(1).length, KEY_SIZE);
    assert.equal(makeMissingKey(1).length, KEY_SIZE);
  });

  it("keep their bytes however many keys are made after them", () => {
    const kept = Array.from({ length: 20_000 }, (_, i) => makeKey(i * 7));
    const missing = Array.from({ length: 5_000 }, (_, i) => makeMissingKey(i));
    for (let i = 0; i < kept.length; i++) {
      assert.equal(text(kept[i]), String(i * 7).padStart(16, "0"));
    }
    for (let i = 0; i < missing.length; i++) {
      assert.equal(text(missing[i]), `${String(i).padStart(15, "0")}.`);
    }
  });

  it("sort in the order of their indexes, each missing key just before key 10 × i", () => {
    const compare = (a: Uint8Array, b: Uint8Array) =>
      text(a) < text(b) ? -1 : text(a) > text(b) ? 1 : 0;
    for (const i of [0, 1, 9, 10, 99, 12345]) {
      assert.equal(compare(makeKey(i), makeKey(i + 1)), -1);
      assert.equal(compare(makeMissingKey(i), makeKey(10 * i)), -1);
      if (i > 0) assert.equal(compare(makeKey(10 * i - 1), makeMissingKey(i)), -1);
    }
  });
});
