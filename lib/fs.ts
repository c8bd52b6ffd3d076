/**
 * The file-system adapter: the only module that touches files. One
 * implementation runs on Deno's own APIs, one on `node:fs` (used on Bun and
 * Node); {@linkcode defaultFileSystem} picks the right one at run time. Tests
 * may pass another implementation (in memory, or one that injects faults).
 *
 * All operations are synchronous: on both runtimes a synchronous positional
 * read costs about a microsecond while an asynchronous one costs about
 * thirty, and the engine batches its writes so that few calls are needed.
 *
 * @module
 */

import * as nodeFs from "node:fs";
import { resolve } from "node:path";
import process from "node:process";
import { LockError } from "./errors.ts";
import { type FileMap, mapFile, mapFileForWriting, type ResidentPages } from "./file_map.ts";

export type { ResidentPages };

/** A file opened for positional reads. */
export interface RandomAccessFile {
  /** The path the file was opened with. */
  readonly path: string;
  /** The file's size in bytes when it was opened. */
  readonly size: number;
  /** Reads up to `buf.length` bytes at `position`; returns how many were read (fewer only at EOF). */
  read(buf: Uint8Array, position: number): number;
  /**
   * True when the file is read through a memory map: reads copy out of it
   * instead of calling the system, and {@linkcode RandomAccessFile.view}
   * hands out views of it.
   */
  readonly mapped?: boolean;
  /**
   * The bytes `[position, position + length)` as a view into the file's
   * memory map, without copying; undefined when the file is not mapped or
   * the range leaves the file. The view must not be touched after
   * {@linkcode RandomAccessFile.close}: the map is gone then.
   */
  view?(position: number, length: number): Uint8Array | undefined;
  /**
   * Which pages of the file's memory map are in memory now, found without
   * reading any; undefined when the file is not mapped or the system cannot
   * tell.
   */
  residentPages?(): ResidentPages | undefined;
  /** Closes the file; further reads throw. */
  close(): void;
}

/** A file opened for appending. */
export interface WritableFile {
  /** The path the file was opened with. */
  readonly path: string;
  /** The file's size in bytes, including everything appended so far. */
  readonly size: number;
  /** Appends all of `data` at the end of the file. */
  append(data: Uint8Array): void;
  /**
   * Waits until everything appended is on stable storage (fdatasync). Throws
   * if an earlier {@linkcode WritableFile.syncInBackground} failed.
   */
  sync(): void;
  /**
   * Starts writing what was appended so far to stable storage without
   * waiting for it, so that a later {@linkcode WritableFile.sync} has less
   * left to do. Optional: without it, only `sync` makes data durable.
   */
  syncInBackground?(): void;
  /**
   * Ends appending now and closes the file once everything appended is on
   * stable storage, syncing without waiting: the promise settles then, and
   * rejects if the sync failed. Until it settles,
   * {@linkcode WritableFile.sync} still waits for the same bytes; after it
   * resolves, `sync` has nothing left to do. Optional: without it, call
   * `sync` and then `close`.
   */
  closeWhenSynced?(): Promise<void>;
  /** Closes the file (without syncing). */
  close(): void;
}

/** A held lock on a database directory. */
export interface FileLock {
  /** Releases the lock; calling it twice is harmless. */
  release(): void;
}

/** Options of {@linkcode FileSystem.openRead}. */
export interface OpenReadOptions {
  /**
   * Read through a read-only memory map where the runtime can make one (see
   * `file_map.ts`), for files that never change while open (default false).
   */
  map?: boolean;
}

/** Options of {@linkcode FileSystem.openWrite}. */
export interface OpenWriteOptions {
  /** Keep the file's bytes and append after them (default false: truncate). */
  append?: boolean;
  /**
   * Reserve this many bytes on disk up front and append into them through
   * a shared memory map where the runtime can make one (see
   * `file_map.ts`): an append is then a copy, not a system call. Until the
   * file is closed (and cut to what was appended) it reads as its appended
   * bytes followed by zeros, which is what a crash leaves. Appends past the
   * reservation are written as usual. Ignored with `append`.
   */
  preallocate?: number;
}

