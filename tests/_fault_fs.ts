/**
 * An in-memory FileSystem for tests that can simulate power loss and inject
 * I/O errors (after LevelDB's fault-injection Env and Pebble's crashable
 * MemFS).
 *
 * Durability model:
 * - File contents are durable up to the length they had at their last
 *   `sync()`; anything appended after that is "unsynced".
 * - Directory entries (creations, renames, removals) are durable once the
 *   directory is synced with `syncDir()`; until then a crash reverts them.
 *   A file that was synced but whose entry was not is lost, like on a real
 *   file system.
 * - Truncation (`truncate`, or `openWrite` without `append` on an existing
 *   file) is treated as durable at once: it can only lose data, never invent
 *   it, so it is a state a real crash could produce.
 * - Directories themselves are durable as soon as they are made.
 *
 * `crash()` returns a new file system holding what a disk could hold after
 * power loss at this instant; the original keeps running, so freeze it with
 * `failAll()` before closing the old handle.
 *
 * Private to the tests.
 *
 * @module
 */

import { rng } from "./_model.ts";
import type {
  FileLock,
  FileSystem,
  OpenWriteOptions,
  RandomAccessFile,
  WritableFile,
} from "../lib/fs.ts";
import { LockError } from "../lib/errors.ts";

export { rng };

/** What happens to the unsynced tail of each file in a crash. */
export type CrashMode =
  /** Truncated to the synced length (LevelDB's DropUnsyncedFileData). */
  | "drop"
  /** A random prefix of the unsynced bytes survives (a torn write). */
  | "prefix"
  /** The file keeps its full length but the unsynced bytes read as zeros. */
  | "zeros"
  /** A random prefix survives and the rest of the full length reads as zeros. */
  | "prefix-zeros"
  /** The file keeps its full length but the unsynced bytes are random garbage. */
  | "garbage";

/** The operations errors can be injected into. */
export type FaultOp = "write" | "sync" | "rename" | "syncDir" | "remove" | "create";

/** The error thrown by an injected fault. */
export class InjectedFault extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InjectedFault";
  }
}

// One file's bytes. `buf` is only ever appended to in place; truncation
// allocates a new buffer, so `durable` (a view of an older buffer) is never
// overwritten.
class Inode {
  buf: Uint8Array = new Uint8Array(256);
  length = 0;
  durable: Uint8Array = new Uint8Array(0);

  get bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  append(data: Uint8Array): void {
    if (this.length + data.length > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + data.length));
      next.set(this.bytes);
      this.buf = next;
    }
    this.buf.set(data, this.length);
    this.length += data.length;
  }

  sync(): void {
    this.durable = this.buf.subarray(0, this.length);
  }

  /** Makes the first `length` bytes durable (a sync started when the file was that long). */
  syncUpTo(length: number): void {
    if (length > this.durable.length && length <= this.length) {
      this.durable = this.buf.subarray(0, length);
    }
  }

  truncate(length: number): void {
    const next = new Uint8Array(Math.max(256, length));
    next.set(this.buf.subarray(0, Math.min(length, this.length)));
    this.buf = next;
    this.length = length;
    if (this.durable.length > length) this.durable = this.durable.subarray(0, length);
  }

  static of(bytes: Uint8Array): Inode {
    const inode = new Inode();
    inode.append(bytes);
    inode.sync();
    return inode;
  }
}

function splitPath(path: string): [string, string] {
  const i = path.lastIndexOf("/");
  if (i < 0) return [".", path];
  return [i === 0 ? "/" : path.slice(0, i), path.slice(i + 1)];
}

function notFound(path: string): Error {
  const e = new Error(`ENOENT: no such file: ${path}`) as Error & { code: string };
  e.code = "ENOENT";
  return e;
}

interface Fault {
  op: FaultOp;
  countdown: number;
  match: RegExp | undefined;
  sticky: boolean;
}

/** Counts of the operations done so far, for choosing where to inject. */
export type OpCounts = Record<FaultOp, number>;

/**
 * Work a {@linkcode FaultFileSystem} does in the background: each piece
 * runs on a later turn of the event loop, or, while `hold` is true, stays
 * pending until {@linkcode BackgroundWork.release}.
 *
 * @example
 * ```ts
 * import { BackgroundWork } from "./_fault_fs.ts";
 * const work = new BackgroundWork();
 * work.hold = true;
 * work.start(() => console.log("done"));
 * console.log(work.held); // 1
 * work.release(); // done
 * ```
 */
export class BackgroundWork {
  /** While true, work started stays pending until released. */
  hold = false;
  #held: (() => void)[] = [];

  /** Runs `work` on a later turn, or keeps it while held. */
  start(work: () => void): void {
    if (this.hold) this.#held.push(work);
    else setTimeout(work, 0);
  }

