import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ByteReader,
  compareBytes,
  crc32c,
  hash32,
  prefixSuccessor,
  putVarint,
  readU64,
  varintLength,
  writeU64,
  xxh32,
  XXH_VIEW_MIN,
} from "../lib/coding.ts";

const enc = (s: string) => new TextEncoder().encode(s);

describe("crc32c", () => {
  it("matches the standard check value for 123456789", () => {
    assert.equal(crc32c(enc("123456789")), 0xe3069283);
  });
  it("matches the RFC 3720 vector of 32 zero bytes", () => {
    assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  });
  it("continues from a seed as if over the concatenation", () => {
    const a = enc("hello, ");
    const b = enc("world");
    const whole = enc("hello, world");
    assert.equal(crc32c(b, 0, b.length, crc32c(a)), crc32c(whole));
  });
  it("covers only the given range", () => {
    const bytes = enc("xx123456789yy");
    assert.equal(crc32c(bytes, 2, 11), 0xe3069283);
  });
});

describe("xxh32", () => {
  it("matches the reference values of XXH32 with seed 0", () => {
    assert.equal(xxh32(new Uint8Array(0)), 0x02cc5d05);
    assert.equal(xxh32(enc("a")), 0x550d7456);
    assert.equal(xxh32(enc("abc")), 0x32d153ff);
    assert.equal(xxh32(enc("Nobody inspects the spammish repetition")), 0xe2293b2f);
    assert.equal(xxh32(Uint8Array.from({ length: 100 }, (_, i) => i)), 0x7f89ba44);
  });
  it("gives the same value at every alignment of the input", () => {
    const data = Uint8Array.from({ length: 300 }, (_, i) => (i * 151 + 7) & 0xff);
    for (let length = 0; length < 80; length++) {
      const want = xxh32(data.slice(0, length));
      for (let offset = 1; offset < 8; offset++) {
        const shifted = new Uint8Array(length + offset);
        shifted.set(data.subarray(0, length), offset);
        assert.equal(xxh32(shifted, offset), want, `length ${length}, offset ${offset}`);
        assert.equal(xxh32(shifted.subarray(offset)), want, `view at offset ${offset}`);
      }
    }
  });
  it("agrees with a plain reading of the specification at every length and alignment", () => {
    assert.equal(plainXxh32(enc("Nobody inspects the spammish repetition")), 0xe2293b2f);
    assert.equal(plainXxh32(Uint8Array.from({ length: 100 }, (_, i) => i)), 0x7f89ba44);
    const data = Uint8Array.from({ length: 700 }, (_, i) => (i * 2654435761) >>> 24);
    for (let length = 0; length <= 2 * XXH_VIEW_MIN + 64; length += length < 300 ? 1 : 37) {
      const want = plainXxh32(data.subarray(0, length));
      for (let offset = 0; offset < 4; offset++) {
        const shifted = new Uint8Array(length + offset);
        shifted.set(data.subarray(0, length), offset);
        assert.equal(xxh32(shifted, offset), want, `length ${length}, offset ${offset}`);
      }
    }
  });
  it("covers only the given range", () => {
    const bytes = enc("xxNobody inspects the spammish repetitionyy");
    assert.equal(xxh32(bytes, 2, bytes.length - 2), 0xe2293b2f);
  });
});

describe("varints", () => {
  it("round-trip values up to 2^53 - 1", () => {
    const values = [0, 1, 127, 128, 300, 2 ** 21, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER];
    const buf = new Uint8Array(100);
    let pos = 0;
    for (const v of values) pos = putVarint(buf, pos, v);
    const r = new ByteReader(buf, (m) => {
      throw new Error(m);
    });
    for (const v of values) assert.equal(r.varint(), v);
    assert.equal(r.pos, pos);
  });
  it("report their encoded length", () => {
    assert.equal(varintLength(127), 1);
    assert.equal(varintLength(128), 2);
    assert.equal(varintLength(Number.MAX_SAFE_INTEGER), 8);
  });
  it("reject a truncated encoding through the error callback", () => {
    const r = new ByteReader(new Uint8Array([0x80, 0x80]), (m) => {
      throw new RangeError(m);
    });
    assert.throws(() => r.varint(), /truncated varint/);
  });
  it("a reader moved to another range reads within that range alone", () => {
    const r = new ByteReader(new Uint8Array([0x05, 0x81, 0x01, 0x07]), (m) => {
      throw new RangeError(m);
    });
    r.moveTo(1, 3);
    assert.equal(r.varint(), 129);
    assert.equal(r.done(), true);
    r.moveTo(1, 2);
    assert.throws(() => r.varint(), /truncated varint/);
    assert.throws(() => r.moveTo(2, 5), RangeError);
  });
});

describe("byte helpers", () => {
  it("order byte strings as unsigned bytes, shorter prefix first", () => {
    assert.ok(compareBytes(new Uint8Array([1]), new Uint8Array([1, 0])) < 0);
    assert.ok(compareBytes(new Uint8Array([0x7f]), new Uint8Array([0x80])) < 0);
    assert.equal(compareBytes(new Uint8Array([5, 6]), new Uint8Array([5, 6])), 0);
  });
  it("hash a range of bytes as it hashes a copy of that range", () => {
    const bytes = new TextEncoder().encode("xxkey-0001yy");
    assert.equal(hash32(bytes, 2, 10), hash32(bytes.slice(2, 10)));
    assert.notEqual(hash32(bytes, 2, 10), hash32(bytes, 2, 11));
  });
  it("compute the successor of a prefix, skipping trailing 0xff", () => {
    assert.deepEqual(prefixSuccessor(new Uint8Array([1, 2])), new Uint8Array([1, 3]));
    assert.deepEqual(prefixSuccessor(new Uint8Array([1, 0xff])), new Uint8Array([2]));
    assert.equal(prefixSuccessor(new Uint8Array([0xff, 0xff])), undefined);
  });
  it("store 53-bit integers in 8 bytes", () => {
    const buf = new Uint8Array(8);
    writeU64(buf, 0, Number.MAX_SAFE_INTEGER);
    assert.equal(readU64(buf, 0), Number.MAX_SAFE_INTEGER);
  });
});

// XXH32 with seed 0 as the specification states it, one byte at a time.
function plainXxh32(b: Uint8Array): number {
  const P1 = 2654435761, P2 = 2246822519, P3 = 3266489917, P4 = 668265263, P5 = 374761393;
  const mul = (a: number, m: number) => Math.imul(a, m) >>> 0;
  const rotl = (x: number, r: number) => ((x << r) | (x >>> (32 - r))) >>> 0;
  const word = (i: number) => (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
  const round = (acc: number, input: number) => mul(rotl((acc + mul(input, P2)) >>> 0, 13), P1);
  let i = 0;
  let h: number;
  if (b.length >= 16) {
    const v = [(P1 + P2) >>> 0, P2, 0, (0 - P1) >>> 0];
    for (; i + 16 <= b.length; i += 16) {
      for (let lane = 0; lane < 4; lane++) v[lane] = round(v[lane], word(i + 4 * lane));
    }
    h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) >>> 0;
  } else {
    h = P5;
  }
  h = (h + b.length) >>> 0;
  for (; i + 4 <= b.length; i += 4) h = mul(rotl((h + mul(word(i), P3)) >>> 0, 17), P4);
  for (; i < b.length; i++) h = mul(rotl((h + mul(b[i], P5)) >>> 0, 11), P1);
  h = mul(h ^ (h >>> 15), P2);
  h = mul(h ^ (h >>> 13), P3);
  return (h ^ (h >>> 16)) >>> 0;
}
