// Damaged files on disk: every byte read is checked, damage is reported as a
// CorruptionError naming the file, and a torn log tail (what a crash leaves)
// is dropped rather than reported. Wrong data must never come back.

import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  cpSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CorruptionError, type DB, open, type OpenOptions } from "../mod.ts";
import { crc32c, readU32, writeU32 } from "../lib/coding.ts";
import { FaultFileSystem } from "./_fault_fs.ts";

const decoder = new TextDecoder();

let root = "";
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "strata-corrupt-"));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

// A fresh copy of `pristine` for one experiment.
let copies = 0;
function copyOf(pristine: string): string {
  const dir = join(root, `copy-${copies++}`);
  cpSync(pristine, dir, { recursive: true });
  return dir;
}

function filesOf(dir: string, re: RegExp): string[] {
  return readdirSync(dir).filter((n) => re.test(n)).sort();
}

function onlyFile(dir: string, re: RegExp): string {
  const names = filesOf(dir, re);
  assert.equal(names.length, 1, `expected one file matching ${re} in ${names}`);
  return join(dir, names[0]);
}

function flipByte(path: string, offset: number, mask = 0xff): void {
  const bytes = readFileSync(path);
  bytes[offset] ^= mask;
  writeFileSync(path, bytes);
}

async function dump(db: DB): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for await (const e of db.scan()) out.push([decoder.decode(e.key), decoder.decode(e.value)]);
  return out;
}

function sorted(m: Map<string, string>): [string, string][] {
  return [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

// Asserts that `p` rejects with a CorruptionError whose message names a file
// matching `file`.
async function assertCorruption(p: Promise<unknown>, file: RegExp, context = ""): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof CorruptionError, `${context}: expected CorruptionError, got ${e}`);
    assert.match(e.message, file, `${context}: error does not name the file`);
    return true;
  });
}

// ----------------------------------------------------------------- WAL

