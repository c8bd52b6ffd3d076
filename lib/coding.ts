/**
 * Byte-level helpers shared by every on-disk format: CRC32C, XXH32, varints,
 * fixed-width integers, byte comparison and key conversion.
 *
 * @module
 */

const CRC_TABLE: Int32Array = buildCrcTable();

function buildCrcTable(): Int32Array {
  // Slicing-by-16 tables for the Castagnoli polynomial (reflected
  // 0x82f63b78): sixteen bytes per step measured a quarter to a third
  // faster than eight on both runtimes.
  const table = new Int32Array(256 * 16);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[i] = c;
  }
  for (let i = 0; i < 256; i++) {
    for (let t = 1; t < 16; t++) {
      const prev = table[(t - 1) * 256 + i];
      table[t * 256 + i] = (prev >>> 8) ^ table[prev & 0xff];
    }
  }
  return table;
}

/**
 * CRC32C (Castagnoli) of `bytes[start, end)`, continuing from `seed` (the
 * CRC of the bytes before, or 0).
 *
 * @example
 * ```ts
 * import { crc32c } from "./coding.ts";
 * crc32c(new TextEncoder().encode("123456789")); // 0xe3069283
 * ```
 */
export function crc32c(
  bytes: Uint8Array,
  start = 0,
  end: number = bytes.length,
  seed = 0,
): number {
  const t = CRC_TABLE;
  const b = bytes;
  let c = ~seed;
  let i = start;
  for (; i + 16 <= end; i += 16) {
    c ^= b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
    c = t[3840 + (c & 0xff)] ^ t[3584 + ((c >>> 8) & 0xff)] ^ t[3328 + ((c >>> 16) & 0xff)] ^
      t[3072 + (c >>> 24)] ^ t[2816 + b[i + 4]] ^ t[2560 + b[i + 5]] ^ t[2304 + b[i + 6]] ^
      t[2048 + b[i + 7]] ^ t[1792 + b[i + 8]] ^ t[1536 + b[i + 9]] ^ t[1280 + b[i + 10]] ^
      t[1024 + b[i + 11]] ^ t[768 + b[i + 12]] ^ t[512 + b[i + 13]] ^ t[256 + b[i + 14]] ^
      t[b[i + 15]];
  }
  for (; i < end; i++) c = t[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

const XXH_P1 = 0x9e3779b1 | 0;
const XXH_P2 = 0x85ebca77 | 0;
const XXH_P3 = 0xc2b2ae3d | 0;
const XXH_P4 = 0x27d4eb2f;
const XXH_P5 = 0x165667b1;
/**
 * Inputs of {@linkcode xxh32} from this length on are read through a word
 * view; shorter ones byte by byte (measured crossover about 200 bytes on
 * both runtimes).
 */
export const XXH_VIEW_MIN = 192;
// Word loads through an Int32Array read the bytes in platform order.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * XXH32 of `bytes[start, end)` with seed 0, the 32-bit xxHash of the LZ4
 * frame format. Tables checksum their blocks with it: on a 4 KiB block it
 * takes about a third of the time of {@linkcode crc32c}, since its four
 * lanes multiply whole words where CRC32C looks up every byte. Word-aligned
 * input (as the block cache hands out) is read a word at a time, other input
 * through a `DataView`; input under {@linkcode XXH_VIEW_MIN} bytes (a log
 * record of one small write) a byte at a time, as making either view costs
 * more than it saves there.
 *
 * @example
 * ```ts
 * import { xxh32 } from "./coding.ts";
 * xxh32(new TextEncoder().encode("abc")); // 0x32d153ff
 * ```
 */
export function xxh32(bytes: Uint8Array, start = 0, end: number = bytes.length): number {
  const length = end - start;
  let h: number;
  let i = start;
  if (length < 16) {
    h = XXH_P5;
  } else if (length < XXH_VIEW_MIN) {
    const b = bytes;
    let v1 = (XXH_P1 + XXH_P2) | 0;
    let v2 = XXH_P2;
    let v3 = 0;
    let v4 = -XXH_P1 | 0;
    for (; i + 16 <= end; i += 16) {
      v1 = (v1 + Math.imul(b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24), XXH_P2)) |
        0;
      v1 = Math.imul((v1 << 13) | (v1 >>> 19), XXH_P1);
      v2 =
        (v2 + Math.imul(b[i + 4] | (b[i + 5] << 8) | (b[i + 6] << 16) | (b[i + 7] << 24), XXH_P2)) |
        0;
      v2 = Math.imul((v2 << 13) | (v2 >>> 19), XXH_P1);
      v3 = (v3 +
        Math.imul(b[i + 8] | (b[i + 9] << 8) | (b[i + 10] << 16) | (b[i + 11] << 24), XXH_P2)) |
        0;
      v3 = Math.imul((v3 << 13) | (v3 >>> 19), XXH_P1);
      v4 = (v4 +
        Math.imul(b[i + 12] | (b[i + 13] << 8) | (b[i + 14] << 16) | (b[i + 15] << 24), XXH_P2)) |
        0;
      v4 = Math.imul((v4 << 13) | (v4 >>> 19), XXH_P1);
    }
    h = ((v1 << 1) | (v1 >>> 31)) + ((v2 << 7) | (v2 >>> 25)) +
      ((v3 << 12) | (v3 >>> 20)) + ((v4 << 18) | (v4 >>> 14));
  } else if (LITTLE_ENDIAN && ((bytes.byteOffset + start) & 3) === 0) {
    const stripes = length >>> 4;
    const words = new Int32Array(bytes.buffer, bytes.byteOffset + start, stripes << 2);
    let v1 = (XXH_P1 + XXH_P2) | 0;
    let v2 = XXH_P2;
    let v3 = 0;
    let v4 = -XXH_P1 | 0;
    for (let w = 0; w < words.length; w += 4) {
      v1 = (v1 + Math.imul(words[w], XXH_P2)) | 0;
      v1 = Math.imul((v1 << 13) | (v1 >>> 19), XXH_P1);
      v2 = (v2 + Math.imul(words[w + 1], XXH_P2)) | 0;
      v2 = Math.imul((v2 << 13) | (v2 >>> 19), XXH_P1);
      v3 = (v3 + Math.imul(words[w + 2], XXH_P2)) | 0;
      v3 = Math.imul((v3 << 13) | (v3 >>> 19), XXH_P1);
      v4 = (v4 + Math.imul(words[w + 3], XXH_P2)) | 0;
      v4 = Math.imul((v4 << 13) | (v4 >>> 19), XXH_P1);
    }
    i += stripes << 4;
    h = ((v1 << 1) | (v1 >>> 31)) + ((v2 << 7) | (v2 >>> 25)) +
      ((v3 << 12) | (v3 >>> 20)) + ((v4 << 18) | (v4 >>> 14));
  } else {
    // Unaligned words (blocks read in place from a map start anywhere):
    // little-endian DataView loads take half the time of assembling bytes.
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let v1 = (XXH_P1 + XXH_P2) | 0;
    let v2 = XXH_P2;
    let v3 = 0;
    let v4 = -XXH_P1 | 0;
    for (; i + 16 <= end; i += 16) {
      v1 = (v1 + Math.imul(view.getInt32(i, true), XXH_P2)) | 0;
      v1 = Math.imul((v1 << 13) | (v1 >>> 19), XXH_P1);
      v2 = (v2 + Math.imul(view.getInt32(i + 4, true), XXH_P2)) | 0;
      v2 = Math.imul((v2 << 13) | (v2 >>> 19), XXH_P1);
      v3 = (v3 + Math.imul(view.getInt32(i + 8, true), XXH_P2)) | 0;
      v3 = Math.imul((v3 << 13) | (v3 >>> 19), XXH_P1);
      v4 = (v4 + Math.imul(view.getInt32(i + 12, true), XXH_P2)) | 0;
      v4 = Math.imul((v4 << 13) | (v4 >>> 19), XXH_P1);
    }
    h = ((v1 << 1) | (v1 >>> 31)) + ((v2 << 7) | (v2 >>> 25)) +
      ((v3 << 12) | (v3 >>> 20)) + ((v4 << 18) | (v4 >>> 14));
  }
  h = (h + length) | 0;
  const b = bytes;
  for (; i + 4 <= end; i += 4) {
    h = (h + Math.imul(b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24), XXH_P3)) | 0;
    h = Math.imul((h << 17) | (h >>> 15), XXH_P4);
  }
  for (; i < end; i++) {
    h = (h + Math.imul(b[i], XXH_P5)) | 0;
    h = Math.imul((h << 11) | (h >>> 21), XXH_P1);
  }
  h ^= h >>> 15;
  h = Math.imul(h, XXH_P2);
  h ^= h >>> 13;
  h = Math.imul(h, XXH_P3);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Compares two byte strings in lexicographic (unsigned byte) order. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const d = a[i] - b[i];
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** True when the two byte strings hold the same bytes. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The smallest byte string greater than every string that starts with
 * `prefix`, or undefined when there is none (the prefix is all 0xff).
 */
export function prefixSuccessor(prefix: Uint8Array): Uint8Array | undefined {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i] !== 0xff) {
      const out = prefix.slice(0, i + 1);
      out[i]++;
      return out;
    }
  }
  return undefined;
}

