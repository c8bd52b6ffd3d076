/**
 * The manifest: which table files are live, at which level, and the
 * counters recovery needs. It is a record log (see `wal.ts`) of version
 * edits encoded as JSON; replaying every edit in order gives the current
 * {@linkcode Version}. `CURRENT` names the manifest in use and is replaced by
 * write-temp + fsync + rename + directory fsync. Each open starts a new
 * manifest that begins with a full snapshot, so old edits do not pile up.
 *
 * @module
 */

import { compareBytes } from "./coding.ts";
import { CorruptionError } from "./errors.ts";
import { type FileSystem, joinPath } from "./fs.ts";
import { KeyFence } from "./key_fence.ts";
import { LogWriter, MANIFEST_MAGIC, readLog } from "./wal.ts";

/** Number of levels, 0 through 6. */
export const NUM_LEVELS = 7;

/** A live table file. */
export interface FileMeta {
  /** The file number (the name is `NNNNNN.sst`). */
  readonly number: number;
  /** Size in bytes. */
  readonly size: number;
  /** Smallest user key. */
  readonly smallest: Uint8Array;
  /** Largest user key. */
  readonly largest: Uint8Array;
  /** Smallest sequence number held. */
  readonly minSeq: number;
  /** Largest sequence number held. */
  readonly maxSeq: number;
  /** Number of entries. */
  readonly entries: number;
}

/**
 * True when the key range of `file` meets [start, end] (inclusive; an
 * undefined bound is open).
 *
 * @example
 * ```ts
 * import { overlaps } from "./manifest.ts";
 * const key = (s: string) => new TextEncoder().encode(s);
 * const file = {
 *   number: 1, size: 1, smallest: key("b"), largest: key("d"), minSeq: 1, maxSeq: 1, entries: 1,
 * };
 * console.log(overlaps(file, key("d"), key("f"))); // true
 * ```
 */
export function overlaps(file: FileMeta, start?: Uint8Array, end?: Uint8Array): boolean {
  return (end === undefined || compareBytes(file.smallest, end) <= 0) &&
    (start === undefined || compareBytes(file.largest, start) >= 0);
}

/** A change to the set of live files and counters. */
export interface VersionEdit {
  /** WAL files numbered below this are no longer needed. */
  logNumber?: number;
  /** The next file number to hand out. */
  nextFileNumber?: number;
  /** The last sequence number used. */
  lastSequence?: number;
  /** Files added, with their level. */
  added?: { level: number; file: FileMeta }[];
  /** Files removed, by level and number. */
  deleted?: { level: number; number: number }[];
}

/**
 * An immutable set of live files per level. Level 0 is ordered newest first
 * (its files may overlap); levels 1 and up are sorted by key and do not
 * overlap.
 *
 * @example
 * ```ts
 * import { Version } from "./manifest.ts";
 * const v = Version.empty();
 * console.log(v.levels.length); // 7
 * ```
 */
export class Version {
  /** The files of each level. */
  readonly levels: readonly (readonly FileMeta[])[];

  // Per level ≥ 1, built on first lookup: a fence over the files' key ranges.
  #fences: (KeyFence | undefined)[] = [];

  /** Wraps per-level file lists (which must already be ordered). */
  constructor(levels: readonly (readonly FileMeta[])[]) {
    this.levels = levels;
  }

