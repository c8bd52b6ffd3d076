/**
 * Private helpers of `cli.ts`: `dump` (describe one table, write-ahead log
 * or manifest file) and `verify` (check every checksum of every live file
 * of a database). Both only read: `verify` works from the files themselves
 * rather than through `open()`, which would replay the WAL into a new table
 * and write a new manifest.
 *
 * @module
 */

import { equalBytes, readU32 } from "./lib/coding.ts";
import { CorruptionError, StrataError } from "./lib/errors.ts";
import { type FileSystem, joinPath } from "./lib/fs.ts";
import { KIND_DELETE } from "./lib/internal_key.ts";
import {
  decodeEdit,
  type FileMeta,
  NUM_LEVELS,
  Version,
  type VersionEdit,
} from "./lib/manifest.ts";
import { Table, type TableDescription } from "./lib/sstable/table_reader.ts";
import { FOOTER_SIZE, TABLE_MAGIC } from "./lib/sstable/table_builder.ts";
import { tableName } from "./lib/table_cache.ts";
import { type LogContents, MANIFEST_MAGIC, readLog, WAL_MAGIC } from "./lib/wal.ts";
import { decodeBatch, type DecodedBatch } from "./lib/write_batch.ts";
import { escapeBytes, formatBytes, plural, quoteBytes, setBytes } from "./_cli_output.ts";

/** Receives output text; may return a promise to make the caller wait. */
export type Emit = (text: string) => void | Promise<void>;

