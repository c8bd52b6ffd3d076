/**
 * Write batches: a group of puts and deletes applied atomically, and their
 * encoding as the payload of one write-ahead-log record:
 *
 * ```
 * first_seq u64 | count u32 | { kind u8 | key_len varint | key | [value_len varint | value] }*
 * ```
 *
 * (the value only for puts; integers little-endian).
 *
 * @module
 */

import {
  decodeVarint,
  lastVarintStop,
  putVarint,
  readU32,
  readU64,
  toBytes,
  toBytesIn,
  varintLength,
  varintProblem,
  writeU32,
  writeU64,
} from "./coding.ts";
import { CorruptionError } from "./errors.ts";
import { type Kind, KIND_DELETE, KIND_PUT } from "./internal_key.ts";
import { SlabCopier } from "./slab_copier.ts";

/** The largest key accepted, in bytes. */
export const MAX_KEY_SIZE = 65536;
/** The largest value accepted, in bytes. */
export const MAX_VALUE_SIZE = 64 * 1024 * 1024;
/** The largest encoded batch accepted, in bytes (one log record holds it). */
export const MAX_BATCH_SIZE = 1024 * 1024 * 1024;

/** A key or a value: bytes, or a string stored as UTF-8. */
export type Bytes = Uint8Array | string;

/** Checks a key's type and size; returns its bytes. */
export function checkKey(key: unknown): Uint8Array {
  checkType("key", key);
  return checkSize("key", toBytes(key as Bytes), MAX_KEY_SIZE);
}

/** Checks a value's type and size; returns its bytes. */
export function checkValue(value: unknown): Uint8Array {
  checkType("value", value);
  return checkSize("value", toBytes(value as Bytes), MAX_VALUE_SIZE);
}

// Strings are encoded into these by callers that copy the bytes, or are done
// with them, before they return (a write, a batch's put, a point read): on
// Deno, TextEncoder.encode of a short string costs about 0.5 µs for its new
// array, and encodeInto a seventh of that.
const KEY_SCRATCH = new Uint8Array(4096);
const VALUE_SCRATCH = new Uint8Array(16384);

/**
 * {@linkcode checkKey} for a caller that copies the key, or is done with
 * it, before the next call: a string key comes back as a view of a shared
 * buffer.
 */
export function checkKeyToCopy(key: unknown): Uint8Array {
  checkType("key", key);
  return checkSize("key", toBytesIn(key as Bytes, KEY_SCRATCH), MAX_KEY_SIZE);
}

/**
 * {@linkcode checkValue} for a caller that copies the value before the
 * next call: a string value comes back as a view of a shared buffer.
 */
export function checkValueToCopy(value: unknown): Uint8Array {
  checkType("value", value);
  return checkSize("value", toBytesIn(value as Bytes, VALUE_SCRATCH), MAX_VALUE_SIZE);
}

function checkType(what: string, x: unknown): void {
  if (typeof x !== "string" && !(x instanceof Uint8Array)) {
    throw new TypeError(`${what} must be a Uint8Array or a string, got ${describe(x)}`);
  }
}

function checkSize(what: string, bytes: Uint8Array, limit: number): Uint8Array {
  if (bytes.length > limit) {
    throw new RangeError(`${what} is ${bytes.length} bytes; the limit is ${limit}`);
  }
  return bytes;
}

function describe(x: unknown): string {
  if (x === null) return "null";
  if (typeof x === "object") return (x as object).constructor?.name ?? "object";
  return typeof x;
}

/** One operation of a batch. */
export interface BatchOp {
  /** Put or delete. */
  kind: Kind;
  /** The key. */
  key: Uint8Array;
  /** The value (empty for a delete). */
  value: Uint8Array;
}

const EMPTY = new Uint8Array(0);

// A batch starts with a region of a shared slab: on Deno a new 256-byte
// array costs about half a microsecond, as much as the rest of a small
// batch. A batch that outgrows it gets an array of its own.
const FIRST_BODY_SIZE = 256;
const firstBodies = new SlabCopier({ firstSize: 8192, maxSize: 8192 });

/** Options of a write. */
export interface WriteOptions {
  /** Wait until the write is on stable storage (fdatasync) before resolving. */
  sync?: boolean;
}

type Committer = (batch: WriteBatch, options?: WriteOptions) => Promise<void>;

