/**
 * Tests of the `strata` command-line tool: `main()` in process with captured
 * output, one behaviour per test, plus one run as a real subprocess.
 * Portable across Deno and Bun: only node:test and node:assert.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { main, VERSION } from "../cli.ts";
import { open } from "../mod.ts";
import { runtime, scriptArgs } from "./_spawn.ts";
import { withTempDir } from "./_temp.ts";

const decoder = new TextDecoder();

interface Result {
  code: number;
  stdout: string;
  stderr: string;
  bytes: Uint8Array;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let pos = 0;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

async function cli(args: string[], options: { tty?: boolean } = {}): Promise<Result> {
  const out: Uint8Array[] = [];
  const err: Uint8Array[] = [];
  const code = await main(args, {
    stdout: (c) => void out.push(c.slice()),
    stderr: (c) => void err.push(c.slice()),
    stderrIsTTY: options.tty ?? false,
  });
  const bytes = concat(out);
  return { code, stdout: decoder.decode(bytes), stderr: decoder.decode(concat(err)), bytes };
}

async function ok(args: string[]): Promise<string> {
  const r = await cli(args);
  assert.equal(r.code, 0, `strata ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

const withDir = (fn: (dir: string) => void | Promise<void>) => withTempDir("cli-test", fn);

/** A database under `dir`/db holding `entries` written by import. */
async function filled(dir: string, entries: [string, string][], batch = 1000): Promise<string> {
  const db = join(dir, "db");
  const input = join(dir, "input.jsonl");
  fs.writeFileSync(input, entries.map(([key, value]) => JSON.stringify({ key, value })).join("\n"));
  await ok(["import", db, input, "--batch-size", String(batch)]);
  return db;
}

function numbered(n: number): [string, string][] {
  return Array.from({ length: n }, (_, i) => [`key${String(i).padStart(5, "0")}`, `value-${i}`]);
}

function filesOf(db: string, suffix: string): string[] {
  return fs.readdirSync(db).filter((n) => n.endsWith(suffix)).sort().map((n) => join(db, n));
}

function assertUsageError(r: Result, pattern: RegExp): void {
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^strata: [^\n]*\n$/);
  assert.match(r.stderr, pattern);
}

// ---------------------------------------------------------------- version, help

test("VERSION matches the version in deno.json", () => {
  const config = JSON.parse(fs.readFileSync(new URL("../deno.json", import.meta.url), "utf8"));
  assert.equal(VERSION, config.version);
});

test("--version prints the version", async () => {
  assert.equal(await ok(["--version"]), `strata ${VERSION}\n`);
});

test("--help lists every command", async () => {
  const help = await ok(["--help"]);
  for (
    const c of [
      "put",
      "get",
      "delete",
      "scan",
      "stats",
      "compact",
      "flush",
      "verify",
      "dump",
      "import",
      "export",
      "bench",
    ]
  ) {
    assert.match(help, new RegExp(`^  ${c} `, "m"));
  }
  assert.equal(await ok(["-h"]), help);
  assert.equal(await ok(["help"]), help);
});

test("help scan and scan --help print the same command help", async () => {
  const a = await ok(["help", "scan"]);
  assert.equal(await ok(["scan", "--help"]), a);
  assert.equal(await ok(["scan", "-h"]), a);
  assert.match(a, /^Usage: strata scan <dir> \[options\]/);
  for (const opt of ["--start", "--end", "--prefix", "--limit", "--reverse", "--json", "--hex"]) {
    assert.ok(a.includes(opt), `scan help lacks ${opt}`);
  }
});

// ---------------------------------------------------------------- usage errors

test("no command is a usage error", async () => {
  assertUsageError(await cli([]), /missing command/);
});

test("an unknown command exits 2 with one line on stderr", async () => {
  assertUsageError(await cli(["frobnicate"]), /unknown command 'frobnicate'/);
});