/** An error of the CLI itself, shown as `strata: <name>: message`. */
export class CliError extends Error {
  /** Creates an error whose `name` is `name`. */
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

// Record payloads start after the 12-byte record header (see lib/wal.ts);
// adding it makes offsets inside a batch point at the damaged byte itself.
const RECORD_HEADER_SIZE = 12;
const MAX_SEQ = Number.MAX_SAFE_INTEGER;

/** What a file is, by its magic number. */
export type FileKind = "table" | "wal" | "manifest";

/** Tells a table, WAL or manifest apart by magic number (never by name). */
export function detectKind(fs: FileSystem, path: string): FileKind {
  const file = fs.openRead(path);
  try {
    const size = file.size;
    if (size >= 4) {
      const head = new Uint8Array(4);
      file.read(head, 0);
      const magic = readU32(head, 0);
      if (magic === WAL_MAGIC) return "wal";
      if (magic === MANIFEST_MAGIC) return "manifest";
    }
    if (size >= FOOTER_SIZE) {
      const tail = new Uint8Array(TABLE_MAGIC.length);
      file.read(tail, size - tail.length);
      if (tail.every((b, i) => b === TABLE_MAGIC[i])) return "table";
    }
    throw new CliError(
      "FormatError",
      `${path}: not a Strata table, write-ahead log or manifest (no known magic number)`,
    );
  } finally {
    file.close();
  }
}

function fileNumberOf(path: string): number {
  const m = /(\d+)\.sst$/.exec(path);
  return m === null ? 0 : Number(m[1]);
}

function openTable(fs: FileSystem, path: string, fileNumber: number): Table {
  const file = fs.openRead(path);
  try {
    return Table.open(file, { fileNumber, fileName: path });
  } catch (e) {
    file.close();
    throw e;
  }
}

function seqText(seq: number): string {
  return seq === MAX_SEQ ? "max" : String(seq);
}

// ------------------------------------------------------------------- dump

/** Options of the dump functions. */
export interface DumpOptions {
  /** List every entry of every data block (tables). */
  entries: boolean;
  /** One JSON document instead of text. */
  json: boolean;
  /** Keys and values as hex. */
  hex: boolean;
}

/** Describes any Strata file, picking the format by magic number. */
export async function dumpFile(
  fs: FileSystem,
  path: string,
  options: DumpOptions,
  emit: Emit,
): Promise<void> {
  const kind = detectKind(fs, path);
  if (kind === "table") await dumpTable(fs, path, options, emit);
  else await dumpLog(fs, path, kind, options, emit);
}

function blockJson(h: { offset: number; size: number }): { offset: number; size: number } {
  return { offset: h.offset, size: h.size };
}

function propertiesJson(d: TableDescription, hex: boolean): Record<string, unknown> {
  const p = d.properties;
  const o: Record<string, unknown> = {
    entries: p.entries,
    deletions: p.deletions,
    dataBlocks: p.dataBlocks,
  };
  setBytes(o, "smallestKey", p.smallestKey, hex);
  o.smallestSeq = p.smallestSeq;
  setBytes(o, "largestKey", p.largestKey, hex);
  o.largestSeq = p.largestSeq;
  o.minSeq = p.minSeq;
  o.maxSeq = p.maxSeq;
  return o;
}

async function dumpTable(
  fs: FileSystem,
  path: string,
  { entries, json, hex }: DumpOptions,
  emit: Emit,
): Promise<void> {
  const table = openTable(fs, path, fileNumberOf(path));
  try {
    const d = table.describe();
    const footer = { offset: d.fileSize - FOOTER_SIZE, size: FOOTER_SIZE };
    const blockEntries = function* (i: number) {
      const it = table.readBlock(i).iterator();
      for (it.seekToFirst(); it.valid(); it.next()) {
        yield { key: it.key(), seq: it.seq(), kind: it.kind(), value: it.value() };
      }
    };
    if (json) {
      const head = {
        kind: "table",
        file: path,
        fileSize: d.fileSize,
        formatVersion: d.formatVersion,
        properties: propertiesJson(d, hex),
        filter: { ...blockJson(d.filter), bits: d.filter.bits, probes: d.filter.probes },
        propertiesBlock: blockJson(d.propertiesBlock),
        index: { ...blockJson(d.index), entries: d.dataBlocks.length },
        footer,
      };
      // Streamed one block per line, so `--entries` on a big table does not
      // build one huge string.
      const text = JSON.stringify(head);
      await emit(`${text.slice(0, -1)},"dataBlocks":[`);
      for (let i = 0; i < d.dataBlocks.length; i++) {
        const b = d.dataBlocks[i];
        const o: Record<string, unknown> = { offset: b.offset, size: b.size };
        setBytes(o, "indexKey", b.indexKey, hex);
        o.indexSeq = b.indexSeq;
        if (entries) {
          o.entries = Array.from(blockEntries(i), (e) => {
            const x: Record<string, unknown> = {};
            setBytes(x, "key", e.key, hex);
            x.seq = e.seq;
            x.kind = e.kind === KIND_DELETE ? "delete" : "put";
            if (e.kind !== KIND_DELETE) setBytes(x, "value", e.value, hex);
            return x;
          });
        }
        await emit(`${i === 0 ? "\n" : ",\n"}${JSON.stringify(o)}`);
      }
      await emit("\n]}\n");
      return;
    }
    const p = d.properties;
    await emit(
      `${path}: SSTable, format ${d.formatVersion}, ${d.fileSize} bytes (${
        formatBytes(d.fileSize)
      })\n` +
        `properties:\n` +
        `  entries       ${p.entries} (${p.deletions} deletions)\n` +
        `  data blocks   ${p.dataBlocks}\n` +
        `  smallest      ${quoteBytes(p.smallestKey, hex)} @ ${p.smallestSeq}\n` +
        `  largest       ${quoteBytes(p.largestKey, hex)} @ ${p.largestSeq}\n` +
        `  sequences     ${p.minSeq}..${p.maxSeq}\n` +
        `filter:      offset ${d.filter.offset}, size ${d.filter.size} (${d.filter.bits} bits, ${d.filter.probes} probes${
          d.filter.bits === 0 ? ": no filter" : ""
        })\n` +
        `properties:  offset ${d.propertiesBlock.offset}, size ${d.propertiesBlock.size}\n` +
        `index:       offset ${d.index.offset}, size ${d.index.size} (${d.dataBlocks.length} entries)\n` +
        `footer:      offset ${footer.offset}, size ${footer.size}\n` +
        `data blocks:\n`,
    );
    for (let i = 0; i < d.dataBlocks.length; i++) {
      const b = d.dataBlocks[i];
      await emit(
        `  #${i}  offset ${b.offset}  size ${b.size}  index key ${quoteBytes(b.indexKey, hex)} @ ${
          seqText(b.indexSeq)
        }\n`,
      );
      if (!entries) continue;
      for (const e of blockEntries(i)) {
        await emit(
          e.kind === KIND_DELETE
            ? `      ${quoteBytes(e.key, hex)} @ ${e.seq} DEL\n`
            : `      ${quoteBytes(e.key, hex)} @ ${e.seq} PUT ${quoteBytes(e.value, hex)}\n`,
        );
      }
    }
  } finally {
    table.close();
  }
}

function editJson(edit: VersionEdit, hex: boolean): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (edit.logNumber !== undefined) o.logNumber = edit.logNumber;
  if (edit.nextFileNumber !== undefined) o.nextFileNumber = edit.nextFileNumber;
  if (edit.lastSequence !== undefined) o.lastSequence = edit.lastSequence;
  if (edit.added !== undefined) {
    o.added = edit.added.map(({ level, file }) => {
      const f: Record<string, unknown> = { number: file.number, size: file.size };
      setBytes(f, "smallest", file.smallest, hex);
      setBytes(f, "largest", file.largest, hex);
      f.minSeq = file.minSeq;
      f.maxSeq = file.maxSeq;
      f.entries = file.entries;
      return { level, file: f };
    });
  }
  if (edit.deleted !== undefined) o.deleted = edit.deleted;
  return o;
}