// Offsets of the records of a log file: an 8-byte file header, then
// records of a 12-byte header (payload crc, length, header crc) + payload.
function logRecords(path: string): { start: number; end: number }[] {
  const bytes = readFileSync(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: { start: number; end: number }[] = [];
  for (let pos = 8; pos < bytes.length;) {
    const end = pos + 12 + view.getUint32(pos + 4, true);
    out.push({ start: pos, end });
    pos = end;
  }
  return out;
}

const WAL_BATCHES = 12;

function walBatchKeys(i: number): string[] {
  return [`w:${String(i).padStart(3, "0")}:a`, `w:${String(i).padStart(3, "0")}:b`];
}

// A database whose data lives only in its log: close() syncs the log but
// does not flush the memtable.
async function makeWalOnlyDb(): Promise<string> {
  const dir = join(root, "pristine");
  const db = await open(dir);
  for (let i = 1; i <= WAL_BATCHES; i++) {
    const [a, b] = walBatchKeys(i);
    await db.batch().put(a, `value ${i}`).put(b, `other value ${i}`).write({ sync: true });
  }
  // A short last record keeps the cut-at-every-offset test quick.
  await db.put("z", "", { sync: true });
  await db.close();
  assert.equal(filesOf(dir, /\.sst$/).length, 0, "the data should be in the log only");
  assert.equal(logRecords(onlyFile(dir, /\.log$/)).length, WAL_BATCHES + 1);
  return dir;
}

// Checks that exactly batches 1..n are visible (batch WAL_BATCHES + 1 is
// the short last record).
async function assertWalBatches(dir: string, n: number, context: string): Promise<void> {
  const db = await open(dir);
  try {
    const expected = new Map<string, string>();
    for (let i = 1; i <= Math.min(n, WAL_BATCHES); i++) {
      const [a, b] = walBatchKeys(i);
      expected.set(a, `value ${i}`);
      expected.set(b, `other value ${i}`);
    }
    if (n > WAL_BATCHES) expected.set("z", "");
    assert.deepEqual(await dump(db), sorted(expected), context);
  } finally {
    await db.close();
  }
}

describe("write-ahead log damage", () => {
  it(
    "a log cut at any offset inside its last record loses that record and keeps all earlier ones",
    { timeout: 30_000 },
    async () => {
      const pristine = await makeWalOnlyDb();
      const log = onlyFile(pristine, /\.log$/);
      const last = logRecords(log).at(-1)!;
      for (let cut = last.start; cut < last.end; cut++) {
        const dir = copyOf(pristine);
        truncateSync(join(dir, log.slice(pristine.length + 1)), cut);
        await assertWalBatches(dir, WAL_BATCHES, `log cut at ${cut}`);
        rmSync(dir, { recursive: true });
      }
    },
  );

  it("a log cut inside its 8-byte file header reads as an empty log", async () => {
    const pristine = await makeWalOnlyDb();
    const name = onlyFile(pristine, /\.log$/).slice(pristine.length + 1);
    for (let cut = 0; cut < 8; cut++) {
      const dir = copyOf(pristine);
      truncateSync(join(dir, name), cut);
      await assertWalBatches(dir, 0, `log cut at ${cut}`);
    }
  });

  it("a damaged byte anywhere in an early record is a CorruptionError naming the log", {
    timeout: 30_000,
  }, async () => {
    const pristine = await makeWalOnlyDb();
    const name = onlyFile(pristine, /\.log$/).slice(pristine.length + 1);
    const records = logRecords(join(pristine, name));
    // Every byte of the first record, every third of a middle one.
    for (const [r, step] of [[records[0], 1], [records[5], 3]] as const) {
      for (let at = r.start; at < r.end; at += step) {
        const dir = copyOf(pristine);
        flipByte(join(dir, name), at);
        await assertCorruption(open(dir), /\.log\b/, `byte ${at} flipped`);
        rmSync(dir, { recursive: true });
      }
    }
  });

  it("a zero-filled tail after the last record is room for more records, not corruption", async () => {
    const pristine = await makeWalOnlyDb();
    const name = onlyFile(pristine, /\.log$/).slice(pristine.length + 1);
    const dir = copyOf(pristine);
    const path = join(dir, name);
    writeFileSync(path, new Uint8Array(4096), { flag: "a" });
    await assertWalBatches(dir, WAL_BATCHES + 1, "zeros appended");
  });

  it("a last record overwritten with zeros is a torn tail: that batch is gone, the rest stay", async () => {
    const pristine = await makeWalOnlyDb();
    const name = onlyFile(pristine, /\.log$/).slice(pristine.length + 1);
    const last = logRecords(join(pristine, name)).at(-1)!;
    const dir = copyOf(pristine);
    const path = join(dir, name);
    const bytes = readFileSync(path);
    bytes.fill(0, last.start);
    writeFileSync(path, bytes);
    await assertWalBatches(dir, WAL_BATCHES, "last record zeroed");
  });

  it("a torn write that left zeros from inside a record to the end of the log is a torn tail", async () => {
    // What power loss leaves when a multi-record write reached the disk only
    // in part and the file's length got ahead of its data.
    const pristine = await makeWalOnlyDb();
    const name = onlyFile(pristine, /\.log$/).slice(pristine.length + 1);
    const records = logRecords(join(pristine, name));
    const k = records.length - 4;
    const torn = records[k];
    for (const from of [torn.start + 5, torn.start + 12, Math.floor((torn.start + torn.end) / 2)]) {
      const dir = copyOf(pristine);
      const path = join(dir, name);
      const bytes = readFileSync(path);
      bytes.fill(0, from);
      writeFileSync(path, bytes);
      await assertWalBatches(dir, k, `zeros from byte ${from} (inside record ${k})`);
    }
  });

  it("a newer log holding only zeros (its header never reached the disk) is an empty log", async () => {
    const pristine = await makeWalOnlyDb();
    const numbers = readdirSync(pristine).map((n) => Number(/(\d+)/.exec(n)?.[1] ?? 0));
    const next = `${String(Math.max(...numbers) + 1).padStart(6, "0")}.log`;
    for (const length of [8, 100, 4096]) {
      const dir = copyOf(pristine);
      writeFileSync(join(dir, next), new Uint8Array(length));
      await assertWalBatches(dir, WAL_BATCHES + 1, `${next} of ${length} zero bytes`);
    }
  });

  it("a damaged last record followed by more bytes than a torn write explains is corruption", async () => {
    // Damage in the last record's payload, then non-zero bytes after it: not
    // something a crash leaves, so it must not be silently dropped.
    const pristine = await makeWalOnlyDb();
    const name = onlyFile(pristine, /\.log$/).slice(pristine.length + 1);
    const last = logRecords(join(pristine, name)).at(-1)!;
    const dir = copyOf(pristine);
    const path = join(dir, name);
    flipByte(path, last.end - 1);
    writeFileSync(path, new Uint8Array(64).fill(0x41), { flag: "a" });
    await assertCorruption(open(dir), /\.log\b/);
  });
});

// ------------------------------------------------------------ SSTables

// Keys of a two-table database: the second table overwrites some keys of
// the first and deletes others, so a read must combine both correctly.
const TABLE_OPTIONS: OpenOptions = { blockSize: 256, autoCompaction: false };
const KEYS = 250;

function tableKey(i: number): string {
  return `key:${String(i).padStart(4, "0")}`;
}

async function makeTableDb(
  dir = join(root, "pristine"),
  fs?: FaultFileSystem,
): Promise<{ dir: string; model: Map<string, string> }> {
  const model = new Map<string, string>();
  const db = await open(dir, { ...TABLE_OPTIONS, fs });
  let batch = db.batch();
  for (let i = 0; i < KEYS; i++) {
    const k = tableKey(i);
    const v = `value ${i} `.repeat(1 + (i % 4));
    batch.put(k, v);
    model.set(k, v);
  }
  await batch.write();
  await db.flush();
  batch = db.batch();
  for (let i = 0; i < KEYS; i += 7) {
    const k = tableKey(i);
    if (i % 2 === 0) {
      batch.put(k, `second ${i}`);
      model.set(k, `second ${i}`);
    } else {
      batch.delete(k);
      model.delete(k);
    }
  }
  await batch.write();
  await db.flush();
  await db.close();
  const tables = (fs ? fs.list(dir) : readdirSync(dir)).filter((n) => n.endsWith(".sst"));
  assert.equal(tables.length, 2);
  return { dir, model };
}

// Opens `dir` and reads everything, by scan and by point reads. Every read
// must either return exactly the right data or throw a CorruptionError that
// names a table file; returns how many reads reported corruption.
async function readAllOrCorruption(
  dir: string,
  model: Map<string, string>,
  context: string,
  fs?: FaultFileSystem,
  pointReads = true,
): Promise<number> {
  let detected = 0;
  const expectCorruption = (e: unknown, what: string) => {
    assert.ok(e instanceof CorruptionError, `${context}, ${what}: threw ${e}`);
    assert.match(e.message, /\.sst\b/, `${context}, ${what}: error does not name the table`);
    detected++;
  };
  let db: DB;
  try {
    db = await open(dir, { ...TABLE_OPTIONS, fs });
  } catch (e) {
    expectCorruption(e, "open");
    return detected;
  }
  try {
    try {
      assert.deepEqual(await dump(db), sorted(model), `${context}: scan returned wrong data`);
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      expectCorruption(e, "scan");
    }
    try {
      const rev = db.scan({ reverse: true }).toArray().map((e) => decoder.decode(e.key));
      assert.deepEqual(rev, sorted(model).map(([k]) => k).reverse(), `${context}: reverse scan`);
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      expectCorruption(e, "reverse scan");
    }
    for (let i = 0; pointReads && i < KEYS; i++) {
      const k = tableKey(i);
      try {
        const got = await db.get(k);
        assert.equal(got && decoder.decode(got), model.get(k), `${context}: get(${k})`);
      } catch (e) {
        if (e instanceof assert.AssertionError) throw e;
        expectCorruption(e, `get(${k})`);
      }
    }
  } finally {
    await db.close();
  }
  return detected;
}

// The byte ranges of a table's parts, from its footer (52 bytes at the end:
// index, filter and properties handles as u64 offset + u32 size; each block
// is followed by a 5-byte trailer).
function tableRegions(bytes: Uint8Array): Record<string, [number, number]> {
  const footer = bytes.length - 52;
  const handle = (at: number): [number, number] => {
    const offset = readU32(bytes, footer + at); // offsets fit in 32 bits here
    return [offset, offset + readU32(bytes, footer + at + 8) + 5];
  };
  const filter = handle(12);
  return {
    data: [0, filter[0]],
    filter,
    properties: handle(24),
    index: handle(0),
    footer: [footer, bytes.length],
  };
}

describe("table file damage", () => {
  it("the undamaged two-table database reads back exactly", async () => {
    const { dir, model } = await makeTableDb();
    assert.equal(await readAllOrCorruption(dir, model, "pristine"), 0);
  });

  it(
    "a damaged byte in each region of a table file (data, filter, properties, index, footer) is detected, never wrong data",
    {
      timeout: 60_000,
    },
    async () => {
      const { dir: pristine, model } = await makeTableDb();
      const name = filesOf(pristine, /\.sst$/)[0];
      const bytes = readFileSync(join(pristine, name));
      const regions = tableRegions(bytes);
      for (const [region, [start, end]] of Object.entries(regions)) {
        // The first and last bytes of the region and a few in between.
        const offsets = new Set([start, end - 1]);
        for (let i = 1; i < 8; i++) offsets.add(start + Math.floor(((end - start) * i) / 8));
        for (const at of offsets) {
          const dir = copyOf(pristine);
          flipByte(join(dir, name), at, 1 << (at % 8));
          const context = `${region} byte ${at} of ${name} flipped`;
          const detected = await readAllOrCorruption(dir, model, context);
          assert.ok(detected > 0, `${context}: a full read did not notice`);
          rmSync(dir, { recursive: true });
        }
      }
    },
  );

  it(
    "every single-bit flip at every byte of a table is detected by a full read, never returned as data",
    {
      timeout: 60_000,
    },
    async () => {
      // The smaller, newer table, in memory, so that the thousand reopens
      // cost no fsyncs.
      const fs = new FaultFileSystem();
      const { dir, model } = await makeTableDb("/db", fs);
      const path = `${dir}/${fs.list(dir).filter((n) => n.endsWith(".sst")).sort()[1]}`;
      const pristine = fs.peek(path);
      const undetected: number[] = [];
      for (let at = 0; at < pristine.length; at++) {
        const damaged = pristine.slice();
        damaged[at] ^= 1 << (at % 8);
        fs.poke(path, damaged);
        const context = `byte ${at} of ${path} flipped`;
        const detected = await readAllOrCorruption(dir, model, context, fs, false);
        if (detected === 0) undetected.push(at);
      }
      assert.deepEqual(undetected, [], "flips no read noticed: some bytes are never checked");
    },
  );

  it("a truncated table is a CorruptionError naming it", { timeout: 30_000 }, async () => {
    const { dir: pristine, model } = await makeTableDb();
    const name = filesOf(pristine, /\.sst$/)[0];
    const size = statSync(join(pristine, name)).size;
    for (const length of [0, 1, 51, 52, Math.floor(size / 2), size - 53, size - 52, size - 1]) {
      const dir = copyOf(pristine);
      truncateSync(join(dir, name), length);
      const detected = await readAllOrCorruption(dir, model, `${name} cut to ${length} bytes`);
      assert.ok(detected > 0, `${name} cut to ${length} of ${size} bytes went unnoticed`);
    }
  });

  it("a scan that meets a damaged table fails without keeping hold of the tables it opened", async () => {
    const dir = join(root, "three-tables");
    let db = await open(dir, { autoCompaction: false });
    for (const batch of ["a", "b", "c"]) {
      await db.put(`${batch}:1`, batch);
      // A key in every table makes them overlap, so compaction must rewrite them all.
      await db.put("z", batch);
      await db.flush();
    }
    await db.close();
    const before = filesOf(dir, /\.sst$/);
    assert.equal(before.length, 3);
    // Level-0 tables open newest or oldest first; either way the middle one opens second.
    const middle = join(dir, before[1]);
    const pristine = readFileSync(middle);
    flipByte(middle, pristine.length - 1);
    db = await open(dir, { autoCompaction: false });
    assert.throws(() => db.scan(), CorruptionError);
    writeFileSync(middle, pristine);
    await db.compact();
    // A table still held by the failed scan would outlive the compaction that replaced it.
    const left = filesOf(dir, /\.sst$/).filter((n) => before.includes(n));
    assert.deepEqual(left, []);
    assert.deepEqual((await dump(db)).map(([k]) => k), ["a:1", "b:1", "c:1", "z"]);
    await db.close();
  });

  it("a table named by the manifest but missing from the directory fails the open", async () => {
    const { dir } = await makeTableDb();
    const name = filesOf(dir, /\.sst$/)[0];
    rmSync(join(dir, name));
    await assertCorruption(open(dir), new RegExp(name.replace(".", "\\.")));
  });
});

// ------------------------------------------------------------ manifest

// Two flushes in one session: the manifest holds the session's opening
// snapshot, then one edit per flush. Batch A is in the first table, batch B
// in the second.
async function makeManifestDb(): Promise<
  { dir: string; a: [string, string][]; ab: [string, string][] }
> {
  const dir = join(root, "pristine");
  const db = await open(dir, { autoCompaction: false });
  await db.batch().put("a:1", "one").put("a:2", "two").write();
  await db.flush();
  await db.batch().put("b:1", "uno").delete("a:2").write();
  await db.flush();
  await db.close();
  return {
    dir,
    a: [["a:1", "one"], ["a:2", "two"]],
    ab: [["a:1", "one"], ["b:1", "uno"]],
  };
}

describe("manifest and CURRENT damage", () => {
  it(
    "a damaged manifest byte is a CorruptionError naming it, or (in the last edit) a torn tail that falls back to the previous state",
    {
      timeout: 60_000,
    },
    async () => {
      const { dir: pristine, a } = await makeManifestDb();
      const manifest = onlyFile(pristine, /^MANIFEST-\d+$/).slice(pristine.length + 1);
      const records = logRecords(join(pristine, manifest));
      assert.equal(records.length, 3, "snapshot + two flush edits");
      const last = records.at(-1)!;
      const size = statSync(join(pristine, manifest)).size;
      let tornTails = 0;
      // Every byte of the file header and the record headers, a stride
      // through the payloads.
      const offsets = new Set<number>();
      for (let at = 0; at < 8; at++) offsets.add(at);
      for (const r of records) {
        for (let at = r.start; at < r.start + 12; at++) offsets.add(at);
        for (let at = r.start + 12; at < r.end; at += 4) offsets.add(at);
        offsets.add(r.end - 1);
      }
      assert.equal(records.at(-1)!.end, size);
      for (const at of offsets) {
        const dir = copyOf(pristine);
        flipByte(join(dir, manifest), at);
        const context = `${manifest} byte ${at} flipped`;
        let db: DB | undefined;
        try {
          db = await open(dir);
        } catch (e) {
          assert.ok(e instanceof CorruptionError, `${context}: threw ${e}`);
          assert.match(e.message, /MANIFEST-\d+/, `${context}: error does not name the manifest`);
        }
        if (db !== undefined) {
          // Only damage inside the last edit's payload may pass as a torn
          // write, and then the state is the one before that edit.
          assert.ok(
            at >= last.start + 12,
            `${context}: damage before the last edit was not noticed`,
          );
          try {
            assert.deepEqual(await dump(db), a, `${context}: not the state before the last edit`);
          } finally {
            await db.close();
          }
          tornTails++;
        }
        rmSync(dir, { recursive: true });
      }
      assert.ok(tornTails > 0, "no flip was treated as a torn tail");
    },
  );

  it("CURRENT naming a manifest that does not exist is a CorruptionError", async () => {
    const { dir } = await makeManifestDb();
    writeFileSync(join(dir, "CURRENT"), "MANIFEST-999999\n");
    await assertCorruption(open(dir), /MANIFEST-999999/);
  });

  it(
    "a CURRENT file holding garbage is a CorruptionError naming CURRENT",
    { timeout: 30_000 },
    async () => {
      const { dir: pristine } = await makeManifestDb();
      for (
        const content of [
          "",
          "\n",
          "garbage\n",
          "MANIFEST-\n",
          "MANIFEST-000001",
          "\u0000".repeat(16),
        ]
      ) {
        const dir = copyOf(pristine);
        writeFileSync(join(dir, "CURRENT"), content);
        await assertCorruption(open(dir), /CURRENT/, `CURRENT = ${JSON.stringify(content)}`);
      }
    },
  );

  it("a directory with database files but no CURRENT is a CorruptionError, not a new empty database", async () => {
    const { dir } = await makeManifestDb();
    rmSync(join(dir, "CURRENT"));
    await assertCorruption(open(dir), /CURRENT/);
  });
});

// ------------------------------------------------ magic numbers, versions

describe("magic numbers and format versions", () => {
  it("a log whose magic number is changed is reported as corruption", async () => {
    const pristine = await makeWalOnlyDb();
    const name = onlyFile(pristine, /\.log$/).slice(pristine.length + 1);
    for (let at = 0; at < 4; at++) {
      const dir = copyOf(pristine);
      flipByte(join(dir, name), at);
      await assertCorruption(open(dir), /\.log\b/, `magic byte ${at}`);
    }
  });

  it("a log of an unknown format version is reported as corruption", async () => {
    const pristine = await makeWalOnlyDb();
    const name = onlyFile(pristine, /\.log$/).slice(pristine.length + 1);
    const dir = copyOf(pristine);
    const bytes = readFileSync(join(dir, name));
    writeU32(bytes, 4, 3);
    writeFileSync(join(dir, name), bytes);
    await assert.rejects(open(dir), (e: unknown) => {
      assert.ok(e instanceof CorruptionError, String(e));
      assert.match(e.message, /version/);
      return true;
    });
  });

  it("a manifest whose magic number is changed is reported as corruption", async () => {
    const { dir: pristine } = await makeManifestDb();
    const name = onlyFile(pristine, /^MANIFEST-\d+$/).slice(pristine.length + 1);
    for (let at = 0; at < 4; at++) {
      const dir = copyOf(pristine);
      flipByte(join(dir, name), at);
      await assertCorruption(open(dir), /MANIFEST-\d+/, `magic byte ${at}`);
    }
  });

  it(
    "a table whose magic number is changed is reported as corruption",
    { timeout: 30_000 },
    async () => {
      const { dir: pristine, model } = await makeTableDb();
      const name = filesOf(pristine, /\.sst$/)[0];
      const size = statSync(join(pristine, name)).size;
      for (let at = size - 8; at < size; at++) {
        const dir = copyOf(pristine);
        flipByte(join(dir, name), at);
        const detected = await readAllOrCorruption(dir, model, `magic byte ${at}`);
        assert.ok(detected > 0, `changed magic byte ${at} went unnoticed`);
      }
    },
  );

  it("a table of an unknown format version (with a valid footer checksum) is reported as corruption", async () => {
    const { dir, model } = await makeTableDb();
    const name = filesOf(dir, /\.sst$/)[0];
    const path = join(dir, name);
    const bytes = readFileSync(path);
    // Footer: 52 bytes at the end; version u32 at 36, crc32c of [0, 40) at 40.
    const footer = bytes.length - 52;
    writeU32(bytes, footer + 36, 3);
    writeU32(bytes, footer + 40, crc32c(bytes, footer, footer + 40));
    writeFileSync(path, bytes);
    const db = await open(dir, TABLE_OPTIONS);
    try {
      assert.throws(() => db.scan().toArray(), (e: unknown) => {
        assert.ok(e instanceof CorruptionError, String(e));
        assert.match(e.message, /version/);
        return true;
      });
    } finally {
      await db.close();
    }
    assert.ok(model.size > 0);
  });
});
