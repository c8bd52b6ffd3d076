/**
 * Bloom filters over user keys, one per table.
 *
 * The filter is cache-local: split into 64-byte (512-bit) lines, a key's
 * probes all fall in one line, so a lookup costs one cache miss however
 * many probes it makes (a classic bloom filter costs one per probe, and a
 * database probes many filters per read). At 10 bits per key the
 * false-positive rate is about 1%.
 *
 * Encoding: `line × n (64 bytes each) | k u8`, k being the number of probes.
 * An empty encoding (no bytes) is a filter that admits everything (a table
 * built with `bloomBitsPerKey: 0`).
 *
 * Everything derives from one 32-bit hash per key ({@linkcode bloomHash}),
 * so a lookup hashes its key once and tests that hash against every table:
 * the high bits of the hash pick the line; a remix of it, h, and
 * δ = rotr(h, 17) | 1 give the probes by double hashing, probe j testing
 * bit `(h + j·δ) >>> 23` of the line.
 *
 * @module
 */

import { hash32 } from "../coding.ts";

/**
 * The hash a filter is built from and probed with; compute it once per
 * lookup and pass it to every table.
 *
 * @example
 * ```ts
 * import { bloomHash } from "./bloom.ts";
 * const h = bloomHash(new TextEncoder().encode("user:42"));
 * console.log(h >>> 0 === h); // true
 * ```
 */
export function bloomHash(key: Uint8Array): number {
  return hash32(key);
}

/** Most probes a filter may use. */
export const MAX_PROBES = 30;
/** Bytes per filter line (one cache line). */
export const BLOOM_LINE_BYTES = 64;

// Decorrelates the in-line probes from the bits that chose the line.
function remix(h: number): number {
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  return h ^ (h >>> 12);
}

// The line of a hash: multiply-shift instead of a modulo, which costs a
// floating-point fmod when the hash exceeds 2^31.
function lineOf(hash: number, lines: number): number {
  return Math.floor((hash >>> 0) * lines * 2.3283064365386963e-10) * BLOOM_LINE_BYTES;
}

/**
 * Collects key hashes and encodes a filter sized for them.
 *
 * @example
 * ```ts
 * import { BloomFilter, BloomFilterBuilder, bloomHash } from "./bloom.ts";
 * const b = new BloomFilterBuilder(10);
 * const h = bloomHash(new TextEncoder().encode("a"));
 * b.addHash(h);
 * console.log(new BloomFilter(b.finish()).mayContain(h)); // true
 * ```
 */
export class BloomFilterBuilder {
  /** Filter bits per key; 0 or less builds an empty filter that admits everything. */
  readonly bitsPerKey: number;
  #hashes: Uint32Array = new Uint32Array(1024);
  #count = 0;

  /** Creates a builder using `bitsPerKey` bits of filter per added key. */
  constructor(bitsPerKey = 10) {
    this.bitsPerKey = bitsPerKey;
  }

  /** Adds a key by its {@linkcode bloomHash}. */
  addHash(hash: number): void {
    if (this.bitsPerKey <= 0) return;
    if (this.#count === this.#hashes.length) {
      const grown = new Uint32Array(this.#hashes.length * 2);
      grown.set(this.#hashes);
      this.#hashes = grown;
    }
    this.#hashes[this.#count++] = hash;
  }

  /** Encodes the filter. */
  finish(): Uint8Array {
    if (this.bitsPerKey <= 0) return new Uint8Array(0);
    // A little under the ln 2 × bits per key of a classic filter: measured
    // best for 512-bit lines (6 probes at 10 bits per key).
    const k = Math.min(MAX_PROBES, Math.max(1, Math.round(this.bitsPerKey * 0.6)));
    const lines = Math.max(1, Math.ceil((this.#count * this.bitsPerKey) / (BLOOM_LINE_BYTES * 8)));
    const out = new Uint8Array(lines * BLOOM_LINE_BYTES + 1);
    out[lines * BLOOM_LINE_BYTES] = k;
    const hashes = this.#hashes;
    for (let i = 0; i < this.#count; i++) {
      const base = lineOf(hashes[i], lines);
      let h = remix(hashes[i]);
      const delta = (h >>> 17) | (h << 15) | 1;
      for (let j = 0; j < k; j++) {
        const bit = h >>> 23;
        out[base + (bit >>> 3)] |= 1 << (bit & 7);
        h = (h + delta) | 0;
      }
    }
    return out;
  }
}

/**
 * A decoded filter. {@linkcode BloomFilter.check} says whether bytes are a
 * well-formed filter; the table reader checks before it constructs one.
 *
 * @example
 * ```ts
 * import { BloomFilter } from "./bloom.ts";
 * const all = new BloomFilter(new Uint8Array(0));
 * console.log(all.mayContain(123)); // true
 * ```
 */
export class BloomFilter {
  /** The encoded filter. */
  readonly data: Uint8Array;
  /** Number of 64-byte lines (0 for a filter that admits everything). */
  readonly lines: number;
  /** Number of probes. */
  readonly probes: number;

  /** Wraps an encoded filter (see {@linkcode BloomFilter.check}). */
  constructor(data: Uint8Array) {
    this.data = data;
    this.lines = data.length > 1 ? Math.floor((data.length - 1) / BLOOM_LINE_BYTES) : 0;
    this.probes = data.length > 1 ? data[data.length - 1] : 0;
  }

  /** A description of what is wrong with `data` as a filter, or undefined when it is well formed. */
  static check(data: Uint8Array): string | undefined {
    if (data.length === 0) return undefined;
    if ((data.length - 1) % BLOOM_LINE_BYTES !== 0 || data.length === 1) {
      return `bloom filter of ${data.length} bytes is not whole lines plus a probe count`;
    }
    const k = data[data.length - 1];
    if (k < 1 || k > MAX_PROBES) return `bloom filter probe count ${k} out of range`;
    return undefined;
  }

  /** Number of filter bits. */
  get bits(): number {
    return this.lines * BLOOM_LINE_BYTES * 8;
  }

  /** False when the key with this {@linkcode bloomHash} was certainly not added. */
  mayContain(hash: number): boolean {
    const lines = this.lines;
    if (lines === 0) return true;
    const d = this.data;
    const base = lineOf(hash, lines);
    let h = remix(hash);
    const delta = (h >>> 17) | (h << 15) | 1;
    for (let j = this.probes; j > 0; j--) {
      const bit = h >>> 23;
      if ((d[base + (bit >>> 3)] & (1 << (bit & 7))) === 0) return false;
      h = (h + delta) | 0;
    }
    return true;
  }
}
