/**
 * Writes SSTables.
 *
 * # Table file format, version 2
 *
 * All fixed-width integers are little-endian; varints are LEB128.
 *
 * ```
 * data block 0 | … | data block N-1 | filter block | properties block | index block | footer
 * ```
 *
 * Every block is stored as `contents | compression u8 | checksum u32`, the
 * checksum (XXH32, seed 0) covering contents and compression byte. Only
 * compression 0 (none) exists. Version 1 differed only there: its block
 * checksums are CRC32C; readers still accept it. A block handle is (offset, size) of the
 * contents, the 5-byte trailer excluded.
 *
 * - **Data block**: the restart-point block of `block.ts`; entries are
 *   (user key + 8-byte trailer of seq and kind, value), strictly increasing
 *   in internal-key order (user key ascending, seq descending), cut when a
 *   block reaches `blockSize` (4 KiB). Tombstones store an empty value.
 * - **Index block**: the same block format with restart interval 1 (every
 *   entry is a restart point, so entry i is found by binary search alone).
 *   Entry i describes data block i: its key is a separator S with
 *   last key of block i ≤ S < first key of block i+1 (a shortened user key
 *   with seq 2^53-1 when one exists, else the last key itself; the last
 *   block uses its last key); its value is `offset varint | size varint`.
 * - **Filter block**: one cache-local bloom filter over the table's user
 *   keys (see `bloom.ts`): `64-byte lines | k u8`, or empty for "no
 *   filter".
 * - **Properties block**: a sequence of `tag varint | value`, where
 *   `tag = field << 1 | wire`; wire 0 is a varint value, wire 1 a
 *   `length varint | bytes` value. Readers skip unknown fields. Fields:
 *   1 entries, 2 deletions, 3 data blocks, 4 smallest user key (bytes),
 *   5 smallest seq, 6 largest user key (bytes), 7 largest seq, 8 min seq,
 *   9 max seq. All nine are required.
 * - **Footer** (52 bytes, at EOF):
 *
 * ```
 *  0  index offset u64 | 8 index size u32
 * 12  filter offset u64 | 20 filter size u32
 * 24  properties offset u64 | 32 properties size u32
 * 36  format version u32 (= 2)
 * 40  crc32c u32 of footer bytes [0, 40)
 * 44  magic: 53 54 52 41 54 41 a7 5b ("STRATA" 0xa7 0x5b)
 * ```
 *
 * Readers also insist on what the builder guarantees: data blocks are
 * non-empty, in file order without overlapping, all before the filter
 * block, and their keys lie between the neighbouring index keys;
 * the properties agree with the index (block count) and, on
 * `Table.verify()`, with the entries.
 *
 * @module
 */

import { crc32c, hash32, putVarint, writeU32, writeU64, xxh32 } from "../coding.ts";
import type { WritableFile } from "../fs.ts";
import { type Kind, KIND_DELETE, KIND_PUT, MAX_SEQUENCE } from "../internal_key.ts";
import { BlockBuilder } from "./block.ts";
import { BloomFilterBuilder } from "./bloom.ts";

/** The table format version this code writes. */
export const TABLE_FORMAT_VERSION = 2;
/** The oldest table format version this code reads (blocks checksummed with CRC32C). */
export const TABLE_FORMAT_VERSION_CRC32C = 1;
/** The 8 bytes that end every table file. */
export const TABLE_MAGIC: Uint8Array = new Uint8Array([
  0x53,
  0x54,
  0x52,
  0x41,
  0x54,
  0x41,
  0xa7,
  0x5b,
]);
/** Size of the footer at the end of a table. */
export const FOOTER_SIZE = 52;
/** Size of the trailer (compression byte + CRC) after every block. */
export const BLOCK_TRAILER_SIZE = 5;
/** The only compression type: none. */
export const COMPRESSION_NONE = 0;

/**
 * The checksum of a block's `bytes[start, end)` (contents and compression
 * byte) in tables of `formatVersion`: XXH32, or CRC32C in version 1.
 *
 * @example
 * ```ts
 * import { blockChecksum, TABLE_FORMAT_VERSION } from "./table_builder.ts";
 * blockChecksum(TABLE_FORMAT_VERSION, new Uint8Array([0]), { start: 0, end: 1 });
 * ```
 */
export function blockChecksum(
  formatVersion: number,
  bytes: Uint8Array,
  range: { start: number; end: number },
): number {
  return formatVersion === TABLE_FORMAT_VERSION_CRC32C
    ? crc32c(bytes, range.start, range.end)
    : xxh32(bytes, range.start, range.end);
}