test("an unknown option exits 2 naming the option", async () => {
  assertUsageError(await cli(["scan", "/nonexistent", "--frob"]), /unknown option '--frob'/);
});

test("a missing argument exits 2 naming it", async () => {
  assertUsageError(await cli(["get", "/nonexistent"]), /missing <key>/);
});

test("an extra argument exits 2", async () => {
  assertUsageError(await cli(["get", "/nonexistent", "a", "b"]), /unexpected argument 'b'/);
});

test("an option without its value exits 2", async () => {
  assertUsageError(await cli(["scan", "/nonexistent", "--limit"]), /'--limit' needs a value/);
});

test("a malformed number exits 2", async () => {
  assertUsageError(await cli(["scan", "/nonexistent", "--limit", "ten"]), /--limit/);
});

test("help for an unknown command exits 2", async () => {
  assertUsageError(await cli(["help", "nope"]), /unknown command 'nope'/);
});

// ---------------------------------------------------------------- put, get, delete

test("put then get prints the value and a newline", async () => {
  await withDir(async (dir) => {
    await ok(["put", dir, "greeting", "hello world", "--sync"]);
    assert.equal(await ok(["get", dir, "greeting"]), "hello world\n");
  });
});

test("get of a missing key exits 1 with a message on stderr", async () => {
  await withDir(async (dir) => {
    await ok(["put", dir, "a", "1"]);
    const r = await cli(["get", dir, "missing"]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, "strata: NotFoundError: key not found: missing\n");
  });
});

