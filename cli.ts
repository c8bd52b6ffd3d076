/**
 * The `strata` command-line tool: read, write, inspect, verify and
 * benchmark Strata databases.
 *
 * ```sh
 * deno run -A cli.ts put ./data user:1 ada
 * bun cli.ts scan ./data --prefix user: --json
 * ```
 *
 * Importing this module runs nothing; {@linkcode main} runs one command.
 *
 * @module
 */

import * as nodeFs from "node:fs";
import * as os from "node:os";
import process from "node:process";
import { parseArgs } from "node:util";
import { type DB, type DBStats, open, type ScanOptions } from "./mod.ts";
import { defaultFileSystem, type FileSystem, isDeno, joinPath } from "./lib/fs.ts";
import { BENCH_MARKER, formatResult, KEY_SIZE, runBench, WORKLOADS } from "./_cli_bench.ts";
import { CliError, dumpFile, renderVerify, verifyDatabase } from "./_cli_inspect.ts";
import {
  BrokenPipe,
  escapeBytes,
  fdSink,
  formatBytes,
  fromHex,
  Output,
  plural,
  Progress,
  setBytes,
  type Sink,
  stderrIsTerminal,
  toHex,
  tryUtf8,
} from "./_cli_output.ts";

/**
 * The tool's version; kept equal to `version` in deno.json (a test checks).
 *
 * @example
 * ```ts
 * import { VERSION } from "./cli.ts";
 * console.log(`strata ${VERSION}`);
 * ```
 */
export const VERSION = "0.1.0";

/**
 * Where {@linkcode main} writes. Every field is optional: stdout and stderr
 * default to the process's own, and `stderrIsTTY` to whether stderr is a
 * terminal (which turns on progress bars).
 *
 * @example
 * ```ts
 * import { type CliIO, main } from "./cli.ts";
 * const chunks: Uint8Array[] = [];
 * const io: CliIO = { stdout: (c) => void chunks.push(c), stderrIsTTY: false };
 * await main(["--version"], io);
 * ```
 */
export interface CliIO {
  /** Receives stdout bytes; may return a promise to make the command wait. */
  stdout?: (chunk: Uint8Array) => void | Promise<void>;
  /** Receives stderr bytes (messages, progress bars). */
  stderr?: (chunk: Uint8Array) => void | Promise<void>;
  /** Whether stderr is a terminal: progress bars are drawn only then. */
  stderrIsTTY?: boolean;
}

/** A mistake on the command line: exit status 2. */
class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

interface OptionSpec {
  type: "string" | "boolean";
  arg?: string;
  help: string;
}

interface Parsed {
  args: string[];
  values: Record<string, string | boolean | undefined>;
}

interface Context {
  out: Output;
  err: Output;
  /** The stderr sink when progress bars should be drawn. */
  progressSink: Sink | undefined;
  fs: FileSystem;
}

interface Command {
  args: string[];
  /** Positional arguments that may be left out, after `args`. */
  optional?: string[];
  summary: string;
  description: string;
  options: Record<string, OptionSpec>;
  run(p: Parsed, ctx: Context): Promise<number>;
}

const HEX_KEYS: OptionSpec = {
  type: "boolean",
  help: "Keys and values, given and shown, are hex",
};
const RANGE: Record<string, OptionSpec> = {
  start: { type: "string", arg: "key", help: "Smallest key included" },
  end: { type: "string", arg: "key", help: "Keys from this one on are excluded" },
  prefix: { type: "string", arg: "bytes", help: "Only keys starting with these bytes" },
};
const SYNC: OptionSpec = { type: "boolean", help: "Wait until the write is on stable storage" };
const JSON_OUT: OptionSpec = { type: "boolean", help: "Output JSON" };

