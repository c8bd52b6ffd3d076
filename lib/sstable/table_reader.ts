/**
 * Reads SSTables written by {@linkcode TableBuilder} (format in
 * `table_builder.ts`): point lookups, two-level iterators, verification and
 * a plain-data description for tools.
 *
 * Every byte is checked before it is used: the footer by magic, version and
 * its own CRC, every block by its checksum and then by a structural
 * validation. Any malformed byte raises {@linkcode CorruptionError} naming
 * the file and offset; nothing else escapes for a malformed file.
 *
 * @module
 */

import { ByteReader, crc32c, hash32, readU32, readU64 } from "../coding.ts";
import { CorruptionError } from "../errors.ts";
import type { RandomAccessFile, ResidentPages } from "../fs.ts";
import { endOfWordRun, firstAtLeast } from "../key_fence.ts";
import {
  type Found,
  type InternalIterator,
  type Kind,
  KIND_DELETE,
  MAX_SEQUENCE,
} from "../internal_key.ts";
import { Block, BlockIterator, KEY_TRAILER_SIZE, readKeySeq } from "./block.ts";
import type { BlockCache } from "./block_cache.ts";
import { BloomFilter } from "./bloom.ts";
import {
  BLOCK_TRAILER_SIZE,
  blockChecksum,
  COMPRESSION_NONE,
  FOOTER_SIZE,
  PROP,
  TABLE_FORMAT_VERSION,
  TABLE_FORMAT_VERSION_CRC32C,
  TABLE_MAGIC,
  type TableProperties,
} from "./table_builder.ts";

/** Options of {@linkcode Table.open}. */
export interface TableOpenOptions {
  /** The table's file number: the block cache key and what errors may name. */
  fileNumber: number;
  /** Cache for data blocks; without one every block read goes to the file. */
  cache?: BlockCache;
  /** Name to report in errors; default `file.path`. */
  fileName?: string;
  /**
   * Keep the marks of checked data blocks in shared memory, so that another
   * thread's {@linkcode Table.scrub} of the same file can check blocks for
   * this table's reads (see {@linkcode Table.checks}).
   */
  shareChecks?: boolean;
  /**
   * The marks of another table of the same file ({@linkcode Table.checks}):
   * blocks this table checks are marked there. Ignored unless the file is
   * mapped and the marks have one byte per data block.
   */
  checks?: Uint8Array;
  /**
   * This process has just written the file (a flush or compaction output).
   * Its data blocks still wholly in memory are the bytes whose checksums
   * the writer computed, so they are marked checked without being read, as
   * a scrub right after the write would mark them; blocks already dropped
   * from memory are left to their first read.
   */
  justWritten?: boolean;
}

/** Position and size of a block's contents in a table file. */
export interface BlockHandle {
  /** File offset of the contents. */
  offset: number;
  /** Size of the contents, trailer excluded. */
  size: number;
}

/** One data block as listed by {@linkcode Table.describe}. */
export interface DataBlockDescription extends BlockHandle {
  /** User key of the index entry (≥ the block's last key, < the next block's first). */
  indexKey: Uint8Array;
  /** Sequence number of the index entry. */
  indexSeq: number;
}

/** Plain-data description of a table, for a `dump` command. */
export interface TableDescription {
  /** The name used in errors. */
  fileName: string;
  /** The table's file number. */
  fileNumber: number;
  /** Size of the file in bytes. */
  fileSize: number;
  /** Format version from the footer. */
  formatVersion: number;
  /** The index block. */
  index: BlockHandle;
  /** The filter block, with the filter's shape. */
  filter: BlockHandle & { bits: number; probes: number };
  /** The properties block. */
  propertiesBlock: BlockHandle;
  /** The decoded properties. */
  properties: TableProperties;
  /** Every data block, in order. */
  dataBlocks: DataBlockDescription[];
}

// Iterators a table keeps for reuse: as many as scans at once usually read it.
const MAX_SPARE_ITERATORS = 4;

/** What {@linkcode Table.verify} checked. */
export interface VerifyResult {
  /** Data blocks read and checked. */
  dataBlocks: number;
  /** Entries seen. */
  entries: number;
  /** Tombstones seen. */
  deletions: number;
}