function batchJson(b: DecodedBatch, offset: number, length: number, hex: boolean): unknown {
  return {
    offset,
    length,
    firstSeq: b.firstSeq,
    ops: b.ops.map((op) => {
      const o: Record<string, unknown> = { kind: op.kind === KIND_DELETE ? "delete" : "put" };
      setBytes(o, "key", op.key, hex);
      if (op.kind !== KIND_DELETE) setBytes(o, "value", op.value, hex);
      return o;
    }),
  };
}

async function dumpLog(
  fs: FileSystem,
  path: string,
  kind: "wal" | "manifest",
  { json, hex }: DumpOptions,
  emit: Emit,
): Promise<void> {
  const bytes = fs.readFile(path);
  const log = readLog(bytes, kind === "wal" ? WAL_MAGIC : MANIFEST_MAGIC, path);
  const name = kind === "wal" ? "write-ahead log" : "manifest";
  const tornBytes = bytes.length - log.validLength;
  const tail = log.torn
    ? `torn tail: ${tornBytes} bytes at offset ${log.validLength} (recovery drops them)\n`
    : "";
  if (kind === "manifest") {
    const edits = log.records.map((p, i) => decodeEdit(p, path, log.offsets[i]));
    let version = Version.empty();
    const state = { logNumber: 0, nextFileNumber: 1, lastSequence: 0 };
    edits.forEach((e, i) => {
      version = applyAt(version, e, path, log.offsets[i]);
      if (e.logNumber !== undefined) state.logNumber = e.logNumber;
      if (e.nextFileNumber !== undefined) state.nextFileNumber = e.nextFileNumber;
      if (e.lastSequence !== undefined) state.lastSequence = e.lastSequence;
    });
    const levels = version.levels.map((files) => files.map((f) => f.number));
    if (json) {
      await emit(
        JSON.stringify({
          kind,
          file: path,
          size: bytes.length,
          edits: edits.map((e, i) => ({ offset: log.offsets[i], edit: editJson(e, hex) })),
          torn: log.torn,
          validLength: log.validLength,
          result: { ...state, levels },
        }) + "\n",
      );
      return;
    }
    await emit(`${path}: ${name}, ${bytes.length} bytes, ${edits.length} edits\n`);
    for (let i = 0; i < edits.length; i++) {
      await emit(`@${log.offsets[i]} ${JSON.stringify(editJson(edits[i], hex))}\n`);
    }
    await emit(
      tail +
        `result: logNumber ${state.logNumber}, nextFileNumber ${state.nextFileNumber}, ` +
        `lastSequence ${state.lastSequence}\n` +
        levels.map((ns, l) => `  L${l}: ${ns.length === 0 ? "-" : ns.join(" ")}\n`).join(""),
    );
    return;
  }
  if (json) {
    await emit(`{"kind":"wal","file":${JSON.stringify(path)},"size":${bytes.length},"records":[`);
    for (let i = 0; i < log.records.length; i++) {
      const b = decodeBatch(log.records[i], path, log.offsets[i] + RECORD_HEADER_SIZE);
      const record = batchJson(b, log.offsets[i], log.records[i].length, hex);
      await emit(`${i === 0 ? "\n" : ",\n"}${JSON.stringify(record)}`);
    }
    await emit(`\n],"torn":${log.torn},"validLength":${log.validLength}}\n`);
    return;
  }
  await emit(`${path}: ${name}, ${bytes.length} bytes, ${log.records.length} records\n`);
  for (let i = 0; i < log.records.length; i++) {
    const b = decodeBatch(log.records[i], path, log.offsets[i] + RECORD_HEADER_SIZE);
    const last = b.firstSeq + b.ops.length - 1;
    await emit(
      `@${log.offsets[i]} batch seq ${b.firstSeq}..${last} (${b.ops.length} ops, ${
        log.records[i].length
      } bytes)\n`,
    );
    for (const op of b.ops) {
      await emit(
        op.kind === KIND_DELETE
          ? `    DEL ${quoteBytes(op.key, hex)}\n`
          : `    PUT ${quoteBytes(op.key, hex)} = ${quoteBytes(op.value, hex)}\n`,
      );
    }
  }
  await emit(tail);
}