// The database a batch made by `db.batch()` writes to, kept off the public shape.
const committers = new WeakMap<WriteBatch, Committer>();

/** Binds a batch to the database that `write()` applies it to. @internal */
export function bindBatch(batch: WriteBatch, commit: Committer): WriteBatch {
  committers.set(batch, commit);
  return batch;
}

let bodyOf: (batch: WriteBatch) => Uint8Array;

/** The operations of a batch in their log encoding (a view, valid until the batch changes). @internal */
export function batchBody(batch: WriteBatch): Uint8Array {
  return bodyOf(batch);
}

/**
 * Writes one operation in the batch encoding at `out[pos]`; returns the end.
 * `out` must have room for {@linkcode encodedOpSize} bytes.
 */
export function encodeOp(
  out: Uint8Array,
  pos: number,
  kind: Kind,
  key: Uint8Array,
  value: Uint8Array,
): number {
  out[pos++] = kind;
  pos = putVarint(out, pos, key.length);
  out.set(key, pos);
  pos += key.length;
  if (kind === KIND_PUT) {
    pos = putVarint(out, pos, value.length);
    out.set(value, pos);
    pos += value.length;
  }
  return pos;
}

/**
 * An ordered group of puts and deletes, applied atomically: after any
 * crash, all of it or none of it is visible. Operations are checked and
 * encoded (copied) when added, so a rejected call leaves the batch
 * unchanged and later changes to the caller's arrays do not leak in. Make
 * one with `db.batch()` and call `write()`, or build one with
 * `new WriteBatch()` and pass it to `db.write()`.
 *
 * @example
 * ```ts
 * import { WriteBatch } from "./write_batch.ts";
 * const b = new WriteBatch().put("a", "1").delete("b");
 * console.log(b.length); // 2
 * ```
 */
export class WriteBatch {
  // The operations in their log encoding: writing the batch copies these
  // bytes once, with no per-operation objects.
  #body = firstBodies.take(FIRST_BODY_SIZE);
  #length = 0;
  #count = 0;

  static {
    bodyOf = (batch) => batch.#body.subarray(0, batch.#length);
  }