test("get on a missing database exits 1 and creates nothing", async () => {
  await withDir(async (dir) => {
    const db = join(dir, "nothing-here");
    const r = await cli(["get", db, "k"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^strata: StrataError: database does not exist/);
    assert.equal(fs.existsSync(db), false);
  });
});

test("delete removes a key", async () => {
  await withDir(async (dir) => {
    await ok(["put", dir, "k", "v"]);
    await ok(["delete", dir, "k"]);
    assert.equal((await cli(["get", dir, "k"])).code, 1);
  });
});

test("--hex gives keys and values as hex on the command line and in output", async () => {
  await withDir(async (dir) => {
    await ok(["put", dir, "--hex", "00ff", "80c3"]);
    assert.equal(await ok(["get", dir, "00ff", "--hex"]), "80c3\n");
    assertUsageError(await cli(["get", dir, "zz", "--hex"]), /not hex/);
  });
});

test("get --raw writes the exact bytes; plain get escapes invalid UTF-8", async () => {
  await withDir(async (dir) => {
    await ok(["put", dir, "--hex", "6b", "ff0a41"]);
    const raw = await cli(["get", dir, "k", "--raw"]);
    assert.deepEqual([...raw.bytes], [0xff, 0x0a, 0x41]);
    assert.equal(await ok(["get", dir, "k"]), "\\xff\\nA\n");
  });
});

// ---------------------------------------------------------------- scan

test("scan prints key<TAB>value lines in key order", async () => {
  await withDir(async (dir) => {
    const db = await filled(dir, [["b", "2"], ["a", "1"], ["c", "3"]]);
    assert.equal(await ok(["scan", db]), "a\t1\nb\t2\nc\t3\n");
  });
});

test("scan --start and --end select a half-open range", async () => {
  await withDir(async (dir) => {
    const db = await filled(dir, numbered(10));
    const out = await ok(["scan", db, "--start", "key00003", "--end", "key00006"]);
    assert.equal(out, "key00003\tvalue-3\nkey00004\tvalue-4\nkey00005\tvalue-5\n");
  });
});

test("scan --prefix, --limit and --reverse combine", async () => {
  await withDir(async (dir) => {
    const db = await filled(dir, [["user:1", "a"], ["user:2", "b"], ["user:3", "c"], ["x", "y"]]);
    assert.equal(await ok(["scan", db, "--prefix", "user:"]), "user:1\ta\nuser:2\tb\nuser:3\tc\n");
    const out = await ok(["scan", db, "--prefix", "user:", "--reverse", "--limit", "2"]);
    assert.equal(out, "user:3\tc\nuser:2\tb\n");
  });
});

test("scan --json prints one JSON object per line", async () => {
  await withDir(async (dir) => {
    const db = await filled(dir, [["a", "1"], ["tab\there", "line\nbreak"]]);
    const lines = (await ok(["scan", db, "--json"])).trimEnd().split("\n");
    assert.deepEqual(lines.map((l) => JSON.parse(l)), [
      { key: "a", value: "1" },
      { key: "tab\there", value: "line\nbreak" },
    ]);
  });
});

test("scan escapes control characters and bytes that are not UTF-8", async () => {
  await withDir(async (dir) => {
    await ok(["put", dir, "--hex", "00ff", "80c3"]);
    await ok(["put", dir, "k\tey", "line\nbreak\\é"]);
    assert.equal(await ok(["scan", dir]), "\\x00\\xff\t\\x80\\xc3\nk\\tey\tline\\nbreak\\\\é\n");
  });
});

test("scan --json gives bytes that are not UTF-8 as keyHex/valueHex", async () => {
  await withDir(async (dir) => {
    await ok(["put", dir, "--hex", "00ff", "80c3"]);
    assert.deepEqual(JSON.parse(await ok(["scan", dir, "--json"])), {
      keyHex: "00ff",
      valueHex: "80c3",
    });
  });
});

test("scan --hex prints keys and values as hex", async () => {
  await withDir(async (dir) => {
    await ok(["put", dir, "ab", "c"]);
    assert.equal(await ok(["scan", dir, "--hex"]), "6162\t63\n");
  });
});

// ---------------------------------------------------------------- stats, flush, compact

test("stats prints a table of levels and counters", async () => {
  await withDir(async (dir) => {
    await ok(["put", dir, "k", "v"]);
    const out = await ok(["stats", dir]);
    assert.match(out, /^Level\s+Files\s+Size\s+Target\s+Score$/m);
    for (let l = 0; l < 7; l++) assert.match(out, new RegExp(`^L${l} `, "m"));
    assert.match(out, /^Sequence\s+1$/m);
    assert.match(out, /^Write amp\./m);
    assert.match(out, /^Stalls /m);
  });
});

test("stats --json has the DBStats shape", async () => {
  await withDir(async (dir) => {
    await ok(["put", dir, "k", "v"]);
    const s = JSON.parse(await ok(["stats", dir, "--json"]));
    assert.equal(s.levels.length, 7);
    assert.deepEqual(Object.keys(s.levels[0]).sort(), [
      "bytes",
      "files",
      "level",
      "score",
      "target",
    ]);
    assert.equal(s.sequence, 1);
    for (const k of ["memtables", "writeAmplification", "stallMs", "longestStallMs"]) {
      assert.ok(k in s, `stats lacks ${k}`);
    }
  });
});

test("flush leaves the data in a level-0 table", async () => {
  await withDir(async (dir) => {
    const db = await filled(dir, numbered(50));
    await ok(["flush", db]);
    const s = JSON.parse(await ok(["stats", db, "--json"]));
    assert.ok(s.levels[0].files >= 1);
    assert.equal(s.memtables.activeEntries, 0);
  });
});

test("compact moves everything out of level 0", async () => {
  await withDir(async (dir) => {
    const db = await filled(dir, numbered(200));
    await ok(["put", db, "extra", "x"]);
    assert.match(await ok(["compact", db]), /^compacted .* -> \d+ files? \(/);
    const s = JSON.parse(await ok(["stats", db, "--json"]));
    assert.equal(s.levels[0].files, 0);
    assert.ok(s.levels.slice(1).some((l: { files: number }) => l.files > 0));
    assert.equal(await ok(["get", db, "key00199"]), "value-199\n");
  });
});

test("compact accepts a key range", async () => {
  await withDir(async (dir) => {
    const db = await filled(dir, numbered(100));
    await ok(["compact", db, "--start", "key00010", "--end", "key00020"]);
    assert.equal((await ok(["scan", db])).split("\n").length - 1, 100);
  });
});

// ---------------------------------------------------------------- verify

function snapshot(db: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const name of fs.readdirSync(db)) {
    if (name === "LOCK") continue;
    files.set(name, fs.readFileSync(join(db, name)).toString("base64"));
  }
  return files;
}

function flipByte(path: string, offset: number): void {
  const bytes = fs.readFileSync(path);
  bytes[offset] ^= 0x40;
  fs.writeFileSync(path, bytes);
}

test("verify passes a clean database and changes no file", async () => {
  await withDir(async (dir) => {
    const db = await filled(dir, numbered(300), 100);
    await ok(["flush", db]);
    await ok(["put", db, "in-the-wal", "yes"]);
    const before = snapshot(db);
    const out = await ok(["verify", db]);
    assert.match(out, /\.sst\s+L0\s+ok/);
    assert.match(out, /MANIFEST-\d+\s+ok/);
    assert.match(out, /\.log\s+ok\s+1 batch, 1 op/);
    assert.match(out, /no damage\n$/);
    assert.deepEqual(snapshot(db), before);
  });
});

test("verify detects a flipped byte in a table, naming the file", async () => {
  await withDir(async (dir) => {
    const db = await filled(dir, numbered(300));
    await ok(["flush", db]);
    const [table] = filesOf(db, ".sst");
    flipByte(table, 10);
    const r = await cli(["verify", db]);
    assert.equal(r.code, 1);
    const name = table.slice(db.length + 1);
    assert.match(r.stdout, new RegExp(`${name}\\s+L0\\s+DAMAGED\\s+data block checksum mismatch`));
    assert.match(r.stderr, /^strata: CorruptionError: .*\.sst, offset 0\)\n$/);
    assert.ok(r.stderr.includes(table));
  });
});