// Version.apply names the file but not the record; re-raise with its offset.
function applyAt(v: Version, edit: VersionEdit, path: string, offset: number): Version {
  try {
    return v.apply(edit, path);
  } catch (e) {
    if (!(e instanceof CorruptionError)) throw e;
    throw new CorruptionError(bareMessage(e), { file: path, offset });
  }
}

/** A CorruptionError's message without the `(file …, offset …)` suffix it adds. */
export function bareMessage(e: Error): string {
  return e.message.replace(/ \((file .*|offset \d+)\)$/, "");
}

// ----------------------------------------------------------------- verify

/** One file's line in a verify report. */
export interface VerifyItem {
  /** The file name within the database directory. */
  name: string;
  /** What the file is. */
  kind: "current" | "manifest" | "wal" | "table" | "other";
  /** Level of a live table. */
  level?: number;
  /** `damaged` makes verify fail; `warning` only with `--strict`. */
  status: "ok" | "damaged" | "warning" | "ignored";
  /** What was checked, or what is wrong. */
  detail: string;
  /** Byte offset of the damage, when known. */
  offset?: number;
  /** The full error, for the one-line summary on stderr. */
  error?: string;
}

/** What {@linkcode verifyDatabase} found. */
export interface VerifyReport {
  /** The database directory. */
  dir: string;
  /** One item per file looked at. */
  items: VerifyItem[];
  /** Items with status `damaged`. */
  problems: number;
  /** Items with status `warning`. */
  warnings: number;
}

function damaged(name: string, kind: VerifyItem["kind"], e: unknown, level?: number): VerifyItem {
  if (!(e instanceof Error)) throw e;
  const offset = e instanceof CorruptionError ? e.offset : undefined;
  return {
    name,
    kind,
    level,
    status: "damaged",
    detail: e instanceof CorruptionError
      ? bareMessage(e) + (offset === undefined ? "" : ` at offset ${offset}`)
      : `${e.name}: ${e.message}`,
    offset,
    error: `${e.name}: ${e.message}`,
  };
}

function verifyTableFile(fs: FileSystem, path: string, number: number, meta?: FileMeta): string {
  const table = openTable(fs, path, number);
  try {
    // verify() also checks that checksummed blocks and the footer cover
    // every byte of the file.
    const r = table.verify();
    const p = table.properties;
    if (meta !== undefined) {
      const mismatch = (what: string) =>
        new CorruptionError(`${what} disagrees with the manifest`, { file: path });
      if (meta.size !== table.fileSize) {
        throw mismatch(`file size ${table.fileSize} (manifest: ${meta.size})`);
      }
      if (meta.entries !== p.entries) throw mismatch(`entry count ${p.entries}`);
      if (!equalBytes(meta.smallest, p.smallestKey)) throw mismatch("smallest key");
      if (!equalBytes(meta.largest, p.largestKey)) throw mismatch("largest key");
      if (meta.minSeq !== p.minSeq || meta.maxSeq !== p.maxSeq) throw mismatch("sequence range");
    }
    return `${plural(r.dataBlocks, "data block")}, ${plural(r.entries, "entry", "entries")} (${
      plural(r.deletions, "deletion")
    }), ${formatBytes(table.fileSize)}`;
  } finally {
    table.close();
  }
}