/** Number of bytes the varint encoding of `n` takes (n ≤ 2^53). */
export function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

/** Writes `n` (0 ≤ n ≤ 2^53) as a LEB128 varint at `pos`; returns the next position. */
export function putVarint(buf: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

// Where the last decodeVarint stopped: past the varint, or where it failed.
let varintStop = 0;

/** {@linkcode decodeVarint}'s result for a varint that runs past its end. */
export const VARINT_TRUNCATED = -1;
/** {@linkcode decodeVarint}'s result for a varint of more than 53 bits. */
export const VARINT_TOO_LONG = -2;

/**
 * The varint of up to 53 bits at `bytes[pos]`, which must end before
 * `end`: its value, or {@linkcode VARINT_TRUNCATED} or
 * {@linkcode VARINT_TOO_LONG}. {@linkcode lastVarintStop} then gives the
 * position after it (or where it failed). Nothing is allocated, so hot
 * decoders call it directly; {@linkcode ByteReader} wraps it in a cursor.
 *
 * @example
 * ```ts
 * import { decodeVarint, lastVarintStop } from "./coding.ts";
 * console.log(decodeVarint(new Uint8Array([0xac, 0x02]), 0, 2), lastVarintStop()); // 300 2
 * ```
 */
export function decodeVarint(bytes: Uint8Array, pos: number, end: number): number {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 8; i++) {
    if (pos >= end) {
      varintStop = pos;
      return VARINT_TRUNCATED;
    }
    const b = bytes[pos++];
    result += (b & 0x7f) * mul;
    if (b < 0x80) {
      if (i === 7 && result > Number.MAX_SAFE_INTEGER) break;
      varintStop = pos;
      return result;
    }
    mul *= 128;
  }
  varintStop = pos;
  return VARINT_TOO_LONG;
}

