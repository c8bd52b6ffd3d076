/**
 * Strata: an embedded, persistent, ordered key-value store for Deno and Bun,
 * built as a log-structured merge tree.
 *
 * ```ts
 * import { open } from "@strata/strata";
 *
 * await using db = await open("./data");
 * await db.put("user:1", "ada");
 * await db.batch().put("user:2", "grace").delete("user:0").write({ sync: true });
 * for await (const { key, value } of db.scan({ prefix: "user:" })) {
 *   console.log(new TextDecoder().decode(key), new TextDecoder().decode(value));
 * }
 * ```
 *
 * Keys and values are bytes (`Uint8Array`) or strings (stored as UTF-8);
 * keys sort bytewise. Writes go to a checksummed write-ahead log and a
 * memtable; full memtables are flushed to sorted table files that are
 * merged level by level in the background.
 *
 * @module
 */

export {
  type Bytes,
  type CompactOptions,
  DB,
  type DBStats,
  type Entry,
  type LevelStats,
  open,
  type OpenOptions,
  Scan,
  type ScanOptions,
  Snapshot,
  WriteBatch,
  type WriteOptions,
} from "./lib/db.ts";
export type { CompactionOptions } from "./lib/compaction.ts";
export { ClosedError, CorruptionError, LockError, StrataError } from "./lib/errors.ts";
export type {
  FileLock,
  FileSystem,
  OpenReadOptions,
  OpenWriteOptions,
  RandomAccessFile,
  ResidentPages,
  WritableFile,
} from "./lib/fs.ts";
export { MAX_BATCH_SIZE, MAX_KEY_SIZE, MAX_VALUE_SIZE } from "./lib/write_batch.ts";