  #fence(level: number): KeyFence {
    let fence = this.#fences[level];
    if (fence === undefined) {
      const files = this.levels[level];
      fence = new KeyFence(files.map((f) => f.largest), {
        lowerKeys: files.map((f) => f.smallest),
      });
      this.#fences[level] = fence;
    }
    return fence;
  }

  /**
   * The file of `level` (1 or deeper, where files do not overlap) whose key
   * range holds `key`, if any.
   */
  fileFor(level: number, key: Uint8Array): FileMeta | undefined {
    const files = this.levels[level];
    if (files.length === 0) return undefined;
    const i = this.#fence(level).rangeHolding(key);
    return i < 0 ? undefined : files[i];
  }

  /**
   * The files of `level` (1 or deeper) that hold keys in [start, end), an
   * undefined bound being open: a run of the level found by bisection.
   */
  filesIn(level: number, start?: Uint8Array, end?: Uint8Array): readonly FileMeta[] {
    const files = this.levels[level];
    if (files.length === 0) return files;
    const lo = start === undefined ? 0 : this.#fence(level).lowerBound(start);
    let hi = files.length;
    if (end !== undefined) {
      // The first file from lo on that starts at or past the end.
      let from = lo;
      while (from < hi) {
        const mid = (from + hi) >>> 1;
        if (compareBytes(files[mid].smallest, end) < 0) from = mid + 1;
        else hi = mid;
      }
    }
    return lo === 0 && hi === files.length ? files : files.slice(lo, hi);
  }

  /** A version with no files. */
  static empty(): Version {
    return new Version(Array.from({ length: NUM_LEVELS }, () => []));
  }

  /** The version after applying an edit. */
  apply(edit: VersionEdit, where = "manifest"): Version {
    const levels = this.levels.map((files) => [...files]);
    for (const d of edit.deleted ?? []) {
      const files = levels[d.level];
      const i = files?.findIndex((f) => f.number === d.number) ?? -1;
      if (i < 0) {
        throw new CorruptionError(`edit deletes file ${d.number}, not live at level ${d.level}`, {
          file: where,
        });
      }
      files.splice(i, 1);
    }
    for (const a of edit.added ?? []) {
      if (!(a.level >= 0 && a.level < NUM_LEVELS)) {
        throw new CorruptionError(`edit adds a file at level ${a.level}`, { file: where });
      }
      levels[a.level].push(a.file);
    }
    // Level 0: newest data first; among levels 1+, by smallest key.
    levels[0].sort((a, b) => b.maxSeq - a.maxSeq || b.number - a.number);
    for (let l = 1; l < NUM_LEVELS; l++) {
      levels[l].sort((a, b) => compareBytes(a.smallest, b.smallest));
    }
    return new Version(levels);
  }

  /** Every live file number. */
  fileNumbers(): Set<number> {
    const out = new Set<number>();
    for (const files of this.levels) for (const f of files) out.add(f.number);
    return out;
  }

  /** Total bytes at a level. */
  levelBytes(level: number): number {
    let sum = 0;
    for (const f of this.levels[level]) sum += f.size;
    return sum;
  }

  /**
   * Files of `level` whose key range meets [start, end] (inclusive; an
   * undefined bound is open).
   */
  overlapping(level: number, start?: Uint8Array, end?: Uint8Array): FileMeta[] {
    return this.levels[level].filter((f) => overlaps(f, start, end));
  }

  /** The edit that creates this version from nothing. */
  snapshotEdit(): VersionEdit {
    const added: { level: number; file: FileMeta }[] = [];
    this.levels.forEach((files, level) => files.forEach((file) => added.push({ level, file })));
    return { added };
  }
}

/** What recovery reads from the manifest. */
export interface ManifestState {
  /** The live files. */
  version: Version;
  /** WAL files numbered below this are obsolete. */
  logNumber: number;
  /** The next unused file number. */
  nextFileNumber: number;
  /** The last sequence number recorded. */
  lastSequence: number;
}

const hex = (b: Uint8Array): string =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