/** The operations the engine needs from a file system. */
export interface FileSystem {
  /** Opens an existing file for positional reads. */
  openRead(path: string, options?: OpenReadOptions): RandomAccessFile;
  /** Creates (or truncates) a file for appending; with `append: true` keeps existing bytes. */
  openWrite(path: string, options?: OpenWriteOptions): WritableFile;
  /** Reads a whole file. */
  readFile(path: string): Uint8Array;
  /** Renames a file, replacing `to` atomically if it exists. */
  rename(from: string, to: string): void;
  /** Removes a file; a missing file is not an error. */
  remove(path: string): void;
  /**
   * Removes a file on another thread, for callers that need not wait: the
   * promise settles when the file is gone or the removal failed. A missing
   * file is not an error. Where this is absent, callers use
   * {@linkcode FileSystem.remove}.
   */
  removeInBackground?(path: string): Promise<void>;
  /** True when a file or directory exists at `path`. */
  exists(path: string): boolean;
  /** The names of the entries of a directory. */
  list(dir: string): string[];
  /** Creates a directory and its parents; an existing one is fine. */
  mkdirp(dir: string): void;
  /** Makes a directory's entries (creations, renames, removals) durable. */
  syncDir(dir: string): void;
  /** Shortens a file to `length` bytes. */
  truncate(path: string, length: number): void;
  /** Takes the exclusive lock file at `path`, or throws {@linkcode LockError}. */
  lock(path: string): FileLock;
}

/** Joins a directory and a file name with `/`. */
export function joinPath(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

const RUNTIME = "Bun" in globalThis ? "bun" : "Deno" in globalThis ? "deno" : "node";

// Locks held by this process, by path: a second open from the same process
// must fail even where the OS lock would let the same process in again.
const heldLocks = new Set<string>();

function absolutePath(path: string): string {
  return resolve(path);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // Only "no such process" proves the holder is gone; anything else (no
    // permission to signal it, or to ask at all) must count as alive.
    return (e as { code?: string }).code !== "ESRCH";
  }
}

/**
 * The live process named in a lock file, or undefined when it names none.
 * The file reads `<runtime> <pid>`; a holder on Deno also keeps an OS lock,
 * so `ignoreDeno` (set by a Deno process that just took that OS lock) marks
 * a Deno holder as gone without asking the OS.
 */
function lockHolder(read: () => string, ignoreDeno = false): number | undefined {
  let text = "";
  try {
    text = read();
  } catch {
    return undefined;
  }
  const match = /^(?:(\w+) )?(\d+)\s*$/.exec(text);
  if (match === null) return undefined;
  const pid = Number(match[2]);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  // This process's own id means another handle of ours holds the lock
  // (the registry missed it under a different spelling of the path).
  if (pid === process.pid) return pid;
  if (ignoreDeno && match[1] === "deno") return undefined;
  return isAlive(pid) ? pid : undefined;
}

function lockedMessage(path: string, pid: number | string): string {
  return `database is locked: ${path} is held by ${
    typeof pid === "number" ? `process ${pid}` : pid
  }; close the other handle first (if no process holds it, remove the LOCK file)`;
}

function registerLock(path: string): string {
  const key = absolutePath(path);
  if (heldLocks.has(key)) throw new LockError(lockedMessage(path, "this process"));
  heldLocks.add(key);
  return key;
}

