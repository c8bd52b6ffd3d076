/**
 * Data and index blocks: sorted runs of internal keys with prefix-compressed
 * keys and restart points, searched in place.
 *
 * Block contents (the part covered by the block trailer's checksum):
 *
 * ```
 * entry*  | restart offset u32 LE × n | n u32 LE
 * entry   = shared varint | unshared varint | value_len varint | key[shared..] | value
 * key     = user key | seq 7 bytes LE (≤ 2^53 - 1) | kind u8 (0 delete, 1 put)
 * ```
 *
 * Every `restartInterval`-th entry is a restart point: it stores its whole
 * key (shared = 0) and its offset is listed in the trailer, so a search can
 * binary-search the restart points and then scan at most one interval. A
 * block without entries is just `n = 0`.
 *
 * A {@linkcode Block} validates its restart points (or, when asked, every
 * entry) once, when it is built from bytes, and keeps nothing but the bytes:
 * searches read restart offsets from the trailer and restart keys from their
 * entries in place, so a block costs no decoding beyond the check. Iterators
 * check the bounds of every other entry as they decode it.
 *
 * @module
 */

import { putVarint, readU32, writeU32 } from "../coding.ts";
import { CorruptionError } from "../errors.ts";
import {
  type InternalIterator,
  type Kind,
  KIND_DELETE,
  KIND_PUT,
  MAX_SEQUENCE,
} from "../internal_key.ts";

/** Bytes that follow the user key inside a stored key: 7 of sequence number, 1 of kind. */
export const KEY_TRAILER_SIZE = 8;

const TWO_32 = 0x1_0000_0000;
const EMPTY = new Uint8Array(0);

/** Writes the key trailer for (`seq`, `kind`) at `pos`. */
export function writeKeyTrailer(buf: Uint8Array, pos: number, seq: number, kind: Kind): void {
  writeU32(buf, pos, seq >>> 0);
  const hi = Math.floor(seq / TWO_32);
  buf[pos + 4] = hi & 0xff;
  buf[pos + 5] = (hi >>> 8) & 0xff;
  buf[pos + 6] = hi >>> 16;
  buf[pos + 7] = kind;
}

/** Reads the sequence number of the key trailer at `pos`. */
export function readKeySeq(buf: Uint8Array, pos: number): number {
  return readU32(buf, pos) + (buf[pos + 4] | (buf[pos + 5] << 8) | (buf[pos + 6] << 16)) * TWO_32;
}

/**
 * Compares the stored key `data[off, off + len)` (user key + trailer) with
 * (`key`, `seq`) in internal-key order, without copying. Returns ±2 when the
 * user keys differ, ±1 when only the sequence numbers do, 0 when equal — so
 * a caller learns "same user key" from the same call.
 */
export function compareStoredKey(
  data: Uint8Array,
  off: number,
  len: number,
  key: Uint8Array,
  seq: number,
): number {
  return compareFrom(data, off, len, key, seq, 0);
}

// Set by compareFrom: how many leading bytes the two user keys share.
let lcp = 0;

// compareStoredKey for keys already known to agree on their first `from`
// user-key bytes; also leaves the common prefix length in `lcp`, which lets
// searches skip bytes they have already compared.
function compareFrom(
  data: Uint8Array,
  off: number,
  len: number,
  key: Uint8Array,
  seq: number,
  from: number,
): number {
  const ulen = len - KEY_TRAILER_SIZE;
  const klen = key.length;
  const n = ulen < klen ? ulen : klen;
  for (let i = from; i < n; i++) {
    const a = data[off + i];
    const b = key[i];
    if (a !== b) {
      lcp = i;
      return a < b ? -2 : 2;
    }
  }
  lcp = n;
  if (ulen !== klen) return ulen < klen ? -2 : 2;
  const s = readKeySeq(data, off + ulen);
  // Newer versions (higher seq) sort first.
  return s > seq ? -1 : s < seq ? 1 : 0;
}

function compareStoredKeys(a: Uint8Array, alen: number, b: Uint8Array, blen: number): number {
  const au = alen - KEY_TRAILER_SIZE;
  const bu = blen - KEY_TRAILER_SIZE;
  const n = au < bu ? au : bu;
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  if (au !== bu) return au - bu;
  const as = readKeySeq(a, au);
  const bs = readKeySeq(b, bu);
  return as > bs ? -1 : as < bs ? 1 : 0;
}

