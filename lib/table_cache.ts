/**
 * Open table files, bounded in number. A table in use by a scan or a
 * compaction stays open until released, even when evicted or obsolete.
 *
 * @module
 */

import { type FileSystem, joinPath } from "./fs.ts";
import type { BlockCache } from "./sstable/block_cache.ts";
import { Table, type TableIterator } from "./sstable/table_reader.ts";

/** The name of table file `n`. */
export function tableName(n: number): string {
  return `${String(n).padStart(6, "0")}.sst`;
}

interface Slot {
  table: Table;
  refs: number;
  doomed: boolean;
  // A read has used the table since it was opened.
  read: boolean;
}

/** Options of a {@linkcode TableCache}. */
export interface TableCacheOptions {
  /** Unused tables kept open at most. */
  capacity: number;
  /** The cache of data blocks the tables share. */
  blocks?: BlockCache;
  /** Read table files through memory maps where the runtime can make them. */
  map?: boolean;
  /**
   * Called the first time a read uses a table opened through a map (a
   * {@linkcode TableCache.get} or {@linkcode TableCache.acquire}, not a
   * {@linkcode TableCache.preload}); its marks of checked blocks are in
   * shared memory, for a scrub on another thread.
   */
  onFirstRead?: (table: Table) => void;
}

/**
 * An LRU of open tables.
 *
 * @example
 * ```ts
 * import { TableCache } from "./table_cache.ts";
 * import { defaultFileSystem } from "./fs.ts";
 * const cache = new TableCache(defaultFileSystem(), "/tmp/db", { capacity: 100 });
 * console.log(cache.openCount); // 0
 * ```
 */
export class TableCache {
  #fs: FileSystem;
  #dir: string;
  #capacity: number;
  #blocks: BlockCache | undefined;
  #map: boolean;
  #onFirstRead: ((table: Table) => void) | undefined;
  #slots = new Map<number, Slot>();

  /** Keeps at most `options.capacity` unused tables of `dir` open. */
  constructor(fs: FileSystem, dir: string, options: TableCacheOptions) {
    this.#fs = fs;
    this.#dir = dir;
    this.#capacity = options.capacity;
    this.#blocks = options.blocks;
    this.#map = options.map ?? false;
    this.#onFirstRead = options.onFirstRead;
  }

  /** Number of open tables. */
  get openCount(): number {
    return this.#slots.size;
  }

  /** Number of open tables read through memory maps. */
  get mappedCount(): number {
    let n = 0;
    for (const slot of this.#slots.values()) if (slot.table.mapped) n++;
    return n;
  }

  /** The slot of table `number`, opened if needed, with `refs` more references. */
  #slot(number: number, refs: number, justWritten = false): Slot {
    let slot = this.#slots.get(number);
    if (slot !== undefined) {
      // Re-insert to mark as most recently used; order matters only once
      // the cache is full enough to evict.
      if (this.#slots.size >= this.#capacity) {
        this.#slots.delete(number);
        this.#slots.set(number, slot);
      }
      slot.refs += refs;
      return slot;
    }
    const name = tableName(number);
    const file = this.#fs.openRead(joinPath(this.#dir, name), { map: this.#map });
    try {
      const table = Table.open(file, {
        fileNumber: number,
        cache: this.#blocks,
        fileName: name,
        shareChecks: this.#onFirstRead !== undefined,
        justWritten,
      });
      // A table just written has its blocks in memory marked already, which
      // is all a scrub would do.
      slot = { table, refs, doomed: false, read: justWritten };
    } catch (e) {
      file.close();
      throw e;
    }
    this.#slots.set(number, slot);
    this.#evict(number);
    return slot;
  }