function tornItem(
  name: string,
  kind: VerifyItem["kind"],
  log: LogContents,
  size: number,
  strict: boolean,
): VerifyItem {
  const detail = `torn tail: ${size - log.validLength} bytes at offset ${log.validLength} ` +
    `after ${log.records.length} intact records (recovery drops them)`;
  return {
    name,
    kind,
    status: strict ? "damaged" : "warning",
    detail,
    offset: log.validLength,
    error: `CorruptionError: ${detail}`,
  };
}

function verifyWal(fs: FileSystem, dir: string, name: string, strict: boolean): VerifyItem {
  const path = joinPath(dir, name);
  try {
    const bytes = fs.readFile(path);
    const log = readLog(bytes, WAL_MAGIC, path);
    let ops = 0;
    let first = -1;
    let last = -1;
    log.records.forEach((payload, i) => {
      const b = decodeBatch(payload, path, log.offsets[i] + RECORD_HEADER_SIZE);
      if (last >= 0 && b.firstSeq <= last) {
        throw new CorruptionError(`sequence numbers go backwards (${b.firstSeq} after ${last})`, {
          file: path,
          offset: log.offsets[i],
        });
      }
      if (first < 0) first = b.firstSeq;
      last = b.firstSeq + b.ops.length - 1;
      ops += b.ops.length;
    });
    if (log.torn) return tornItem(name, "wal", log, bytes.length, strict);
    const seqs = log.records.length === 0 ? "" : `, seq ${first}..${last}`;
    return {
      name,
      kind: "wal",
      status: "ok",
      detail: `${plural(log.records.length, "batch", "batches")}, ${plural(ops, "op")}${seqs}, ${
        formatBytes(bytes.length)
      }`,
    };
  } catch (e) {
    return damaged(name, "wal", e);
  }
}

/**
 * Checks a database without opening it: `CURRENT`, the manifest it names
 * (every record's checksum, every edit), every live table (footer, index,
 * filter, properties and every data block, read from the file, plus its
 * agreement with the manifest) and every live WAL (every record's checksum
 * and batch). Holds the directory's lock meanwhile, so a database in use
 * elsewhere is refused with a LockError. Writes nothing but the lock.
 */
export function verifyDatabase(fs: FileSystem, dir: string, strict: boolean): VerifyReport {
  if (!fs.exists(dir)) throw new StrataError(`database does not exist: ${dir}`);
  const names = fs.list(dir).sort();
  const dbFile = /^(MANIFEST-\d+|\d+\.(sst|log))$/;
  const hasCurrent = names.includes("CURRENT");
  if (!hasCurrent && !names.some((n) => dbFile.test(n))) {
    throw new StrataError(`not a database: ${dir} (no CURRENT file)`);
  }
  const lock = fs.lock(joinPath(dir, "LOCK"));
  try {
    return verifyLocked(fs, dir, names, hasCurrent, strict);
  } finally {
    lock.release();
  }
}

