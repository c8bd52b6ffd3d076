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
  ByteReader,
  putVarint,
  readU32,
  readU64,
  toBytes,
  varintLength,
  writeU32,
  writeU64,
} from "./coding.ts";
import { CorruptionError } from "./errors.ts";
import { type Kind, KIND_DELETE, KIND_PUT } from "./internal_key.ts";

/** The largest key accepted, in bytes. */
export const MAX_KEY_SIZE = 65536;
/** The largest value accepted, in bytes. */
export const MAX_VALUE_SIZE = 64 * 1024 * 1024;

/** A key or a value: bytes, or a string stored as UTF-8. */
export type Bytes = Uint8Array | string;

/** Checks a key's type and size; returns its bytes. */
export function checkKey(key: unknown): Uint8Array {
  if (typeof key !== "string" && !(key instanceof Uint8Array)) {
    throw new TypeError(`key must be a Uint8Array or a string, got ${describe(key)}`);
  }
  const bytes = toBytes(key);
  if (bytes.length > MAX_KEY_SIZE) {
    throw new RangeError(`key is ${bytes.length} bytes; the limit is ${MAX_KEY_SIZE}`);
  }
  return bytes;
}

/** Checks a value's type and size; returns its bytes. */
export function checkValue(value: unknown): Uint8Array {
  if (typeof value !== "string" && !(value instanceof Uint8Array)) {
    throw new TypeError(`value must be a Uint8Array or a string, got ${describe(value)}`);
  }
  const bytes = toBytes(value);
  if (bytes.length > MAX_VALUE_SIZE) {
    throw new RangeError(`value is ${bytes.length} bytes; the limit is ${MAX_VALUE_SIZE}`);
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

let opsOf: (batch: WriteBatch) => BatchOp[];

/** The operations of a batch, in order. @internal */
export function batchOps(batch: WriteBatch): BatchOp[] {
  return opsOf(batch);
}

/**
 * An ordered group of puts and deletes, applied atomically: after any
 * crash, all of it or none of it is visible. Keys and values are checked and
 * copied when added, so a rejected call leaves the batch unchanged and later
 * changes to the caller's arrays do not leak in. Make one with `db.batch()`
 * and call `write()`, or build one with `new WriteBatch()` and pass it to
 * `db.write()`.
 *
 * @example
 * ```ts
 * import { WriteBatch } from "./write_batch.ts";
 * const b = new WriteBatch().put("a", "1").delete("b");
 * console.log(b.length); // 2
 * ```
 */
export class WriteBatch {
  #ops: BatchOp[] = [];

  static {
    opsOf = (batch) => batch.#ops;
  }

  #encodedSize = 12;

  /** Adds a put. */
  put(key: Bytes, value: Bytes): this {
    const k = checkKey(key);
    const v = checkValue(value);
    this.#ops.push({
      kind: KIND_PUT,
      key: typeof key === "string" ? k : k.slice(),
      value: typeof value === "string" ? v : v.slice(),
    });
    this.#encodedSize += 1 + varintLength(k.length) + k.length + varintLength(v.length) + v.length;
    return this;
  }

  /** Adds a delete. */
  delete(key: Bytes): this {
    const k = checkKey(key);
    this.#ops.push({
      kind: KIND_DELETE,
      key: typeof key === "string" ? k : k.slice(),
      value: EMPTY,
    });
    this.#encodedSize += 1 + varintLength(k.length) + k.length;
    return this;
  }

  /** Number of operations. */
  get length(): number {
    return this.#ops.length;
  }

  /** Bytes the encoded batch takes. */
  get encodedSize(): number {
    return this.#encodedSize;
  }

  /** Removes every operation. */
  clear(): void {
    this.#ops.length = 0;
    this.#encodedSize = 12;
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

/** Encodes operations as a WAL payload whose first operation gets `firstSeq`. */
export function encodeBatch(ops: readonly BatchOp[], firstSeq: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  encodeBatchInto(out, 0, ops, firstSeq);
  return out;
}

/** Encodes operations at `out[start]`; returns the end position. */
export function encodeBatchInto(
  out: Uint8Array,
  start: number,
  ops: readonly BatchOp[],
  firstSeq: number,
): number {
  writeU64(out, start, firstSeq);
  writeU32(out, start + 8, ops.length);
  let pos = start + 12;
  for (const op of ops) {
    out[pos++] = op.kind;
    pos = putVarint(out, pos, op.key.length);
    out.set(op.key, pos);
    pos += op.key.length;
    if (op.kind === KIND_PUT) {
      pos = putVarint(out, pos, op.value.length);
      out.set(op.value, pos);
      pos += op.value.length;
    }
  }
  return pos;
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

/** Decodes a WAL payload; malformed bytes throw {@linkcode CorruptionError}. */
export function decodeBatch(payload: Uint8Array, fileName: string, offset: number): DecodedBatch {
  const fail = (message: string, at: number): never => {
    throw new CorruptionError(`malformed batch: ${message}`, {
      file: fileName,
      offset: offset + at,
    });
  };
  if (payload.length < 12) fail("shorter than its header", 0);
  const firstSeq = readU64(payload, 0);
  const count = readU32(payload, 8);
  const reader = new ByteReader(payload, fail, 12);
  const ops: BatchOp[] = [];
  for (let i = 0; i < count; i++) {
    if (reader.done()) fail(`holds ${i} of ${count} operations`, reader.pos);
    const kind = payload[reader.pos++];
    if (kind !== KIND_PUT && kind !== KIND_DELETE) {
      fail(`unknown operation kind ${kind}`, reader.pos - 1);
    }
    const key = reader.lengthPrefixed();
    const value = kind === KIND_PUT ? reader.lengthPrefixed() : EMPTY;
    ops.push({ kind: kind as Kind, key, value });
  }
  if (!reader.done()) fail("trailing bytes", reader.pos);
  return { firstSeq, ops };
}
