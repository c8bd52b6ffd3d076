import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { hash32 } from "../lib/coding.ts";
import {
  BLOOM_LINE_BYTES,
  BloomFilter,
  BloomFilterBuilder,
  bloomHash,
} from "../lib/sstable/bloom.ts";

const enc = new TextEncoder();

function filterOf(keys: string[], bitsPerKey: number): BloomFilter {
  const b = new BloomFilterBuilder(bitsPerKey);
  for (const k of keys) b.addHash(bloomHash(enc.encode(k)));
  return new BloomFilter(b.finish());
}

function falsePositiveRate(filter: BloomFilter, probes: number): number {
  let hits = 0;
  for (let i = 0; i < probes; i++) {
    if (filter.mayContain(bloomHash(enc.encode(`absent-${i}`)))) hits++;
  }
  return hits / probes;
}

const keys = Array.from({ length: 20_000 }, (_, i) => `user:${i * 7}`);

describe("bloom filter", () => {
  it("bloomHash is the hash32 of the key", () => {
    const k = enc.encode("some key");
    assert.equal(bloomHash(k), hash32(k));
  });

  it("never rejects a key that was added", () => {
    for (const n of [1, 10, 1000, 20_000]) {
      const filter = filterOf(keys.slice(0, n), 10);
      for (const k of keys.slice(0, n)) assert.ok(filter.mayContain(bloomHash(enc.encode(k))), k);
    }
  });

  it("has a false-positive rate near 1% at 10 bits per key", () => {
    const rate = falsePositiveRate(filterOf(keys, 10), 100_000);
    assert.ok(rate > 0.003 && rate < 0.02, `rate ${rate}`);
  });

  it("gives fewer false positives with more bits per key", () => {
    const rates = [4, 8, 16].map((bits) => falsePositiveRate(filterOf(keys, bits), 50_000));
    assert.ok(rates[0] > rates[1] && rates[1] > rates[2], `rates ${rates}`);
    assert.ok(rates[2] < 0.002, `rate at 16 bits ${rates[2]}`);
  });

  it("takes about bitsPerKey bits per key, in whole 64-byte lines plus a probe count", () => {
    const data = (() => {
      const b = new BloomFilterBuilder(10);
      for (const k of keys) b.addHash(bloomHash(enc.encode(k)));
      return b.finish();
    })();
    assert.equal((data.length - 1) % BLOOM_LINE_BYTES, 0);
    assert.ok(Math.abs(data.length * 8 - keys.length * 10) <= BLOOM_LINE_BYTES * 8 + 8);
    const filter = new BloomFilter(data);
    assert.equal(filter.probes, 6);
    assert.equal(filter.bits, (data.length - 1) * 8);
  });

  it("one hash tests many filters", () => {
    const a = filterOf(["apple"], 10);
    const b = filterOf(["banana"], 10);
    const h = bloomHash(enc.encode("apple"));
    assert.equal(a.mayContain(h), true);
    assert.equal(b.mayContain(h), false);
  });

  it("a filter with no keys rejects every key", () => {
    const filter = filterOf([], 10);
    assert.equal(falsePositiveRate(filter, 1000), 0);
  });

  it("a filter built with 0 bits per key is empty and admits every key", () => {
    const b = new BloomFilterBuilder(0);
    b.addHash(1);
    const data = b.finish();
    assert.equal(data.length, 0);
    assert.equal(falsePositiveRate(new BloomFilter(data), 100), 1);
  });

  it("check() accepts well-formed encodings and rejects malformed ones", () => {
    const good = (() => {
      const b = new BloomFilterBuilder(10);
      b.addHash(42);
      return b.finish();
    })();
    assert.equal(BloomFilter.check(good), undefined);
    assert.equal(BloomFilter.check(new Uint8Array(0)), undefined);
    assert.notEqual(BloomFilter.check(new Uint8Array(1)), undefined);
    assert.notEqual(BloomFilter.check(good.subarray(1)), undefined);
    const zeroProbes = good.slice();
    zeroProbes[zeroProbes.length - 1] = 0;
    assert.notEqual(BloomFilter.check(zeroProbes), undefined);
    const tooMany = good.slice();
    tooMany[tooMany.length - 1] = 31;
    assert.notEqual(BloomFilter.check(tooMany), undefined);
  });
});
