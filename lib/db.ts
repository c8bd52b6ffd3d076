/**
 * The engine: the write path (WAL, memtable, group commit), the read path
 * (memtables, then levels, each table guarded by its bloom filter),
 * recovery, and the background work that flushes memtables and compacts
 * levels.
 *
 * JavaScript runs one piece of code at a time, so the state lock of the
 * design is the event loop itself: every change of state (a memtable
 * switch, a version install) is a synchronous block that nothing can
 * interleave with. Background jobs build their output in slices and yield
 * between them, so reads and writes go on while they run; only the install
 * at their end (a synced manifest edit, then the new version) is atomic.
 *
 * @module
 */

import {
  compareBytes,
  hash32,
  prefixSuccessor,
  readU32,
  readU64,
  writeU32,
  writeU64,
} from "./coding.ts";
import {
  buildTables,
  canMove,
  type CompactionJob,
  type CompactionOptions,
  type CompactionPlan,
  deepestOverlapping,
  DEFAULT_COMPACTION_OPTIONS,
  directorySink,
  levelScores,
  levelTargets,
  maxOutputs,
  pickCompaction,
  planRange,
  runCompaction,
  type TableSink,
  VersionFilter,
  yieldToEventLoop,
} from "./compaction.ts";
import { ClosedError, CorruptionError, StrataError } from "./errors.ts";
import {
  defaultFileSystem,
  type FileLock,
  type FileSystem,
  joinPath,
  type OpenWriteOptions,
} from "./fs.ts";
import {
  type Found,
  type InternalIterator,
  type Kind,
  KIND_DELETE,
  KIND_PUT,
} from "./internal_key.ts";
import { LevelIterator } from "./level_iterator.ts";
import {
  type FileMeta,
  Manifest,
  manifestName,
  NUM_LEVELS,
  recoverManifest,
  Version,
  type VersionEdit,
} from "./manifest.ts";
import { MemTable } from "./memtable.ts";
import { type Entry, VisibleIterator } from "./merge_iterator.ts";
import { BlockCache } from "./sstable/block_cache.ts";
import type { Table } from "./sstable/table_reader.ts";
import { SlabCopier } from "./slab_copier.ts";
import { TableCache, TableLeases, tableName } from "./table_cache.ts";
import type { WorkerRequest } from "./compaction_worker.ts";
import { unrefTimer, WORKER_UNAVAILABLE, WorkerClient, type WorkerKind } from "./worker_client.ts";
import { frameRecord, LogWriter, readLog, RECORD_HEADER_SIZE, WAL_MAGIC, walName } from "./wal.ts";
import {
  batchBody,
  bindBatch,
  type Bytes,
  checkKey,
  checkKeyToCopy,
  checkValueToCopy,
  encodedOpSize,
  encodeOp,
  visitBatch,
  WriteBatch,
  type WriteOptions,
} from "./write_batch.ts";

export type { Entry } from "./merge_iterator.ts";
export { type Bytes, WriteBatch, type WriteOptions } from "./write_batch.ts";

/** Options of {@linkcode open}. */
export interface OpenOptions {
  /** Bytes of writes the active memtable holds before it is frozen and flushed (default 4 MiB). */
  memtableSize?: number;
  /** Bytes of table blocks kept in memory (default 32 MiB; 0 disables the cache). */
  blockCacheSize?: number;
  /** Make every write durable before it resolves, unless the write says otherwise (default false). */
  sync?: boolean;
  /** Create the database when the directory holds none (default true). */
  createIfMissing?: boolean;
  /** Fail when the directory already holds a database (default false). */
  errorIfExists?: boolean;
  /**
   * Open without changing any database file: the write-ahead log is
   * replayed into memory only, and writes, flushes and compactions are
   * rejected with a {@linkcode StrataError} (default false). The directory is
   * still locked, so the `LOCK` file is written.
   */
  readOnly?: boolean;
  /** Table files kept open at most, beyond those in use (default 1000). */
  maxOpenFiles?: number;
  /**
   * Read table files through read-only memory maps, as LevelDB does, where
   * the runtime can call the C library: on Bun, and on Deno with the `ffi`
   * permission (`--allow-ffi` or `-A`); elsewhere, or with false, through
   * positional reads (default true). A mapped table's data blocks are read
   * in place, with no copy and no block cache, each checked on its first
   * read while the table is open. Mapped pages are the operating system's
   * file cache, counted in the process's resident size but reclaimable. A
   * table file shrunk by another program while mapped kills the process
   * (SIGBUS) instead of failing a read.
   */
  mmapReads?: boolean;
  /** Target size of a table's data blocks before compression (default 4096). */
  blockSize?: number;
  /**
   * Entries between restart points in a table's data blocks (default 8): a
   * point read searches the restart points of its block, then reads at most
   * this many entries; a longer interval stores fewer whole keys.
   */
  blockRestartInterval?: number;
  /** Bloom filter bits per key (default 10, about 1% false positives). */
  bloomBitsPerKey?: number;
  /** Frozen memtables waiting for flush at which writes wait (default 2). */
  maxImmutableMemtables?: number;
  /**
   * Manifest size in bytes past which a new manifest, holding a snapshot of
   * the current state, replaces it (default 64 MiB).
   */
  maxManifestSize?: number;
  /** Run compactions in the background as levels fill (default true). */
  autoCompaction?: boolean;
  /**
   * Run compactions in a worker thread, so merges do not block the event
   * loop (default true; ignored with a custom `fs`, which a worker cannot
   * share).
   */
  compactionWorker?: boolean;
  /** Leveled compaction tuning. */
  compaction?: Partial<CompactionOptions>;
  /** The file system to use (default: the runtime's). */
  fs?: FileSystem;
}

/** Options of a scan. Keys are compared as bytes; strings are UTF-8 encoded. */
export interface ScanOptions {
  /** Smallest key included. */
  start?: Bytes;
  /** Keys from this one on are excluded. */
  end?: Bytes;
  /** Only keys starting with these bytes. */
  prefix?: Bytes;
  /** Largest key first. */
  reverse?: boolean;
  /** Stop after this many entries. */
  limit?: number;
}

/** Options of {@linkcode DB.compact}. */
export interface CompactOptions {
  /** Smallest key of the range (default: the first key). */
  start?: Bytes;
  /** Largest key of the range, inclusive (default: the last key). */
  end?: Bytes;
}

/** The shape of one level in {@linkcode DBStats}. */
export interface LevelStats {
  /** Level number, 0 to 6. */
  level: number;
  /** Number of table files. */
  files: number;
  /** Bytes of table files. */
  bytes: number;
  /** Bytes the level may hold before it is compacted (level 0: counted in files). */
  target: number;
  /** Compaction urgency: 1 or more means the level is due. */
  score: number;
}

/** A picture of the database's shape and work so far. */
export interface DBStats {
  /** Files and bytes per level. */
  levels: LevelStats[];
  /**
   * Memtables: the active one's bytes and entries, the frozen ones waiting
   * for flush, and the batches all of them hold but have not indexed yet
   * (the next read, or a pause in writes, indexes them).
   */
  memtables: {
    activeBytes: number;
    activeEntries: number;
    immutable: number;
    unindexedBatches: number;
  };
  /** The last sequence number used. */
  sequence: number;
  /** Bytes of table files in all levels. */
  totalTableBytes: number;
  /** Bytes of keys and values written by users (encoded in the WAL). */
  userBytesWritten: number;
  /** Bytes written to the WAL. */
  walBytesWritten: number;
  /** Bytes of tables written by flushes. */
  flushBytesWritten: number;
  /** Bytes of tables written by compactions. */
  compactionBytesWritten: number;
  /** (WAL + flush + compaction bytes) / user bytes. */
  writeAmplification: number;
  /** Flushes completed. */
  flushes: number;
  /** Compactions completed (trivial moves included). */
  compactions: number;
  /** Total milliseconds writes spent waiting for background work. */
  stallMs: number;
  /** The longest single wait of a write, in milliseconds. */
  longestStallMs: number;
  /** Live snapshots and open scans. */
  readers: number;
  /** Block cache usage and hit rate. */
  blockCache: { bytes: number; capacity: number; hits: number; misses: number };
  /**
   * Open table files, how many of them are read through memory maps, and
   * how many scrubs have finished checking the in-memory blocks of a table
   * that reads have started to use (a scrub that finds a damaged block stops
   * there and leaves it to the read that needs it to report).
   */
  tables: { open: number; mapped: number; scrubbed: number };
}

const DEFAULTS = {
  memtableSize: 4 * 1024 * 1024,
  blockCacheSize: 32 * 1024 * 1024,
  sync: false,
  createIfMissing: true,
  errorIfExists: false,
  readOnly: false,
  maxOpenFiles: 1000,
  mmapReads: true,
  blockSize: 4096,
  blockRestartInterval: 8,
  bloomBitsPerKey: 10,
  maxImmutableMemtables: 2,
  maxManifestSize: 64 * 1024 * 1024,
  autoCompaction: true,
  compactionWorker: true,
};

type Settings = typeof DEFAULTS & { compaction: CompactionOptions; fs: FileSystem };