// Set by checkedVarint: the position after the varint it decoded.
let varintEnd = 0;

// Bounds-checked varint for validation: returns -1 when it overruns `limit`
// or is longer than 5 bytes (no length in a block needs more).
function checkedVarint(d: Uint8Array, p: number, limit: number): number {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 5; i++) {
    if (p >= limit) return -1;
    const b = d[p++];
    result += (b & 0x7f) * mul;
    if (b < 0x80) {
      varintEnd = p;
      return result;
    }
    mul *= 128;
  }
  return -1;
}

function copyBytes(dst: Uint8Array, at: number, src: Uint8Array, from: number, n: number): void {
  // A native set() costs more than a short loop for the few bytes a delta usually holds.
  if (n < 32) {
    for (let i = 0; i < n; i++) dst[at + i] = src[from + i];
  } else if (from === 0 && n === src.length) {
    dst.set(src, at);
  } else {
    dst.set(src.subarray(from, from + n), at);
  }
}

function grow(buf: Uint8Array, need: number, keep: number): Uint8Array {
  let cap = buf.length * 2;
  while (cap < need) cap *= 2;
  const out = new Uint8Array(cap);
  if (keep > 0) out.set(buf.subarray(0, keep));
  return out;
}

/**
 * Builds one block from entries added in strictly increasing internal-key
 * order (the caller checks the order).
 *
 * @example
 * ```ts
 * import { Block, BlockBuilder } from "./block.ts";
 * import { KIND_PUT } from "../internal_key.ts";
 * const b = new BlockBuilder(16);
 * b.add(new TextEncoder().encode("a"), 1, KIND_PUT, new TextEncoder().encode("x"));
 * const block = new Block(b.finish().slice());
 * console.log(block.entries); // 1
 * ```
 */
export class BlockBuilder {
  /** Entries between restart points. */
  readonly restartInterval: number;
  #buf: Uint8Array = new Uint8Array(8192);
  #pos = 0;
  #restarts: number[] = [];
  #counter = 0;
  #entries = 0;
  #last: Uint8Array = new Uint8Array(256);
  #lastLen = 0;
  #cur: Uint8Array = new Uint8Array(256);
  #finished = false;

  /** Creates a builder that stores a full key every `restartInterval` entries (≥ 1). */
  constructor(restartInterval = 16) {
    if (!Number.isInteger(restartInterval) || restartInterval < 1) {
      throw new RangeError(`restartInterval must be a positive integer, got ${restartInterval}`);
    }
    this.restartInterval = restartInterval;
  }

