import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SlabCopier } from "../lib/slab_copier.ts";

describe("slab copier", () => {
  it("a copy keeps its bytes when the source changes and after many more copies", () => {
    const copier = new SlabCopier({ firstSize: 64, maxSize: 256 });
    const source = new Uint8Array([1, 2, 3, 4, 5]);
    const first = copier.copy(source);
    source.fill(9);
    const later: Uint8Array[] = [];
    for (let i = 0; i < 500; i++) later.push(copier.copy(new Uint8Array(7).fill(i & 0xff)));
    assert.deepEqual(first, new Uint8Array([1, 2, 3, 4, 5]));
    for (let i = 0; i < 500; i++) assert.deepEqual(later[i], new Uint8Array(7).fill(i & 0xff));
  });

  it("small copies share a slab and large ones get arrays of their own", () => {
    const copier = new SlabCopier({ firstSize: 64, maxSize: 256 });
    const a = copier.copy(new Uint8Array(10));
    const b = copier.copy(new Uint8Array(10));
    assert.equal(a.buffer, b.buffer);
    const big = copier.copy(new Uint8Array(65));
    assert.equal(big.buffer.byteLength, 65);
  });

  it("a copy larger than the next slab would be still fits in one", () => {
    const copier = new SlabCopier({ firstSize: 16, maxSize: 256 });
    const source = new Uint8Array(60).map((_, i) => i);
    assert.deepEqual(copier.copy(source), source);
    assert.deepEqual(copier.copy(source), source);
  });

  it("copies of empty arrays are empty", () => {
    const copier = new SlabCopier({ firstSize: 64, maxSize: 256 });
    assert.equal(copier.copy(new Uint8Array(0)).length, 0);
  });

  it("a region taken is zeroed, its own, and untouched by later copies and regions", () => {
    const copier = new SlabCopier({ firstSize: 64, maxSize: 256 });
    const region = copier.take(12);
    assert.deepEqual(region, new Uint8Array(12));
    region.fill(7);
    const others: Uint8Array[] = [];
    for (let i = 0; i < 100; i++) {
      others.push(i % 2 === 0 ? copier.copy(new Uint8Array(9).fill(i)) : copier.take(9).fill(i));
    }
    assert.deepEqual(region, new Uint8Array(12).fill(7));
    for (let i = 0; i < 100; i++) assert.deepEqual(others[i], new Uint8Array(9).fill(i));
    const big = copier.take(65);
    assert.equal(big.buffer.byteLength, 65);
  });
});