/**
 * An open, immutable table. The index and bloom filter stay in memory; data
 * blocks are read on demand (through the block cache when there is one).
 *
 * @example
 * ```ts
 * import { Table } from "./table_reader.ts";
 * import { BlockCache } from "./block_cache.ts";
 * import { defaultFileSystem } from "../fs.ts";
 * const fs = defaultFileSystem();
 * const table = Table.open(fs.openRead("/tmp/000001.sst"), {
 *   fileNumber: 1,
 *   cache: new BlockCache(8 << 20),
 * });
 * const found = table.get(new TextEncoder().encode("a"), Number.MAX_SAFE_INTEGER);
 * console.log(found?.kind);
 * table.close();
 * ```
 */
export class Table {
  /** The table's file number. */
  readonly fileNumber: number;
  /** Size of the table file in bytes. */
  readonly fileSize: number;
  /** The properties recorded by the builder (`fileSize` is the file's size). */
  readonly properties: TableProperties;
  /** Name used in errors. */
  readonly fileName: string;
  /** Format version from the footer: 2, or 1 for a table written by an older version. */
  readonly formatVersion: number;
  #file: RandomAccessFile;
  #cache: BlockCache | undefined;
  #index: Block;
  #bloom: BloomFilter;
  // Where each data block starts, and where the data area ends: blocks
  // lie end to end, so block i's size follows from its neighbour, which
  // shares its cache line.
  #offsets: Float64Array;
  #blockCount: number;
  // For a mapped file, blocks are views into the map, and 1 marks a data
  // block whose checksum and restart points were checked already.
  #mapped: boolean;
  #checked: Uint8Array;
  #getIter: BlockIterator = new BlockIterator();
  #spareIterators: TableIterator[] = [];
  // Bytes shared by every index key, and of each index key the 4 bytes that
  // follow them as a big-endian number: most of a block search compares
  // numbers instead of bytes.
  #prefixLen = 0;
  #words: Uint32Array;
  // Where the first index key's bytes start in the index block.
  #firstIndexKey = 0;
  #checkIter: BlockIterator = new BlockIterator();
  #handles: { index: BlockHandle; filter: BlockHandle; properties: BlockHandle };

  private constructor(
    file: RandomAccessFile,
    options: TableOpenOptions,
  ) {
    this.#file = file;
    this.fileNumber = options.fileNumber;
    this.fileName = options.fileName ?? file.path;
    this.#cache = options.cache;
    const size = file.size;
    this.fileSize = size;
    if (size < FOOTER_SIZE) {
      throw this.#corrupt(`file of ${size} bytes is too short for a table footer`, 0);
    }
    const footerAt = size - FOOTER_SIZE;
    const footer = this.#readExact(footerAt, FOOTER_SIZE);
    for (let i = 0; i < TABLE_MAGIC.length; i++) {
      if (footer[44 + i] !== TABLE_MAGIC[i]) {
        throw this.#corrupt("bad table magic number (not a table, or truncated)", footerAt + 44);
      }
    }
    if (readU32(footer, 40) !== crc32c(footer, 0, 40)) {
      throw this.#corrupt("table footer checksum mismatch", footerAt + 40);
    }
    const version = readU32(footer, 36);
    this.formatVersion = version;
    if (version !== TABLE_FORMAT_VERSION && version !== TABLE_FORMAT_VERSION_CRC32C) {
      throw this.#corrupt(`unsupported table format version ${version}`, footerAt + 36);
    }
    const handle = (at: number): BlockHandle => {
      const h = { offset: readU64(footer, at), size: readU32(footer, at + 8) };
      this.#checkHandle(h.offset, h.size, footerAt + at);
      return h;
    };
    this.#handles = { index: handle(0), filter: handle(12), properties: handle(24) };

    const filter = this.#readBlock(this.#handles.filter, "filter");
    const filterProblem = BloomFilter.check(filter);
    if (filterProblem !== undefined) {
      throw this.#corrupt(filterProblem, this.#handles.filter.offset);
    }
    this.#bloom = new BloomFilter(filter);

    this.properties = this.#decodeProperties(
      this.#readBlock(this.#handles.properties, "properties"),
      this.#handles.properties.offset,
    );