test("verify detects a damaged record in the middle of a WAL", async () => {
  await withDir(async (dir) => {
    const db = await filled(dir, numbered(10), 2);
    const [wal] = filesOf(db, ".log");
    flipByte(wal, 8 + 12 + 4);
    const r = await cli(["verify", db]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /\.log\s+DAMAGED\s+record checksum mismatch at offset 8/);
    assert.ok(r.stderr.includes(wal));
  });
});

test("verify warns about a torn WAL tail, and fails on it with --strict", async () => {
  await withDir(async (dir) => {
    const db = await filled(dir, numbered(10), 2);
    const [wal] = filesOf(db, ".log");
    fs.truncateSync(wal, fs.statSync(wal).size - 3);
    const r = await cli(["verify", db]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /\.log\s+WARNING\s+torn tail/);
    assert.equal((await cli(["verify", db, "--strict"])).code, 1);
  });
});

test("verify refuses a database that is open elsewhere", async () => {
  await withDir(async (dir) => {
    await ok(["put", dir, "k", "v"]);
    const handle = await open(dir);
    try {
      const r = await cli(["verify", dir]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^strata: LockError: database is locked[^\n]*\n$/);
    } finally {
      await handle.close();
    }
  });
});

// ---------------------------------------------------------------- dump

test("dump describes a table's blocks, index, filter and properties", async () => {
  await withDir(async (dir) => {
    const db = await filled(dir, numbered(300));
    await ok(["flush", db]);
    const [table] = filesOf(db, ".sst");
    const out = await ok(["dump", table]);
    assert.match(out, /: SSTable, format 2, \d+ bytes/);
    assert.match(out, /^ {2}entries\s+300 \(0 deletions\)$/m);
    assert.match(out, /^filter:\s+offset \d+, size \d+ \(\d+ bits, \d+ probes\)$/m);
    assert.match(out, /^index:\s+offset \d+, size \d+ \(\d+ entries\)$/m);
    assert.match(out, /^ {2}#0 {2}offset 0 {2}size \d+ {2}index key "key\d+" @ /m);
    assert.doesNotMatch(out, /PUT/);
  });
});

test("dump --entries lists every entry of every block", async () => {
  await withDir(async (dir) => {
    const db = await filled(dir, numbered(300));
    await ok(["flush", db]);
    const [table] = filesOf(db, ".sst");
    const out = await ok(["dump", table, "--entries"]);
    assert.equal(out.match(/ PUT "value-\d+"$/gm)?.length, 300);
    assert.match(out, /^ {6}"key00000" @ 1 PUT "value-0"$/m);
  });
});

test("dump --json of a table is one JSON document", async () => {
  await withDir(async (dir) => {
    const db = await filled(dir, numbered(300));
    await ok(["flush", db]);
    const [table] = filesOf(db, ".sst");
    const doc = JSON.parse(await ok(["dump", table, "--json", "--entries"]));
    assert.equal(doc.kind, "table");
    assert.equal(doc.properties.entries, 300);
    const entries = doc.dataBlocks.flatMap((b: { entries: unknown[] }) => b.entries);
    assert.equal(entries.length, 300);
    assert.deepEqual(entries[0], { key: "key00000", seq: 1, kind: "put", value: "value-0" });
  });
});

test("dump decodes the batches of a WAL", async () => {
  await withDir(async (dir) => {
    const db = await filled(dir, [["a", "1"], ["b", "2"], ["c", "3"]], 2);
    const [wal] = filesOf(db, ".log");
    const out = await ok(["dump", wal]);
    assert.match(out, /: write-ahead log, \d+ bytes, 2 records/);
    assert.match(out, /^@8 batch seq 1\.\.2 \(2 ops, \d+ bytes\)$/m);
    assert.match(out, /^ {4}PUT "c" = "3"$/m);
  });
});

test("dump prints manifest edits as JSON", async () => {
  await withDir(async (dir) => {
    const db = await filled(dir, numbered(20));
    await ok(["flush", db]);
    const [manifest] = fs.readdirSync(db).filter((n) => n.startsWith("MANIFEST-"));
    const out = await ok(["dump", join(db, manifest)]);
    const edits = out.split("\n").filter((l) => l.startsWith("@")).map((l) =>
      JSON.parse(l.slice(l.indexOf(" ") + 1))
    );
    assert.ok(edits.length >= 1);
    const added = edits.flatMap((e) => e.added ?? []);
    assert.equal(added[0].file.smallest, "key00000");
    assert.match(out, /^ {2}L0: \d+$/m);
  });
});

test("dump rejects a file that is not a table, log or manifest", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "000001.sst");
    fs.writeFileSync(path, "just some text, not a table at all, long enough for a footer.....");
    const r = await cli(["dump", path]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^strata: FormatError: .*not a Strata table/);
  });
});