/** Field numbers of the properties block. */
export const PROP = {
  entries: 1,
  deletions: 2,
  dataBlocks: 3,
  smallestKey: 4,
  smallestSeq: 5,
  largestKey: 6,
  largestSeq: 7,
  minSeq: 8,
  maxSeq: 9,
} as const;

/** Summary of a finished table, stored in its properties block. */
export interface TableProperties {
  /** Number of entries (puts and tombstones). */
  entries: number;
  /** Number of tombstones. */
  deletions: number;
  /** Number of data blocks. */
  dataBlocks: number;
  /** Size of the table file in bytes. */
  fileSize: number;
  /** User key of the first entry (empty for an empty table). */
  smallestKey: Uint8Array;
  /** Sequence number of the first entry. */
  smallestSeq: number;
  /** User key of the last entry (empty for an empty table). */
  largestKey: Uint8Array;
  /** Sequence number of the last entry. */
  largestSeq: number;
  /** Smallest sequence number of any entry (0 for an empty table). */
  minSeq: number;
  /** Largest sequence number of any entry (0 for an empty table). */
  maxSeq: number;
}

/** Options of a {@linkcode TableBuilder}. */
export interface TableBuilderOptions {
  /** Target size of a data block's contents; default 4096. */
  blockSize?: number;
  /** Entries between restart points in data blocks; default 16. */
  restartInterval?: number;
  /** Bloom filter bits per user key; default 10, 0 for no filter. */
  bloomBitsPerKey?: number;
  /**
   * Format version to write: 2 (default), or 1 for readers older than
   * version 2 (CRC32C block checksums, slower to check).
   */
  formatVersion?: 1 | 2;
}

/** Encodes the properties block (all but `fileSize`, which is the file's own size). */
export function encodeProperties(p: TableProperties): Uint8Array {
  const out = new Uint8Array(64 + p.smallestKey.length + p.largestKey.length);
  let pos = 0;
  const num = (field: number, v: number): void => {
    pos = putVarint(out, pos, field << 1);
    pos = putVarint(out, pos, v);
  };
  const bytes = (field: number, v: Uint8Array): void => {
    pos = putVarint(out, pos, (field << 1) | 1);
    pos = putVarint(out, pos, v.length);
    out.set(v, pos);
    pos += v.length;
  };
  num(PROP.entries, p.entries);
  num(PROP.deletions, p.deletions);
  num(PROP.dataBlocks, p.dataBlocks);
  bytes(PROP.smallestKey, p.smallestKey);
  num(PROP.smallestSeq, p.smallestSeq);
  bytes(PROP.largestKey, p.largestKey);
  num(PROP.largestSeq, p.largestSeq);
  num(PROP.minSeq, p.minSeq);
  num(PROP.maxSeq, p.maxSeq);
  return out.subarray(0, pos);
}

// Output is gathered into chunks of this size before it reaches the file.
const CHUNK_SIZE = 256 * 1024;
const EMPTY = new Uint8Array(0);

/**
 * Writes one table from entries in strictly increasing internal-key order.
 * Output is buffered and appended in chunks of about 256 KiB; `finish()`
 * writes the rest but neither syncs nor closes the file.
 *
 * @example
 * ```ts
 * import { TableBuilder } from "./table_builder.ts";
 * import { defaultFileSystem } from "../fs.ts";
 * import { KIND_PUT } from "../internal_key.ts";
 * const fs = defaultFileSystem();
 * const file = fs.openWrite("/tmp/000001.sst");
 * const b = new TableBuilder(file, { blockSize: 4096 });
 * b.add(new TextEncoder().encode("a"), 1, KIND_PUT, new TextEncoder().encode("1"));
 * const props = b.finish();
 * file.sync();
 * file.close();
 * console.log(props.entries); // 1
 * ```
 */
export class TableBuilder {
  #file: WritableFile;
  #blockSize: number;
  #formatVersion: number;
  #data: BlockBuilder;
  #index: BlockBuilder = new BlockBuilder(1);
  #bloom: BloomFilterBuilder;
  #out: Uint8Array = new Uint8Array(CHUNK_SIZE);
  #outPos = 0;
  // File offset of the next byte written (flushed + buffered).
  #offset = 0;
  #lastKey: Uint8Array = new Uint8Array(256);
  #lastLen = 0;
  #lastSeq = 0;
  #pending = false;
  #pendingOffset = 0;
  #pendingSize = 0;
  #handle: Uint8Array = new Uint8Array(20);
  #sep: Uint8Array = new Uint8Array(256);
  #entries = 0;
  #deletions = 0;
  #dataBlocks = 0;
  #smallestKey: Uint8Array = EMPTY;
  #smallestSeq = 0;
  #minSeq = 0;
  #maxSeq = 0;
  #finished = false;