  #reserve(n: number): void {
    if (12 + this.#length + n > MAX_BATCH_SIZE) {
      throw new RangeError(
        `batch would grow to ${12 + this.#length + n} bytes; the limit is ${MAX_BATCH_SIZE}`,
      );
    }
    if (this.#length + n <= this.#body.length) return;
    const grown = new Uint8Array(Math.max(this.#body.length * 2, this.#length + n));
    grown.set(this.#body.subarray(0, this.#length));
    this.#body = grown;
  }

  /** Adds a put. */
  put(key: Bytes, value: Bytes): this {
    const k = checkKeyToCopy(key);
    const v = checkValueToCopy(value);
    this.#reserve(encodedOpSize(k, v));
    this.#length = encodeOp(this.#body, this.#length, KIND_PUT, k, v);
    this.#count++;
    return this;
  }

  /** Adds a delete. */
  delete(key: Bytes): this {
    const k = checkKeyToCopy(key);
    this.#reserve(encodedOpSize(k, undefined));
    this.#length = encodeOp(this.#body, this.#length, KIND_DELETE, k, EMPTY);
    this.#count++;
    return this;
  }

  /** Number of operations. */
  get length(): number {
    return this.#count;
  }

  /** Bytes the encoded batch takes in the log. */
  get encodedSize(): number {
    return 12 + this.#length;
  }

  /** Removes every operation. */
  clear(): void {
    this.#length = 0;
    this.#count = 0;
  }

  /** Applies the batch to the database that made it (see `db.batch()`). */
  write(options?: WriteOptions): Promise<void> {
    const commit = committers.get(this);
    if (commit === undefined) {
      return Promise.reject(new TypeError("this batch has no database; use db.write(batch)"));
    }
    return commit(this, options);
  }
}

/** The log payload of a batch whose first operation gets `firstSeq`. */
export function encodeBatch(batch: WriteBatch, firstSeq: number): Uint8Array {
  const body = batchBody(batch);
  const out = new Uint8Array(12 + body.length);
  writeU64(out, 0, firstSeq);
  writeU32(out, 8, batch.length);
  out.set(body, 12);
  return out;
}

/** The encoded size of one put or delete. */
export function encodedOpSize(key: Uint8Array, value: Uint8Array | undefined): number {
  return 1 + varintLength(key.length) + key.length +
    (value === undefined ? 0 : varintLength(value.length) + value.length);
}

/** A decoded WAL payload. */
export interface DecodedBatch {
  /** Sequence number of the first operation; the rest follow by one. */
  firstSeq: number;
  /** The operations (keys and values are views into the payload). */
  ops: BatchOp[];
}

/**
 * Receives each operation of a batch: its sequence number, kind, and the
 * positions of its key and value in the bytes walked.
 */
export type OpVisitor = (
  seq: number,
  kind: Kind,
  keyStart: number,
  keyEnd: number,
  valueStart: number,
  valueEnd: number,
) => void;

/** Where a batch payload lies, for errors: its file and the file offset of its first byte. */
export interface BatchPlace {
  /** The file named in errors. */
  fileName: string;
  /** The file offset of the payload's first byte. */
  fileOffset: number;
}

/**
 * Walks the batch payload `bytes[start, end)`, checking every length, and
 * calls `visit` for each operation (positions are in `bytes`). Malformed
 * bytes throw {@linkcode CorruptionError} naming `fileName` and
 * `fileOffset + (position - start)`. Returns the number of operations.
 */
export function visitBatch(
  bytes: Uint8Array,
  start: number,
  end: number,
  where: BatchPlace,
  visit: OpVisitor,
): number {
  // Nothing is allocated unless the batch is malformed: logs of single
  // puts visit one batch per operation.
  if (end - start < 12) batchError(where, start, "shorter than its header", start);
  const firstSeq = readU64(bytes, start);
  const count = readU32(bytes, start + 8);
  let pos = start + 12;
  for (let i = 0; i < count; i++) {
    if (pos >= end) batchError(where, start, `holds ${i} of ${count} operations`, pos);
    const kind = bytes[pos++];
    if (kind !== KIND_PUT && kind !== KIND_DELETE) {
      batchError(where, start, `unknown operation kind ${kind}`, pos - 1);
    }
    const keyLength = batchVarint(bytes, pos, end, where, start);
    const keyStart = lastVarintStop();
    pos = skipBytes(keyStart, keyLength, end, where, start);
    let valueStart = pos;
    if (kind === KIND_PUT) {
      const valueLength = batchVarint(bytes, pos, end, where, start);
      valueStart = lastVarintStop();
      pos = skipBytes(valueStart, valueLength, end, where, start);
    }
    visit(firstSeq + i, kind as Kind, keyStart, keyStart + keyLength, valueStart, pos);
  }
  if (pos !== end) batchError(where, start, "trailing bytes", pos);
  return count;
}

// The varint at `pos`, which must end before `end`; lastVarintStop() is
// then the position after it.
function batchVarint(
  bytes: Uint8Array,
  pos: number,
  end: number,
  where: BatchPlace,
  start: number,
): number {
  const result = decodeVarint(bytes, pos, end);
  if (result < 0) batchError(where, start, varintProblem(result), lastVarintStop());
  return result;
}

// The position after `n` bytes from `pos`, which must lie before `end`.
function skipBytes(
  pos: number,
  n: number,
  end: number,
  where: BatchPlace,
  start: number,
): number {
  if (n > end - pos) batchError(where, start, `length ${n} overruns the record`, pos);
  return pos + n;
}

function batchError(
  where: BatchPlace,
  start: number,
  message: string,
  at: number,
): never {
  throw new CorruptionError(`malformed batch: ${message}`, {
    file: where.fileName,
    offset: where.fileOffset + at - start,
  });
}

/** Decodes a WAL payload; malformed bytes throw {@linkcode CorruptionError}. */
export function decodeBatch(payload: Uint8Array, fileName: string, offset: number): DecodedBatch {
  const ops: BatchOp[] = [];
  visitBatch(
    payload,
    0,
    payload.length,
    { fileName, fileOffset: offset },
    (_seq, kind, ks, ke, vs, ve) => {
      ops.push({
        kind,
        key: payload.subarray(ks, ke),
        value: kind === KIND_PUT ? payload.subarray(vs, ve) : EMPTY,
      });
    },
  );
  // visitBatch has checked that the header is there.
  return { firstSeq: readU64(payload, 0), ops };
}