  /** Runs the work held so far, in the order it started. */
  release(): void {
    for (const work of this.#held.splice(0)) work();
  }

  /** How many pieces of work are held. */
  get held(): number {
    return this.#held.length;
  }
}

/**
 * The fault-injecting in-memory file system.
 *
 * @example
 * ```ts
 * const fs = new FaultFileSystem();
 * const db = await open("/db", { fs });
 * await db.put("k", "v", { sync: true });
 * const after = fs.crash("drop");
 * ```
 */
export class FaultFileSystem implements FileSystem {
  // Live namespace: directory → (name → inode).
  #dirs = new Map<string, Map<string, Inode>>();
  // Durable namespace: as of each directory's last syncDir.
  #durableDirs = new Map<string, Map<string, Inode>>();
  #locks = new Set<string>();
  #faults: Fault[] = [];
  #dead = false;
  /** Operations counted so far. */
  readonly counts: OpCounts = { write: 0, sync: 0, rename: 0, syncDir: 0, remove: 0, create: 0 };
  /** Paths of the files open now (one entry per handle). */
  readonly openFiles = new Map<number, string>();
  #nextHandle = 0;
  /** Every counted operation, in order, with its path. */
  readonly history: { op: FaultOp; path: string }[] = [];
  /** Faults that fired, for messages. */
  readonly fired: string[] = [];
  /** The syncs of files closing once synced (`closeWhenSynced`). */
  readonly closingSyncs: BackgroundWork = new BackgroundWork();
  /** Removals started by `removeInBackground`. */
  readonly backgroundRemovals: BackgroundWork = new BackgroundWork();

  // ------------------------------------------------------------ faults