/**
 * Where the last {@linkcode decodeVarint} stopped.
 *
 * @example
 * ```ts
 * import { decodeVarint, lastVarintStop } from "./coding.ts";
 * decodeVarint(new Uint8Array([5]), 0, 1);
 * console.log(lastVarintStop()); // 1
 * ```
 */
export function lastVarintStop(): number {
  return varintStop;
}

/**
 * What went wrong, for a failed {@linkcode decodeVarint} result.
 *
 * @example
 * ```ts
 * import { decodeVarint, varintProblem } from "./coding.ts";
 * console.log(varintProblem(decodeVarint(new Uint8Array([0x80]), 0, 1))); // "truncated varint"
 * ```
 */
export function varintProblem(result: number): string {
  return result === VARINT_TRUNCATED ? "truncated varint" : "varint too long";
}

/**
 * A cursor for decoding little-endian integers and varints; every read is
 * bounds-checked and reports overruns through `onError`.
 */
export class ByteReader {
  /** The bytes being read. */
  readonly bytes: Uint8Array;
  /** The current read position. */
  pos: number;
  /** The end of the readable range. */
  end: number;
  #onError: (message: string, offset: number) => never;

  /** Reads `bytes[start, end)`; overruns call `onError`, which must throw. */
  constructor(
    bytes: Uint8Array,
    onError: (message: string, offset: number) => never,
    start = 0,
    end: number = bytes.length,
  ) {
    this.bytes = bytes;
    this.pos = start;
    this.end = end;
    this.#onError = onError;
  }