const COMMANDS: Record<string, Command> = {
  put: {
    args: ["dir", "key", "value"],
    summary: "Store a value under a key",
    description: "Creates the database when the directory holds none.",
    options: { sync: SYNC, hex: HEX_KEYS },
    run: (p, ctx) => {
      const hex = p.values.hex === true;
      const key = bytesArg(p.args[1], hex, "key");
      const value = bytesArg(p.args[2], hex, "value");
      return withDb(p.args[0], "create", async (db) => {
        await db.put(key, value, { sync: p.values.sync === true });
        return 0;
      }, ctx);
    },
  },
  get: {
    args: ["dir", "key"],
    summary: "Print the value of a key",
    description: "Prints the value and a newline; a missing key exits with status 1.\n" +
      "A value that is not valid UTF-8 is shown with \\xNN escapes; --raw writes its exact bytes.",
    options: {
      hex: HEX_KEYS,
      raw: { type: "boolean", help: "Write the value's bytes as they are, without a newline" },
    },
    run: (p, ctx) => {
      const hex = p.values.hex === true;
      const key = bytesArg(p.args[1], hex, "key");
      return withDb(p.args[0], "read", async (db) => {
        const value = db.getSync(key);
        if (value === undefined) {
          throw new CliError("NotFoundError", `key not found: ${p.args[1]}`);
        }
        if (p.values.raw === true) await ctx.out.writeBytes(value);
        else await ctx.out.write(`${hex ? toHex(value) : tryUtf8(value) ?? escapeBytes(value)}\n`);
        return 0;
      }, ctx);
    },
  },
  delete: {
    args: ["dir", "key"],
    summary: "Remove a key",
    description: "Removing a missing key is not an error.",
    options: { sync: SYNC, hex: HEX_KEYS },
    run: (p, ctx) => {
      const key = bytesArg(p.args[1], p.values.hex === true, "key");
      return withDb(p.args[0], "write", async (db) => {
        await db.delete(key, { sync: p.values.sync === true });
        return 0;
      }, ctx);
    },
  },
  scan: {
    args: ["dir"],
    summary: "List entries in key order",
    description: "Prints one `key<TAB>value` line per entry. Text that is not valid UTF-8, and\n" +
      "backslash, tab, newline and other control characters, are escaped (\\\\, \\t, \\n, \\xNN).\n" +
      'With --json, prints one {"key": ..., "value": ...} object per line; bytes that are\n' +
      'not valid UTF-8 appear as "keyHex"/"valueHex" instead, so nothing is lost.',
    options: {
      ...RANGE,
      limit: { type: "string", arg: "n", help: "Stop after n entries" },
      reverse: { type: "boolean", help: "Largest key first" },
      json: JSON_OUT,
      hex: HEX_KEYS,
    },
    run: (p, ctx) => {
      const options = scanOptions(p);
      options.limit = p.values.limit === undefined
        ? undefined
        : intArg(p.values.limit as string, "--limit", 0);
      options.reverse = p.values.reverse === true;
      return withDb(p.args[0], "read", async (db) => {
        await writeEntries(db, options, p, ctx, undefined);
        return 0;
      }, ctx);
    },
  },
  stats: {
    args: ["dir"],
    summary: "Show levels, memtables, sequence and write counters",
    description: "Write counters (amplification, stalls) cover this process only: they start\n" +
      "at zero when the database is opened.",
    options: { json: JSON_OUT },
    run: (p, ctx) =>
      withDb(
        p.args[0],
        "read",
        async (db) => {
          const s = db.stats();
          await ctx.out.write(p.values.json ? `${JSON.stringify(s)}\n` : renderStats(s));
          return 0;
        },
        ctx,
        true,
      ),
  },
  compact: {
    args: ["dir"],
    summary: "Flush, then merge tables down to the deepest level",
    description: "Compacts the keys in [--start, --end] (both inclusive), or every key.",
    options: {
      start: { type: "string", arg: "key", help: "Smallest key of the range" },
      end: { type: "string", arg: "key", help: "Largest key of the range (inclusive)" },
      hex: HEX_KEYS,
    },
    run: (p, ctx) => {
      const hex = p.values.hex === true;
      const range = {
        start: optionalBytes(p.values.start, hex, "--start"),
        end: optionalBytes(p.values.end, hex, "--end"),
      };
      return withDb(p.args[0], "write", async (db) => {
        const before = db.stats();
        const progress = new Progress(
          ctx.progressSink,
          "compact",
          before.totalTableBytes + before.memtables.activeBytes,
          true,
        );
        // The engine reports compaction bytes only once a compaction ends, so
        // progress is measured as the bytes of table files written since the
        // start; compaction yields between slices, so a timer can sample it.
        const dir = p.args[0];
        const existing = new Set(nodeFs.readdirSync(dir));
        const timer = ctx.progressSink === undefined
          ? undefined
          : setInterval(() => progress.update(newTableBytes(dir, existing)), 100);
        try {
          await db.compact(range);
        } finally {
          clearInterval(timer);
          progress.finish();
        }
        const after = db.stats();
        const shape = (s: DBStats) =>
          `${plural(s.levels.reduce((n, l) => n + l.files, 0), "file")} (${
            formatBytes(s.totalTableBytes)
          })`;
        await ctx.out.write(`compacted ${p.args[0]}: ${shape(before)} -> ${shape(after)}\n`);
        return 0;
      }, ctx);
    },
  },
  flush: {
    args: ["dir"],
    summary: "Write the memtable to a level-0 table",
    description: "Afterwards the write-ahead log holds nothing that is not in a table.",
    options: {},
    run: (p, ctx) =>
      withDb(p.args[0], "write", async (db) => {
        await db.flush();
        return 0;
      }, ctx),
  },
  verify: {
    args: ["dir"],
    summary: "Check every checksum of every live file (read-only)",
    description: "Reads CURRENT, the manifest, every live table (every block) and every live\n" +
      "write-ahead log without opening the database, so nothing is replayed or rewritten.\n" +
      "Holds the database's lock meanwhile: a database in use elsewhere is refused.\n" +
      "Exits 1 when a file is damaged, naming it and the offset. A torn log tail (what a\n" +
      "crash leaves; recovery drops it) is a warning unless --strict.",
    options: {
      json: JSON_OUT,
      strict: { type: "boolean", help: "Count torn log tails as damage" },
    },
    run: async (p, ctx) => {
      const report = verifyDatabase(ctx.fs, p.args[0], p.values.strict === true);
      await ctx.out.write(p.values.json ? `${JSON.stringify(report)}\n` : renderVerify(report));
      const first = report.items.find((i) => i.status === "damaged");
      if (first === undefined) return 0;
      const more = report.problems > 1 ? ` (and ${report.problems - 1} more damaged files)` : "";
      await ctx.err.write(`strata: ${first.error}${more}\n`);
      return 1;
    },
  },
  dump: {
    args: ["file"],
    summary: "Describe a table, write-ahead log or manifest file",
    description: "The kind of file is told by its magic number, not its name.\n" +
      "  table:    blocks with offsets and sizes, index entries, filter, properties\n" +
      "  WAL:      records with offsets and their decoded batches\n" +
      "  MANIFEST: every version edit as JSON, then the resulting levels",
    options: {
      entries: { type: "boolean", help: "List every entry of every data block (tables)" },
      json: JSON_OUT,
      hex: { type: "boolean", help: "Show keys and values as hex" },
    },
    run: async (p, ctx) => {
      await dumpFile(ctx.fs, p.args[0], {
        entries: p.values.entries === true,
        json: p.values.json === true,
        hex: p.values.hex === true,
      }, (text) => ctx.out.write(text));
      return 0;
    },
  },
  import: {
    args: ["dir", "file"],
    summary: 'Load JSON lines {"key": ..., "value": ...} into a database',
    description:
      'Keys and values are strings (stored as UTF-8); "keyHex"/"valueHex" fields give\n' +
      "bytes as hex (what export writes for non-UTF-8 data). With --hex, key and value\n" +
      "are hex strings. Writes in atomic batches; after an error in the input, the batches\n" +
      "before it stay written. Creates the database when the directory holds none.",
    options: {
      hex: { type: "boolean", help: "The key and value fields are hex strings" },
      "batch-size": { type: "string", arg: "n", help: "Entries per atomic batch (default 1000)" },
      sync: { type: "boolean", help: "Sync each batch to stable storage" },
    },
    run: (p, ctx) => runImport(p, ctx),
  },
  export: {
    args: ["dir"],
    summary: "Write every entry as JSON lines to stdout",
    description: "Streams entries in key order in the format import reads. Bytes that are not\n" +
      'valid UTF-8 appear as "keyHex"/"valueHex"; with --hex every key and value is hex.',
    options: { ...RANGE, hex: HEX_KEYS },
    run: (p, ctx) => {
      const options = scanOptions(p);
      return withDb(p.args[0], "read", async (db) => {
        const progress = new Progress(ctx.progressSink, "export", 0);
        try {
          await writeEntries(
            db,
            options,
            { ...p, values: { ...p.values, json: true } },
            ctx,
            progress,
          );
        } finally {
          progress.finish();
        }
        return 0;
      }, ctx);
    },
  },
  bench: {
    args: [],
    optional: ["dir"],
    summary: "Run db_bench-style workloads",
    description: `Workloads: ${WORKLOADS.join(", ")}.\n` +
      "Fills start from an empty database; the others use the current one (filled first,\n" +
      "untimed, when no fill ran before them). fillsync writes num/1000 entries.\n" +
      "With <dir> (or --dir), the database lives there and is kept afterwards, so that\n" +
      `'strata stats <dir>' can inspect it; bench marks the directory with a ${BENCH_MARKER}\n` +
      "file, refuses a non-empty directory without one, and empties one with it before\n" +
      "each fill. Without a directory, a temporary one is used and removed.",
    options: {
      dir: { type: "string", arg: "dir", help: "Where the database lives (same as <dir>)" },
      num: { type: "string", arg: "n", help: "Entries per workload (default 100000)" },
      "value-size": { type: "string", arg: "bytes", help: "Bytes per value (default 100)" },
      workloads: {
        type: "string",
        arg: "a,b,...",
        help: "Workloads to run, in order (default: all)",
      },
      json: JSON_OUT,
    },
    run: (p, ctx) => runBenchCommand(p, ctx),
  },
};