  /**
   * Makes the `nth` next `op` (counting from now, 1-based; only paths
   * matching `match` count) throw. With `sticky`, that op and every later
   * mutating op throw too: the machine lost power at that instant.
   */
  failAt(op: FaultOp, nth: number, options: { match?: RegExp; sticky?: boolean } = {}): void {
    this.#faults.push({
      op,
      countdown: nth,
      match: options.match,
      sticky: options.sticky ?? false,
    });
  }

  /** Makes every later mutating operation throw (the machine is off). */
  failAll(): void {
    this.#dead = true;
  }

  /** Clears pending faults and revives the file system. */
  heal(): void {
    this.#faults = [];
    this.#dead = false;
  }

  #check(op: FaultOp, path: string): void {
    this.counts[op]++;
    this.history.push({ op, path });
    if (this.#dead) throw new InjectedFault(`file system is down (${op} ${path})`);
    for (const f of this.#faults) {
      if (f.op !== op || (f.match !== undefined && !f.match.test(path))) continue;
      if (--f.countdown === 0) {
        this.#faults.splice(this.#faults.indexOf(f), 1);
        if (f.sticky) this.#dead = true;
        const what = `injected ${op} fault (${path})`;
        this.fired.push(what);
        throw new InjectedFault(what);
      }
    }
  }

  // --------------------------------------------------------- namespace

  #dir(dir: string): Map<string, Inode> {
    const d = this.#dirs.get(dir);
    if (d === undefined) throw notFound(dir);
    return d;
  }

  #inode(path: string): Inode {
    const [dir, name] = splitPath(path);
    const inode = this.#dirs.get(dir)?.get(name);
    if (inode === undefined) throw notFound(path);
    return inode;
  }

  // ---------------------------------------------------------- crashing

  /**
   * The file system as it could be found after power loss now: unsynced
   * directory changes reverted, each file cut to its synced bytes plus what
   * `mode` keeps of its unsynced tail. `seed` drives the random choices.
   */
  crash(mode: CrashMode = "drop", seed = 1): FaultFileSystem {
    const random = rng(seed);
    const out = new FaultFileSystem();
    const sortedDirs = [...this.#durableDirs.keys()].sort();
    for (const dir of sortedDirs) {
      const entries = new Map<string, Inode>();
      for (const [name, inode] of [...this.#durableDirs.get(dir)!].sort()) {
        entries.set(name, Inode.of(this.#afterCrash(inode, mode, random)));
      }
      out.#dirs.set(dir, entries);
      out.#durableDirs.set(dir, new Map(entries));
    }
    return out;
  }

  #afterCrash(inode: Inode, mode: CrashMode, random: () => number): Uint8Array {
    const durable = inode.durable;
    const full = inode.bytes;
    // Only a tail appended after the synced bytes can be partly present;
    // a file truncated below its durable length keeps the truncated bytes.
    const tail = full.length > durable.length ? full.subarray(durable.length) : new Uint8Array(0);
    if (tail.length === 0 || mode === "drop") return durable.slice();
    const out = new Uint8Array(durable.length + tail.length);
    out.set(durable);
    const kept = Math.floor(random() * (tail.length + 1));
    switch (mode) {
      case "prefix":
        out.set(tail.subarray(0, kept), durable.length);
        return out.slice(0, durable.length + kept);
      case "zeros":
        return out;
      case "prefix-zeros":
        out.set(tail.subarray(0, kept), durable.length);
        return out;
      case "garbage":
        for (let i = durable.length; i < out.length; i++) out[i] = Math.floor(random() * 256);
        return out;
    }
  }

  /**
   * Makes a file's appended bytes durable without a sync, as the kernel's
   * writeback may do for any file at any moment, in any order.
   */
  writeBack(path: string): void {
    this.#inode(path).sync();
  }

  /** How many `op`s so far had a path matching `match`. */
  countOf(op: FaultOp, match?: RegExp): number {
    return this.history.filter((h) => h.op === op && (match?.test(h.path) ?? true)).length;
  }

  /** A copy of a file's current bytes (test inspection). */
  peek(path: string): Uint8Array {
    return this.#inode(path).bytes.slice();
  }

  /** Replaces a file's bytes, durably (test setup: corruption). */
  poke(path: string, bytes: Uint8Array): void {
    const inode = this.#inode(path);
    inode.truncate(0);
    inode.append(bytes);
    inode.sync();
  }

  // ------------------------------------------------------- FileSystem

  openRead(path: string): RandomAccessFile {
    const inode = this.#inode(path);
    const size = inode.length;
    let open = true;
    const handle = this.#nextHandle++;
    this.openFiles.set(handle, path);
    const closed = () => this.openFiles.delete(handle);
    return {
      path,
      size,
      read(buf: Uint8Array, position: number): number {
        if (!open) throw new Error(`read of closed file ${path}`);
        const src = inode.bytes;
        if (position >= src.length) return 0;
        const n = Math.min(buf.length, src.length - position);
        buf.set(src.subarray(position, position + n));
        return n;
      },
      close(): void {
        open = false;
        closed();
      },
    };
  }

  openWrite(path: string, options: OpenWriteOptions = {}): WritableFile {
    const [dir, name] = splitPath(path);
    const entries = this.#dir(dir);
    let inode = entries.get(name);
    if (inode === undefined) {
      this.#check("create", path);
      inode = new Inode();
      entries.set(name, inode);
    } else if (!options.append) {
      this.#check("create", path);
      inode.truncate(0);
    }
    const file = inode;
    let open = true;
    // Set once closeWhenSynced has made every appended byte durable.
    let closedSynced = false;
    let closing = false;
    const check = (op: FaultOp) => this.#check(op, path);
    const closingSyncs = this.closingSyncs;
    const handle = this.#nextHandle++;
    this.openFiles.set(handle, path);
    const closed = () => this.openFiles.delete(handle);
    return {
      path,
      get size() {
        return file.length;
      },
      append(data: Uint8Array): void {
        if (!open || closing) throw new Error(`append to closed file ${path}`);
        check("write");
        file.append(data);
      },
      sync(): void {
        if (!open && closedSynced) return;
        if (!open) throw new Error(`sync of closed file ${path}`);
        check("sync");
        file.sync();
      },
      closeWhenSynced(): Promise<void> {
        if (!open) return Promise.reject(new Error(`close of closed file ${path}`));
        const length = file.length;
        closing = true;
        return new Promise((resolve, reject) => {
          closingSyncs.start(() => {
            try {
              check("sync");
              file.syncUpTo(length);
              closedSynced = true;
              resolve();
            } catch (e) {
              reject(e);
            } finally {
              open = false;
              closed();
            }
          });
        });
      },
      close(): void {
        open = false;
        closed();
      },
    };
  }

  readFile(path: string): Uint8Array {
    return this.#inode(path).bytes.slice();
  }

  rename(from: string, to: string): void {
    const inode = this.#inode(from);
    this.#check("rename", `${from} -> ${to}`);
    const [fromDir, fromName] = splitPath(from);
    const [toDir, toName] = splitPath(to);
    this.#dir(fromDir).delete(fromName);
    this.#dir(toDir).set(toName, inode);
  }

  remove(path: string): void {
    const [dir, name] = splitPath(path);
    const entries = this.#dirs.get(dir);
    if (entries === undefined || !entries.has(name)) return;
    this.#check("remove", path);
    entries.delete(name);
  }

  removeInBackground(path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const finish = () => {
        try {
          this.remove(path);
          resolve();
        } catch (e) {
          reject(e);
        }
      };
      this.backgroundRemovals.start(finish);
    });
  }

  exists(path: string): boolean {
    if (this.#dirs.has(path)) return true;
    const [dir, name] = splitPath(path);
    return this.#dirs.get(dir)?.has(name) ?? false;
  }

  list(dir: string): string[] {
    return [...this.#dir(dir).keys()];
  }

  mkdirp(dir: string): void {
    let path = dir;
    while (path !== "" && path !== "/" && path !== "." && !this.#dirs.has(path)) {
      this.#dirs.set(path, new Map());
      this.#durableDirs.set(path, new Map());
      path = splitPath(path)[0];
    }
  }

  syncDir(dir: string): void {
    const entries = this.#dir(dir);
    this.#check("syncDir", dir);
    this.#durableDirs.set(dir, new Map(entries));
  }

  truncate(path: string, length: number): void {
    const inode = this.#inode(path);
    this.#check("write", path);
    inode.truncate(length);
  }

  lock(path: string): FileLock {
    if (this.#locks.has(path)) throw new LockError(`database is locked: ${path}`);
    this.#locks.add(path);
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        this.#locks.delete(path);
      },
    };
  }
}