function unhex(s: unknown, where: string): Uint8Array {
  if (typeof s !== "string" || s.length % 2 !== 0 || !/^[0-9a-f]*$/.test(s)) {
    throw new CorruptionError("malformed key in version edit", { file: where });
  }
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(s.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Encodes an edit as a manifest record payload. */
export function encodeEdit(edit: VersionEdit): Uint8Array {
  const json = {
    ...edit,
    added: edit.added?.map(({ level, file }) => ({
      level,
      file: { ...file, smallest: hex(file.smallest), largest: hex(file.largest) },
    })),
  };
  return new TextEncoder().encode(JSON.stringify(json));
}

function num(x: unknown, what: string, where: string): number {
  if (typeof x !== "number" || !Number.isSafeInteger(x) || x < 0) {
    throw new CorruptionError(`malformed ${what} in version edit`, { file: where });
  }
  return x;
}

/** Decodes a manifest record payload. */
export function decodeEdit(payload: Uint8Array, where: string, offset: number): VersionEdit {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch {
    throw new CorruptionError("version edit is not valid JSON", { file: where, offset });
  }
  if (typeof json !== "object" || json === null) {
    throw new CorruptionError("version edit is not an object", { file: where, offset });
  }
  const edit: VersionEdit = {};
  if (json.logNumber !== undefined) edit.logNumber = num(json.logNumber, "logNumber", where);
  if (json.nextFileNumber !== undefined) {
    edit.nextFileNumber = num(json.nextFileNumber, "nextFileNumber", where);
  }
  if (json.lastSequence !== undefined) {
    edit.lastSequence = num(json.lastSequence, "lastSequence", where);
  }
  if (json.added !== undefined) {
    if (!Array.isArray(json.added)) throw new CorruptionError("malformed added", { file: where });
    edit.added = json.added.map((a: { level: unknown; file: Record<string, unknown> }) => ({
      level: num(a?.level, "level", where),
      file: {
        number: num(a?.file?.number, "file number", where),
        size: num(a.file.size, "file size", where),
        smallest: unhex(a.file.smallest, where),
        largest: unhex(a.file.largest, where),
        minSeq: num(a.file.minSeq, "minSeq", where),
        maxSeq: num(a.file.maxSeq, "maxSeq", where),
        entries: num(a.file.entries, "entries", where),
      },
    }));
  }
  if (json.deleted !== undefined) {
    if (!Array.isArray(json.deleted)) {
      throw new CorruptionError("malformed deleted", { file: where });
    }
    edit.deleted = json.deleted.map((d: { level: unknown; number: unknown }) => ({
      level: num(d?.level, "level", where),
      number: num(d?.number, "file number", where),
    }));
  }
  return edit;
}

/** The name of manifest number `n`. */
export function manifestName(n: number): string {
  return `MANIFEST-${String(n).padStart(6, "0")}`;
}

/**
 * An open manifest that version edits are appended to.
 *
 * @example
 * ```ts
 * import { Manifest, Version } from "./manifest.ts";
 * import { defaultFileSystem } from "./fs.ts";
 * const fs = defaultFileSystem();
 * fs.mkdirp("/tmp/manifest-example");
 * const m = Manifest.create(fs, "/tmp/manifest-example", 1, {
 *   version: Version.empty(), logNumber: 0, nextFileNumber: 2, lastSequence: 0,
 * });
 * m.close();
 * ```
 */
export class Manifest {
  #log: LogWriter;
  /** This manifest's file number. */
  readonly number: number;

  private constructor(log: LogWriter, number: number) {
    this.#log = log;
    this.number = number;
  }

  /**
   * Writes a new manifest holding `state`, syncs it, and points `CURRENT`
   * at it. The previous manifest is left for the caller to remove.
   */
  static create(fs: FileSystem, dir: string, number: number, state: ManifestState): Manifest {
    const log = LogWriter.create(fs.openWrite(joinPath(dir, manifestName(number))), MANIFEST_MAGIC);
    log.append([encodeEdit({
      ...state.version.snapshotEdit(),
      logNumber: state.logNumber,
      nextFileNumber: state.nextFileNumber,
      lastSequence: state.lastSequence,
    })]);
    log.sync();
    setCurrent(fs, dir, manifestName(number));
    return new Manifest(log, number);
  }

  /** Bytes written to this manifest. */
  get size(): number {
    return this.#log.size;
  }

  /** Appends an edit and syncs it: once this returns, the edit survives a crash. */
  append(edit: VersionEdit): void {
    this.#log.append([encodeEdit(edit)]);
    this.#log.sync();
  }

  /** Closes the file. */
  close(): void {
    this.#log.close();
  }
}

/** Points `CURRENT` at a manifest: write temp, fsync, rename, fsync the directory. */
export function setCurrent(fs: FileSystem, dir: string, name: string): void {
  const tmp = joinPath(dir, "CURRENT.tmp");
  const f = fs.openWrite(tmp);
  try {
    f.append(new TextEncoder().encode(`${name}\n`));
    f.sync();
  } finally {
    f.close();
  }
  fs.rename(tmp, joinPath(dir, "CURRENT"));
  fs.syncDir(dir);
}

/** The manifest `CURRENT` names, and the state it records. */
export function recoverManifest(
  fs: FileSystem,
  dir: string,
): ManifestState & { manifestNumber: number } {
  const current = new TextDecoder().decode(fs.readFile(joinPath(dir, "CURRENT")));
  const match = /^MANIFEST-(\d{6,})\n$/.exec(current);
  if (match === null) {
    throw new CorruptionError(`CURRENT does not name a manifest: ${JSON.stringify(current)}`, {
      file: joinPath(dir, "CURRENT"),
    });
  }
  const name = `MANIFEST-${match[1]}`;
  const path = joinPath(dir, name);
  if (!fs.exists(path)) {
    throw new CorruptionError(`CURRENT names ${name}, which does not exist`, { file: path });
  }
  const { records, offsets } = readLog(fs.readFile(path), MANIFEST_MAGIC, path);
  if (records.length === 0) throw new CorruptionError("manifest holds no edits", { file: path });
  let version = Version.empty();
  let logNumber = 0;
  let nextFileNumber = 1;
  let lastSequence = 0;
  records.forEach((payload, i) => {
    const edit = decodeEdit(payload, path, offsets[i]);
    version = version.apply(edit, path);
    if (edit.logNumber !== undefined) logNumber = edit.logNumber;
    if (edit.nextFileNumber !== undefined) nextFileNumber = edit.nextFileNumber;
    if (edit.lastSequence !== undefined) lastSequence = edit.lastSequence;
  });
  return { version, logNumber, nextFileNumber, lastSequence, manifestNumber: Number(match[1]) };
}