const GLOBAL_HELP = `strata ${VERSION}: command-line tool for Strata databases

Usage: strata <command> <db-dir> [args] [options]

Commands:
${
  Object.entries(COMMANDS).map(([name, c]) =>
    `  ${`${name} ${argsUsage(c)}`.padEnd(26)}${c.summary}`
  ).join("\n")
}
  help [command]            Show help for a command

Options:
  -h, --help                Show help (also after a command)
  --version                 Print the version

get, scan, stats and export open the database read-only and change no file;
put, delete, compact, flush and import open it for writing, which (as any such
open does) replays its write-ahead log into a level-0 table; verify and dump
only read files. Put -- before an argument that starts with '-'. Exit status: 0 success, 1 runtime error (missing key, damage,
lock held elsewhere, I/O), 2 usage error.
`;

/** The positional arguments of a command as shown in usage lines: `<dir> <key> [<file>]`. */
function argsUsage(c: Command): string {
  return [...c.args.map((a) => `<${a}>`), ...(c.optional ?? []).map((a) => `[<${a}>]`)].join(" ");
}

function commandHelp(name: string): string {
  const c = COMMANDS[name];
  const usage = ["strata", name, argsUsage(c), "[options]"].filter((w) => w !== "").join(" ");
  const rows = Object.entries(c.options).map(([opt, o]) =>
    `  ${`--${opt}${o.arg === undefined ? "" : ` <${o.arg}>`}`.padEnd(24)}${o.help}`
  );
  rows.push(`  ${"-h, --help".padEnd(24)}Show this help`);
  return `Usage: ${usage}\n\n${c.summary}.\n${c.description}\n\nOptions:\n${rows.join("\n")}\n`;
}