const RESOLVED: Promise<void> = Promise.resolve();
// How long a database must be quiet before level 0 is merged down regardless.
const IDLE_COMPACTION_MS = 1000;
// How long writes must pause before the memtables index what they buffered.
const IDLE_INDEX_MS = 10;
// Writes are encoded into slabs of this size; memtables keep views into them.
const ARENA_CHUNK = 1024 * 1024;
// Unsynced log bytes after which the log starts a sync in the background,
// so the sync at a memtable switch (or a synced write) finds little left
// to write.
const WAL_BACKGROUND_SYNC_BYTES = 1024 * 1024;

function checkOptions<T extends object>(options: unknown, what: string): T {
  if (options === undefined) return {} as T;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `${what} must be an object, got ${options === null ? "null" : typeof options}`,
    );
  }
  return options as T;
}

function checkSize(value: unknown, name: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new TypeError(`${name} must be an integer ≥ ${min}, got ${String(value)}`);
  }
  return value;
}

function settingsFrom(options: OpenOptions): Settings {
  const s = { ...DEFAULTS };
  for (
    const [name, min] of [
      ["memtableSize", 1024],
      ["blockCacheSize", 0],
      ["maxOpenFiles", 16],
      ["blockSize", 256],
      ["blockRestartInterval", 1],
      ["bloomBitsPerKey", 0],
      ["maxImmutableMemtables", 1],
      ["maxManifestSize", 1024],
    ] as const
  ) {
    const v = checkSize(options[name], name, min);
    if (v !== undefined) s[name] = v;
  }
  for (
    const name of [
      "sync",
      "createIfMissing",
      "errorIfExists",
      "readOnly",
      "autoCompaction",
      "compactionWorker",
      "mmapReads",
    ] as const
  ) {
    const v = options[name];
    if (v !== undefined && typeof v !== "boolean") {
      throw new TypeError(`${name} must be a boolean, got ${typeof v}`);
    }
    if (v !== undefined) s[name] = v;
  }
  const compaction = { ...DEFAULT_COMPACTION_OPTIONS };
  const given = checkOptions<Partial<CompactionOptions>>(options.compaction, "compaction");
  for (const name of Object.keys(compaction) as (keyof CompactionOptions)[]) {
    const v = checkSize(given[name], `compaction.${name}`, 1);
    if (v !== undefined) compaction[name] = v;
  }
  if (
    !(compaction.l0CompactionTrigger <= compaction.l0SlowdownTrigger &&
      compaction.l0SlowdownTrigger <= compaction.l0StopTrigger)
  ) {
    throw new RangeError(
      "compaction triggers must satisfy l0CompactionTrigger ≤ l0SlowdownTrigger ≤ l0StopTrigger",
    );
  }
  if (compaction.levelMultiplier < 2) {
    throw new RangeError("compaction.levelMultiplier must be ≥ 2");
  }
  if (options.fs !== undefined) s.compactionWorker = false;
  return { ...s, compaction, fs: options.fs ?? defaultFileSystem() };
}

// A log is switched once it reaches the memtable size, so reserving that
// much lets nearly every append be a copy into a map.
function walOptions(settings: { memtableSize: number }): OpenWriteOptions {
  return { preallocate: settings.memtableSize };
}

interface PendingWrite {
  /** The operations in their log encoding. */
  body: Uint8Array;
  /** How many operations `body` holds. */
  count: number;
  sync: boolean;
  resolve: () => void;
  reject: (e: unknown) => void;
}

interface Frozen {
  mem: MemTable;
  walNumber: number;
}

/**
 * Opens (creating if missing) the database in `dir`. Only one handle may
 * hold a directory at a time, across processes.
 *
 * @example
 * ```ts
 * import { open } from "./db.ts";
 * const db = await open(await Deno.makeTempDir());
 * await db.put("hello", "world");
 * console.log(new TextDecoder().decode(await db.get("hello"))); // "world"
 * await db.close();
 * ```
 */