// ---------------------------------------------------------------- import, export

test("export then import round-trips every entry, binary ones included", async () => {
  await withDir(async (dir) => {
    const src = join(dir, "src");
    await ok(["put", src, "text", "héllo\twörld"]);
    await ok(["put", src, "--hex", "00ff01", "fe80"]);
    const exported = await ok(["export", src]);
    assert.ok(exported.includes('"keyHex":"00ff01"'));
    const file = join(dir, "dump.jsonl");
    fs.writeFileSync(file, exported);
    const dst = join(dir, "dst");
    assert.match(await ok(["import", dst, file]), /imported 2 entries/);
    assert.equal(await ok(["scan", dst, "--hex"]), await ok(["scan", src, "--hex"]));
  });
});

test("import --hex reads keys and values as hex strings", async () => {
  await withDir(async (dir) => {
    const file = join(dir, "in.jsonl");
    fs.writeFileSync(file, '{"key":"6b31","value":"00"}\n\n{"key":"6b32","value":"ff"}\n');
    await ok(["import", join(dir, "db"), file, "--hex"]);
    assert.equal(
      await ok(["export", join(dir, "db"), "--hex"]),
      fs.readFileSync(file, "utf8").replace("\n\n", "\n"),
    );
  });
});

test("import names the line of invalid input and exits 1", async () => {
  await withDir(async (dir) => {
    const file = join(dir, "in.jsonl");
    fs.writeFileSync(file, '{"key":"a","value":"1"}\n{"key":"b",\n');
    const r = await cli(["import", join(dir, "db"), file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^strata: InputError: .*in\.jsonl:2: invalid JSON/);
  });
});

test("export waits for a slow stdout and writes every line", async () => {
  await withDir(async (dir) => {
    const db = await filled(dir, numbered(5000));
    const chunks: Uint8Array[] = [];
    let pending = 0;
    const code = await main(["export", db], {
      stdout: async (c) => {
        assert.equal(pending, 0, "a chunk was written before the previous one was taken");
        pending++;
        await new Promise((r) => setTimeout(r, 1));
        chunks.push(c.slice());
        pending--;
      },
      stderr: () => {},
      stderrIsTTY: false,
    });
    assert.equal(code, 0);
    assert.ok(chunks.length > 1);
    const lines = decoder.decode(concat(chunks)).trimEnd().split("\n");
    assert.equal(lines.length, 5000);
    assert.deepEqual(JSON.parse(lines[4999]), { key: "key04999", value: "value-4999" });
  });
});

// ---------------------------------------------------------------- bench

test("bench runs every workload and prints db_bench lines", async () => {
  const out = await ok(["bench", "--num", "2000"]);
  for (
    const w of [
      "fillseq",
      "fillrandom",
      "readrandom",
      "readseq",
      "readreverse",
      "seekrandom",
      "deleterandom",
      "fillbatch",
      "fillsync",
    ]
  ) {
    assert.match(out, new RegExp(`^${w}\\s+:\\s+\\d+\\.\\d{3} micros/op;\\s+\\d+ ops/sec;`, "m"));
  }
});

test("bench --json reports the chosen workloads", async () => {
  const doc = JSON.parse(
    await ok([
      "bench",
      "--num",
      "2000",
      "--value-size",
      "10",
      "--workloads",
      "fillseq,readrandom",
      "--json",
    ]),
  );
  assert.deepEqual(doc.results.map((r: { name: string }) => r.name), ["fillseq", "readrandom"]);
  assert.equal(doc.num, 2000);
  assert.equal(doc.valueSize, 10);
  assert.equal(doc.results[1].found, 2000);
  assert.ok(doc.results[0].opsPerSec > 0);
});

test("bench rejects an unknown workload", async () => {
  assertUsageError(await cli(["bench", "--workloads", "fillseq,nope"]), /unknown workload 'nope'/);
});

test("bench <dir> keeps the database there, marked, for stats and scan", async () => {
  await withDir(async (dir) => {
    const data = join(dir, "bench-data");
    const out = await ok(["bench", data, "--num", "500", "--workloads", "fillseq"]);
    assert.match(out, /^Directory: +.*bench-data \(kept\)$/m);
    assert.ok(fs.existsSync(join(data, ".strata-bench")));
    const s = JSON.parse(await ok(["stats", data, "--json"]));
    assert.equal(s.sequence, 500);
    assert.equal((await ok(["scan", data])).split("\n").length - 1, 500);
  });
});

test("bench --dir empties a directory it marked before reusing it", async () => {
  await withDir(async (dir) => {
    await ok(["bench", "--dir", dir, "--num", "300", "--workloads", "fillseq"]);
    fs.writeFileSync(join(dir, "left-over.txt"), "x");
    await ok(["bench", "--dir", dir, "--num", "200", "--workloads", "fillbatch", "--json"]);
    assert.equal(fs.existsSync(join(dir, "left-over.txt")), false);
    assert.ok(fs.existsSync(join(dir, ".strata-bench")));
    assert.equal((await ok(["scan", dir])).split("\n").length - 1, 200);
  });
});

test("bench refuses a non-empty directory without its marker, and touches nothing", async () => {
  await withDir(async (dir) => {
    fs.writeFileSync(join(dir, "precious.txt"), "keep me");
    assertUsageError(
      await cli(["bench", dir, "--num", "10", "--workloads", "fillseq"]),
      /is not empty and has no \.strata-bench file/,
    );
    assert.deepEqual(fs.readdirSync(dir), ["precious.txt"]);
    const db = join(dir, "db");
    await ok(["put", db, "k", "v"]);
    assertUsageError(await cli(["bench", "--dir", db, "--num", "10"]), /\.strata-bench/);
    assert.equal(await ok(["get", db, "k"]), "v\n");
    assertUsageError(await cli(["bench", join(dir, "precious.txt")]), /is not a directory/);
  });
});

test("bench takes an empty directory, and its directory only once", async () => {
  await withDir(async (dir) => {
    await ok(["bench", dir, "--num", "10", "--workloads", "fillseq", "--json"]);
    assert.ok(fs.existsSync(join(dir, ".strata-bench")));
    assertUsageError(await cli(["bench", dir, "--dir", dir]), /not both/);
    assertUsageError(await cli(["bench", dir, "extra"]), /unexpected argument 'extra'/);
  });
});

test("bench without a directory leaves nothing behind in the temporary directory", async () => {
  const before = new Set(fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith("strata-bench-")));
  const out = await ok(["bench", "--num", "100", "--workloads", "fillseq"]);
  assert.match(out, /^Directory: +temporary \(removed afterwards\)$/m);
  const after = fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith("strata-bench-"));
  assert.deepEqual(after.filter((n) => !before.has(n)), []);
});