  /** Appends an entry; its internal key must be greater than the previous one's. */
  add(key: Uint8Array, seq: number, kind: Kind, value: Uint8Array): void {
    if (this.#finished) throw new Error("BlockBuilder.add after finish (reset first)");
    const klen = key.length + KEY_TRAILER_SIZE;
    if (this.#cur.length < klen) this.#cur = grow(this.#cur, klen, 0);
    const cur = this.#cur;
    copyBytes(cur, 0, key, 0, key.length);
    writeKeyTrailer(cur, key.length, seq, kind);

    let shared = 0;
    if (this.#counter < this.restartInterval && this.#entries > 0) {
      const last = this.#last;
      const n = klen < this.#lastLen ? klen : this.#lastLen;
      while (shared < n && last[shared] === cur[shared]) shared++;
    } else {
      this.#restarts.push(this.#pos);
      this.#counter = 0;
    }
    const unshared = klen - shared;
    const need = this.#pos + 15 + unshared + value.length;
    if (this.#buf.length < need) this.#buf = grow(this.#buf, need, this.#pos);
    const buf = this.#buf;
    let p = this.#pos;
    if (shared < 0x80 && unshared < 0x80 && value.length < 0x80) {
      buf[p] = shared;
      buf[p + 1] = unshared;
      buf[p + 2] = value.length;
      p += 3;
    } else {
      p = putVarint(buf, p, shared);
      p = putVarint(buf, p, unshared);
      p = putVarint(buf, p, value.length);
    }
    copyBytes(buf, p, cur, shared, unshared);
    p += unshared;
    copyBytes(buf, p, value, 0, value.length);
    this.#pos = p + value.length;

    this.#cur = this.#last;
    this.#last = cur;
    this.#lastLen = klen;
    this.#counter++;
    this.#entries++;
  }

  /** Number of entries added since the last reset. */
  get entries(): number {
    return this.#entries;
  }

  /** True when no entry has been added since the last reset. */
  empty(): boolean {
    return this.#entries === 0;
  }

  /** The size the block would have if finished now. */
  estimatedSize(): number {
    return this.#pos + this.#restarts.length * 4 + 4;
  }

  /**
   * Appends the restart trailer and returns the block contents: a view into
   * the builder's buffer, valid until {@linkcode BlockBuilder.reset}.
   */
  finish(): Uint8Array {
    if (!this.#finished) {
      const restarts = this.#restarts;
      const need = this.#pos + restarts.length * 4 + 4;
      if (this.#buf.length < need) this.#buf = grow(this.#buf, need, this.#pos);
      let p = this.#pos;
      for (let i = 0; i < restarts.length; i++, p += 4) writeU32(this.#buf, p, restarts[i]);
      writeU32(this.#buf, p, restarts.length);
      this.#pos = p + 4;
      this.#finished = true;
    }
    return this.#buf.subarray(0, this.#pos);
  }

  /** Empties the builder for the next block (keeps its buffers). */
  reset(): void {
    this.#pos = 0;
    this.#restarts.length = 0;
    this.#counter = 0;
    this.#entries = 0;
    this.#lastLen = 0;
    this.#finished = false;
  }
}

/** Where a block's bytes came from, for error messages. */
export interface BlockLocation {
  /** The file name to report. */
  file?: string;
  /** The file offset of the block's first byte. */
  offset?: number;
}

/** How a {@linkcode Block} is made from its bytes. */
export interface BlockOptions extends BlockLocation {
  /**
   * False checks only the restart points and their entries, leaving the
   * other entries to iterators, which check each one's bounds as they
   * decode it, and the order of the keys to be trusted: for blocks whose
   * checksum already matched. Default true.
   */
  checkOrder?: boolean;
  /**
   * The same bytes were checked as a block before (with `checkOrder`
   * false, at least; a copy of a checked block, or a block read again in
   * place): nothing is checked again, and `entries` is -1.
   */
  trusted?: boolean;
}

// Scratch buffers for validation; everything here is synchronous, so one
// pair serves every block.
let scratchPrev: Uint8Array = new Uint8Array(256);
let scratchCur: Uint8Array = new Uint8Array(256);

// The block being validated, named by fail(). Validation is synchronous, so
// one pair serves every block, and building a block allocates no closure.
let failFile: string | undefined;
let failBase = 0;

function fail(message: string, at: number): never {
  throw new CorruptionError(message, { file: failFile, offset: failBase + at });
}

// The restart count at the end of the block, checked to fit.
function restartCount(data: Uint8Array): number {
  const size = data.length;
  if (size < 4) fail(`block of ${size} bytes is too short`, 0);
  const num = readU32(data, size - 4);
  if (num > (size - 4) / 4) fail(`restart count ${num} overruns the block`, size - 4);
  return num;
}

// Checks the restart points and their entries only; iterators check every
// other entry as they decode it. Nothing is allocated: a block is built on
// every cache miss.
function checkRestarts(data: Uint8Array): void {
  const num = restartCount(data);
  const restartsOffset = data.length - 4 - num * 4;
  if ((num === 0) !== (restartsOffset === 0)) {
    fail("restart points do not match the entries", data.length - 4);
  }
  let last = -1;
  for (let r = 0; r < num; r++) {
    const start = readU32(data, restartsOffset + r * 4);
    if (r === 0 && start !== 0) fail("the first entry is not a restart point", 0);
    if (start <= last || start >= restartsOffset) {
      fail("restart points out of order", restartsOffset + r * 4);
    }
    if (data[start] !== 0) fail("restart entry shares a prefix", start);
    const klen = checkedVarint(data, start + 1, restartsOffset);
    const valueLen = klen < 0 ? -1 : checkedVarint(data, varintEnd, restartsOffset);
    if (valueLen < 0) fail("bad entry header", start);
    const pos = varintEnd;
    if (klen < KEY_TRAILER_SIZE) fail("key shorter than its trailer", start);
    if (klen > restartsOffset - pos || valueLen > restartsOffset - pos - klen) {
      fail("entry overruns the block", start);
    }
    checkTrailer(data, pos + klen, start);
    last = start;
  }
}

// The kind and sequence number of the stored key ending at `end`.
function checkTrailer(key: Uint8Array, end: number, start: number): void {
  const kind = key[end - 1];
  if (kind !== KIND_DELETE && kind !== KIND_PUT) fail(`unknown entry kind ${kind}`, start);
  if (key[end - 2] > 0x1f) fail("sequence number above 2^53 - 1", start);
}

// Checks every entry: bounds, restart points, and that keys strictly
// increase. Returns the number of entries.
function walkEntries(data: Uint8Array): number {
  const num = restartCount(data);
  const restartsOffset = data.length - 4 - num * 4;
  let prev = scratchPrev;
  let cur = scratchCur;
  let prevLen = 0;
  let entries = 0;
  let ri = 0;
  let nextRestart = num > 0 ? readU32(data, restartsOffset) : -1;
  let pos = 0;
  while (pos < restartsOffset) {
    const start = pos;
    const shared = checkedVarint(data, pos, restartsOffset);
    if (shared < 0) fail("bad entry header", start);
    const unshared = checkedVarint(data, varintEnd, restartsOffset);
    if (unshared < 0) fail("bad entry header", start);
    const valueLen = checkedVarint(data, varintEnd, restartsOffset);
    if (valueLen < 0) fail("bad entry header", start);
    pos = varintEnd;
    if (start === nextRestart) {
      // Searches skip a restart entry's shared length as the single byte 0.
      if (data[start] !== 0) fail("restart entry shares a prefix", start);
      ri++;
      nextRestart = ri < num ? readU32(data, restartsOffset + ri * 4) : -1;
      if (nextRestart !== -1 && nextRestart <= start) fail("restart points out of order", start);
    } else if (entries === 0 || (nextRestart !== -1 && start > nextRestart)) {
      fail("restart point is not at an entry boundary", start);
    }
    if (shared > prevLen) fail("entry shares more than the previous key", start);
    const klen = shared + unshared;
    if (klen < KEY_TRAILER_SIZE) fail("key shorter than its trailer", start);
    if (unshared > restartsOffset - pos || valueLen > restartsOffset - pos - unshared) {
      fail("entry overruns the block", start);
    }
    if (cur.length < klen) {
      cur = grow(cur, klen, 0);
      scratchCur = cur;
    }
    copyBytes(cur, 0, prev, 0, shared);
    copyBytes(cur, shared, data, pos, unshared);
    checkTrailer(cur, klen, start);
    if (entries > 0 && compareStoredKeys(prev, prevLen, cur, klen) >= 0) {
      fail("keys out of order", start);
    }
    pos += unshared + valueLen;
    entries++;
    const t = prev;
    prev = cur;
    cur = t;
    scratchPrev = prev;
    scratchCur = cur;
    prevLen = klen;
  }
  if (ri !== num) fail("restart point is not at an entry boundary", restartsOffset + ri * 4);
  return entries;
}

/**
 * A validated block. Building one checks every entry (bounds, restart
 * points, key trailers, strictly increasing keys) and throws
 * {@linkcode CorruptionError} on any malformed byte; afterwards iterators
 * decode it in place without further checks. The bytes must not change.
 *
 * @example
 * ```ts
 * import { Block, BlockBuilder } from "./block.ts";
 * import { KIND_PUT } from "../internal_key.ts";
 * const enc = new TextEncoder();
 * const b = new BlockBuilder();
 * b.add(enc.encode("k"), 7, KIND_PUT, enc.encode("v"));
 * const it = new Block(b.finish().slice()).iterator();
 * it.seek(enc.encode("k"));
 * console.log(it.seq()); // 7
 * ```
 */
export class Block {
  /** The block contents (entries and restart trailer). */
  readonly data: Uint8Array;
  /** Offset of the restart array, which is also the end of the entries. */
  readonly restartsOffset: number;
  /** Number of restart points. */
  readonly numRestarts: number;
  /** Number of entries; -1 when only restart entries were checked (`checkOrder: false`). */
  readonly entries: number;
  /** The file named in errors. */
  readonly file: string | undefined;
  /** The file offset of the block, for errors. */
  readonly offset: number;

  /** Validates `data` as a block; `options.file` and `options.offset` name it in errors. */
  constructor(data: Uint8Array, options: BlockOptions = {}) {
    const file = options.file;
    const base = options.offset ?? 0;
    let entries: number;
    if (options.trusted === true) {
      entries = -1;
    } else {
      failFile = file;
      failBase = base;
      if (options.checkOrder ?? true) {
        entries = walkEntries(data);
      } else {
        checkRestarts(data);
        entries = -1;
      }
    }
    // A check, now or when the bytes were first read, proved the count fits.
    const num = readU32(data, data.length - 4);
    this.data = data;
    this.file = file;
    this.offset = base;
    this.restartsOffset = data.length - 4 - num * 4;
    this.numRestarts = num;
    this.entries = entries;
  }

  /** The offset of restart entry `i`'s stored key; its length is {@linkcode Block.restartKeyLength}. */
  restartKeyStart(i: number): number {
    const d = this.data;
    const at = readU32(d, this.restartsOffset + i * 4) + 1;
    if (d[at] < 0x80 && d[at + 1] < 0x80) return at + 2;
    checkedVarint(d, at, this.restartsOffset);
    checkedVarint(d, varintEnd, this.restartsOffset);
    return varintEnd;
  }

  /** The length of restart entry `i`'s stored key (user key and trailer). */
  restartKeyLength(i: number): number {
    const d = this.data;
    const at = readU32(d, this.restartsOffset + i * 4) + 1;
    return d[at] < 0x80 ? d[at] : checkedVarint(d, at, this.restartsOffset);
  }

  /**
   * The index of the first restart point whose key is ≥ (`key`, `seq`), or
   * `numRestarts` when there is none. Compares in place.
   */
  lowerBound(key: Uint8Array, seq: number): number {
    let lo = 0;
    let hi = this.numRestarts;
    // Every key between two keys that share a prefix with the target shares
    // it too, so each probe starts comparing after the smaller of the
    // prefixes the bounds share with it.
    let lcpLo = 0;
    let lcpHi = 0;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#compareRestart(mid, key, seq, lcpLo < lcpHi ? lcpLo : lcpHi) < 0) {
        lo = mid + 1;
        lcpLo = lcp;
      } else {
        hi = mid;
        lcpHi = lcp;
      }
    }
    return lo;
  }

  /**
   * Compares the key of restart entry `i` with (`key`, `seq`) in place; see
   * {@linkcode compareStoredKey}.
   */
  compareRestart(i: number, key: Uint8Array, seq: number): number {
    return this.#compareRestart(i, key, seq, 0);
  }

  #compareRestart(i: number, key: Uint8Array, seq: number, from: number): number {
    // Restart entries were checked when the block was built: a zero shared
    // length, then the key and value lengths, then the whole key.
    const d = this.data;
    const at = readU32(d, this.restartsOffset + i * 4) + 1;
    const klen = d[at];
    if (klen < 0x80 && d[at + 1] < 0x80) return compareFrom(d, at + 2, klen, key, seq, from);
    return compareFrom(d, this.restartKeyStart(i), this.restartKeyLength(i), key, seq, from);
  }

  /** A new iterator over this block. */
  iterator(): BlockIterator {
    const it = new BlockIterator();
    it.reset(this);
    return it;
  }
}

const EMPTY_BLOCK = new Block(new Uint8Array(4));

/**
 * A cursor over one {@linkcode Block}. `key()` is a view into a reusable
 * buffer and `value()` a view into the block; both stay valid only until the
 * cursor moves. One iterator can be re-pointed at other blocks with
 * {@linkcode BlockIterator.reset}, so walking a table allocates nothing per
 * entry.
 *
 * @example
 * ```ts
 * import { BlockBuilder, BlockIterator, Block } from "./block.ts";
 * import { KIND_PUT } from "../internal_key.ts";
 * const enc = new TextEncoder();
 * const b = new BlockBuilder();
 * for (const k of ["a", "b", "c"]) b.add(enc.encode(k), 1, KIND_PUT, enc.encode(k));
 * const it = new BlockIterator();
 * it.reset(new Block(b.finish().slice()));
 * for (it.seekToLast(); it.valid(); it.prev()) console.log(new TextDecoder().decode(it.key()));
 * ```
 */
export class BlockIterator implements InternalIterator {
  #data: Uint8Array = EMPTY_BLOCK.data;
  #restartsOffset = 0;
  #numRestarts = 0;
  #block: Block = EMPTY_BLOCK;
  // Offset of the current entry; -1 when not on an entry.
  #cur = -1;
  #next = 0;
  #restartIdx = 0;
  #nextRestart = 0;
  // 64 bytes stays inside the JS heap (larger typed arrays get an external
  // backing store, which short-lived iterators would churn); grown on demand.
  #key: Uint8Array = new Uint8Array(64);
  #keyLen = KEY_TRAILER_SIZE;
  #keyView: Uint8Array = EMPTY;
  #valOff = 0;
  #valLen = 0;
  // Shared prefix length of the current entry.
  #shared = 0;

  /** Points the iterator at `block` (unpositioned). */
  reset(block: Block): void {
    this.#block = block;
    this.#data = block.data;
    this.#restartsOffset = block.restartsOffset;
    this.#numRestarts = block.numRestarts;
    this.#cur = -1;
  }

  /** True when the cursor is on an entry. */
  valid(): boolean {
    return this.#cur >= 0;
  }

  /** Leaves the cursor on no entry. */
  invalidate(): void {
    this.#cur = -1;
  }

  #parseAt(off: number): void {
    const d = this.#data;
    const end = this.#restartsOffset;
    let p = off;
    let shared = d[p++];
    if (shared > 0x7f) {
      shared = checkedVarint(d, p - 1, end);
      p = varintEnd;
    }
    let unshared = d[p++];
    if (unshared > 0x7f) {
      unshared = checkedVarint(d, p - 1, end);
      p = varintEnd;
    }
    let valueLen = d[p++];
    if (valueLen > 0x7f) {
      valueLen = checkedVarint(d, p - 1, end);
      p = varintEnd;
    }
    // Only restart entries were checked when the block was loaded. A failed
    // varint is -1, and p ≤ end means every header byte was inside the block.
    if (
      !(p <= end && shared >= 0 && unshared >= 0 && valueLen >= 0) || shared > this.#keyLen ||
      shared + unshared < KEY_TRAILER_SIZE || unshared + valueLen > end - p
    ) {
      this.#malformed(off);
    }
    const klen = shared + unshared;
    this.#shared = shared;
    if (this.#key.length < klen) {
      this.#key = grow(this.#key, klen, shared);
      this.#keyView = EMPTY;
    }
    const k = this.#key;
    if (unshared < 32) {
      for (let i = 0; i < unshared; i++) k[shared + i] = d[p + i];
    } else {
      k.set(d.subarray(p, p + unshared), shared);
    }
    const kind = k[klen - 1];
    if (kind !== KIND_PUT && kind !== KIND_DELETE) this.#malformed(off);
    p += unshared;
    this.#keyLen = klen;
    this.#valOff = p;
    this.#valLen = valueLen;
    this.#next = p + valueLen;
    this.#cur = off;
  }

  #malformed(off: number): never {
    const block = this.#block;
    throw new CorruptionError("malformed block entry", {
      file: block.file,
      offset: block.offset + off,
    });
  }

  #toRestart(ri: number): void {
    this.#restartIdx = ri;
    this.#nextRestart = this.#restartAt(ri + 1);
    this.#parseAt(this.#restartAt(ri));
  }