  /** Starts a table written to `file` (which should be empty). */
  constructor(file: WritableFile, options: TableBuilderOptions = {}) {
    this.#file = file;
    this.#offset = file.size;
    const blockSize = options.blockSize ?? 4096;
    if (!(blockSize >= 1)) throw new RangeError(`bad blockSize: ${blockSize}`);
    this.#blockSize = blockSize;
    const formatVersion = options.formatVersion ?? TABLE_FORMAT_VERSION;
    if (formatVersion !== TABLE_FORMAT_VERSION && formatVersion !== TABLE_FORMAT_VERSION_CRC32C) {
      throw new RangeError(`bad formatVersion: ${formatVersion} (this code writes 1 or 2)`);
    }
    this.#formatVersion = formatVersion;
    this.#data = new BlockBuilder(options.restartInterval ?? 16);
    this.#bloom = new BloomFilterBuilder(options.bloomBitsPerKey ?? 10);
  }

  /**
   * Adds an entry. Entries must come in strictly increasing internal-key
   * order (user key ascending, then seq descending); anything else throws.
   * A tombstone's value is not stored.
   */
  add(key: Uint8Array, seq: number, kind: Kind, value: Uint8Array): void {
    if (this.#finished) throw new Error("TableBuilder.add after finish");
    if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`bad sequence number ${seq}`);
    if (kind !== KIND_PUT && kind !== KIND_DELETE) throw new RangeError(`bad kind ${kind}`);
    const n = this.#entries;
    let newUserKey = true;
    if (n > 0) {
      const last = this.#lastKey;
      const lastLen = this.#lastLen;
      const m = lastLen < key.length ? lastLen : key.length;
      let c = 0;
      for (let i = 0; i < m; i++) {
        if (last[i] !== key[i]) {
          c = last[i] - key[i];
          break;
        }
      }
      if (c === 0) c = lastLen - key.length;
      if (c > 0 || (c === 0 && seq >= this.#lastSeq)) {
        throw new Error(
          `TableBuilder.add: entries out of order (seq ${seq} after seq ${this.#lastSeq})`,
        );
      }
      newUserKey = c !== 0;
      if (this.#pending) this.#addIndexEntry(key);
    } else {
      this.#smallestKey = key.slice();
      this.#smallestSeq = seq;
      this.#minSeq = seq;
      this.#maxSeq = seq;
    }
    if (newUserKey) this.#bloom.addHash(hash32(key));
    if (kind === KIND_DELETE) {
      this.#deletions++;
      value = EMPTY;
    }
    this.#data.add(key, seq, kind, value);

    if (this.#lastKey.length < key.length) {
      this.#lastKey = new Uint8Array(Math.max(key.length, this.#lastKey.length * 2));
    }
    if (newUserKey) {
      const lk = this.#lastKey;
      for (let i = 0; i < key.length; i++) lk[i] = key[i];
      this.#lastLen = key.length;
    }
    this.#lastSeq = seq;
    if (seq < this.#minSeq) this.#minSeq = seq;
    if (seq > this.#maxSeq) this.#maxSeq = seq;
    this.#entries = n + 1;
    if (this.#data.estimatedSize() >= this.#blockSize) this.#flushDataBlock();
  }

  /**
   * Bytes written so far plus the open data block: about the size of the
   * file if it were finished now, less the filter, properties and index.
   */
  estimatedSize(): number {
    return this.#offset + (this.#data.empty() ? 0 : this.#data.estimatedSize());
  }

  /** Number of entries added so far. */
  get entries(): number {
    return this.#entries;
  }

  /**
   * Writes the last data block, the filter, properties and index blocks and
   * the footer, and returns the table's properties. Does not sync or close
   * the file.
   */
  finish(): TableProperties {
    if (this.#finished) throw new Error("TableBuilder.finish called twice");
    this.#finished = true;
    if (!this.#data.empty()) this.#flushDataBlock();
    if (this.#pending) {
      this.#indexAdd(this.#lastKey.subarray(0, this.#lastLen), this.#lastSeq);
    }
    const filterOffset = this.#offset;
    const filter = this.#bloom.finish();
    this.#writeBlock(filter);
    const props: TableProperties = {
      entries: this.#entries,
      deletions: this.#deletions,
      dataBlocks: this.#dataBlocks,
      fileSize: 0,
      smallestKey: this.#smallestKey,
      smallestSeq: this.#smallestSeq,
      largestKey: this.#lastKey.slice(0, this.#lastLen),
      largestSeq: this.#entries > 0 ? this.#lastSeq : 0,
      minSeq: this.#minSeq,
      maxSeq: this.#maxSeq,
    };
    const propsOffset = this.#offset;
    const propsBytes = encodeProperties(props);
    this.#writeBlock(propsBytes);
    const indexOffset = this.#offset;
    const index = this.#index.finish();
    this.#writeBlock(index);

    const footer = new Uint8Array(FOOTER_SIZE);
    writeU64(footer, 0, indexOffset);
    writeU32(footer, 8, index.length);
    writeU64(footer, 12, filterOffset);
    writeU32(footer, 20, filter.length);
    writeU64(footer, 24, propsOffset);
    writeU32(footer, 32, propsBytes.length);
    writeU32(footer, 36, this.#formatVersion);
    writeU32(footer, 40, crc32c(footer, 0, 40));
    footer.set(TABLE_MAGIC, 44);
    this.#reserve(FOOTER_SIZE);
    this.#out.set(footer, this.#outPos);
    this.#outPos += FOOTER_SIZE;
    this.#offset += FOOTER_SIZE;
    this.#flushOut();
    props.fileSize = this.#offset;
    return props;
  }

  #flushDataBlock(): void {
    const contents = this.#data.finish();
    this.#pendingOffset = this.#offset;
    this.#pendingSize = contents.length;
    this.#writeBlock(contents);
    this.#data.reset();
    this.#dataBlocks++;
    this.#pending = true;
  }

  // Adds the index entry of the block just written, now that the first key
  // of the next block (`next`) is known and a short separator can be chosen.
  #addIndexEntry(next: Uint8Array): void {
    const last = this.#lastKey;
    const lastLen = this.#lastLen;
    const m = lastLen < next.length ? lastLen : next.length;
    let i = 0;
    while (i < m && last[i] === next[i]) i++;
    // Where last and next first differ (last[i] < next[i]), the shortest
    // user key S with last < S < next is last[0..j] + (last[j] + 1): j = i
    // when that byte still stays below next[i], else the first j > i whose
    // byte can grow. With the largest seq, S sorts before all its versions.
    let j = -1;
    if (i < m) {
      if (last[i] + 1 < next[i]) j = i;
      else {
        for (let k = i + 1; k < lastLen; k++) {
          if (last[k] < 0xff) {
            j = k;
            break;
          }
        }
      }
    }
    if (j < 0) {
      this.#indexAdd(last.subarray(0, lastLen), this.#lastSeq);
      return;
    }
    if (this.#sep.length <= j) this.#sep = new Uint8Array(j * 2 + 1);
    const sep = this.#sep;
    for (let k = 0; k < j; k++) sep[k] = last[k];
    sep[j] = last[j] + 1;
    this.#indexAdd(sep.subarray(0, j + 1), MAX_SEQUENCE);
  }

  #indexAdd(key: Uint8Array, seq: number): void {
    const h = this.#handle;
    const n = putVarint(h, putVarint(h, 0, this.#pendingOffset), this.#pendingSize);
    this.#index.add(key, seq, KIND_PUT, h.subarray(0, n));
    this.#pending = false;
  }

  #reserve(n: number): void {
    if (this.#outPos + n <= this.#out.length) return;
    this.#flushOut();
    if (n > this.#out.length) this.#out = new Uint8Array(n);
  }

  #writeBlock(contents: Uint8Array): void {
    const n = contents.length;
    this.#reserve(n + 5);
    const out = this.#out;
    const p = this.#outPos;
    out.set(contents, p);
    out[p + n] = 0;
    writeU32(out, p + n + 1, blockChecksum(this.#formatVersion, out, { start: p, end: p + n + 1 }));
    this.#outPos = p + n + 5;
    this.#offset += n + 5;
  }

  #flushOut(): void {
    if (this.#outPos === 0) return;
    this.#file.append(this.#out.subarray(0, this.#outPos));
    // A fresh buffer rather than reuse: a file implementation may keep the
    // array it was handed (an in-memory file system does).
    this.#out = new Uint8Array(CHUNK_SIZE);
    this.#outPos = 0;
  }
}
