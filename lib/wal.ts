/**
 * Framed, checksummed record logs: the write-ahead log and the manifest.
 *
 * A log file starts with an 8-byte header: a 4-byte magic number naming the
 * kind of log and a u32 format version. Records follow back to back:
 *
 * ```
 * payload_crc u32 | payload_length u32 | header_crc u32 | payload
 * ```
 *
 * All integers little-endian. `payload_crc` is the XXH32 of the payload;
 * `header_crc` is the XXH32 of the first eight header bytes, so a damaged
 * length is caught before it is trusted. Logs of format version 1 carry
 * CRC32C in both places instead; they are still read. XXH32 takes about
 * three quarters of the time of CRC32C on the record of one small write in
 * JavaScript and a tenth on a large batch, and every write pays it.
 *
 * A crash can tear only the end of a log: a record that runs past the end
 * of the file, or a damaged tail made of zeros, is a torn tail and is
 * dropped. A damaged record with intact bytes
 * after it is corruption. Zeros from the end of a record to the end of the
 * file are room reserved for records never written (a write-ahead log
 * reserves its file up front), not a torn tail.
 *
 * @module
 */

import { crc32c, readU32, writeU32, xxh32 } from "./coding.ts";
import { CorruptionError } from "./errors.ts";
import type { WritableFile } from "./fs.ts";

/** Magic number of write-ahead logs ("SWAL"). */
export const WAL_MAGIC = 0x4c415753;
/** Magic number of manifests ("SMAN"). */
export const MANIFEST_MAGIC = 0x4e414d53;
/** The log format version this code writes; it reads this one and version 1. */
export const LOG_FORMAT_VERSION = 2;

// The record checksum of each log format version read.
const CHECKSUMS = new Map<number, (bytes: Uint8Array, start: number, end: number) => number>([
  [1, crc32c],
  [LOG_FORMAT_VERSION, xxh32],
]);

const FILE_HEADER_SIZE = 8;
/** Bytes of framing before each record's payload. */
export const RECORD_HEADER_SIZE = 12;

/** The name of write-ahead log number `n`, e.g. `000007.log`. */
export function walName(n: number): string {
  return `${String(n).padStart(6, "0")}.log`;
}

/**
 * Frames a record in place: `buf[pos, pos + 12)` receives the header of the
 * payload already written at `buf[pos + 12, pos + 12 + length)`.
 */
export function frameRecord(buf: Uint8Array, pos: number, length: number): void {
  const start = pos + RECORD_HEADER_SIZE;
  writeU32(buf, pos, xxh32(buf, start, start + length));
  writeU32(buf, pos + 4, length);
  writeU32(buf, pos + 8, xxh32(buf, pos, pos + 8));
}

/**
 * Appends records to a log file. Records handed to one `append` call are
 * written with one system call.
 *
 * @example
 * ```ts
 * import { LogWriter, WAL_MAGIC } from "./wal.ts";
 * import { defaultFileSystem } from "./fs.ts";
 * const fs = defaultFileSystem();
 * const log = LogWriter.create(fs.openWrite("/tmp/example.log"), WAL_MAGIC);
 * log.append([new Uint8Array([1, 2, 3])]);
 * log.sync();
 * log.close();
 * ```
 */
export class LogWriter {
  #file: WritableFile;

  private constructor(file: WritableFile) {
    this.#file = file;
  }

  /** Starts a new log in an empty file by writing its header (not synced). */
  static create(file: WritableFile, magic: number): LogWriter {
    const header = new Uint8Array(FILE_HEADER_SIZE);
    writeU32(header, 0, magic);
    writeU32(header, 4, LOG_FORMAT_VERSION);
    file.append(header);
    return new LogWriter(file);
  }

  /** Bytes in the file so far. */
  get size(): number {
    return this.#file.size;
  }

  /** Frames and appends the payloads, in order, in one write. */
  append(payloads: readonly Uint8Array[]): void {
    let total = 0;
    for (const p of payloads) total += RECORD_HEADER_SIZE + p.length;
    const out = new Uint8Array(total);
    let pos = 0;
    for (const p of payloads) {
      out.set(p, pos + RECORD_HEADER_SIZE);
      frameRecord(out, pos, p.length);
      pos += RECORD_HEADER_SIZE + p.length;
    }
    this.#file.append(out);
  }

  /** Appends records already framed with {@linkcode frameRecord}, in one write. */
  appendFramed(records: Uint8Array): void {
    this.#file.append(records);
  }

  /**
   * Starts making the appended records durable without waiting (where the
   * file supports it); {@linkcode LogWriter.sync} still waits for all.
   */
  syncInBackground(): void {
    this.#file.syncInBackground?.();
  }

  /** Makes every appended record durable. */
  sync(): void {
    this.#file.sync();
  }

  /**
   * Closes the log once every appended record is durable. Where the file
   * can sync in the background this returns at once, and
   * {@linkcode LogWriter.sync} may still be called until the promise
   * settles; elsewhere it syncs before returning.
   */
  closeWhenSynced(): Promise<void> {
    const file = this.#file;
    if (file.closeWhenSynced !== undefined) return file.closeWhenSynced();
    try {
      file.sync();
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    } finally {
      file.close();
    }
  }