  /** Moves to restart entry `i` (0 ≤ i < numRestarts). */
  seekToRestart(i: number): void {
    this.#toRestart(i);
  }

  /** Moves to the first entry. */
  seekToFirst(): void {
    if (this.#numRestarts === 0) {
      this.#cur = -1;
      return;
    }
    this.#toRestart(0);
  }

  /** Moves to the last entry. */
  seekToLast(): void {
    if (this.#numRestarts === 0) {
      this.#cur = -1;
      return;
    }
    this.#toRestart(this.#numRestarts - 1);
    while (this.#next < this.#restartsOffset) this.#parseAt(this.#next);
  }

  /**
   * Moves to the first entry ≥ (`key`, `seq`) in internal-key order and
   * returns how it compares with that target: 0 or 1 when it has the same
   * user key (equal, or an older version), 2 when its user key is greater or
   * there is no such entry.
   */
  seekInternal(key: Uint8Array, seq: number): number {
    if (this.#numRestarts === 0) {
      this.#cur = -1;
      return 2;
    }
    const r = this.#block.lowerBound(key, seq);
    if (r === 0) {
      this.#toRestart(0);
      return compareStoredKey(this.#key, 0, this.#keyLen, key, seq);
    }
    // Restart r-1 is below the target; the answer lies after it, at the
    // latest at restart r.
    this.#toRestart(r - 1);
    const end = this.#restartsOffset;
    const tlen = key.length;
    compareFrom(this.#key, 0, this.#keyLen, key, seq, 0);
    // m: bytes the current key's user key shares with the target; when
    // `differs`, both continue past m and the current one is smaller there.
    let m = lcp;
    let differs = m < this.#keyLen - KEY_TRAILER_SIZE && m < tlen;
    for (;;) {
      const n = this.#next;
      if (n >= end) {
        this.#cur = -1;
        return 2;
      }
      this.#parseAt(n);
      if (n >= this.#nextRestart) this.#advanceRestart();
      const s = this.#shared;
      const ulen = this.#keyLen - KEY_TRAILER_SIZE;
      if (s > m && differs) {
        // Shares the byte where the previous key fell below the target.
        if (ulen <= m) {
          m = ulen;
          differs = false;
        }
        continue;
      }
      let from = s < m ? s : m;
      if (s === m && m < ulen && m < tlen) {
        // The common case: the new bytes start exactly where the match
        // ended, and their first byte usually decides.
        const a = this.#key[m];
        const b = key[m];
        if (a < b) {
          differs = true;
          continue;
        }
        if (a > b) return 2;
        from = m + 1;
      } else if (ulen < from) from = ulen;
      const c = compareFrom(this.#key, 0, this.#keyLen, key, seq, from);
      if (c >= 0) return c;
      m = lcp;
      differs = m < ulen && m < tlen;
    }
  }

  #advanceRestart(): void {
    const ri = ++this.#restartIdx;
    this.#nextRestart = this.#restartAt(ri + 1);
  }

  // The offset of restart entry i, or the end of the entries past the last.
  #restartAt(i: number): number {
    const end = this.#restartsOffset;
    return i < this.#numRestarts ? readU32(this.#data, end + i * 4) : end;
  }

  /** Moves to the first entry whose user key is ≥ `key` (its newest version). */
  seek(key: Uint8Array): void {
    this.seekInternal(key, MAX_SEQUENCE);
  }

  /** Moves to the last entry whose user key is < `key` (its oldest version). */
  seekBefore(key: Uint8Array): void {
    this.seekInternal(key, MAX_SEQUENCE);
    if (this.#cur >= 0) this.prev();
    else this.seekToLast();
  }

  /** Moves to the next entry; invalid past the end. */
  next(): void {
    if (this.#cur < 0) return;
    const n = this.#next;
    if (n >= this.#restartsOffset) {
      this.#cur = -1;
      return;
    }
    this.#parseAt(n);
    if (n >= this.#nextRestart) this.#advanceRestart();
  }

  /** Moves to the previous entry by rescanning from the restart point before it. */
  prev(): void {
    const cur = this.#cur;
    if (cur <= 0) {
      this.#cur = -1;
      return;
    }
    let ri = this.#restartIdx;
    while (ri > 0 && this.#restartAt(ri) >= cur) ri--;
    this.#toRestart(ri);
    while (this.#next < cur) this.#parseAt(this.#next);
  }

  /** The user key of the current entry (a view into a reused buffer). */
  key(): Uint8Array {
    const n = this.#keyLen - KEY_TRAILER_SIZE;
    let v = this.#keyView;
    // Reuse the previous view when the length matches: its bytes were
    // overwritten in place, which is what the iterator contract allows.
    if (v.length !== n) {
      v = this.#key.subarray(0, n);
      this.#keyView = v;
    }
    return v;
  }

  /** The sequence number of the current entry. */
  seq(): number {
    return readKeySeq(this.#key, this.#keyLen - KEY_TRAILER_SIZE);
  }

  /** The kind of the current entry. */
  kind(): Kind {
    return this.#key[this.#keyLen - 1] as Kind;
  }

  /** The value of the current entry (a view into the block). */
  value(): Uint8Array {
    return this.#data.subarray(this.#valOff, this.#valOff + this.#valLen);
  }

  /** Where the current entry's value starts in the block's `data`. */
  valueOffset(): number {
    return this.#valOff;
  }

  /** The length of the current entry's value. */
  valueLength(): number {
    return this.#valLen;
  }

  /** Compares the current entry's key with (`key`, `seq`); see {@linkcode compareStoredKey}. */
  compareCurrent(key: Uint8Array, seq: number): number {
    return compareStoredKey(this.#key, 0, this.#keyLen, key, seq);
  }

  /** The current entry's stored key (user key + trailer), a view into a reused buffer. */
  storedKey(): Uint8Array {
    return this.#key.subarray(0, this.#keyLen);
  }
}