class NodeReadFile implements RandomAccessFile {
  readonly path: string;
  readonly size: number;
  #fd: number;
  #map: FileMap | undefined;
  constructor(path: string, map: boolean) {
    this.path = path;
    this.#fd = nodeFs.openSync(path, "r");
    try {
      this.size = nodeFs.fstatSync(this.#fd).size;
      this.#map = map ? mapFile(this.#fd, this.size) : undefined;
    } catch (e) {
      nodeFs.closeSync(this.#fd);
      throw e;
    }
  }
  get mapped(): boolean {
    return this.#map !== undefined;
  }
  view(position: number, length: number): Uint8Array | undefined {
    const map = this.#map;
    if (map === undefined || !(position >= 0 && length >= 0 && position + length <= this.size)) {
      return undefined;
    }
    return map.bytes.subarray(position, position + length);
  }
  residentPages(): ResidentPages | undefined {
    return this.#map?.residentPages();
  }
  read(buf: Uint8Array, position: number): number {
    const map = this.#map;
    if (map !== undefined) {
      const end = Math.min(this.size, position + buf.length);
      if (!(end > position)) return 0;
      buf.set(map.bytes.subarray(position, end));
      return end - position;
    }
    let done = 0;
    while (done < buf.length) {
      const n = nodeFs.readSync(this.#fd, buf, done, buf.length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return done;
  }
  close(): void {
    const map = this.#map;
    this.#map = undefined;
    map?.unmap();
    if (this.#fd >= 0) nodeFs.closeSync(this.#fd);
    this.#fd = -1;
  }
}

class NodeWriteFile implements WritableFile {
  readonly path: string;
  size: number;
  #fd: number;
  // The reserved head of the file (see OpenWriteOptions.preallocate),
  // appended to by copying into it.
  #map: FileMap | undefined;
  // A failed background sync: the kernel may since have dropped the pages
  // it could not write, so no later sync may report success.
  #syncError: unknown;
  constructor(path: string, options: OpenWriteOptions) {
    const append = options.append ?? false;
    const capacity = append ? 0 : options.preallocate ?? 0;
    this.path = path;
    this.#fd = nodeFs.openSync(path, append ? "a" : "w+");
    try {
      this.size = append ? nodeFs.fstatSync(this.#fd).size : 0;
      this.#map = mapFileForWriting(this.#fd, capacity);
      // A reservation made without its map would read as a zero-filled tail.
      if (capacity > 0 && this.#map === undefined) nodeFs.ftruncateSync(this.#fd, 0);
    } catch (e) {
      nodeFs.closeSync(this.#fd);
      throw e;
    }
  }
  append(data: Uint8Array): void {
    if (this.#closing) throw new Error(`append to a closed file: ${this.path}`);
    const at = this.size;
    const map = this.#map;
    let done = 0;
    if (map !== undefined) {
      // What fits goes into the map; the rest is written after it.
      done = Math.min(data.length, Math.max(0, map.bytes.length - at));
      if (done > 0) map.bytes.set(done === data.length ? data : data.subarray(0, done), at);
    }
    while (done < data.length) {
      // Bytes past a map go to their place, as copies left the descriptor's
      // offset at 0; without a map they go to the end.
      const position = map === undefined ? null : at + done;
      done += nodeFs.writeSync(this.#fd, data, done, data.length - done, position);
    }
    this.size = at + data.length;
  }
  sync(): void {
    if (this.#syncError !== undefined) throw this.#syncError;
    // Closed by closeWhenSynced: everything appended is durable.
    if (this.#closedSynced) return;
    nodeFs.fdatasyncSync(this.#fd);
  }
  syncInBackground(): void {
    nodeFs.fdatasync(this.#fd, (e) => {
      if (e) this.#syncError ??= e;
    });
  }
  // Set by closeWhenSynced: no more appends, and close() is left to it.
  #closing = false;
  #closedSynced = false;
  closeWhenSynced(): Promise<void> {
    try {
      this.#endMap();
    } catch (e) {
      this.close();
      return Promise.reject(e);
    }
    this.#closing = true;
    const fd = this.#fd;
    return new Promise((resolve, reject) => {
      nodeFs.fdatasync(fd, (e) => {
        let failure: unknown = e ?? undefined;
        if (failure !== undefined) this.#syncError ??= failure;
        else this.#closedSynced = true;
        this.#fd = -1;
        try {
          nodeFs.closeSync(fd);
        } catch (closeError) {
          failure ??= closeError;
        }
        if (failure !== undefined) reject(failure);
        else resolve();
      });
    });
  }
  // Unmaps the reservation and cuts the file to what was appended, so the
  // reserved bytes never written do not read as a zero-filled tail.
  #endMap(): void {
    const map = this.#map;
    this.#map = undefined;
    if (map === undefined) return;
    map.unmap();
    nodeFs.ftruncateSync(this.#fd, this.size);
  }
  close(): void {
    if (this.#fd < 0 || this.#closing) return;
    try {
      this.#endMap();
    } finally {
      nodeFs.closeSync(this.#fd);
      this.#fd = -1;
    }
  }
}

/** The `node:fs` implementation (used on Bun and Node). */
export class NodeFileSystem implements FileSystem {
  /** Opens an existing file for positional reads, through a memory map with `map: true`. */
  openRead(path: string, options: OpenReadOptions = {}): RandomAccessFile {
    return new NodeReadFile(path, options.map ?? false);
  }
  /** Creates (or truncates, or appends to) a file. */
  openWrite(path: string, options: OpenWriteOptions = {}): WritableFile {
    return new NodeWriteFile(path, options);
  }
  /** Reads a whole file. */
  readFile(path: string): Uint8Array {
    const b = nodeFs.readFileSync(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }
  /** Renames a file atomically. */
  rename(from: string, to: string): void {
    nodeFs.renameSync(from, to);
  }
  /** Removes a file if it exists. */
  remove(path: string): void {
    nodeFs.rmSync(path, { force: true });
  }
  /** Removes a file if it exists, on the runtime's thread pool. */
  removeInBackground(path: string): Promise<void> {
    return nodeFs.promises.rm(path, { force: true });
  }
  /** True when `path` exists. */
  exists(path: string): boolean {
    return nodeFs.existsSync(path);
  }
  /** Lists a directory. */
  list(dir: string): string[] {
    return nodeFs.readdirSync(dir);
  }
  /** Creates a directory and its parents. */
  mkdirp(dir: string): void {
    nodeFs.mkdirSync(dir, { recursive: true });
  }
  /** Syncs a directory's entries. */
  syncDir(dir: string): void {
    const fd = nodeFs.openSync(dir, "r");
    try {
      nodeFs.fsyncSync(fd);
    } finally {
      nodeFs.closeSync(fd);
    }
  }
  /** Shortens a file. */
  truncate(path: string, length: number): void {
    nodeFs.truncateSync(path, length);
  }
  /**
   * Takes the lock with an exclusive-create PID file: `node:fs` offers no
   * advisory lock. A file left by a process that no longer runs is taken over.
   */
  lock(path: string): FileLock {
    const key = registerLock(path);
    try {
      for (let attempt = 0;; attempt++) {
        try {
          const fd = nodeFs.openSync(path, "wx");
          nodeFs.writeSync(fd, `${RUNTIME} ${process.pid}\n`);
          nodeFs.fsyncSync(fd);
          nodeFs.closeSync(fd);
          break;
        } catch (e) {
          if ((e as { code?: string }).code !== "EEXIST" || attempt > 0) throw e;
          const holder = lockHolder(() => nodeFs.readFileSync(path, "utf8"));
          if (holder !== undefined) throw new LockError(lockedMessage(path, holder));
          nodeFs.rmSync(path, { force: true });
        }
      }
    } catch (e) {
      heldLocks.delete(key);
      throw e;
    }
    let held = true;
    return {
      release() {
        if (!held) return;
        held = false;
        nodeFs.rmSync(path, { force: true });
        heldLocks.delete(key);
      },
    };
  }
}

class DenoWriteFile implements WritableFile {
  readonly path: string;
  size: number;
  #file: Deno.FsFile | undefined;
  constructor(path: string, append: boolean) {
    this.path = path;
    this.#file = Deno.openSync(path, {
      write: true,
      create: true,
      truncate: !append,
      append,
    });
    this.size = append ? this.#file.statSync().size : 0;
  }
  // A failed background sync: the kernel may since have dropped the pages
  // it could not write, so no later sync may report success.
  #syncError: unknown;
  append(data: Uint8Array): void {
    if (this.#closing) throw new Error(`append to a closed file: ${this.path}`);
    const file = this.#file!;
    let done = 0;
    while (done < data.length) {
      done += file.writeSync(done === 0 ? data : data.subarray(done));
    }
    this.size += data.length;
  }
  sync(): void {
    if (this.#syncError !== undefined) throw this.#syncError;
    if (this.#closedSynced) return;
    this.#file!.syncDataSync();
  }
  syncInBackground(): void {
    this.#file!.syncData().catch((e) => {
      this.#syncError ??= e;
    });
  }
  closeWhenSynced(): Promise<void> {
    const file = this.#file!;
    this.#closing = true;
    return file.syncData().then(() => {
      this.#closedSynced = true;
    }, (e) => {
      this.#syncError ??= e;
      throw e;
    }).finally(() => {
      this.#closing = false;
      this.close();
    });
  }
  // Set by closeWhenSynced: no more appends, and close() is left to it.
  #closing = false;
  // Closed by closeWhenSynced: everything appended is durable.
  #closedSynced = false;
  close(): void {
    if (this.#closing) return;
    this.#file?.close();
    this.#file = undefined;
  }
}

/** The implementation on Deno's own file APIs. */
export class DenoFileSystem implements FileSystem {
  /**
   * Opens an existing file for positional reads. `Deno.FsFile` has no
   * positional read (a read needs a seek first, and the seek alone cost a
   * third of a block read in measurements), while `node:fs` `readSync` with
   * a position is a single pread on Deno too; so reads go through it (or
   * through a memory map, with `map: true`).
   */
  openRead(path: string, options: OpenReadOptions = {}): RandomAccessFile {
    return new NodeReadFile(path, options.map ?? false);
  }
  /** Creates (or truncates, or appends to) a file. */
  openWrite(path: string, options: OpenWriteOptions = {}): WritableFile {
    // A reservation is mapped through a `node:fs` descriptor.
    return options.preallocate
      ? new NodeWriteFile(path, options)
      : new DenoWriteFile(path, options.append ?? false);
  }
  /** Reads a whole file. */
  readFile(path: string): Uint8Array {
    return Deno.readFileSync(path);
  }
  /** Renames a file atomically. */
  rename(from: string, to: string): void {
    Deno.renameSync(from, to);
  }
  /** Removes a file if it exists. */
  remove(path: string): void {
    try {
      Deno.removeSync(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  /** Removes a file if it exists, on the runtime's thread pool. */
  removeInBackground(path: string): Promise<void> {
    return Deno.remove(path).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }
  /** True when `path` exists. */
  exists(path: string): boolean {
    try {
      Deno.statSync(path);
      return true;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
  }
  /** Lists a directory. */
  list(dir: string): string[] {
    return [...Deno.readDirSync(dir)].map((e) => e.name);
  }
  /** Creates a directory and its parents. */
  mkdirp(dir: string): void {
    Deno.mkdirSync(dir, { recursive: true });
  }
  /** Syncs a directory's entries. */
  syncDir(dir: string): void {
    const f = Deno.openSync(dir, { read: true });
    try {
      f.syncSync();
    } finally {
      f.close();
    }
  }
  /** Shortens a file. */
  truncate(path: string, length: number): void {
    Deno.truncateSync(path, length);
  }
  /**
   * Takes an OS advisory lock (flock) on the file and records this process's
   * id in it, so that a process on another runtime, which checks the id, sees
   * the lock too.
   */
  lock(path: string): FileLock {
    const key = registerLock(path);
    let file: Deno.FsFile | undefined;
    try {
      file = Deno.openSync(path, { read: true, write: true, create: true });
      if (!file.tryLockSync(true)) throw new LockError(lockedMessage(path, "another process"));
      const holder = lockHolder(() => new TextDecoder().decode(Deno.readFileSync(path)), true);
      if (holder !== undefined) throw new LockError(lockedMessage(path, holder));
      file.truncateSync(0);
      file.writeSync(new TextEncoder().encode(`deno ${process.pid}\n`));
      file.syncSync();
    } catch (e) {
      file?.close();
      heldLocks.delete(key);
      throw e;
    }
    const held = file;
    let open = true;
    return {
      release() {
        if (!open) return;
        open = false;
        try {
          held.truncateSync(0);
          held.unlockSync();
        } finally {
          held.close();
          heldLocks.delete(key);
        }
      },
    };
  }
}

/** True when running on Deno. */
export const isDeno: boolean = "Deno" in globalThis;

/**
 * The file system for the current runtime: Deno's APIs on Deno, `node:fs`
 * elsewhere.
 *
 * @example
 * ```ts
 * import { defaultFileSystem } from "./fs.ts";
 * const fs = defaultFileSystem();
 * console.log(fs.exists("."));
 * ```
 */
export function defaultFileSystem(): FileSystem {
  return isDeno ? new DenoFileSystem() : new NodeFileSystem();
}