export function open(dir: string, options?: OpenOptions): Promise<DB> {
  try {
    if (typeof dir !== "string" || dir === "") {
      throw new TypeError(`dir must be a non-empty string, got ${typeof dir}`);
    }
    return DB.open(dir, settingsFrom(checkOptions(options, "options")));
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * An open database. Create it with {@linkcode open}.
 *
 * @example
 * ```ts
 * import { open } from "./db.ts";
 * await using db = await open(await Deno.makeTempDir());
 * await db.batch().put("a", "1").put("b", "2").write();
 * for await (const { key } of db.scan()) console.log(new TextDecoder().decode(key));
 * ```
 */
export class DB {
  #dir: string;
  #fs: FileSystem;
  #settings: Settings;
  #lock: FileLock;
  /** Undefined when read-only. */
  #manifest: Manifest | undefined;
  #version: Version;
  #pinned = new Map<Version, number>();
  #obsolete = new Set<number>();
  // Removals of files no longer needed, under way on another thread.
  #removals = new Set<Promise<void>>();
  #pendingOutputs = new Set<number>();
  #tables: TableCache;
  #blocks: BlockCache | undefined;
  // Values returned by point reads, carved from shared slabs like pooled Buffers.
  #values = new SlabCopier({ firstSize: 8192, maxSize: 8192 });
  // Keys and values scans return; shared, so that a short scan allocates nothing of its own.
  #scanCopier = new SlabCopier({ firstSize: 32768, maxSize: 32768 });
  // Encodings of single writes that wait in the queue (concurrent writers).
  #queuedBodies = new SlabCopier({ firstSize: 16384, maxSize: 16384 });
  #mem: MemTable;
  #frozen: Frozen[] = [];
  /** Undefined when read-only. */
  #wal: LogWriter | undefined;
  #walNumber: number;
  #arena = new Uint8Array(ARENA_CHUNK);
  #arenaPos = 0;
  #walDirty = false;
  // Unsynced log bytes appended since the last sync was started.
  #walBytesNotSyncing = 0;
  #walDirSynced = true;
  // Logs replaced at a memtable switch whose unsynced tails are being
  // synced in the background, each with the promise of its close; each
  // leaves this map once durable and closed.
  #retiringWals = new Map<LogWriter, Promise<void>>();
  #lastSeq: number;
  #nextFileNumber: number;
  #readers = new Map<number, number>();
  #newestReaderSeq = -1;
  #queue: PendingWrite[] = [];
  #drainScheduled = false;
  #writesSinceTurn = 0;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #indexTimer: ReturnType<typeof setTimeout> | undefined;
  #waiters: (() => void)[] = [];
  #closed = false;
  #closing: Promise<void> | undefined;
  #backgroundError: unknown;
  #flushing: Promise<void> | undefined;
  #compacting: Promise<void> | undefined;
  #compactionChain: Promise<void> = RESOLVED;
  // One compaction runs at a time: the holder of this slot (0: none), which
  // gives it up as soon as its result is installed. A job's promise settles
  // on a later turn, which a reader harvesting worker replies must not wait
  // for (see #harvest).
  #compactionOwner = 0;
  #compactionTokens = 0;
  #slotWaiters: (() => void)[] = [];
  #manualCompactions = 0;
  // An automatic compaction was found due and waits for a turn of the event loop.
  #compactionDue = false;
  /**
   * Worker threads, one for flushes and one for compactions, so that a flush
   * never waits behind a long merge: each started when first needed.
   */
  #workers: Partial<Record<WorkerKind, WorkerClient>> = {};
  // Set once a worker died or could not start: later jobs run here. The
  // clients are kept so that close() still stops a job under way in the other.
  #workersFailed = false;
  #scrubbedTables = 0;
  // Set once the active memtable has started the flush worker for its flush.
  #flushWorkerPrepared = false;
  #pointers = new Map<number, Uint8Array>();
  #scanRegistry = new FinalizationRegistry<() => void>((release) => release());
  #stats = {
    userBytesWritten: 0,
    walBytesWritten: 0,
    flushBytesWritten: 0,
    compactionBytesWritten: 0,
    flushes: 0,
    compactions: 0,
    stallMs: 0,
    longestStallMs: 0,
  };

  private constructor(
    dir: string,
    settings: Settings,
    lock: FileLock,
    recovered: {
      manifest: Manifest | undefined;
      version: Version;
      wal: LogWriter | undefined;
      walNumber: number;
      lastSeq: number;
      nextFileNumber: number;
      mem?: MemTable;
    },
  ) {
    this.#dir = dir;
    this.#fs = settings.fs;
    this.#settings = settings;
    this.#lock = lock;
    this.#manifest = recovered.manifest;
    this.#version = recovered.version;
    this.#wal = recovered.wal;
    this.#walNumber = recovered.walNumber;
    this.#lastSeq = recovered.lastSeq;
    this.#nextFileNumber = recovered.nextFileNumber;
    this.#mem = recovered.mem ?? this.#newMemTable();
    this.#blocks = settings.blockCacheSize > 0
      ? new BlockCache(settings.blockCacheSize)
      : undefined;
    this.#tables = new TableCache(this.#fs, dir, {
      capacity: settings.maxOpenFiles,
      blocks: this.#blocks,
      map: settings.mmapReads,
      onFirstRead: (table) => this.#scrubInBackground(table),
    });
  }

  /** Opens the database; use {@linkcode open}. @internal */
  static async open(dir: string, settings: Settings): Promise<DB> {
    const fs = settings.fs;
    if (!fs.exists(dir)) {
      if (!settings.createIfMissing || settings.readOnly) {
        throw new StrataError(`database does not exist: ${dir}`);
      }
      fs.mkdirp(dir);
    }
    const lock = fs.lock(joinPath(dir, "LOCK"));
    try {
      return await DB.#recover(dir, settings, lock);
    } catch (e) {
      lock.release();
      throw e;
    }
  }

  static async #recover(dir: string, settings: Settings, lock: FileLock): Promise<DB> {
    const fs = settings.fs;
    const names = fs.list(dir);
    let version = Version.empty();
    let logNumber = 0;
    let nextFileNumber = 1;
    let lastSeq = 0;
    if (fs.exists(joinPath(dir, "CURRENT"))) {
      if (settings.errorIfExists) throw new StrataError(`database already exists: ${dir}`);
      const state = recoverManifest(fs, dir);
      version = state.version;
      logNumber = state.logNumber;
      nextFileNumber = state.nextFileNumber;
      lastSeq = state.lastSequence;
      const present = new Set(names);
      for (const n of version.fileNumbers()) {
        if (!present.has(tableName(n))) {
          throw new CorruptionError(`live table file is missing`, {
            file: joinPath(dir, tableName(n)),
          });
        }
      }
    } else if (names.some((n) => /^(MANIFEST-\d+|\d+\.(sst|log))$/.test(n))) {
      throw new CorruptionError("directory holds database files but no CURRENT", {
        file: joinPath(dir, "CURRENT"),
      });
    } else if (!settings.createIfMissing || settings.readOnly) {
      throw new StrataError(`database does not exist: ${dir}`);
    }
    let maxNumber = 0;
    const wals: number[] = [];
    for (const name of names) {
      const m = /^(?:MANIFEST-)?(\d+)(\.log|\.sst)?$/.exec(name);
      if (m === null) continue;
      const n = Number(m[1]);
      maxNumber = Math.max(maxNumber, n);
      if (m[2] === ".log" && n >= logNumber) wals.push(n);
    }
    nextFileNumber = Math.max(nextFileNumber, maxNumber + 1);
    wals.sort((a, b) => a - b);

    // Replay the logs not yet flushed into one memtable, then write it as a
    // level-0 table so the old logs can go. A log is synced in the
    // background after the next one starts, so power loss can take its
    // tail while a newer log survives: replay stops at the first log that
    // does not begin where the one before it ended (or, before the last,
    // holds nothing, as every log but the newest held writes), and the
    // logs from there on are dropped with the other leftovers.
    const mem = new MemTable();
    let nextSeq: number | undefined;
    for (const [at, n] of wals.entries()) {
      const path = joinPath(dir, walName(n));
      const { records, offsets } = readLog(fs.readFile(path), WAL_MAGIC, path);
      const afterLostWrites = records.length === 0
        ? at < wals.length - 1
        : nextSeq !== undefined && readU64(records[0], 0) !== nextSeq;
      if (afterLostWrites) break;
      records.forEach((payload, i) => {
        // No reader exists yet, so an overwritten version is replaced in place.
        const count = visitBatch(
          payload,
          0,
          payload.length,
          { fileName: path, fileOffset: offsets[i] + RECORD_HEADER_SIZE },
          (seq, kind, keyStart, keyEnd, valueStart, valueEnd) => {
            const value = kind === KIND_PUT ? payload.subarray(valueStart, valueEnd) : EMPTY;
            mem.add(seq, kind, payload.subarray(keyStart, keyEnd), value, -1);
          },
        );
        nextSeq = readU64(payload, 0) + count;
        lastSeq = Math.max(lastSeq, nextSeq - 1);
      });
    }
    if (settings.readOnly) {
      // Serve the replayed log from memory; touch nothing on disk.
      return new DB(dir, settings, lock, {
        manifest: undefined,
        version,
        wal: undefined,
        walNumber: 0,
        lastSeq,
        nextFileNumber,
        mem,
      });
    }
    const edit: VersionEdit = {};
    if (mem.entries > 0) {
      const number = nextFileNumber++;
      // The same path as a flush: no snapshot is live yet, so only the
      // newest version of each key is kept.
      const outputs = await writeMemTable(mem, [], directorySink(fs, dir, [number], settings));
      fs.syncDir(dir);
      edit.added = outputs!.map((file) => ({ level: 0, file }));
      version = version.apply(edit);
    }
    const manifestNumber = nextFileNumber++;
    const walNumber = nextFileNumber++;
    const wal = LogWriter.create(
      fs.openWrite(joinPath(dir, walName(walNumber)), walOptions(settings)),
      WAL_MAGIC,
    );
    wal.sync();
    const manifest = Manifest.create(fs, dir, manifestNumber, {
      version,
      logNumber: walNumber,
      nextFileNumber,
      lastSequence: lastSeq,
    });
    // Everything the new manifest does not name is left over from before.
    const live = version.fileNumbers();
    for (const name of names) {
      const m = /^(?:MANIFEST-)?(\d+)(\.log|\.sst)?$/.exec(name);
      const stale = name.endsWith(".tmp") ||
        (m !== null && (m[2] === ".sst" ? !live.has(Number(m[1])) : Number(m[1]) !== walNumber &&
          Number(m[1]) !== manifestNumber));
      if (stale) fs.remove(joinPath(dir, name));
    }
    const db = new DB(dir, settings, lock, {
      manifest,
      version,
      wal,
      walNumber,
      lastSeq,
      nextFileNumber,
    });
    db.#scheduleBackgroundWork();
    return db;
  }

  // ---------------------------------------------------------------- writes

  /**
   * Stores `value` under `key`.
   *
   * @example
   * ```ts
   * import { open } from "./db.ts";
   * await using db = await open(await Deno.makeTempDir());
   * await db.put("k", "v", { sync: true });
   * ```
   */
  put(key: Bytes, value: Bytes, options?: WriteOptions): Promise<void> {
    try {
      // Options first: a string key or value is encoded into a shared
      // buffer, which nothing the caller's code does may overwrite before
      // the write copies it.
      const sync = this.#syncOf(options);
      return this.#writeOne(KIND_PUT, checkKeyToCopy(key), checkValueToCopy(value), sync);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Removes `key` (a missing key is not an error).
   *
   * @example
   * ```ts
   * import { open } from "./db.ts";
   * await using db = await open(await Deno.makeTempDir());
   * await db.delete("k");
   * ```
   */
  delete(key: Bytes, options?: WriteOptions): Promise<void> {
    try {
      const sync = this.#syncOf(options);
      return this.#writeOne(KIND_DELETE, checkKeyToCopy(key), EMPTY, sync);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** One put or delete: applied within the call when it can be, else queued. */
  #writeOne(kind: Kind, key: Uint8Array, value: Uint8Array, sync: boolean): Promise<void> {
    if (this.#canApplyNow(sync)) {
      this.#applyOne(kind, key, value);
      return this.#acknowledge();
    }
    // Queued writes outlive the call: encode (copy) what the caller may change.
    const body = this.#queuedBodies.take(
      encodedOpSize(key, kind === KIND_PUT ? value : undefined),
    );
    encodeOp(body, 0, kind, key, value);
    return this.#enqueue(body, 1, sync);
  }

  /**
   * A new batch bound to this database: chain `put` and `delete`, then
   * `write()` applies them atomically.
   *
   * @example
   * ```ts
   * import { open } from "./db.ts";
   * await using db = await open(await Deno.makeTempDir());
   * await db.batch().put("a", "1").delete("b").write({ sync: true });
   * ```
   */
  batch(): WriteBatch {
    this.#checkWritable();
    return bindBatch(new WriteBatch(), (b, o) => this.write(b, o));
  }

  /**
   * Applies a batch atomically: after any crash, all of it or none of it
   * is visible.
   *
   * @example
   * ```ts
   * import { open, WriteBatch } from "./db.ts";
   * await using db = await open(await Deno.makeTempDir());
   * await db.write(new WriteBatch().put("a", "1"));
   * ```
   */
  write(batch: WriteBatch, options?: WriteOptions): Promise<void> {
    try {
      if (!(batch instanceof WriteBatch)) {
        throw new TypeError("batch must be a WriteBatch");
      }
      if (batch.length === 0) {
        this.#checkWritable();
        checkOptions<WriteOptions>(options, "options");
        return RESOLVED;
      }
      const sync = this.#syncOf(options);
      if (this.#canApplyNow(sync)) {
        const body = batchBody(batch);
        this.#apply([{ body, count: batch.length, sync, resolve: noop, reject: noop }]);
        return this.#acknowledge();
      }
      return this.#enqueue(batchBody(batch).slice(), batch.length, sync);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Checks that the database is open for writes and returns whether a write is synced. */
  #syncOf(options: WriteOptions | undefined): boolean {
    this.#checkWritable();
    if (options === undefined) return this.#settings.sync;
    const sync = checkOptions<WriteOptions>(options, "options").sync ?? this.#settings.sync;
    if (typeof sync !== "boolean") {
      throw new TypeError(`sync must be a boolean, got ${typeof sync}`);
    }
    return sync;
  }

  /**
   * True when a write may be applied within the call: unsynced, nothing
   * queued before it, room in memory, and no failure pending.
   */
  #canApplyNow(sync: boolean): boolean {
    if (this.#backgroundError !== undefined) throw this.#backgroundError;
    // A loop of writes may not give the event loop a turn for a long time:
    // take finished flushes and compactions now, so a full memtable does
    // not wait for a flush that is already done.
    this.#harvest();
    return !sync && this.#queue.length === 0 && this.#hasRoom();
  }

  /** True once level 0 is deep enough that each write should give way to background work. */
  #slowingDown(): boolean {
    return this.#level0At(this.#settings.compaction.l0SlowdownTrigger);
  }

  /**
   * The promise for a write applied within the call. A loop of awaited
   * writes only ever runs microtasks, which would starve background work of
   * the event loop turns it needs to finish (worker replies are tasks); so
   * while such work is under way, every 256th write resolves on a later
   * turn.
   */
  #acknowledge(): Promise<void> {
    if (this.#slowingDown()) return yieldToEventLoop();
    if (this.#flushing === undefined && this.#compacting === undefined) return RESOLVED;
    if (++this.#writesSinceTurn < 256) return RESOLVED;
    this.#writesSinceTurn = 0;
    return yieldToEventLoop();
  }

  #enqueue(body: Uint8Array, count: number, sync: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ body, count, sync, resolve, reject });
      if (!this.#drainScheduled) {
        this.#drainScheduled = true;
        // Drain after the current tick, so that writers issued together
        // share one WAL write and one fdatasync (group commit).
        queueMicrotask(() => this.#drain());
      }
    });
  }

  #hasRoom(): boolean {
    return this.#frozen.length < this.#settings.maxImmutableMemtables &&
      !this.#level0At(this.#settings.compaction.l0StopTrigger);
  }

  /** True when level 0 holds `files` or more and compaction would reduce it. */
  #level0At(files: number): boolean {
    return this.#settings.autoCompaction && this.#version.levels[0].length >= files;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        if (this.#backgroundError !== undefined) throw this.#backgroundError;
        if (!this.#hasRoom()) {
          await this.#stall(() => this.#hasRoom());
          continue;
        }
        if (this.#slowingDown()) {
          // Give background compaction a turn of the event loop per group.
          await yieldToEventLoop();
        }
        const group = this.#queue.splice(0);
        try {
          this.#apply(group);
        } catch (e) {
          for (const w of group) w.reject(e);
          continue;
        }
        for (const w of group) w.resolve();
      }
    } catch (e) {
      for (const w of this.#queue.splice(0)) w.reject(e);
    } finally {
      this.#drainScheduled = false;
    }
  }

  async #stall(ready: () => boolean): Promise<void> {
    const started = performance.now();
    while (!ready() && this.#backgroundError === undefined && !this.#closed) {
      this.#scheduleBackgroundWork();
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    const waited = performance.now() - started;
    this.#stats.stallMs += waited;
    if (waited > this.#stats.longestStallMs) this.#stats.longestStallMs = waited;
    if (this.#closed) throw new ClosedError(`database is closed: ${this.#dir}`);
  }

  #wake(): void {
    const waiters = this.#waiters.splice(0);
    for (const w of waiters) w();
  }

  /**
   * Writes a group to the WAL (one write, one sync at most), then to the
   * memtable. Records are encoded into the arena, and the memtable keeps
   * views of their keys and values: one copy of each byte.
   */
  #apply(group: PendingWrite[]): void {
    this.#switchMemtableIfFull();
    let total = 0;
    let sync = false;
    for (const w of group) {
      total += RECORD_HEADER_SIZE + 12 + w.body.length;
      sync ||= w.sync;
    }
    const start = this.#reserve(total);
    const arena = this.#arena;
    let pos = start;
    let seq = this.#lastSeq + 1;
    for (const w of group) {
      const payload = pos + RECORD_HEADER_SIZE;
      writeU64(arena, payload, seq);
      writeU32(arena, payload + 8, w.count);
      arena.set(w.body, payload + 12);
      frameRecord(arena, pos, 12 + w.body.length);
      pos = payload + 12 + w.body.length;
      seq += w.count;
    }
    this.#log(start, total, sync, group.length);
    const mem = this.#mem;
    for (let at = start; at < pos;) {
      const payload = at + RECORD_HEADER_SIZE;
      const end = payload + readU32(arena, at + 4);
      mem.addBatch(arena, payload, end);
      at = end;
    }
    this.#lastSeq = seq - 1;
    this.#armIdleIndexing();
  }

  /**
   * {@linkcode DB.#apply} for one unsynced put or delete, with no objects in
   * between.
   */
  #applyOne(kind: Kind, key: Uint8Array, value: Uint8Array): void {
    this.#switchMemtableIfFull();
    const size = 12 + encodedOpSize(key, kind === KIND_PUT ? value : undefined);
    const total = RECORD_HEADER_SIZE + size;
    const start = this.#reserve(total);
    const arena = this.#arena;
    const pos = start + RECORD_HEADER_SIZE;
    const seq = this.#lastSeq + 1;
    writeU64(arena, pos, seq);
    writeU32(arena, pos + 8, 1);
    const end = encodeOp(arena, pos + 12, kind, key, value);
    frameRecord(arena, start, size);
    this.#log(start, total, false, 1);
    this.#mem.addBatch(arena, pos, end);
    this.#lastSeq = seq;
    this.#armIdleIndexing();
  }

  /** Room for `size` bytes of records in `this.#arena`: returns the offset. */
  #reserve(size: number): number {
    if (this.#arenaPos + size > this.#arena.length) {
      this.#arena = new Uint8Array(Math.max(ARENA_CHUNK, size));
      this.#arenaPos = 0;
    }
    const at = this.#arenaPos;
    this.#arenaPos += size;
    return at;
  }

  /** Logs the `records` framed in `this.#arena[start, start + total)`. */
  #log(start: number, total: number, sync: boolean, records: number): void {
    const arena = this.#arena;
    try {
      this.#wal!.appendFramed(arena.subarray(start, start + total));
      if (sync) {
        this.#syncWal();
      } else {
        this.#walDirty = true;
        this.#walBytesNotSyncing += total;
        if (this.#walBytesNotSyncing >= WAL_BACKGROUND_SYNC_BYTES) {
          this.#walBytesNotSyncing = 0;
          this.#wal!.syncInBackground();
        }
      }
    } catch (e) {
      // The log may now end in a partial record; accepting more writes
      // after it would bury it mid-file.
      this.#backgroundError = new StrataError(`write-ahead log failed; reopen the database`, {
        cause: e,
      });
      throw this.#backgroundError;
    }
    this.#stats.userBytesWritten += total - RECORD_HEADER_SIZE * records;
    this.#stats.walBytesWritten += total;
  }

  /**
   * Freezes a full memtable before the next write is logged, so that a
   * failure to start the new log rejects that write before it happens.
   */
  #switchMemtableIfFull(): void {
    // The arena holds every byte logged since the memtable began (its log's
    // size), replaced versions included: count those too, so memory stays bounded.
    const limit = this.#settings.memtableSize;
    const size = this.#mem.approximateSize;
    if (size < limit && this.#wal!.size < limit) {
      // A worker takes a while to load: start it once a flush is in sight,
      // so the flush does not wait for it.
      if (!this.#flushWorkerPrepared && size >= limit / 4) {
        this.#flushWorkerPrepared = true;
        this.#worker("flush")?.prepare();
      }
      return;
    }
    try {
      this.#freeze();
    } catch (e) {
      throw new StrataError(`cannot start a new write-ahead log in ${this.#dir}`, { cause: e });
    }
  }

  /** Makes the WAL durable, including its directory entry when new. */
  #syncWal(): void {
    // Recovery replays the logs only up to the first one that lost its
    // tail, so the older logs must be durable before the newest is.
    for (const wal of this.#retiringWals.keys()) wal.sync();
    this.#wal!.sync();
    if (!this.#walDirSynced) {
      this.#fs.syncDir(this.#dir);
      this.#walDirSynced = true;
    }
    this.#walDirty = false;
    this.#walBytesNotSyncing = 0;
  }

  #newMemTable(): MemTable {
    return new MemTable({
      newestReaderSeq: () => this.#newestReaderSeq,
    });
  }

  /** Freezes the active memtable and starts a new WAL for its successor. */
  #freeze(): void {
    if (this.#mem.isEmpty) return;
    const number = this.#nextFileNumber++;
    const wal = LogWriter.create(
      this.#fs.openWrite(joinPath(this.#dir, walName(number)), walOptions(this.#settings)),
      WAL_MAGIC,
    );
    // The old log's tail becomes durable in the background: until it is,
    // a synced write to the new log first syncs it (see #syncWal), and
    // recovery stops at a log that lost its tail, so a newer log never
    // adds writes past a hole. The new log's directory entry is synced with
    // its first synced write.
    if (this.#walDirty) this.#retireWal(this.#wal!);
    else this.#wal!.close();
    this.#frozen.push({ mem: this.#mem, walNumber: this.#walNumber });
    this.#mem = this.#newMemTable();
    this.#flushWorkerPrepared = false;
    this.#wal = wal;
    this.#walNumber = number;
    this.#walDirSynced = false;
    this.#scheduleBackgroundWork();
  }

  /** Closes a replaced log once its unsynced tail is durable, without waiting. */
  #retireWal(wal: LogWriter): void {
    const closed = wal.closeWhenSynced()
      .catch((e) => {
        this.#backgroundError ??= new StrataError(
          `write-ahead log sync failed; reopen the database`,
          { cause: e },
        );
      })
      .finally(() => this.#retiringWals.delete(wal));
    this.#retiringWals.set(wal, closed);
  }

  // ----------------------------------------------------------------- reads

  /**
   * The value stored under `key`, or undefined. The value is a copy that
   * stays valid while held; like Node's pooled Buffers, small values are
   * views into a shared 8 KiB buffer (`value.buffer` holds more than the
   * value: use `value.slice()` for a buffer of its own).
   *
   * @example
   * ```ts
   * import { open } from "./db.ts";
   * await using db = await open(await Deno.makeTempDir());
   * await db.put("k", "v");
   * console.log(await db.get("k")); // Uint8Array [118]
   * ```
   */
  get(key: Bytes): Promise<Uint8Array | undefined> {
    try {
      return Promise.resolve(this.getSync(key));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * {@linkcode DB.get}, synchronously: reads never wait on I/O queues.
   *
   * @example
   * ```ts
   * import { open } from "./db.ts";
   * await using db = await open(await Deno.makeTempDir());
   * console.log(db.getSync("missing")); // undefined
   * ```
   */
  getSync(key: Bytes): Uint8Array | undefined {
    this.#checkOpen();
    return this.#getAt(checkKeyToCopy(key), this.#lastSeq);
  }

  #getAt(key: Uint8Array, readSeq: number): Uint8Array | undefined {
    this.#harvest();
    const found = this.#find(key, readSeq);
    return found !== undefined && found.kind === KIND_PUT
      ? this.#values.copy(found.value)
      : undefined;
  }

  #find(key: Uint8Array, readSeq: number): Found | undefined {
    const hash = hash32(key);
    let found = this.#mem.get(key, readSeq, hash);
    if (found !== undefined) return found;
    for (let i = this.#frozen.length - 1; i >= 0; i--) {
      found = this.#frozen[i].mem.get(key, readSeq, hash);
      if (found !== undefined) return found;
    }
    const version = this.#version;
    for (const f of version.levels[0]) {
      if (compareBytes(key, f.smallest) < 0 || compareBytes(key, f.largest) > 0) continue;
      found = this.#tables.get(f.number).get(key, readSeq, hash);
      if (found !== undefined) return found;
    }
    for (let l = 1; l < NUM_LEVELS; l++) {
      const file = version.fileFor(l, key);
      if (file === undefined) continue;
      found = this.#tables.get(file.number).get(key, readSeq, hash);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /**
   * The entries of a key range, in key order (or reverse), as of the
   * moment of the call. Iterate it with `for await` or plain `for`.
   *
   * @example
   * ```ts
   * import { open } from "./db.ts";
   * await using db = await open(await Deno.makeTempDir());
   * await db.put("user:1", "ada");
   * for await (const { key, value } of db.scan({ prefix: "user:" })) {
   *   console.log(new TextDecoder().decode(key), new TextDecoder().decode(value));
   * }
   * ```
   */
  scan(options?: ScanOptions): Scan {
    this.#checkOpen();
    return this.#scanAt(options, this.#lastSeq);
  }

  #scanAt(options: ScanOptions | undefined, readSeq: number): Scan {
    this.#harvest();
    const o = checkOptions<ScanOptions>(options, "scan options");
    let start = o.start === undefined ? undefined : checkKey(o.start);
    let end = o.end === undefined ? undefined : checkKey(o.end);
    const prefix = o.prefix === undefined ? undefined : checkKey(o.prefix);
    if (o.reverse !== undefined && typeof o.reverse !== "boolean") {
      throw new TypeError(`reverse must be a boolean, got ${typeof o.reverse}`);
    }
    const limit = o.limit ?? Infinity;
    if (
      typeof limit !== "number" || !(limit >= 0) || (limit !== Infinity && !Number.isInteger(limit))
    ) {
      throw new TypeError(`limit must be a non-negative integer, got ${String(o.limit)}`);
    }
    // [prefix, successor of prefix) holds exactly the keys that start with
    // the prefix (with no successor, every key from the prefix on does).
    if (prefix !== undefined) {
      if (start === undefined || compareBytes(start, prefix) < 0) start = prefix;
      const after = prefixSuccessor(prefix);
      if (after !== undefined && (end === undefined || compareBytes(after, end) < 0)) end = after;
    }
    const version = this.#version;
    this.#pin(version);
    this.#addReader(readSeq);
    const leases = new TableLeases(this.#tables);
    const openTable = (f: FileMeta): InternalIterator => leases.iterator(f.number);
    const levelOptions = { release: (f: FileMeta) => leases.release(f.number) };
    let released = false;
    // A scan dropped unfinished is released when collected; one closed
    // normally unregisters, so nothing it held stays reachable.
    const token = {};
    const release = () => {
      if (released) return;
      released = true;
      this.#scanRegistry.unregister(token);
      leases.releaseAll();
      this.#removeReader(readSeq);
      this.#unpin(version);
    };
    const sources: InternalIterator[] = [this.#mem.iterator()];
    try {
      for (let i = this.#frozen.length - 1; i >= 0; i--) {
        sources.push(this.#frozen[i].mem.iterator());
      }
      for (const f of version.levels[0]) {
        if (overlapsRange(f, start, end)) sources.push(openTable(f));
      }
      for (let l = 1; l < NUM_LEVELS; l++) {
        const files = version.filesIn(l, start, end);
        if (files.length > 0) sources.push(new LevelIterator(files, openTable, levelOptions));
      }
    } catch (e) {
      // A table that fails to open must not leave the others held.
      release();
      throw e;
    }
    const scan = new Scan(
      new VisibleIterator(sources, readSeq, {
        start,
        end,
        reverse: o.reverse ?? false,
        copier: this.#scanCopier,
      }),
      limit,
      release,
      () => this.#checkOpen(),
    );
    this.#scanRegistry.register(scan, release, token);
    return scan;
  }

  /**
   * A point-in-time view: reads through it see the database as it was
   * when the snapshot was taken. Release it when done (or use `using`).
   *
   * @example
   * ```ts
   * import { open } from "./db.ts";
   * await using db = await open(await Deno.makeTempDir());
   * await db.put("k", "old");
   * using snap = db.snapshot();
   * await db.put("k", "new");
   * console.log(new TextDecoder().decode(await snap.get("k"))); // "old"
   * ```
   */
  snapshot(): Snapshot {
    this.#checkOpen();
    const seq = this.#lastSeq;
    this.#addReader(seq);
    return new Snapshot(seq, {
      get: (key: Bytes) => {
        this.#checkOpen();
        return this.#getAt(checkKeyToCopy(key), seq);
      },
      scan: (options?: ScanOptions) => {
        this.#checkOpen();
        return this.#scanAt(options, seq);
      },
      release: () => this.#removeReader(seq),
    });
  }

  #addReader(seq: number): void {
    this.#readers.set(seq, (this.#readers.get(seq) ?? 0) + 1);
    if (seq > this.#newestReaderSeq) this.#newestReaderSeq = seq;
  }

  #removeReader(seq: number): void {
    const n = this.#readers.get(seq) ?? 0;
    if (n <= 1) {
      this.#readers.delete(seq);
      if (seq === this.#newestReaderSeq) {
        this.#newestReaderSeq = -1;
        for (const s of this.#readers.keys()) {
          if (s > this.#newestReaderSeq) this.#newestReaderSeq = s;
        }
      }
    } else {
      this.#readers.set(seq, n - 1);
    }
  }

  #snapshotSeqs(): number[] {
    return [...this.#readers.keys()].sort((a, b) => a - b);
  }

  #pin(version: Version): void {
    this.#pinned.set(version, (this.#pinned.get(version) ?? 0) + 1);
  }

  #unpin(version: Version): void {
    const n = this.#pinned.get(version)! - 1;
    if (n > 0) {
      this.#pinned.set(version, n);
      return;
    }
    this.#pinned.delete(version);
    // Obsolete files are those the current version dropped: letting go of
    // the current version frees none of them, and scans do so constantly.
    if (version !== this.#version) this.#deleteObsoleteFiles();
  }

  // ------------------------------------------------------ background work

  // Installs flushes and compactions the workers finished while this thread
  // was busy: a caller reading in a long synchronous loop (or awaiting only
  // settled promises) gives the event loop no turn to deliver their replies,
  // and would otherwise read from every level-0 file until it stops.
  #harvest(): void {
    const workers = this.#workers;
    let due = this.#compactionDue;
    if (workers.flush?.poll()) due = true;
    if (workers.compact?.poll()) due = true;
    if (due) this.#compactNow();
  }

  // Hands the next automatic compaction to the worker at once, when no
  // compaction is in progress or queued: after a harvest, the next one need
  // not wait for a turn of the event loop either.
  #compactNow(): void {
    this.#compactionDue = false;
    // A compaction that only moves a file finishes at once; the next may
    // follow, a bounded number per call (the next harvest goes on).
    for (let moves = 0; moves < 64; moves++) {
      if (
        this.#compactionOwner !== 0 || this.#slotWaiters.length > 0 ||
        this.#manualCompactions > 0 || this.#closed || this.#backgroundError !== undefined ||
        !this.#settings.autoCompaction || this.#settings.readOnly || !this.#usesWorkers()
      ) return;
      const plan = pickCompaction(this.#version, this.#settings.compaction, this.#pointers);
      if (plan === undefined) return;
      const token = ++this.#compactionTokens;
      this.#compactionOwner = token;
      const job = this.#compact(plan, token)
        .catch((e) => this.#recordBackgroundError(e))
        .finally(() => {
          this.#releaseCompactionSlot(token);
          this.#wake();
        });
      // Later compactions queue behind this one.
      const chain = this.#compactionChain;
      this.#compactionChain = chain.then(() => job);
      this.#setCompacting(job);
    }
    this.#compactionDue = true;
  }

  #scheduleBackgroundWork(): void {
    if (this.#closed || this.#backgroundError !== undefined || this.#settings.readOnly) return;
    if (this.#flushing === undefined && this.#frozen.length > 0) {
      this.#flushing = this.#runJob(() => this.#flushFrozen()).finally(() => {
        this.#flushing = undefined;
        this.#scheduleBackgroundWork();
      });
    }
    if (this.#compacting !== undefined || !this.#settings.autoCompaction) return;
    if (pickCompaction(this.#version, this.#settings.compaction, this.#pointers) !== undefined) {
      this.#startCompaction(() =>
        pickCompaction(this.#version, this.#settings.compaction, this.#pointers)
      );
    } else if (this.#flushing === undefined && this.#version.levels[0].length > 0) {
      this.#armIdleCompaction();
    }
  }

  #startCompaction(plan: () => CompactionPlan | undefined): void {
    this.#compactionDue = true;
    this.#setCompacting(
      this.#runJob(() => this.#serialCompaction(() => this.#withCompactionSlot(plan))),
    );
  }

  // Makes `job` the automatic compaction under way; once it ends, the next
  // is scheduled (unless a later one has taken its place meanwhile).
  #setCompacting(job: Promise<void>): void {
    const task: Promise<void> = job.finally(() => {
      if (this.#compacting !== task) return;
      this.#compacting = undefined;
      this.#scheduleBackgroundWork();
    });
    this.#compacting = task;
  }

  /**
   * Memtables index the writes they buffer when next read; once writes
   * pause, they do it at once, so that the read after a burst of writes
   * does not wait for all of them.
   */
  #armIdleIndexing(): void {
    if (this.#indexTimer !== undefined) return;
    const seq = this.#lastSeq;
    this.#indexTimer = setTimeout(() => {
      this.#indexTimer = undefined;
      if (this.#closed) return;
      // Writes waiting for room (a stall) are no pause: the memtables are
      // about to be flushed, and indexing them would only hold more memory.
      if (this.#lastSeq !== seq || this.#queue.length > 0) {
        this.#armIdleIndexing();
        return;
      }
      this.#mem.index();
      for (const f of this.#frozen) f.mem.index();
    }, IDLE_INDEX_MS);
    unrefTimer(this.#indexTimer);
  }

  /**
   * Under load, level 0 is compacted only once it holds several files; a
   * database that has gone quiet merges the rest down too, so that at rest
   * it holds no overlapping files and little space is spent on old versions.
   */
  #armIdleCompaction(): void {
    if (this.#idleTimer !== undefined) return;
    const seq = this.#lastSeq;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      if (
        this.#closed || this.#lastSeq !== seq || this.#compacting !== undefined ||
        this.#flushing !== undefined || this.#version.levels[0].length === 0
      ) {
        if (!this.#closed && this.#lastSeq !== seq) this.#scheduleBackgroundWork();
        return;
      }
      this.#startCompaction(() => planRange(this.#version, 0));
    }, IDLE_COMPACTION_MS);
    unrefTimer(this.#idleTimer);
  }

  async #runJob(job: () => Promise<void>): Promise<void> {
    // Start after the caller's synchronous work: a job for a worker only
    // posts it a message, so on the next microtask (a loop of writes that
    // resolve at once may not give the event loop a turn for a long while);
    // a job run here on a later turn.
    await (this.#usesWorkers() ? RESOLVED : yieldToEventLoop());
    try {
      if (!this.#closed) await job();
    } catch (e) {
      this.#recordBackgroundError(e);
    } finally {
      this.#wake();
    }
  }

  #recordBackgroundError(e: unknown): void {
    if (this.#closed) return;
    this.#backgroundError = e instanceof StrataError
      ? e
      : new StrataError(`background work failed: ${(e as Error)?.message ?? e}`, { cause: e });
  }

  // Takes the compaction slot (waiting for it), then runs the plan made
  // at that moment, if any.
  async #withCompactionSlot(plan: () => CompactionPlan | undefined): Promise<void> {
    const token = ++this.#compactionTokens;
    if (this.#compactionOwner === 0) this.#compactionOwner = token;
    else {
      await new Promise<void>((resolve) =>
        this.#slotWaiters.push(() => {
          this.#compactionOwner = token;
          resolve();
        })
      );
    }
    try {
      if (this.#closed) return;
      const p = plan();
      if (p !== undefined) await this.#compact(p, token);
    } finally {
      this.#releaseCompactionSlot(token);
    }
  }

  #releaseCompactionSlot(token: number): void {
    if (this.#compactionOwner !== token) return;
    const next = this.#slotWaiters.shift();
    if (next !== undefined) next();
    else this.#compactionOwner = 0;
  }

  /** Runs compactions one at a time, manual and automatic alike. */
  #serialCompaction(job: () => Promise<void>): Promise<void> {
    const run = this.#compactionChain.then(job);
    this.#compactionChain = run.catch(() => {});
    return run;
  }

  async #flushFrozen(): Promise<void> {
    while (this.#frozen.length > 0 && !this.#closed) {
      const { mem, walNumber } = this.#frozen[0];
      const numbers = this.#reserveNumbers(1);
      let flushed: boolean | undefined;
      // Runs once, as soon as the outputs are known (see #harvest).
      const finish = (outputs: FileMeta[] | undefined): void => {
        if (flushed !== undefined) return;
        flushed = outputs !== undefined && !this.#closed;
        if (!flushed) {
          this.#fs.remove(joinPath(this.#dir, tableName(numbers[0])));
          return;
        }
        const edit: VersionEdit = {
          added: outputs!.map((file) => ({ level: 0, file })),
          logNumber: this.#frozen.length > 1 ? this.#frozen[1].walNumber : this.#walNumber,
        };
        this.#install(edit);
        const done = this.#frozen.shift()!;
        this.#removeInBackground(joinPath(this.#dir, walName(done.walNumber)));
        this.#stats.flushes++;
        for (const f of outputs!) this.#stats.flushBytesWritten += f.size;
      };
      try {
        finish(await this.#runFlushJob(mem, walNumber, numbers, finish));
        if (!flushed) return;
      } finally {
        this.#pendingOutputs.delete(numbers[0]);
      }
      this.#wake();
      this.#scheduleBackgroundWork();
    }
  }

  /** Writes a manifest edit (synced), then makes it the current version. */
  #install(edit: VersionEdit): void {
    edit.nextFileNumber = this.#nextFileNumber;
    edit.lastSequence = this.#lastSeq;
    // A file both deleted and added only moves down a level: its entry in
    // the directory is durable already, and it stays live.
    const deleted = new Set(edit.deleted?.map((d) => d.number));
    if (edit.added?.some((a) => !deleted.has(a.file.number))) this.#fs.syncDir(this.#dir);
    this.#manifest!.append(edit);
    this.#version = this.#version.apply(edit);
    for (const a of edit.added ?? []) {
      if (deleted.delete(a.file.number)) continue;
      // Open each new table now, while its pages are fresh in the file
      // cache, so that the first reads of it after a flush or compaction
      // do not wait for its index and filter to load. A table that fails
      // to open is reported by the reads that need it.
      try {
        this.#tables.preload(a.file.number, { justWritten: true });
      } catch {
        // Left to the reads.
      }
    }
    for (const n of deleted) this.#obsolete.add(n);
    this.#deleteObsoleteFiles();
    if (this.#manifest!.size > this.#settings.maxManifestSize) {
      this.#rollManifest(edit.logNumber ?? this.#oldestLiveLog());
    }
  }

  /** The oldest log whose writes are not yet in tables. */
  #oldestLiveLog(): number {
    return this.#frozen.length > 0 ? this.#frozen[0].walNumber : this.#walNumber;
  }

  /**
   * Starts a new manifest holding a snapshot of the current state, so a
   * long-running process does not grow one without bound.
   */
  #rollManifest(logNumber: number): void {
    const old = this.#manifest!;
    const number = this.#nextFileNumber++;
    this.#manifest = Manifest.create(this.#fs, this.#dir, number, {
      version: this.#version,
      logNumber,
      nextFileNumber: this.#nextFileNumber,
      lastSequence: this.#lastSeq,
    });
    old.close();
    this.#fs.remove(joinPath(this.#dir, manifestName(old.number)));
  }

  #deleteObsoleteFiles(): void {
    if (this.#obsolete.size === 0) return;
    const live = this.#version.fileNumbers();
    for (const v of this.#pinned.keys()) for (const n of v.fileNumbers()) live.add(n);
    for (const n of this.#obsolete) {
      if (live.has(n) || this.#pendingOutputs.has(n)) continue;
      this.#obsolete.delete(n);
      this.#tables.drop(n);
      this.#removeInBackground(joinPath(this.#dir, tableName(n)));
    }
  }

  // Unlinking a file of megabytes takes milliseconds, spent freeing its
  // cached pages and blocks: that is not the writer's business. A file the
  // removal fails to reach is left over, and the next open removes it.
  #removeInBackground(path: string): void {
    const removal = this.#fs.removeInBackground?.(path);
    if (removal === undefined) {
      this.#fs.remove(path);
      return;
    }
    const forget = () => void this.#removals.delete(tracked);
    const tracked: Promise<void> = removal.catch(noop).finally(forget);
    this.#removals.add(tracked);
  }

  // Runs `plan` holding the compaction slot `token`, which it gives up as
  // soon as the result is installed.
  async #compact(plan: CompactionPlan, token: number): Promise<void> {
    const { level, inputs, overlaps, grandparents } = plan;
    const out = level + 1;
    const targetFileSize = this.#settings.compaction.targetFileSize;
    const deleted = [
      ...inputs.map((f) => ({ level, number: f.number })),
      ...overlaps.map((f) => ({ level: out, number: f.number })),
    ];
    let largest = inputs[0].largest;
    for (const f of inputs) if (compareBytes(f.largest, largest) > 0) largest = f.largest;
    if (canMove(plan, targetFileSize)) {
      this.#install({ deleted, added: inputs.map((file) => ({ level: out, file })) });
      this.#pointers.set(level, largest);
      this.#stats.compactions++;
      this.#releaseCompactionSlot(token);
      return;
    }
    const version = this.#version;
    this.#pin(version);
    const numbers = this.#reserveNumbers(maxOutputs(plan, targetFileSize));
    const job: CompactionJob = {
      level,
      inputs,
      overlaps,
      grandparents,
      levels: version.levels.map((files) => [...files]),
      snapshots: this.#snapshotSeqs(),
      targetFileSize,
    };
    let settled = false;
    // Runs once, as soon as the outputs are known (see #harvest).
    const finish = (outputs: FileMeta[] | undefined): void => {
      if (settled) return;
      settled = true;
      if (outputs === undefined || this.#closed) {
        // Abandoned: a stopped worker may have left partial outputs.
        for (const n of numbers) this.#fs.remove(joinPath(this.#dir, tableName(n)));
        return;
      }
      this.#install({ deleted, added: outputs.map((file) => ({ level: out, file })) });
      this.#pointers.set(level, largest);
      this.#stats.compactions++;
      for (const f of outputs) this.#stats.compactionBytesWritten += f.size;
      this.#releaseCompactionSlot(token);
    };
    try {
      finish(await this.#runCompactionJob(job, numbers, finish));
    } finally {
      for (const n of numbers) this.#pendingOutputs.delete(n);
      this.#unpin(version);
    }
  }

  /** Hands out `count` file numbers, protected from deletion until released. */
  #reserveNumbers(count: number): number[] {
    const numbers: number[] = [];
    for (let i = 0; i < count; i++) {
      const n = this.#nextFileNumber++;
      numbers.push(n);
      this.#pendingOutputs.add(n);
    }
    return numbers;
  }

  /** A sink writing tables into the database directory, yielding between slices. */
  #sink(numbers: number[]): TableSink {
    return directorySink(this.#fs, this.#dir, numbers, {
      blockSize: this.#settings.blockSize,
      blockRestartInterval: this.#settings.blockRestartInterval,
      bloomBitsPerKey: this.#settings.bloomBitsPerKey,
      pause: async () => {
        await yieldToEventLoop();
        return !this.#closed;
      },
    });
  }

  /**
   * Runs a compaction job in the worker when one is available, else on
   * this thread.
   */
  async #runCompactionJob(
    job: CompactionJob,
    numbers: number[],
    settle: (outputs: FileMeta[] | undefined) => void,
  ): Promise<FileMeta[] | undefined> {
    const outputs = await this.#inWorker("compact", { job, numbers }, settle);
    return outputs !== WORKER_UNAVAILABLE ? outputs : await this.#runHere(job, numbers);
  }

  /** Hands a job to a worker; WORKER_UNAVAILABLE when none can run it. */
  async #inWorker(
    kind: WorkerKind,
    request: Pick<WorkerRequest, "job" | "walNumber" | "snapshots" | "numbers" | "scrub">,
    settle?: (outputs: FileMeta[] | undefined) => void,
  ): Promise<FileMeta[] | undefined | typeof WORKER_UNAVAILABLE> {
    const worker = this.#worker(kind);
    if (worker === undefined) return WORKER_UNAVAILABLE;
    const outputs = await worker.run({
      ...request,
      dir: this.#dir,
      blockSize: this.#settings.blockSize,
      blockRestartInterval: this.#settings.blockRestartInterval,
      bloomBitsPerKey: this.#settings.bloomBitsPerKey,
    }, settle);
    if (outputs === WORKER_UNAVAILABLE) this.#workersFailed = true;
    return outputs;
  }

  /**
   * Writes a frozen memtable as a level-0 table: in the worker (which reads
   * the memtable back from its log) when one is available, else here.
   */
  async #runFlushJob(
    mem: MemTable,
    walNumber: number,
    numbers: number[],
    settle: (outputs: FileMeta[] | undefined) => void,
  ): Promise<FileMeta[] | undefined> {
    const snapshots = this.#snapshotSeqs();
    const outputs = await this.#inWorker("flush", { walNumber, snapshots, numbers }, settle);
    if (outputs !== WORKER_UNAVAILABLE) return outputs;
    return await writeMemTable(mem, snapshots, this.#sink(numbers));
  }

  // When reads start using a table, a worker checks its blocks that are in
  // memory, so that the reads find them checked: the checksums are computed
  // on another core instead of in the first read of each block. Tables a
  // flush or compaction has just written need none: installing them marked
  // their blocks in memory.
  #scrubInBackground(table: Table): void {
    if (this.#closed) return;
    const scrub = { number: table.fileNumber, checks: table.checks };
    this.#inWorker("scrub", { scrub, numbers: [] })
      // A block that fails is left unmarked: the read that needs it reports it.
      .catch(() => undefined)
      .then((outcome) => {
        if (outcome !== WORKER_UNAVAILABLE) this.#scrubbedTables++;
      });
  }

  #usesWorkers(): boolean {
    return !this.#workersFailed && this.#settings.compactionWorker;
  }

  /** The worker for `kind` of job, started now if need be; undefined when none can run. */
  #worker(kind: WorkerKind): WorkerClient | undefined {
    if (!this.#usesWorkers()) return undefined;
    let worker = this.#workers[kind];
    if (worker === undefined) {
      worker = WorkerClient.start(kind);
      if (worker === undefined) {
        this.#workersFailed = true;
        return undefined;
      }
      this.#workers[kind] = worker;
    }
    return worker;
  }

  /** Runs a compaction job on this thread. */
  async #runHere(job: CompactionJob, numbers: number[]): Promise<FileMeta[] | undefined> {
    const leases = new TableLeases(this.#tables);
    try {
      return await runCompaction(job, {
        open: (f) => leases.iterator(f.number),
        release: (f) => leases.release(f.number),
      }, this.#sink(numbers));
    } finally {
      leases.releaseAll();
    }
  }

  // ----------------------------------------------------------- maintenance

  /**
   * Writes the active memtable to a level-0 table and waits until every
   * frozen memtable is on disk; afterwards the WAL holds nothing needed,
   * and the logs of the memtables written are removed.
   *
   * @example
   * ```ts
   * import { open } from "./db.ts";
   * await using db = await open(await Deno.makeTempDir());
   * await db.put("k", "v");
   * await db.flush();
   * console.log(db.stats().levels[0].files); // 1
   * ```
   */
  async flush(): Promise<void> {
    this.#checkWritable();
    await this.#waitForQueue();
    this.#freeze();
    while (this.#frozen.length > 0) {
      if (this.#backgroundError !== undefined) throw this.#backgroundError;
      this.#checkOpen();
      this.#scheduleBackgroundWork();
      await (this.#flushing ?? yieldToEventLoop());
    }
    if (this.#backgroundError !== undefined) throw this.#backgroundError;
    await Promise.all(this.#removals);
  }

  async #waitForQueue(): Promise<void> {
    while (this.#queue.length > 0 || this.#drainScheduled) {
      await new Promise((r) => setTimeout(r, 0));
    }
  }

  /**
   * Flushes, then merges the tables holding keys of [start, end] (all keys
   * when omitted) down to the deepest level, dropping overwritten versions
   * and tombstones no snapshot needs. Resolves once the files it replaced
   * (those no open scan or snapshot still reads) are removed.
   *
   * @example
   * ```ts
   * import { open } from "./db.ts";
   * await using db = await open(await Deno.makeTempDir());
   * await db.put("k", "v");
   * await db.compact();
   * ```
   */
  async compact(options?: CompactOptions): Promise<void> {
    this.#checkWritable();
    const o = checkOptions<CompactOptions>(options, "compact options");
    const start = o.start === undefined ? undefined : checkKey(o.start);
    const end = o.end === undefined ? undefined : checkKey(o.end);
    await this.flush();
    this.#manualCompactions++;
    try {
      await this.#serialCompaction(async () => {
        const deepest = Math.max(1, deepestOverlapping(this.#version, start, end));
        for (let level = 0; level < deepest; level++) {
          this.#checkOpen();
          await this.#withCompactionSlot(() => planRange(this.#version, level, start, end));
          if (this.#backgroundError !== undefined) throw this.#backgroundError;
        }
      });
    } finally {
      this.#manualCompactions--;
    }
    await Promise.all(this.#removals);
  }

  /**
   * The shape of the LSM tree and counters of the work done.
   *
   * @example
   * ```ts
   * import { open } from "./db.ts";
   * await using db = await open(await Deno.makeTempDir());
   * console.log(db.stats().levels.length); // 7
   * ```
   */
  stats(): DBStats {
    this.#checkOpen();
    const v = this.#version;
    const c = this.#settings.compaction;
    const targets = levelTargets(v, c);
    const scores = levelScores(v, c);
    const levels: LevelStats[] = v.levels.map((files, level) => ({
      level,
      files: files.length,
      bytes: v.levelBytes(level),
      target: level === 0 ? c.l0CompactionTrigger : targets[level],
      score: scores[level],
    }));
    const s = this.#stats;
    const totalTableBytes = levels.reduce((sum, l) => sum + l.bytes, 0);
    let readers = 0;
    for (const n of this.#readers.values()) readers += n;
    return {
      levels,
      memtables: {
        activeBytes: this.#mem.approximateSize,
        // Counted before activeEntries, which indexes the active memtable.
        unindexedBatches: this.#frozen.reduce(
          (n, f) => n + f.mem.unindexedBatches,
          this.#mem.unindexedBatches,
        ),
        activeEntries: this.#mem.entries,
        immutable: this.#frozen.length,
      },
      sequence: this.#lastSeq,
      totalTableBytes,
      ...s,
      writeAmplification: s.userBytesWritten === 0
        ? 0
        : (s.walBytesWritten + s.flushBytesWritten + s.compactionBytesWritten) / s.userBytesWritten,
      readers,
      blockCache: {
        bytes: this.#blocks?.usage ?? 0,
        capacity: this.#blocks?.capacity ?? 0,
        hits: this.#blocks?.hits ?? 0,
        misses: this.#blocks?.misses ?? 0,
      },
      tables: {
        open: this.#tables.openCount,
        mapped: this.#tables.mappedCount,
        scrubbed: this.#scrubbedTables,
      },
    };
  }

  /** The database directory. */
  get dir(): string {
    return this.#dir;
  }

  /** True once {@linkcode DB.close} has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Waits for queued writes, stops background work (unfinished output is
   * discarded; the WAL still holds its data), and releases the directory.
   * Calling it again returns the same promise.
   *
   * @example
   * ```ts
   * import { open } from "./db.ts";
   * const db = await open(await Deno.makeTempDir());
   * await db.close();
   * await db.close(); // harmless
   * ```
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    await this.#waitForQueue();
    this.#closed = true;
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    if (this.#indexTimer !== undefined) clearTimeout(this.#indexTimer);
    this.#wake();
    await Promise.all([
      this.#workers.flush?.stop(),
      this.#workers.compact?.stop(),
      this.#workers.scrub?.stop(),
    ]);
    await Promise.allSettled([this.#flushing, this.#compacting, this.#compactionChain]);
    await Promise.all(this.#retiringWals.values());
    await Promise.all(this.#removals);
    try {
      if (this.#backgroundError === undefined && this.#walDirty) this.#syncWal();
    } finally {
      this.#wal?.close();
      this.#manifest?.close();
      this.#tables.close();
      this.#lock.release();
    }
  }

  /** Closes the database at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError(`database is closed: ${this.#dir}`);
  }

  #checkWritable(): void {
    this.#checkOpen();
    if (this.#settings.readOnly) throw new StrataError(`database is open read-only: ${this.#dir}`);
  }
}

const EMPTY: Uint8Array = new Uint8Array(0);

function noop(): void {}

function overlapsRange(f: FileMeta, start?: Uint8Array, end?: Uint8Array): boolean {
  return (start === undefined || compareBytes(f.largest, start) >= 0) &&
    (end === undefined || compareBytes(f.smallest, end) < 0);
}

/**
 * Writes a memtable as level-0 tables, keeping the versions the snapshots
 * (ascending sequence numbers) can see.
 */
function writeMemTable(
  mem: MemTable,
  snapshots: number[],
  sink: TableSink,
): Promise<FileMeta[] | undefined> {
  const source = mem.iterator();
  source.seekToFirst();
  return buildTables(source, new VersionFilter(snapshots, () => true), undefined, sink);
}

/** What a snapshot reads through. @internal */
interface SnapshotOps {
  get(key: Bytes): Uint8Array | undefined;
  scan(options?: ScanOptions): Scan;
  release(): void;
}

/**
 * A point-in-time view of the database, made by {@linkcode DB.snapshot}.
 *
 * @example
 * ```ts
 * import { open } from "./db.ts";
 * await using db = await open(await Deno.makeTempDir());
 * const snap = db.snapshot();
 * console.log(await snap.get("k")); // undefined
 * snap.release();
 * ```
 */
export class Snapshot {
  /** The sequence number the snapshot reads at. */
  readonly sequence: number;
  #ops: SnapshotOps;
  #released = false;

  /** Made by {@linkcode DB.snapshot}. @internal */
  constructor(sequence: number, ops: SnapshotOps) {
    this.sequence = sequence;
    this.#ops = ops;
  }

  #check(): void {
    if (this.#released) throw new ClosedError(`snapshot at sequence ${this.sequence} is released`);
  }

  /** The value of `key` as of the snapshot. */
  get(key: Bytes): Promise<Uint8Array | undefined> {
    try {
      return Promise.resolve(this.getSync(key));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** {@linkcode Snapshot.get}, synchronously. */
  getSync(key: Bytes): Uint8Array | undefined {
    this.#check();
    return this.#ops.get(key);
  }

  /** The entries of a range as of the snapshot. */
  scan(options?: ScanOptions): Scan {
    this.#check();
    return this.#ops.scan(options);
  }

  /** Lets compaction drop the versions only this snapshot could see. Idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#ops.release();
  }

  /** Releases the snapshot at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.release();
  }
}

const DONE: IteratorResult<Entry> = { value: undefined, done: true };

/**
 * The entries of a scan. Iterate it once, with `for await` or plain `for`
 * (reads are synchronous underneath); breaking out early releases it, and
 * so does `close()`. Keys and values are fresh copies.
 *
 * @example
 * ```ts
 * import { open } from "./db.ts";
 * await using db = await open(await Deno.makeTempDir());
 * await db.put("a", "1");
 * for (const { key } of db.scan()) console.log(key);
 * console.log(db.scan().toArray().length); // 1
 * ```
 */
export class Scan implements AsyncIterable<Entry>, Iterable<Entry> {
  #it: VisibleIterator;
  #remaining: number;
  #release: () => void;
  #checkOpen: () => void;
  #closed = false;

  /** Made by {@linkcode DB.scan}. @internal */
  constructor(
    it: VisibleIterator,
    limit: number,
    release: () => void,
    checkOpen: () => void,
  ) {
    this.#it = it;
    this.#remaining = limit;
    this.#release = release;
    this.#checkOpen = checkOpen;
    if (limit === 0) this.close();
  }

  /** The next entry, or undefined at the end. */
  nextEntry(): Entry | undefined {
    if (this.#closed) return undefined;
    this.#checkOpen();
    let entry: Entry | undefined;
    try {
      entry = this.#it.next();
    } catch (e) {
      this.close();
      throw e;
    }
    if (entry === undefined) {
      this.close();
      return undefined;
    }
    if (--this.#remaining <= 0) this.close();
    return entry;
  }

  /** Reads every remaining entry into an array. */
  toArray(): Entry[] {
    const out: Entry[] = [];
    for (let e = this.nextEntry(); e !== undefined; e = this.nextEntry()) out.push(e);
    return out;
  }

  /** Ends the scan and releases what it holds. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#it.stop();
    this.#release();
  }

  /** Iterates synchronously. */
  [Symbol.iterator](): Iterator<Entry> {
    return {
      next: () => {
        const value = this.nextEntry();
        return value === undefined ? DONE : { value, done: false };
      },
      return: () => {
        this.close();
        return DONE;
      },
    };
  }

  /** Iterates with `for await`. */
  [Symbol.asyncIterator](): AsyncIterator<Entry> {
    return {
      next: () => {
        try {
          const value = this.nextEntry();
          return Promise.resolve(value === undefined ? DONE : { value, done: false });
        } catch (e) {
          return Promise.reject(e);
        }
      },
      return: () => {
        this.close();
        return Promise.resolve(DONE);
      },
    };
  }

  /** Releases the scan at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.close();
  }
}