  /** Closes least recently used tables not in use, never `keep`, down to capacity. */
  #evict(keep: number): void {
    if (this.#slots.size <= this.#capacity) return;
    for (const [number, slot] of this.#slots) {
      if (this.#slots.size <= this.#capacity) break;
      if (slot.refs === 0 && number !== keep) this.#close(number, slot);
    }
  }

  /**
   * The table, for a use that ends before the caller yields and keeps no
   * block view past the call that read it (a point lookup).
   */
  get(number: number): Table {
    const slot = this.#slot(number, 0);
    if (!slot.read) this.#firstRead(slot);
    return slot.table;
  }

  /**
   * Opens the table if it is not open, ahead of the reads that will need
   * it (its index and filter are loaded and checked now). With
   * `justWritten`, the file is one this process has just written, and its
   * data blocks still in memory need no check (the `justWritten` option of
   * {@linkcode Table.open}).
   */
  preload(number: number, options: { justWritten?: boolean } = {}): void {
    this.#slot(number, 0, options.justWritten ?? false);
  }

  #firstRead(slot: Slot): void {
    slot.read = true;
    if (slot.table.mapped) this.#onFirstRead?.(slot.table);
  }

  /**
   * The table, kept open until {@linkcode TableCache.release}; blocks read
   * from it meanwhile stay intact (the block cache is pinned), so
   * iterators may be used.
   */
  acquire(number: number): Table {
    const slot = this.#slot(number, 1);
    if (!slot.read) this.#firstRead(slot);
    this.#blocks?.pin();
    return slot.table;
  }

  /** Ends a use begun by {@linkcode TableCache.acquire}. */
  release(number: number): void {
    this.#blocks?.unpin();
    const slot = this.#slots.get(number);
    if (slot === undefined) return;
    slot.refs--;
    if (slot.refs === 0 && slot.doomed) this.#close(number, slot);
  }

  /** Forgets a deleted file: closes it now, or when its last user releases it. */
  drop(number: number): void {
    const slot = this.#slots.get(number);
    this.#blocks?.evictFile(number);
    if (slot === undefined) return;
    if (slot.refs === 0) this.#close(number, slot);
    else slot.doomed = true;
  }

  #close(number: number, slot: Slot): void {
    this.#slots.delete(number);
    slot.table.close();
  }

  /** Closes every table. */
  close(): void {
    for (const [number, slot] of this.#slots) this.#close(number, slot);
  }
}

/**
 * The tables one reader (a scan, a compaction) holds: each {@linkcode
 * TableLeases.iterator} acquires its table until {@linkcode
 * TableLeases.release}, and {@linkcode TableLeases.releaseAll} ends what is
 * still held.
 *
 * @example
 * ```ts
 * import { TableCache, TableLeases } from "./table_cache.ts";
 * import { defaultFileSystem } from "./fs.ts";
 * const leases = new TableLeases(new TableCache(defaultFileSystem(), "/tmp/db", { capacity: 100 }));
 * leases.releaseAll(); // nothing held yet
 * console.log(leases.held); // 0
 * ```
 */
export class TableLeases {
  #cache: TableCache;
  // File number → the iterator of its first acquisition not yet released.
  #held = new Map<number, TableIterator>();
  // Iterators of further acquisitions of files already in #held (rare: a
  // scan reads a file once, but a level cursor may come back to one).
  #more: TableIterator[] = [];

  /** Leases tables from `cache`. */
  constructor(cache: TableCache) {
    this.#cache = cache;
  }

  /** How many acquisitions are held. */
  get held(): number {
    return this.#held.size + this.#more.length;
  }

  /** A cursor over table `number`, which stays open until released. */
  iterator(number: number): TableIterator {
    const it = this.#cache.acquire(number).iterator();
    if (this.#held.has(number)) this.#more.push(it);
    else this.#held.set(number, it);
    return it;
  }

  /**
   * Ends one acquisition of table `number`; an iterator it handed out for
   * that table must not be used afterwards.
   */
  release(number: number): void {
    let it = this.#held.get(number);
    if (it === undefined) return;
    const table = it.table;
    const more = this.#more.length === 0 ? -1 : this.#more.findIndex((m) => m.table === table);
    if (more >= 0) {
      it = this.#more[more];
      this.#more.splice(more, 1);
    } else {
      this.#held.delete(number);
    }
    table.recycle(it);
    this.#cache.release(number);
  }

  /** Ends every acquisition still held. */
  releaseAll(): void {
    for (const [number, it] of this.#held) {
      it.table.recycle(it);
      this.#cache.release(number);
    }
    for (const it of this.#more) {
      it.table.recycle(it);
      this.#cache.release(it.table.fileNumber);
    }
    this.#held.clear();
    this.#more = [];
  }
}
