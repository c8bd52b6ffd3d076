/**
 * The entries of a write-ahead log as one sorted run, for flushing a frozen
 * memtable from its log. Entries are decoded into flat arrays (offsets into
 * the log's bytes) and an index is sorted, so no per-entry objects are made.
 *
 * @module
 */

import { readU32 } from "./coding.ts";
import type { Kind } from "./internal_key.ts";
import { sortedOrder } from "./key_sort.ts";
import { visitLog, WAL_MAGIC } from "./wal.ts";
import { type OpVisitor, visitBatch } from "./write_batch.ts";

/**
 * A log's entries in internal-key order (user key ascending, sequence
 * number descending), walked forward.
 *
 * @example
 * ```ts
 * import { LogRun } from "./log_run.ts";
 * const run = LogRun.fromLog(new Uint8Array(0), "000001.log");
 * console.log(run.valid()); // false
 * ```
 */
export class LogRun {
  #bytes: Uint8Array;
  #keyStart: Int32Array;
  #keyLength: Int32Array;
  #valueStart: Int32Array;
  #valueLength: Int32Array;
  #seq: Float64Array;
  #kind: Uint8Array;
  #order: Int32Array;
  #pos = 0;

  private constructor(
    bytes: Uint8Array,
    fields: {
      keyStart: Int32Array;
      keyLength: Int32Array;
      valueStart: Int32Array;
      valueLength: Int32Array;
      seq: Float64Array;
      kind: Uint8Array;
    },
    order: Int32Array,
  ) {
    this.#bytes = bytes;
    this.#keyStart = fields.keyStart;
    this.#keyLength = fields.keyLength;
    this.#valueStart = fields.valueStart;
    this.#valueLength = fields.valueLength;
    this.#seq = fields.seq;
    this.#kind = fields.kind;
    this.#order = order;
  }

  /** Decodes and sorts every entry of the log held in `bytes`. */
  static fromLog(bytes: Uint8Array, fileName: string): LogRun {
    // Record payloads as [start, end) pairs, then their operations.
    const bounds: number[] = [];
    let count = 0;
    visitLog(bytes, { magic: WAL_MAGIC, fileName }, (start, end) => {
      bounds.push(start, end);
      count += end - start >= 12 ? readU32(bytes, start + 8) : 0;
    });
    const keyStart = new Int32Array(count);
    const keyLength = new Int32Array(count);
    const valueStart = new Int32Array(count);
    const valueLength = new Int32Array(count);
    const seq = new Float64Array(count);
    const kind = new Uint8Array(count);
    let n = 0;
    const visit: OpVisitor = (opSeq, opKind, keyFrom, keyTo, valueFrom, valueTo) => {
      keyStart[n] = keyFrom;
      keyLength[n] = keyTo - keyFrom;
      valueStart[n] = valueFrom;
      valueLength[n] = valueTo - valueFrom;
      seq[n] = opSeq;
      kind[n] = opKind;
      n++;
    };
    const where = { fileName, fileOffset: 0 };
    for (let i = 0; i < bounds.length; i += 2) {
      where.fileOffset = bounds[i];
      visitBatch(bytes, bounds[i], bounds[i + 1], where, visit);
    }
    let order: Int32Array;
    if (ascending(bytes, keyStart, keyLength, count)) {
      // Keys written in ascending order (a sequential load) need no sort.
      order = new Int32Array(count);
      for (let i = 0; i < count; i++) order[i] = i;
    } else {
      const keys: Uint8Array[] = new Array(count);
      for (let i = 0; i < count; i++) {
        keys[i] = bytes.subarray(keyStart[i], keyStart[i] + keyLength[i]);
      }
      // Newest version of a key first.
      order = sortedOrder(keys, (a, b) => seq[b] - seq[a]);
    }
    return new LogRun(bytes, { keyStart, keyLength, valueStart, valueLength, seq, kind }, order);
  }

  /** Number of entries. */
  get length(): number {
    return this.#order.length;
  }

  /** Moves to the first entry. */
  seekToFirst(): void {
    this.#pos = 0;
  }
  /** True when positioned on an entry. */
  valid(): boolean {
    return this.#pos < this.#order.length;
  }
  /** Moves to the next entry. */
  next(): void {
    this.#pos++;
  }
  /** The current user key (a view into the log's bytes). */
  key(): Uint8Array {
    const i = this.#order[this.#pos];
    return this.#bytes.subarray(this.#keyStart[i], this.#keyStart[i] + this.#keyLength[i]);
  }
  /** The current sequence number. */
  seq(): number {
    return this.#seq[this.#order[this.#pos]];
  }
  /** The current kind. */
  kind(): Kind {
    return this.#kind[this.#order[this.#pos]] as Kind;
  }
  /** The current value (a view into the log's bytes). */
  value(): Uint8Array {
    const i = this.#order[this.#pos];
    return this.#bytes.subarray(this.#valueStart[i], this.#valueStart[i] + this.#valueLength[i]);
  }
}

/** True when each of the `count` keys is greater than the one before it. */
function ascending(
  bytes: Uint8Array,
  keyStart: Int32Array,
  keyLength: Int32Array,
  count: number,
): boolean {
  for (let i = 1; i < count; i++) {
    const a = keyStart[i - 1];
    const b = keyStart[i];
    const aLength = keyLength[i - 1];
    const bLength = keyLength[i];
    const n = aLength < bLength ? aLength : bLength;
    let j = 0;
    while (j < n && bytes[a + j] === bytes[b + j]) j++;
    if (j < n ? bytes[a + j] > bytes[b + j] : aLength >= bLength) return false;
  }
  return true;
}