// ----------------------------------------------------------------- parsing

function parseCommand(name: string, argv: string[]): Parsed | "help" {
  const c = COMMANDS[name];
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const [opt, o] of Object.entries(c.options)) options[opt] = { type: o.type };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    const code = (e as { code?: string }).code;
    const opt = /'(-[^' ]*)/.exec((e as Error).message)?.[1] ?? "";
    const see = `(see 'strata ${name} --help')`;
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      throw new UsageError(`${name}: unknown option '${opt}' ${see}`);
    }
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      const needs = c.options[opt.replace(/^-+/, "")]?.type === "string";
      throw new UsageError(
        `${name}: option '${opt}' ${needs ? "needs a value" : "takes no value"}`,
      );
    }
    throw new UsageError(`${name}: ${(e as Error).message.split("\n")[0]}`);
  }
  if (parsed.values.help === true) return "help";
  const args = parsed.positionals;
  if (args.length < c.args.length) {
    throw new UsageError(
      `${name}: missing <${c.args[args.length]}> (usage: strata ${name} ${argsUsage(c)})`,
    );
  }
  const most = c.args.length + (c.optional?.length ?? 0);
  if (args.length > most) {
    throw new UsageError(`${name}: unexpected argument '${args[most]}'`);
  }
  return { args, values: parsed.values as Parsed["values"] };
}