function verifyLocked(
  fs: FileSystem,
  dir: string,
  names: string[],
  hasCurrent: boolean,
  strict: boolean,
): VerifyReport {
  const items: VerifyItem[] = [];
  let manifest: string | undefined;
  if (!hasCurrent) {
    items.push({
      name: "CURRENT",
      kind: "current",
      status: "damaged",
      detail: "missing, but the directory holds database files",
      error: `CorruptionError: CURRENT is missing (file ${joinPath(dir, "CURRENT")})`,
    });
  } else {
    const text = new TextDecoder().decode(fs.readFile(joinPath(dir, "CURRENT")));
    const m = /^(MANIFEST-\d{6,})\n$/.exec(text);
    if (m === null) {
      items.push(damaged(
        "CURRENT",
        "current",
        new CorruptionError(`does not name a manifest: ${JSON.stringify(text.slice(0, 40))}`, {
          file: joinPath(dir, "CURRENT"),
        }),
      ));
    } else if (!names.includes(m[1])) {
      items.push(damaged(
        "CURRENT",
        "current",
        new CorruptionError(`names ${m[1]}, which does not exist`, {
          file: joinPath(dir, "CURRENT"),
        }),
      ));
    } else {
      manifest = m[1];
      items.push({ name: "CURRENT", kind: "current", status: "ok", detail: `-> ${manifest}` });
    }
  }

  let version: Version | undefined;
  let logNumber = 0;
  if (manifest !== undefined) {
    const path = joinPath(dir, manifest);
    try {
      const bytes = fs.readFile(path);
      const log = readLog(bytes, MANIFEST_MAGIC, path);
      if (log.records.length === 0) {
        // A damaged last record reads as a torn tail; with nothing before it
        // the manifest is useless, whatever the cause.
        throw new CorruptionError(
          log.torn
            ? `manifest holds no intact edit (${bytes.length - log.validLength} damaged bytes)`
            : "manifest holds no edits",
          { file: path, offset: log.validLength },
        );
      }
      let v = Version.empty();
      log.records.forEach((payload, i) => {
        const edit = decodeEdit(payload, path, log.offsets[i]);
        v = applyAt(v, edit, path, log.offsets[i]);
        if (edit.logNumber !== undefined) logNumber = edit.logNumber;
      });
      version = v;
      items.push(
        log.torn ? tornItem(manifest, "manifest", log, bytes.length, strict) : {
          name: manifest,
          kind: "manifest",
          status: "ok",
          detail: `${plural(log.records.length, "edit")}, ${formatBytes(bytes.length)}`,
        },
      );
    } catch (e) {
      items.push(damaged(manifest, "manifest", e));
    }
  }

  // Without a readable manifest the live set is unknown: check every file.
  const liveTables = new Set<number>();
  if (version !== undefined) {
    for (let level = 0; level < NUM_LEVELS; level++) {
      for (const meta of version.levels[level]) {
        liveTables.add(meta.number);
        const name = tableName(meta.number);
        try {
          if (!names.includes(name)) {
            throw new CorruptionError("live table file is missing", { file: joinPath(dir, name) });
          }
          const detail = verifyTableFile(fs, joinPath(dir, name), meta.number, meta);
          items.push({ name, kind: "table", level, status: "ok", detail });
        } catch (e) {
          items.push(damaged(name, "table", e, level));
        }
      }
    }
  }
  for (const name of names) {
    const m = /^(\d+)\.(sst|log)$/.exec(name);
    if (m !== null) {
      const n = Number(m[1]);
      if (m[2] === "sst") {
        if (liveTables.has(n)) continue;
        if (version !== undefined) {
          items.push({ name, kind: "other", status: "ignored", detail: "not live (left over)" });
          continue;
        }
        try {
          const detail = verifyTableFile(fs, joinPath(dir, name), n);
          items.push({ name, kind: "table", status: "ok", detail });
        } catch (e) {
          items.push(damaged(name, "table", e));
        }
      } else if (version !== undefined && n < logNumber) {
        items.push({ name, kind: "other", status: "ignored", detail: "obsolete log (flushed)" });
      } else {
        items.push(verifyWal(fs, dir, name, strict));
      }
    } else if (/^MANIFEST-\d+$/.test(name) && name !== manifest) {
      items.push({ name, kind: "other", status: "ignored", detail: "not the current manifest" });
    } else if (name.endsWith(".tmp")) {
      items.push({ name, kind: "other", status: "ignored", detail: "temporary file" });
    }
  }
  return {
    dir,
    items,
    problems: items.filter((i) => i.status === "damaged").length,
    warnings: items.filter((i) => i.status === "warning").length,
  };
}

/** The report as text, one line per file and a summary line. */
export function renderVerify(r: VerifyReport): string {
  const width = Math.max(...r.items.map((i) => i.name.length), 8);
  const status = { ok: "ok", damaged: "DAMAGED", warning: "WARNING", ignored: "skipped" };
  const lines = r.items.map((i) =>
    `  ${i.name.padEnd(width)}  ${i.level === undefined ? "  " : `L${i.level}`}  ${
      status[i.status].padEnd(7)
    }  ${escapeBytes(new TextEncoder().encode(i.detail))}`
  );
  const count = (kind: VerifyItem["kind"]) =>
    r.items.filter((i) => i.kind === kind && i.status !== "ignored").length;
  const summary = `${plural(count("table"), "table")}, ${plural(count("wal"), "log")}, ` +
    `${plural(count("manifest"), "manifest")} checked: ` +
    (r.problems === 0 ? "no damage" : plural(r.problems, "damaged file")) +
    (r.warnings === 0 ? "" : `, ${plural(r.warnings, "warning")}`);
  return `verify ${r.dir} (read-only)\n${lines.join("\n")}\n${summary}\n`;
}