  /** Closes the file. */
  close(): void {
    this.#file.close();
  }
}

/** What reading a whole log found. */
export interface LogContents {
  /** The intact records, in order (views into the file's bytes). */
  records: Uint8Array[];
  /** The file offset of each record's header. */
  offsets: number[];
  /** Bytes of intact log: everything after is a torn tail. */
  validLength: number;
  /** True when a torn tail was dropped. */
  torn: boolean;
}

function allZero(bytes: Uint8Array, start: number): boolean {
  for (let i = start; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/**
 * Reads every record of a log held in `bytes`. Throws
 * {@linkcode CorruptionError} (naming `fileName` and the offset) for a bad
 * header or a damaged record that is not the torn tail.
 *
 * @example
 * ```ts
 * import { readLog, WAL_MAGIC } from "./wal.ts";
 * const { records } = readLog(new Uint8Array(0), WAL_MAGIC, "000001.log");
 * console.log(records.length); // 0
 * ```
 */
export function readLog(bytes: Uint8Array, magic: number, fileName: string): LogContents {
  const records: Uint8Array[] = [];
  const offsets: number[] = [];
  const { validLength, torn } = visitLog(bytes, { magic, fileName }, (start, end) => {
    records.push(bytes.subarray(start, end));
    offsets.push(start - RECORD_HEADER_SIZE);
  });
  return { records, offsets, validLength, torn };
}

/** Which log {@linkcode visitLog} reads. */
export interface LogKind {
  /** The magic number the file must start with. */
  magic: number;
  /** Named in errors. */
  fileName: string;
}

/**
 * Checks the records of a log held in `bytes` as {@linkcode readLog} does,
 * and calls `visit` with the payload of each intact one, `bytes[start,
 * end)`, making no object per record. Returns the length of the intact log
 * and whether a torn tail follows it.
 *
 * @example
 * ```ts
 * import { visitLog, WAL_MAGIC } from "./wal.ts";
 * let records = 0;
 * visitLog(new Uint8Array(0), { magic: WAL_MAGIC, fileName: "000001.log" }, () => records++);
 * console.log(records); // 0
 * ```
 */
export function visitLog(
  bytes: Uint8Array,
  log: LogKind,
  visit: (start: number, end: number) => void,
): { validLength: number; torn: boolean } {
  const { magic, fileName } = log;
  // A crash soon after creating the file may leave the header partly
  // written, or the file's blocks unwritten (read back as zeros).
  if (allZero(bytes, 0)) return { validLength: 0, torn: bytes.length > 0 };
  if (isTornHeader(bytes, magic)) return { validLength: 0, torn: true };
  if (bytes.length < FILE_HEADER_SIZE) {
    throw new CorruptionError("log header is damaged", { file: fileName, offset: 0 });
  }
  if (readU32(bytes, 0) !== magic) {
    throw new CorruptionError(
      `bad magic number 0x${readU32(bytes, 0).toString(16)}, expected 0x${magic.toString(16)}`,
      { file: fileName, offset: 0 },
    );
  }
  const version = readU32(bytes, 4);
  const checksum = CHECKSUMS.get(version);
  if (checksum === undefined) {
    throw new CorruptionError(`unsupported log format version ${version}`, {
      file: fileName,
      offset: 4,
    });
  }
  let pos = FILE_HEADER_SIZE;
  while (pos < bytes.length) {
    // Cheap to ask: a written record's first byte is zero one time in 256.
    if (bytes[pos] === 0 && allZero(bytes, pos)) break;
    if (bytes.length - pos < RECORD_HEADER_SIZE) return { validLength: pos, torn: true };
    // A damaged record is a torn tail when nothing but zeros follows it: a
    // write cut short, with the rest of its blocks never written.
    const headerOk = checksum(bytes, pos, pos + 8) === readU32(bytes, pos + 8);
    if (!headerOk) {
      if (allZero(bytes, pos + RECORD_HEADER_SIZE)) return { validLength: pos, torn: true };
      throw new CorruptionError("record header checksum mismatch", { file: fileName, offset: pos });
    }
    const length = readU32(bytes, pos + 4);
    const start = pos + RECORD_HEADER_SIZE;
    if (start + length > bytes.length) return { validLength: pos, torn: true };
    if (checksum(bytes, start, start + length) !== readU32(bytes, pos)) {
      if (allZero(bytes, start + length)) return { validLength: pos, torn: true };
      throw new CorruptionError("record checksum mismatch", { file: fileName, offset: pos });
    }
    visit(start, start + length);
    pos = start + length;
  }
  return { validLength: pos, torn: false };
}

/**
 * True when the file holds part of the header of a version read and
 * nothing after it but zeros (or nothing at all): a header write cut short.
 */
function isTornHeader(bytes: Uint8Array, magic: number): boolean {
  const header = new Uint8Array(FILE_HEADER_SIZE);
  writeU32(header, 0, magic);
  for (const version of CHECKSUMS.keys()) {
    writeU32(header, 4, version);
    let written = 0;
    while (
      written < FILE_HEADER_SIZE && written < bytes.length && bytes[written] === header[written]
    ) {
      written++;
    }
    if (written < FILE_HEADER_SIZE && allZero(bytes, written)) return true;
  }
  return false;
}