  /** Reads a varint of up to 53 bits. */
  varint(): number {
    const result = decodeVarint(this.bytes, this.pos, this.end);
    this.pos = varintStop;
    if (result < 0) this.#onError(varintProblem(result), this.pos);
    return result;
  }

  /** Moves past `n` bytes, which must lie within the range. */
  skip(n: number): void {
    if (n < 0 || this.pos + n > this.end) {
      this.#onError(`length ${n} overruns the record`, this.pos);
    }
    this.pos += n;
  }

  /**
   * Reads `bytes[start, end)` next: one reader serves many short records of
   * the same bytes.
   */
  moveTo(start: number, end: number): void {
    if (!(start >= 0 && start <= end && end <= this.bytes.length)) {
      throw new RangeError(`range [${start}, ${end}) is outside ${this.bytes.length} bytes`);
    }
    this.pos = start;
    this.end = end;
  }

  /** True when every byte has been read. */
  done(): boolean {
    return this.pos >= this.end;
  }
}

/** Reads a little-endian uint32 at `pos`. */
export function readU32(buf: Uint8Array, pos: number): number {
  return (buf[pos] | (buf[pos + 1] << 8) | (buf[pos + 2] << 16) | (buf[pos + 3] << 24)) >>> 0;
}

/** Writes a little-endian uint32 at `pos`. */
export function writeU32(buf: Uint8Array, pos: number, v: number): void {
  buf[pos] = v & 0xff;
  buf[pos + 1] = (v >>> 8) & 0xff;
  buf[pos + 2] = (v >>> 16) & 0xff;
  buf[pos + 3] = (v >>> 24) & 0xff;
}

/** Reads a little-endian unsigned integer of up to 53 bits stored in 8 bytes. */
export function readU64(buf: Uint8Array, pos: number): number {
  return readU32(buf, pos) + readU32(buf, pos + 4) * 0x1_0000_0000;
}

/** Writes an unsigned integer of up to 53 bits as 8 little-endian bytes. */
export function writeU64(buf: Uint8Array, pos: number, v: number): void {
  writeU32(buf, pos, v >>> 0);
  writeU32(buf, pos + 4, Math.floor(v / 0x1_0000_0000));
}

const utf8Encoder = new TextEncoder();

/** UTF-8 encodes strings; passes byte arrays through. */
export function toBytes(input: Uint8Array | string): Uint8Array {
  return typeof input === "string" ? utf8Encoder.encode(input) : input;
}

/**
 * {@linkcode toBytes}, encoding a string into `scratch` when it surely fits
 * (three bytes per UTF-16 unit): the result is then a view of `scratch`,
 * valid until `scratch` is written again. Longer strings get an array of
 * their own.
 */
export function toBytesIn(input: Uint8Array | string, scratch: Uint8Array): Uint8Array {
  if (typeof input !== "string") return input;
  if (input.length * 3 > scratch.length) return utf8Encoder.encode(input);
  return scratch.subarray(0, utf8Encoder.encodeInto(input, scratch).written);
}

/**
 * A 32-bit hash of `bytes[start, end)` (FNV-1a followed by a murmur3
 * finalizer).
 */
export function hash32(bytes: Uint8Array, start = 0, end: number = bytes.length): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
