/**
 * The entries of a write-ahead log as one sorted run, for flushing a frozen
 * memtable from its log. Entries are decoded into flat arrays (offsets into
 * the log's bytes) and an index is sorted, so no per-entry objects are made.
 *
 * @module
 */

import { bytesToKeyString, readU32, readU64 } from "./coding.ts";
import { CorruptionError } from "./errors.ts";
import { type Kind, KIND_DELETE, KIND_PUT } from "./internal_key.ts";
import { readLog, RECORD_HEADER_SIZE, WAL_MAGIC } from "./wal.ts";

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
  #order: number[];
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
    order: number[],
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
    const { records, offsets } = readLog(bytes, WAL_MAGIC, fileName);
    let count = 0;
    for (const r of records) count += r.length >= 12 ? readU32(r, 8) : 0;
    const keyStart = new Int32Array(count);
    const keyLength = new Int32Array(count);
    const valueStart = new Int32Array(count);
    const valueLength = new Int32Array(count);
    const seq = new Float64Array(count);
    const kind = new Uint8Array(count);
    let n = 0;
    records.forEach((record, i) => {
      // Positions are in `bytes`: the record is a view into it.
      const base = record.byteOffset - bytes.byteOffset;
      const end = base + record.length;
      const fail = (message: string, at: number): never => {
        throw new CorruptionError(`malformed batch: ${message}`, {
          file: fileName,
          offset: offsets[i] + RECORD_HEADER_SIZE + (at - base),
        });
      };
      if (record.length < 12) fail("shorter than its header", base);
      const firstSeq = readU64(bytes, base);
      const ops = readU32(bytes, base + 8);
      let p = base + 12;
      const varint = (): number => {
        let result = 0;
        for (let shift = 1; shift < 2 ** 35; shift *= 128) {
          if (p >= end) fail("truncated varint", p);
          const b = bytes[p++];
          result += (b & 0x7f) * shift;
          if (b < 0x80) return result;
        }
        return fail("varint too long", p);
      };
      for (let j = 0; j < ops; j++) {
        if (p >= end) fail(`holds ${j} of ${ops} operations`, p);
        const k = bytes[p++];
        if (k !== KIND_PUT && k !== KIND_DELETE) fail(`unknown operation kind ${k}`, p - 1);
        const kl = varint();
        if (p + kl > end) fail("key overruns the record", p);
        keyStart[n] = p;
        keyLength[n] = kl;
        p += kl;
        if (k === KIND_PUT) {
          const vl = varint();
          if (p + vl > end) fail("value overruns the record", p);
          valueStart[n] = p;
          valueLength[n] = vl;
          p += vl;
        }
        seq[n] = firstSeq + j;
        kind[n] = k;
        n++;
      }
      if (p !== end) fail("trailing bytes", p);
    });
    // One string per key lets the engine's native string comparison sort.
    const keys: string[] = new Array(count);
    for (let i = 0; i < count; i++) {
      keys[i] = bytesToKeyString(bytes.subarray(keyStart[i], keyStart[i] + keyLength[i]));
    }
    const order: number[] = new Array(count);
    for (let i = 0; i < count; i++) order[i] = i;
    order.sort((a, b) => {
      const ka = keys[a];
      const kb = keys[b];
      return ka < kb ? -1 : ka > kb ? 1 : seq[b] - seq[a];
    });
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