function bytesArg(text: string, hex: boolean, what: string): Uint8Array | string {
  if (!hex) return text;
  const bytes = fromHex(text);
  if (bytes === undefined) throw new UsageError(`${what} is not hex: '${text}'`);
  return bytes;
}

function optionalBytes(
  text: string | boolean | undefined,
  hex: boolean,
  what: string,
): Uint8Array | string | undefined {
  return typeof text === "string" ? bytesArg(text, hex, what) : undefined;
}

function intArg(text: string, what: string, min: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`${what} must be an integer ≥ ${min}, got '${text}'`);
  }
  return n;
}

function scanOptions(p: Parsed): ScanOptions {
  const hex = p.values.hex === true;
  return {
    start: optionalBytes(p.values.start, hex, "--start"),
    end: optionalBytes(p.values.end, hex, "--end"),
    prefix: optionalBytes(p.values.prefix, hex, "--prefix"),
  };
}

// ---------------------------------------------------------------- commands

async function withDb(
  dir: string,
  mode: "create" | "write" | "read",
  fn: (db: DB) => Promise<number>,
  ctx: Context,
  cache = false,
): Promise<number> {
  // Only put and import create a database, so a mistyped path is not
  // created; reading commands open read-only and change no file. A
  // one-shot process reads each block once at most, so a block cache would
  // only hold memory (a whole export's worth); stats keeps the default so
  // it reports the configuration an application would see.
  const db = await open(dir, {
    createIfMissing: mode === "create",
    readOnly: mode === "read",
    fs: ctx.fs,
    blockCacheSize: cache ? undefined : 0,
  });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

async function writeEntries(
  db: DB,
  options: ScanOptions,
  p: Parsed,
  ctx: Context,
  progress: Progress | undefined,
): Promise<void> {
  const hex = p.values.hex === true;
  const json = p.values.json === true;
  const scan = db.scan(options);
  let n = 0;
  try {
    for (const { key, value } of scan) {
      let line: string;
      if (json) {
        const o: Record<string, unknown> = {};
        setBytes(o, "key", key, hex);
        setBytes(o, "value", value, hex);
        line = `${JSON.stringify(o)}\n`;
      } else if (hex) {
        line = `${toHex(key)}\t${toHex(value)}\n`;
      } else {
        line = `${escapeBytes(key)}\t${escapeBytes(value)}\n`;
      }
      const wait = ctx.out.write(line);
      if (wait !== undefined) await wait;
      if (progress !== undefined && (++n & 255) === 0) progress.update(n);
    }
  } finally {
    scan.close();
  }
}

function newTableBytes(dir: string, existing: Set<string>): number {
  let sum = 0;
  for (const name of nodeFs.readdirSync(dir)) {
    if (!name.endsWith(".sst") || existing.has(name)) continue;
    try {
      sum += nodeFs.statSync(joinPath(dir, name)).size;
    } catch {
      // Removed since listed: an input or an abandoned output.
    }
  }
  return sum;
}

function renderStats(s: DBStats): string {
  const rows = [["Level", "Files", "Size", "Target", "Score"]];
  for (const l of s.levels) {
    rows.push([
      `L${l.level}`,
      String(l.files),
      formatBytes(l.bytes),
      l.level === 0 ? `${l.target} files` : Number.isFinite(l.target) ? formatBytes(l.target) : "-",
      l.score.toFixed(2),
    ]);
  }
  const files = s.levels.reduce((n, l) => n + l.files, 0);
  rows.push(["Total", String(files), formatBytes(s.totalTableBytes), "", ""]);
  const table = rows.map((r) =>
    [r[0].padEnd(5), r[1].padStart(6), r[2].padStart(11), r[3].padStart(11), r[4].padStart(7)]
      .join("  ").trimEnd()
  ).join("\n");
  const c = s.blockCache;
  const lookups = c.hits + c.misses;
  return `${table}

Memtables     active ${
    formatBytes(s.memtables.activeBytes)
  } (${s.memtables.activeEntries} entries), ${s.memtables.immutable} immutable
Sequence      ${s.sequence}
Written       user ${formatBytes(s.userBytesWritten)}, WAL ${
    formatBytes(s.walBytesWritten)
  }, flush ${formatBytes(s.flushBytesWritten)}, compaction ${formatBytes(s.compactionBytesWritten)}
Write amp.    ${s.writeAmplification.toFixed(2)}
Background    ${s.flushes} flushes, ${s.compactions} compactions
Stalls        ${s.stallMs.toFixed(1)} ms total, longest ${s.longestStallMs.toFixed(1)} ms
Block cache   ${formatBytes(c.bytes)} of ${
    formatBytes(c.capacity)
  }, ${c.hits} hits, ${c.misses} misses${
    lookups === 0 ? "" : ` (${((100 * c.hits) / lookups).toFixed(1)}% hit rate)`
  }
Tables open   ${s.tables.open}, ${s.tables.mapped} read through memory maps
Readers       ${s.readers}
(write counters cover this process only)
`;
}

/** Lines of a file, read in 64 KiB chunks through the engine's file system. */
function* readLines(fs: FileSystem, path: string, onBytes: (n: number) => void): Generator<string> {
  const file = fs.openRead(path);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const buf = new Uint8Array(1 << 16);
  let rest = "";
  try {
    for (let pos = 0;;) {
      const n = file.read(buf, pos);
      if (n === 0) break;
      pos += n;
      onBytes(pos);
      let text: string;
      try {
        text = rest + decoder.decode(buf.subarray(0, n), { stream: true });
      } catch {
        throw new CliError("InputError", `${path}: not valid UTF-8 near byte ${pos - n}`);
      }
      const lines = text.split("\n");
      rest = lines.pop()!;
      yield* lines;
    }
    rest += decoder.decode();
    if (rest !== "") yield rest;
  } finally {
    file.close();
  }
}

function jsonBytes(
  o: Record<string, unknown>,
  field: "key" | "value",
  hex: boolean,
  where: string,
): Uint8Array | string {
  const bad = (why: string) => new CliError("InputError", `${where}: ${why}`);
  const text = o[field];
  const hexText = o[`${field}Hex`];
  if (typeof text === "string") {
    if (!hex) return text;
    const bytes = fromHex(text);
    if (bytes === undefined) throw bad(`"${field}" is not a hex string`);
    return bytes;
  }
  if (typeof hexText === "string") {
    const bytes = fromHex(hexText);
    if (bytes === undefined) throw bad(`"${field}Hex" is not a hex string`);
    return bytes;
  }
  throw bad(`missing "${field}" (a string)`);
}

async function runImport(p: Parsed, ctx: Context): Promise<number> {
  const hex = p.values.hex === true;
  const batchSize = p.values["batch-size"] === undefined
    ? 1000
    : intArg(p.values["batch-size"] as string, "--batch-size", 1);
  const path = p.args[1];
  const size = ctx.fs.openRead(path);
  const total = size.size;
  size.close();
  let imported = 0;
  let written = 0;
  const count = await withDb(p.args[0], "create", async (db) => {
    const progress = new Progress(ctx.progressSink, "import", total, true);
    const options = { sync: p.values.sync === true };
    let batch = db.batch();
    let line = 0;
    try {
      for (const text of readLines(ctx.fs, path, (n) => progress.update(n))) {
        line++;
        if (text.trim() === "") continue;
        const where = `${path}:${line}`;
        let o: unknown;
        try {
          o = JSON.parse(text);
        } catch (e) {
          throw new CliError("InputError", `${where}: invalid JSON (${(e as Error).message})`);
        }
        if (typeof o !== "object" || o === null || Array.isArray(o)) {
          throw new CliError("InputError", `${where}: expected a JSON object`);
        }
        const rec = o as Record<string, unknown>;
        const key = jsonBytes(rec, "key", hex, where);
        const value = jsonBytes(rec, "value", hex, where);
        try {
          batch.put(key, value);
        } catch (e) {
          // Too large a key or value: say which line holds it.
          throw new CliError("InputError", `${where}: ${(e as Error).message}`);
        }
        imported++;
        if (batch.length >= batchSize) {
          await batch.write(options);
          written = imported;
          batch = db.batch();
        }
      }
      await batch.write(options);
      written = imported;
    } catch (e) {
      if (e instanceof Error && written > 0) e.message += ` (${written} entries imported before)`;
      throw e;
    } finally {
      progress.finish();
    }
    return imported;
  }, ctx);
  await ctx.out.write(`imported ${count} entries into ${p.args[0]}\n`);
  return 0;
}

async function runBenchCommand(p: Parsed, ctx: Context): Promise<number> {
  const num = p.values.num === undefined ? 100000 : intArg(p.values.num as string, "--num", 1);
  const valueSize = p.values["value-size"] === undefined
    ? 100
    : intArg(p.values["value-size"] as string, "--value-size", 0);
  const workloads = p.values.workloads === undefined
    ? [...WORKLOADS]
    : (p.values.workloads as string).split(",").map((w) => w.trim()).filter((w) => w !== "");
  for (const w of workloads) {
    if (!WORKLOADS.includes(w)) {
      throw new UsageError(`bench: unknown workload '${w}' (known: ${WORKLOADS.join(", ")})`);
    }
  }
  if (workloads.length === 0) throw new UsageError("bench: --workloads names no workload");
  const given = p.args[0];
  const option = p.values.dir as string | undefined;
  if (given !== undefined && option !== undefined) {
    throw new UsageError("bench: give the directory as <dir> or as --dir, not both");
  }
  const kept = given ?? option;
  if (kept === "") throw new UsageError("bench: the directory must not be empty");
  if (kept !== undefined) prepareBenchDir(kept);
  const json = p.values.json === true;
  const runtime = isDeno ? `Deno ${Deno.version.deno}` : `Bun ${process.versions.bun ?? "?"}`;
  if (!json) {
    await ctx.out.write(
      `strata ${VERSION} on ${runtime}\n` +
        `Keys:       ${KEY_SIZE} bytes each\n` +
        `Values:     ${valueSize} bytes each\n` +
        `Entries:    ${num}\n` +
        `RawSize:    ${((KEY_SIZE + valueSize) * num / 1048576).toFixed(1)} MB (estimated)\n` +
        `Directory:  ${
          kept === undefined ? "temporary (removed afterwards)" : `${kept} (kept)`
        }\n` +
        "------------------------------------------------\n",
    );
    await ctx.out.flush();
  }
  const dir = kept ?? nodeFs.mkdtempSync(joinPath(os.tmpdir(), "strata-bench-"));
  try {
    const results = await runBench({
      num,
      valueSize,
      workloads,
      dir,
      progress: (name, total) => new Progress(ctx.progressSink, name.padEnd(12), total),
      onResult: async (r) => {
        if (json) return;
        await ctx.out.write(`${formatResult(r, num)}\n`);
        await ctx.out.flush();
      },
    });
    if (json) {
      const doc = {
        version: VERSION,
        runtime,
        num,
        keySize: KEY_SIZE,
        valueSize,
        dir: kept,
        results,
      };
      await ctx.out.write(`${JSON.stringify(doc)}\n`);
    }
  } finally {
    if (kept === undefined) nodeFs.rmSync(dir, { recursive: true, force: true });
  }
  return 0;
}

/**
 * Makes `dir` ready to hold bench data: creates it when missing and writes
 * the marker file. A directory that holds anything but no marker is
 * refused, so that bench never empties a directory it did not make.
 */
function prepareBenchDir(dir: string): void {
  let names: string[] | undefined;
  try {
    names = nodeFs.readdirSync(dir);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ENOTDIR") throw new UsageError(`bench: ${dir} is not a directory`);
    if (code !== "ENOENT") throw e;
  }
  if (names !== undefined && names.length > 0 && !names.includes(BENCH_MARKER)) {
    throw new UsageError(
      `bench: ${dir} is not empty and has no ${BENCH_MARKER} file; ` +
        "give a new or empty directory, or one that bench made",
    );
  }
  nodeFs.mkdirSync(dir, { recursive: true });
  nodeFs.writeFileSync(
    joinPath(dir, BENCH_MARKER),
    "Made by 'strata bench': the next run may delete everything in this directory.\n",
  );
}

// -------------------------------------------------------------------- main

async function dispatch(argv: string[], ctx: Context): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError("missing command (see 'strata --help')");
  if (first === "--help" || first === "-h") {
    await ctx.out.write(GLOBAL_HELP);
    return 0;
  }
  if (first === "--version") {
    if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`);
    await ctx.out.write(`strata ${VERSION}\n`);
    return 0;
  }
  if (first === "help") {
    if (rest.length > 1) throw new UsageError(`help: unexpected argument '${rest[1]}'`);
    const topic = rest[0];
    if (topic === undefined) await ctx.out.write(GLOBAL_HELP);
    else if (Object.hasOwn(COMMANDS, topic)) await ctx.out.write(commandHelp(topic));
    else throw new UsageError(`help: unknown command '${topic}' (see 'strata --help')`);
    return 0;
  }
  if (first.startsWith("-")) {
    throw new UsageError(`unknown option '${first}' (see 'strata --help')`);
  }
  if (!Object.hasOwn(COMMANDS, first)) {
    throw new UsageError(`unknown command '${first}' (see 'strata --help')`);
  }
  const parsed = parseCommand(first, rest);
  if (parsed === "help") {
    await ctx.out.write(commandHelp(first));
    return 0;
  }
  return await COMMANDS[first].run(parsed, ctx);
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}

/**
 * Runs one `strata` command and resolves to its exit status: 0 on success,
 * 1 for a runtime error (missing key, damaged file, database locked by
 * another process…), 2 for a usage error. Errors are reported on stderr as
 * one line, `strata: <ErrorName>: message`, without a stack trace (set
 * `STRATA_DEBUG=1` to get one).
 *
 * @example
 * ```ts
 * import { main } from "./cli.ts";
 * const out: Uint8Array[] = [];
 * const code = await main(["get", "./data", "user:1"], { stdout: (c) => void out.push(c) });
 * console.log(code, new TextDecoder().decode(out[0]));
 * ```
 */
export async function main(args: string[], io: CliIO = {}): Promise<number> {
  const errSink = io.stderr ?? fdSink(2);
  const out = new Output(io.stdout ?? fdSink(1));
  const err = new Output(errSink);
  const tty = io.stderrIsTTY ?? (io.stderr === undefined && stderrIsTerminal());
  const ctx: Context = {
    out,
    err,
    progressSink: tty ? errSink : undefined,
    fs: defaultFileSystem(),
  };
  let code: number;
  try {
    code = await dispatch(args, ctx);
    await out.flush();
  } catch (e) {
    out.discard();
    if (e instanceof BrokenPipe) return 0;
    if (e instanceof UsageError) {
      code = 2;
      await err.write(`strata: ${oneLine(e.message)}\n`);
    } else {
      code = 1;
      const name = e instanceof Error ? e.name : "Error";
      const message = e instanceof Error ? e.message : String(e);
      await err.write(`strata: ${name}: ${oneLine(message)}\n`);
      if (debugging() && e instanceof Error && e.stack !== undefined) {
        await err.write(`${e.stack}\n`);
      }
    }
  }
  await err.flush();
  return code;
}

function debugging(): boolean {
  try {
    return (process.env.STRATA_DEBUG ?? "") !== "";
  } catch {
    return false;
  }
}

if (import.meta.main) {
  process.exit(await main(process.argv.slice(2)));
}