    const indexAt = this.#handles.index.offset;
    const index = new Block(this.#readBlock(this.#handles.index, "index"), {
      file: this.fileName,
      offset: indexAt,
    });
    if (index.numRestarts !== index.entries) {
      throw this.#corrupt("index block must have a restart point per entry", indexAt);
    }
    this.#index = index;
    const n = index.entries;
    if (n !== this.properties.dataBlocks) {
      throw this.#corrupt(
        `index lists ${n} blocks, properties say ${this.properties.dataBlocks}`,
        indexAt,
      );
    }
    if ((n === 0) !== (this.properties.entries === 0)) {
      throw this.#corrupt("entry count disagrees with the index", this.#handles.properties.offset);
    }
    this.#blockCount = n;
    this.#words = new Uint32Array(n);
    if (n > 0) {
      const d = index.data;
      const firstAt = index.restartKeyStart(0);
      const lastAt = index.restartKeyStart(n - 1);
      const m = Math.min(index.restartKeyLength(0), index.restartKeyLength(n - 1)) -
        KEY_TRAILER_SIZE;
      let p = 0;
      while (p < m && d[firstAt + p] === d[lastAt + p]) p++;
      this.#prefixLen = p;
      this.#firstIndexKey = firstAt;
      for (let j = 0; j < n; j++) {
        const at = index.restartKeyStart(j);
        this.#words[j] = keyWord(d, at, at + index.restartKeyLength(j) - KEY_TRAILER_SIZE, p);
      }
    }
    this.#offsets = new Float64Array(n + 1);
    this.#mapped = file.mapped === true && file.view !== undefined;
    const marks = this.#mapped ? n : 0;
    this.#checked = options.checks?.length === marks && marks > 0
      ? options.checks
      : options.shareChecks && typeof SharedArrayBuffer === "function"
      ? new Uint8Array(new SharedArrayBuffer(marks))
      : new Uint8Array(marks);
    // One reader decodes every handle in place: a table of thousands of
    // blocks opens without an object per block.
    const reader = new ByteReader(
      index.data,
      (message, offset) => {
        throw this.#corrupt(`malformed block handle in index: ${message}`, indexAt + offset);
      },
      0,
      index.restartsOffset,
    );
    const it = index.iterator();
    let end = 0;
    let i = 0;
    for (it.seekToFirst(); it.valid(); it.next(), i++) {
      const from = it.valueOffset();
      const at = indexAt + from;
      reader.moveTo(from, from + it.valueLength());
      const offset = reader.varint();
      const size = reader.varint();
      if (!reader.done()) throw this.#corrupt("block handle in index has trailing bytes", at);
      this.#checkHandle(offset, size, at);
      if (offset !== end || offset + size + BLOCK_TRAILER_SIZE > this.#handles.filter.offset) {
        throw this.#corrupt("data block handles leave a gap, overlap or leave the data area", at);
      }
      end = offset + size + BLOCK_TRAILER_SIZE;
      this.#offsets[i] = offset;
    }
    if (end !== this.#handles.filter.offset) {
      throw this.#corrupt(
        `data blocks end at ${end} but the filter block starts at ${this.#handles.filter.offset}`,
        indexAt,
      );
    }
    this.#offsets[n] = end;
    if (options.justWritten && this.#mapped) this.#markResident();
  }

  // Marks the data blocks wholly in memory as checked.
  #markResident(): void {
    const resident = this.#file.residentPages?.();
    if (resident === undefined) return;
    for (let i = 0; i < this.#blockCount; i++) {
      if (this.#inMemory(i, resident)) this.#checked[i] = 1;
    }
  }

  /**
   * Opens a table: checks the footer and loads (and checks) the index,
   * filter and properties blocks. Throws {@linkcode CorruptionError} for a
   * malformed file. Once open, the table owns `file` and closes it in
   * {@linkcode Table.close}; when opening fails, the file stays open for
   * the caller to close.
   */
  static open(file: RandomAccessFile, options: TableOpenOptions): Table {
    return new Table(file, options);
  }

  #corrupt(message: string, offset: number): CorruptionError {
    return new CorruptionError(message, { file: this.fileName, offset });
  }

  #checkHandle(offset: number, size: number, at: number): void {
    if (offset + size + BLOCK_TRAILER_SIZE > this.fileSize - FOOTER_SIZE) {
      throw this.#corrupt(`block handle (offset ${offset}, size ${size}) is out of range`, at);
    }
  }

  #readExact(offset: number, size: number, into?: Uint8Array): Uint8Array {
    const buf = into ?? new Uint8Array(size);
    const n = this.#file.read(buf, offset);
    if (n !== size) {
      throw this.#corrupt(`short read: ${n} of ${size} bytes (file truncated?)`, offset + n);
    }
    return buf;
  }

  // Reads a block's contents and checks its trailer.
  #readBlock(h: BlockHandle, what: string, into?: Uint8Array): Uint8Array {
    const buf = this.#readExact(h.offset, h.size + BLOCK_TRAILER_SIZE, into);
    this.#checkTrailer(buf, h.size, h.offset, what);
    return buf.subarray(0, h.size);
  }

  // Checks the trailer after the `n` bytes of a block read at `offset`.
  #checkTrailer(buf: Uint8Array, n: number, offset: number, what: string): void {
    if (readU32(buf, n + 1) !== blockChecksum(this.formatVersion, buf, { start: 0, end: n + 1 })) {
      throw this.#corrupt(`${what} block checksum mismatch`, offset);
    }
    if (buf[n] !== COMPRESSION_NONE) {
      throw this.#corrupt(`${what} block has unknown compression type ${buf[n]}`, offset + n);
    }
  }

  #decodeProperties(b: Uint8Array, at: number): TableProperties {
    const nums = new Map<number, number>();
    const bytes = new Map<number, Uint8Array>();
    const reader = new ByteReader(b, (message, offset) => {
      throw this.#corrupt(`properties block: ${message}`, at + offset);
    });
    while (!reader.done()) {
      const fieldAt = at + reader.pos;
      const tag = reader.varint();
      const field = Math.floor(tag / 2);
      if (nums.has(field) || bytes.has(field)) {
        throw this.#corrupt(`duplicate property ${field}`, fieldAt);
      }
      if (tag % 2 === 0) {
        nums.set(field, reader.varint());
      } else {
        const len = reader.varint();
        const from = reader.pos;
        reader.skip(len);
        bytes.set(field, b.slice(from, from + len));
      }
    }
    const num = (field: number): number => {
      const v = nums.get(field);
      if (v === undefined) throw this.#corrupt(`missing numeric property ${field}`, at);
      return v;
    };
    const key = (field: number): Uint8Array => {
      const v = bytes.get(field);
      if (v === undefined) throw this.#corrupt(`missing key property ${field}`, at);
      return v;
    };
    const p: TableProperties = {
      entries: num(PROP.entries),
      deletions: num(PROP.deletions),
      dataBlocks: num(PROP.dataBlocks),
      fileSize: this.fileSize,
      smallestKey: key(PROP.smallestKey),
      smallestSeq: num(PROP.smallestSeq),
      largestKey: key(PROP.largestKey),
      largestSeq: num(PROP.largestSeq),
      minSeq: num(PROP.minSeq),
      maxSeq: num(PROP.maxSeq),
    };
    if (p.deletions > p.entries || p.minSeq > p.maxSeq) {
      throw this.#corrupt("inconsistent properties", at);
    }
    return p;
  }

  /** True when data blocks are read in place from a memory map of the file. */
  get mapped(): boolean {
    return this.#mapped;
  }

  /**
   * One byte per data block of a mapped table, 1 once the block's checksum
   * and structure were checked (by a read, or by {@linkcode Table.scrub} in
   * any table sharing them); empty for a table read without a map.
   */
  get checks(): Uint8Array {
    return this.#checked;
  }

  /**
   * Checks, ahead of the reads that will need them, the data blocks of a
   * mapped table that are in memory and not checked yet, marking each in
   * {@linkcode Table.checks}. Blocks on disk are left for their first read,
   * so that a scrub costs processor time only and never reads the disk.
   * Stops early once `stop` returns true (asked every 64 blocks); returns
   * the number of blocks checked. Throws {@linkcode CorruptionError} at the
   * first block that fails, which stays unmarked.
   *
   * @example
   * ```ts
   * import { Table } from "./table_reader.ts";
   * import { TableBuilder } from "./table_builder.ts";
   * import { defaultFileSystem } from "../fs.ts";
   * const fs = defaultFileSystem();
   * const path = await Deno.makeTempFile();
   * const out = fs.openWrite(path);
   * const builder = new TableBuilder(out);
   * builder.add(new TextEncoder().encode("k"), 1, 1, new TextEncoder().encode("v"));
   * builder.finish();
   * out.close();
   * const table = Table.open(fs.openRead(path, { map: true }), { fileNumber: 1 });
   * console.log(table.scrub()); // 1 with `deno run -A`, where the file is mapped
   * table.close();
   * ```
   */
  scrub(stop?: () => boolean): number {
    if (!this.#mapped) return 0;
    const resident = this.#file.residentPages?.();
    if (resident === undefined) return 0;
    const checked = this.#checked;
    let count = 0;
    for (let i = 0; i < this.#blockCount; i++) {
      if ((i & 63) === 63 && stop?.()) break;
      if (checked[i] === 1 || !this.#inMemory(i, resident)) continue;
      this.#viewDataBlock(i);
      count++;
    }
    return count;
  }

  // True when every page of data block i (its trailer included) is in memory.
  #inMemory(i: number, { pageSize, pages }: ResidentPages): boolean {
    const start = this.#offsets[i];
    const last = Math.floor((this.#offsets[i + 1] - 1) / pageSize);
    for (let p = Math.floor(start / pageSize); p <= last; p++) {
      if ((pages[p] & 1) === 0) return false;
    }
    return true;
  }

  // The size of data block i's contents.
  #blockSize(i: number): number {
    return this.#offsets[i + 1] - this.#offsets[i] - BLOCK_TRAILER_SIZE;
  }

  /** Number of data blocks. */
  get blockCount(): number {
    return this.#blockCount;
  }

  /**
   * The index of the first data block that may hold an entry ≥ (`key`,
   * `seq`), or {@linkcode Table.blockCount} when every entry is smaller.
   */
  findBlock(key: Uint8Array, seq: number): number {
    const words = this.#words;
    const n = words.length;
    const p = this.#prefixLen;
    if (n === 0) return 0;
    // Every index key starts with the same p bytes: a target that does not
    // is below or above all of them.
    const klen = key.length;
    const d = this.#index.data;
    const first = this.#firstIndexKey;
    const m = klen < p ? klen : p;
    for (let i = 0; i < m; i++) {
      if (key[i] !== d[first + i]) return key[i] < d[first + i] ? 0 : n;
    }
    if (klen < p) return 0;
    const tw = keyWord(key, 0, klen, p);
    let lo = firstAtLeast(words, tw);
    // Words order keys strictly where they differ; only entries whose word
    // equals the target's need their bytes compared.
    if (lo === n || words[lo] !== tw) return lo;
    let hi = endOfWordRun(words, lo);
    const index = this.#index;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (index.compareRestart(mid, key, seq) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Data block `i`: for a mapped file, its bytes in the map (checked on the
   * first read), else from the cache or read from the file (then checked
   * and cached). Either way the block's bytes must not be used after the
   * table is closed.
   */
  readBlock(i: number): Block {
    if (this.#mapped) return this.#viewDataBlock(i);
    const cache = this.#cache;
    if (cache !== undefined) {
      const hit = cache.get(this.fileNumber, i);
      if (hit !== undefined) return hit;
    }
    const block = this.#loadDataBlock(i, false);
    if (cache !== undefined) cache.set(this.fileNumber, i, block);
    return block;
  }

  // Data block i as a view into the file's map. The map is the operating
  // system's file cache already, so a copy in the block cache would only
  // hold the same bytes twice; and since a mapped table's bytes never
  // change while it is open, each block's checksum and restart points are
  // checked on its first read only.
  #viewDataBlock(i: number): Block {
    const offset = this.#offsets[i];
    const size = this.#blockSize(i);
    if (this.#checked[i] === 1) {
      const data = this.#file.view!(offset, size);
      if (data === undefined) throw this.#pastEnd(offset);
      return new Block(data, { file: this.fileName, offset, trusted: true });
    }
    const bytes = this.#file.view!(offset, size + BLOCK_TRAILER_SIZE);
    if (bytes === undefined) throw this.#pastEnd(offset);
    const data = bytes.subarray(0, size);
    this.#checkTrailer(bytes, size, offset, "data");
    const block = new Block(data, { file: this.fileName, offset, checkOrder: false });
    if (block.numRestarts === 0) throw this.#corrupt("empty data block", offset);
    this.#checked[i] = 1;
    return block;
  }

  #pastEnd(offset: number): CorruptionError {
    return this.#corrupt("data block lies past the end of the file", offset);
  }

  // Reads data block i and checks its checksum and structure. With
  // `checkKeys`, also the order of its keys and that they lie within the
  // bounds its index entries promise; reads that serve lookups leave that
  // to verify(), since a block whose checksum matched was written so.
  #loadDataBlock(i: number, checkKeys: boolean): Block {
    const offset = this.#offsets[i];
    const size = this.#blockSize(i);
    const into = checkKeys ? undefined : this.#cache?.allocate(size + BLOCK_TRAILER_SIZE);
    const block = new Block(this.#readBlock({ offset, size }, "data", into), {
      file: this.fileName,
      offset,
      checkOrder: checkKeys,
    });
    if (block.numRestarts === 0) throw this.#corrupt("empty data block", offset);
    if (!checkKeys) return block;
    const it = this.#checkIter;
    it.reset(block);
    it.seekToLast();
    if (this.#compareIndexKey(i, it) > 0) {
      throw this.#corrupt("data block extends past its index key", offset);
    }
    if (i > 0) {
      it.seekToFirst();
      if (this.#compareIndexKey(i - 1, it) <= 0) {
        throw this.#corrupt("data block starts before the previous index key", offset);
      }
    }
    return block;
  }

  // Compares the iterator's current key with index entry i.
  #compareIndexKey(i: number, it: BlockIterator): number {
    return -this.#index.compareRestart(i, it.key(), it.seq());
  }

  /** False when the key with this {@linkcode bloomHash} is certainly not in the table. */
  mayContain(hash: number): boolean {
    return this.#bloom.mayContain(hash);
  }

  /**
   * The newest version of `key` with seq ≤ `readSeq` (a tombstone comes back
   * with kind {@linkcode KIND_DELETE}), or undefined. Pass `hash`
   * ({@linkcode bloomHash} of `key`) to reuse it across tables. The value
   * is a view into the block: copy it before the table can be closed or
   * the cache can evict the block.
   */
  get(key: Uint8Array, readSeq: number, hash?: number): Found | undefined {
    if (!this.#bloom.mayContain(hash ?? hash32(key))) return undefined;
    const i = this.findBlock(key, readSeq);
    if (i >= this.#blockCount) return undefined;
    const it = this.#getIter;
    it.reset(this.readBlock(i));
    // An entry ≥ the target outside block i would have a greater user key:
    // the index key of block i is a separator below every key of block i+1.
    if (it.seekInternal(key, readSeq) > 1) return undefined;
    return { kind: it.kind(), seq: it.seq(), value: it.value() };
  }

  /**
   * An unpositioned iterator over every entry of the table: a new one, or
   * one handed back through {@linkcode Table.recycle}.
   */
  iterator(): TableIterator {
    const spare = this.#spareIterators.pop();
    if (spare === undefined) return new TableIterator(this);
    spare.invalidate();
    return spare;
  }

  /**
   * Takes back an iterator of this table that its user is done with, to be
   * handed out again by {@linkcode Table.iterator}: a scan of a few entries
   * then allocates no iterators. The caller must not touch `it` afterwards.
   */
  recycle(it: TableIterator): void {
    if (it.table === this && this.#spareIterators.length < MAX_SPARE_ITERATORS) {
      this.#spareIterators.push(it);
    }
  }

  /**
   * Reads every data block from the file (bypassing the cache), checking
   * every checksum and structure, the key order across blocks, that the
   * blocks and footer cover every byte of the file, and the properties
   * against the entries. Throws {@linkcode CorruptionError}.
   */
  verify(): VerifyResult {
    this.#checkLayout();
    const p = this.properties;
    const it = new BlockIterator();
    let entries = 0;
    let deletions = 0;
    let minSeq = Number.POSITIVE_INFINITY;
    let maxSeq = -1;
    for (let i = 0; i < this.#blockCount; i++) {
      const block = this.#loadDataBlock(i, true);
      it.reset(block);
      for (it.seekToFirst(); it.valid(); it.next()) {
        const seq = it.seq();
        if (entries === 0) this.#checkBoundary("smallest", it, p.smallestKey, p.smallestSeq);
        entries++;
        if (it.kind() === KIND_DELETE) deletions++;
        if (seq < minSeq) minSeq = seq;
        if (seq > maxSeq) maxSeq = seq;
      }
      if (i === this.#blockCount - 1) {
        it.seekToLast();
        this.#checkBoundary("largest", it, p.largestKey, p.largestSeq);
      }
    }
    const at = this.#handles.properties.offset;
    if (entries !== p.entries || deletions !== p.deletions) {
      throw this.#corrupt(
        `properties say ${p.entries} entries / ${p.deletions} deletions, ` +
          `blocks hold ${entries} / ${deletions}`,
        at,
      );
    }
    if (entries > 0 && (minSeq !== p.minSeq || maxSeq !== p.maxSeq)) {
      throw this.#corrupt("properties disagree with the sequence numbers of the entries", at);
    }
    return { dataBlocks: this.#blockCount, entries, deletions };
  }

  // Every byte must belong to a checksummed block or the footer: data
  // blocks back to back from offset 0 (as opening the table made sure),
  // then filter, properties and index.
  #checkLayout(): void {
    let pos = this.#offsets[this.#blockCount];
    const next = (what: string, offset: number, size: number): void => {
      if (offset !== pos) {
        throw this.#corrupt(
          `${what} starts at ${offset}, expected ${pos}: bytes no checksum covers`,
          Math.min(offset, pos),
        );
      }
      pos = offset + size + BLOCK_TRAILER_SIZE;
    };
    const h = this.#handles;
    next("filter block", h.filter.offset, h.filter.size);
    next("properties block", h.properties.offset, h.properties.size);
    next("index block", h.index.offset, h.index.size);
    if (pos !== this.fileSize - FOOTER_SIZE) {
      throw this.#corrupt(
        `${this.fileSize - FOOTER_SIZE - pos} unused bytes before the footer`,
        pos,
      );
    }
  }

  #checkBoundary(which: string, it: BlockIterator, key: Uint8Array, seq: number): void {
    if (it.compareCurrent(key, seq) !== 0) {
      throw this.#corrupt(
        `${which} key in properties disagrees with the data`,
        this.#handles.properties.offset,
      );
    }
  }

  /** Plain data describing the table's layout, for tools. */
  describe(): TableDescription {
    const dataBlocks: DataBlockDescription[] = [];
    for (let i = 0; i < this.#blockCount; i++) {
      const stored = indexStoredKey(this.#index, i);
      const ulen = stored.length - KEY_TRAILER_SIZE;
      dataBlocks.push({
        offset: this.#offsets[i],
        size: this.#blockSize(i),
        indexKey: stored.slice(0, ulen),
        indexSeq: readKeySeq(stored, ulen),
      });
    }
    const h = this.#handles;
    return {
      fileName: this.fileName,
      fileNumber: this.fileNumber,
      fileSize: this.fileSize,
      formatVersion: this.formatVersion,
      index: { ...h.index },
      filter: { ...h.filter, bits: this.#bloom.bits, probes: this.#bloom.probes },
      propertiesBlock: { ...h.properties },
      properties: { ...this.properties },
      dataBlocks,
    };
  }

  /** Closes the file. Cached blocks stay cached (see {@linkcode BlockCache.evictFile}). */
  close(): void {
    this.#file.close();
  }
}

function indexStoredKey(index: Block, i: number): Uint8Array {
  const it = index.iterator();
  // Restart interval 1: entry i is restart i.
  it.seekToRestart(i);
  return it.storedKey().slice();
}

// The 4 bytes of `bytes[start, end)` from offset `p` as a big-endian
// number, zero-padded: shorter keys get smaller words, as they should.
function keyWord(bytes: Uint8Array, start: number, end: number, p: number): number {
  let w = 0;
  for (let i = 0; i < 4; i++) {
    const at = start + p + i;
    w = w * 256 + (at < end ? bytes[at] : 0);
  }
  return w;
}

/**
 * A two-level cursor over a table: the in-memory index picks the data
 * block, a {@linkcode BlockIterator} walks it. Crossing into a block reads
 * it (through the cache); views stay valid until the cursor moves.
 *
 * @example
 * ```ts
 * import { Table } from "./table_reader.ts";
 * import { defaultFileSystem } from "../fs.ts";
 * const table = Table.open(defaultFileSystem().openRead("/tmp/000001.sst"), { fileNumber: 1 });
 * const it = table.iterator();
 * for (it.seekToFirst(); it.valid(); it.next()) console.log(it.key(), it.seq(), it.kind());
 * table.close();
 * ```
 */
export class TableIterator implements InternalIterator {
  #table: Table;
  #it: BlockIterator = new BlockIterator();
  #i = -1;

  /** Creates an unpositioned iterator over `table`. */
  constructor(table: Table) {
    this.#table = table;
  }

  /** The table iterated. */
  get table(): Table {
    return this.#table;
  }

  /** Leaves the cursor on no entry. */
  invalidate(): void {
    this.#i = -1;
    this.#it.invalidate();
  }

  #setBlock(i: number): void {
    this.#i = i;
    this.#it.reset(this.#table.readBlock(i));
  }

  #forwardFrom(i: number): void {
    const n = this.#table.blockCount;
    for (; i < n; i++) {
      this.#setBlock(i);
      this.#it.seekToFirst();
      if (this.#it.valid()) return;
    }
    this.#it.invalidate();
  }

  #backwardFrom(i: number): void {
    for (; i >= 0; i--) {
      this.#setBlock(i);
      this.#it.seekToLast();
      if (this.#it.valid()) return;
    }
    this.#it.invalidate();
  }

  /** True when the cursor is on an entry. */
  valid(): boolean {
    return this.#it.valid();
  }

  /** Moves to the first entry. */
  seekToFirst(): void {
    this.#forwardFrom(0);
  }

  /** Moves to the last entry. */
  seekToLast(): void {
    this.#backwardFrom(this.#table.blockCount - 1);
  }

  /** Moves to the first entry ≥ (`key`, `seq`) in internal-key order. */
  seekInternal(key: Uint8Array, seq: number): void {
    const i = this.#table.findBlock(key, seq);
    if (i >= this.#table.blockCount) {
      this.#it.invalidate();
      return;
    }
    this.#setBlock(i);
    this.#it.seekInternal(key, seq);
    if (!this.#it.valid()) this.#forwardFrom(i + 1);
  }

  /** Moves to the first entry whose user key is ≥ `key` (its newest version). */
  seek(key: Uint8Array): void {
    this.seekInternal(key, MAX_SEQUENCE);
  }

  /** Moves to the last entry whose user key is < `key` (its oldest version). */
  seekBefore(key: Uint8Array): void {
    const i = this.#table.findBlock(key, MAX_SEQUENCE);
    if (i >= this.#table.blockCount) {
      this.seekToLast();
      return;
    }
    this.#setBlock(i);
    this.#it.seekInternal(key, MAX_SEQUENCE);
    if (this.#it.valid()) {
      this.prev();
    } else {
      // Block i holds only smaller keys, and block i+1 only larger ones.
      this.#it.seekToLast();
      if (!this.#it.valid()) this.#backwardFrom(i - 1);
    }
  }

  /** Moves to the next entry; invalid past the end. */
  next(): void {
    const it = this.#it;
    if (!it.valid()) return;
    it.next();
    if (!it.valid()) this.#forwardFrom(this.#i + 1);
  }

  /** Moves to the previous entry; invalid before the start. */
  prev(): void {
    const it = this.#it;
    if (!it.valid()) return;
    it.prev();
    if (!it.valid()) this.#backwardFrom(this.#i - 1);
  }

  /** The user key of the current entry. */
  key(): Uint8Array {
    return this.#it.key();
  }

  /** The sequence number of the current entry. */
  seq(): number {
    return this.#it.seq();
  }

  /** The kind of the current entry. */
  kind(): Kind {
    return this.#it.kind();
  }

  /** The value of the current entry (empty for a tombstone). */
  value(): Uint8Array {
    return this.#it.value();
  }
}

/**
 * Opens `file` as a table without a cache, runs {@linkcode Table.verify}
 * and returns its result; throws {@linkcode CorruptionError} on the first
 * problem. Does not close `file`.
 *
 * @example
 * ```ts
 * import { verifyTable } from "./table_reader.ts";
 * import { defaultFileSystem } from "../fs.ts";
 * const file = defaultFileSystem().openRead("/tmp/000001.sst");
 * console.log(verifyTable(file, { fileName: "000001.sst" }).entries);
 * file.close();
 * ```
 */
export function verifyTable(
  file: RandomAccessFile,
  options: { fileNumber?: number; fileName?: string } = {},
): VerifyResult {
  const table = Table.open(file, {
    fileNumber: options.fileNumber ?? 0,
    fileName: options.fileName,
  });
  return table.verify();
}