// ---------------------------------------------------------------- progress, errors

test("a progress bar is drawn only when stderr is a terminal", async () => {
  await withDir(async (dir) => {
    const file = join(dir, "in.jsonl");
    fs.writeFileSync(
      file,
      numbered(100).map(([key, value]) => JSON.stringify({ key, value })).join("\n"),
    );
    const tty = await cli(["import", join(dir, "a"), file], { tty: true });
    assert.equal(tty.code, 0);
    assert.match(tty.stderr, /^\rimport \[#*-*\]\s+\d+% /);
    assert.ok(tty.stderr.endsWith("\r\x1b[K"), "the bar is erased at the end");
    const piped = await cli(["import", join(dir, "b"), file], { tty: false });
    assert.equal(piped.stderr, "");
  });
});

test("a runtime error is one line naming the error, without a stack trace", async () => {
  await withDir(async (dir) => {
    const handle = await open(dir);
    try {
      const r = await cli(["put", dir, "k", "v"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^strata: LockError: [^\n]+\n$/);
    } finally {
      await handle.close();
    }
  });
});

test("the CLI run as a subprocess exits with real status codes and no stack traces", async () => {
  await withDir((dir) => {
    const script = fileURLToPath(new URL("../cli.ts", import.meta.url));
    const run = (...args: string[]) =>
      spawnSync(process.execPath, scriptArgs(runtime, script, args), { encoding: "utf8" });
    const put = run("put", dir, "k", "v");
    assert.equal(put.status, 0, put.stderr);
    const get = run("get", dir, "k");
    assert.equal(get.status, 0, get.stderr);
    assert.equal(get.stdout, "v\n");
    const missing = run("get", dir, "nope");
    assert.equal(missing.status, 1);
    assert.equal(missing.stderr, "strata: NotFoundError: key not found: nope\n");
    const usage = run("scan", dir, "--bogus");
    assert.equal(usage.status, 2);
    assert.equal(usage.stdout, "");
    assert.match(usage.stderr, /^strata: scan: unknown option '--bogus'[^\n]*\n$/);
    assert.doesNotMatch(usage.stderr, /\bat\s/);
  });
});
