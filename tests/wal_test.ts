import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as nodeFs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CorruptionError } from "../lib/errors.ts";
import { defaultFileSystem } from "../lib/fs.ts";
import { crc32c, readU32, writeU32, xxh32 } from "../lib/coding.ts";
import {
  LOG_FORMAT_VERSION,
  LogWriter,
  MANIFEST_MAGIC,
  readLog,
  RECORD_HEADER_SIZE,
  visitLog,
  WAL_MAGIC,
} from "../lib/wal.ts";
import { open } from "../mod.ts";
import { decodeBatch, encodeBatch, visitBatch, WriteBatch } from "../lib/write_batch.ts";

const fs = defaultFileSystem();

function writeLog(records: Uint8Array[]): Uint8Array {
  const dir = nodeFs.mkdtempSync(path.join(os.tmpdir(), "strata-wal-"));
  const file = path.join(dir, "000001.log");
  const log = LogWriter.create(fs.openWrite(file), WAL_MAGIC);
  for (const r of records) log.append([r]);
  log.close();
  const bytes = fs.readFile(file);
  nodeFs.rmSync(dir, { recursive: true });
  return bytes;
}

const records = [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(500).fill(7)];

describe("record log", () => {
  it("reads back every record in order", () => {
    const log = readLog(writeLog(records), WAL_MAGIC, "x.log");
    assert.deepEqual(log.records, records);
    assert.equal(log.torn, false);
  });
  it("drops a record cut short at any offset, keeping the ones before", () => {
    const bytes = writeLog(records);
    const lastStart = readLog(bytes, WAL_MAGIC, "x.log").offsets[2];
    for (let cut = lastStart; cut < bytes.length; cut++) {
      const log = readLog(bytes.subarray(0, cut), WAL_MAGIC, "x.log");
      assert.deepEqual(log.records, records.slice(0, 2), `cut at ${cut}`);
      assert.equal(log.validLength, lastStart);
    }
  });
  it("visitLog visits the payload of every intact record, in place, as readLog lists them", () => {
    const bytes = writeLog(records);
    for (const end of [bytes.length, bytes.length - 1]) {
      const whole = bytes.subarray(0, end);
      const seen: Uint8Array[] = [];
      const result = visitLog(whole, { magic: WAL_MAGIC, fileName: "x.log" }, (start, stop) => {
        seen.push(whole.subarray(start, stop));
      });
      const log = readLog(whole, WAL_MAGIC, "x.log");
      assert.deepEqual(seen, log.records, `log of ${end} bytes`);
      assert.deepEqual(result, { validLength: log.validLength, torn: log.torn });
    }
  });
  it("reads zeros after the last record as room reserved for more, not a torn tail", () => {
    const bytes = writeLog(records);
    const padded = new Uint8Array(bytes.length + 64);
    padded.set(bytes);
    const log = readLog(padded, WAL_MAGIC, "x.log");
    assert.deepEqual(log.records, records);
    assert.equal(log.validLength, bytes.length);
    assert.equal(log.torn, false);
  });
  it("treats zeros from inside the last record to the end as torn", () => {
    const bytes = writeLog(records).slice();
    const last = readLog(bytes, WAL_MAGIC, "x.log").offsets[2];
    bytes.fill(0, last + 20);
    const log = readLog(bytes, WAL_MAGIC, "x.log");
    assert.deepEqual(log.records, records.slice(0, 2));
    assert.equal(log.validLength, last);
    assert.equal(log.torn, true);
  });
  it("treats a damaged last record as torn", () => {
    const bytes = writeLog(records).slice();
    bytes[bytes.length - 1] ^= 0xff;
    assert.deepEqual(readLog(bytes, WAL_MAGIC, "x.log").records, records.slice(0, 2));
  });
  it("reports a damaged record followed by intact ones as corruption naming file and offset", () => {
    const bytes = writeLog(records).slice();
    const first = readLog(bytes, WAL_MAGIC, "x.log").offsets[0];
    bytes[first + 12] ^= 0x01;
    assert.throws(() => readLog(bytes, WAL_MAGIC, "x.log"), (e: unknown) => {
      assert.ok(e instanceof CorruptionError);
      assert.match(e.message, /x\.log/);
      assert.equal(e.offset, first);
      return true;
    });
  });
  it("reports a damaged length as corruption rather than trusting it", () => {
    const bytes = writeLog(records).slice();
    const first = readLog(bytes, WAL_MAGIC, "x.log").offsets[0];
    bytes[first + 4] = 0xff;
    assert.throws(() => readLog(bytes, WAL_MAGIC, "x.log"), CorruptionError);
  });
  it("rejects a file of another kind by its magic number", () => {
    assert.throws(() => readLog(writeLog(records), MANIFEST_MAGIC, "x"), /bad magic/);
  });
  it("accepts a header cut short by a crash at creation", () => {
    const bytes = writeLog([]);
    assert.deepEqual(readLog(bytes.subarray(0, 5), WAL_MAGIC, "x.log").records, []);
  });
  it("reads a header cut short and followed by zeros to the file's end as an empty torn log", () => {
    const bytes = new Uint8Array(4096);
    bytes.set(writeLog([]).subarray(0, 3));
    const log = readLog(bytes, WAL_MAGIC, "x.log");
    assert.deepEqual(log.records, []);
    assert.equal(log.torn, true);
  });
  it("rejects a header cut short when anything but zeros follows it", () => {
    const bytes = new Uint8Array(4096);
    bytes.set(writeLog([]).subarray(0, 3));
    bytes[4000] = 1;
    assert.throws(() => readLog(bytes, WAL_MAGIC, "x.log"), /bad magic/);
  });
});

describe("log format version 1 (CRC32C records)", () => {
  it("writes format version 2, whose records carry XXH32", () => {
    const bytes = writeLog(records);
    assert.equal(readU32(bytes, 4), LOG_FORMAT_VERSION);
    assert.equal(LOG_FORMAT_VERSION, 2);
    const payload = 8 + RECORD_HEADER_SIZE;
    assert.equal(readU32(bytes, 8), xxh32(bytes, payload, payload + records[0].length));
    assert.equal(readU32(bytes, 16), xxh32(bytes, 8, 16));
  });
  it("reads every record of a log of format version 1", () => {
    const log = readLog(versionOneLog(WAL_MAGIC, records, crc32c), WAL_MAGIC, "x.log");
    assert.deepEqual(log.records, records);
    assert.equal(log.torn, false);
  });
  it("reports records of a version 1 log that carry XXH32 as corruption", () => {
    const bytes = versionOneLog(WAL_MAGIC, records, xxh32);
    assert.throws(() => readLog(bytes, WAL_MAGIC, "x.log"), (e: unknown) => {
      assert.ok(e instanceof CorruptionError);
      assert.match(e.message, /checksum mismatch/);
      return true;
    });
  });
  it("reads a version 1 header cut short as an empty torn log", () => {
    const bytes = versionOneLog(WAL_MAGIC, [], crc32c).subarray(0, 5);
    const log = readLog(bytes, WAL_MAGIC, "x.log");
    assert.deepEqual(log.records, []);
    assert.equal(log.torn, true);
  });
  it("a database whose log and manifest are in format version 1 opens with every write", async () => {
    const dir = nodeFs.mkdtempSync(path.join(os.tmpdir(), "strata-wal-v1-"));
    try {
      let db = await open(dir);
      await db.put("flushed", "1");
      await db.flush();
      await db.put("logged", "2");
      await db.delete("flushed");
      await db.put("kept", "3");
      // Copy the files as a crash would leave them, then rewrite the logs as version 1.
      const copy = nodeFs.mkdtempSync(path.join(os.tmpdir(), "strata-wal-v1-copy-"));
      for (const name of nodeFs.readdirSync(dir)) {
        if (name !== "LOCK") nodeFs.copyFileSync(path.join(dir, name), path.join(copy, name));
      }
      await db.close();
      nodeFs.rmSync(dir, { recursive: true });
      nodeFs.renameSync(copy, dir);
      let rewritten = 0;
      for (const name of nodeFs.readdirSync(dir)) {
        const magic = name.endsWith(".log")
          ? WAL_MAGIC
          : name.startsWith("MANIFEST-")
          ? MANIFEST_MAGIC
          : 0;
        if (magic === 0) continue;
        const file = path.join(dir, name);
        const log = readLog(new Uint8Array(nodeFs.readFileSync(file)), magic, name);
        nodeFs.writeFileSync(file, versionOneLog(magic, log.records, crc32c));
        rewritten++;
      }
      assert.ok(rewritten >= 2, `${rewritten} logs rewritten`);
      db = await open(dir);
      const text = (b: Uint8Array | undefined) => b && new TextDecoder().decode(b);
      assert.equal(db.getSync("flushed"), undefined);
      assert.equal(text(db.getSync("logged")), "2");
      assert.equal(text(db.getSync("kept")), "3");
      await db.close();
    } finally {
      nodeFs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// A log as format version 1 wrote it: the header, then each record framed
// with `checksum` (CRC32C in a genuine one).
function versionOneLog(
  magic: number,
  payloads: Uint8Array[],
  checksum: (b: Uint8Array, start: number, end: number) => number,
): Uint8Array {
  let size = 8;
  for (const p of payloads) size += RECORD_HEADER_SIZE + p.length;
  const out = new Uint8Array(size);
  writeU32(out, 0, magic);
  writeU32(out, 4, 1);
  let pos = 8;
  for (const p of payloads) {
    const start = pos + RECORD_HEADER_SIZE;
    out.set(p, start);
    writeU32(out, pos, checksum(out, start, start + p.length));
    writeU32(out, pos + 4, p.length);
    writeU32(out, pos + 8, checksum(out, pos, pos + 8));
    pos = start + p.length;
  }
  return out;
}

describe("write batch encoding", () => {
  it("round-trips puts and deletes with their first sequence number", () => {
    const b = new WriteBatch().put("a", "1").delete("b").put(
      new Uint8Array([0, 255]),
      new Uint8Array(0),
    );
    const decoded = decodeBatch(encodeBatch(b, 2 ** 40), "x.log", 0);
    assert.equal(decoded.firstSeq, 2 ** 40);
    assert.deepEqual(decoded.ops.map((op) => [op.kind, [...op.key], [...op.value]]), [
      [1, [97], [49]],
      [0, [98], []],
      [1, [0, 255], []],
    ]);
  });
  it("rejects a count larger than the operations present", () => {
    const b = new WriteBatch().put("a", "1");
    const bytes = encodeBatch(b, 1);
    bytes[8] = 2;
    assert.throws(() => decodeBatch(bytes, "x.log", 0), CorruptionError);
  });
  it("visitBatch reports each kind of malformed batch naming the file and the offset of the fault", () => {
    // A put of key "k" (1 byte) and value "v": kind, key length, key, value length, value.
    const good = encodeBatch(new WriteBatch().put("k", "v"), 1);
    const damaged = (at: number, ...bytes: number[]) => {
      const b = new Uint8Array(Math.max(good.length, at + bytes.length));
      b.set(good);
      b.set(bytes, at);
      return b;
    };
    const cases: [string, Uint8Array, RegExp, number][] = [
      ["short header", good.subarray(0, 11), /shorter than its header/, 0],
      ["too few operations", damaged(8, 2), /holds 1 of 2 operations/, good.length],
      ["unknown kind", damaged(12, 7), /unknown operation kind 7/, 12],
      ["truncated varint", good.subarray(0, 13), /truncated varint/, 13],
      ["long varint", damaged(13, ...new Array(9).fill(0x80)), /varint too long/, 21],
      ["key past the end", damaged(13, 40), /length 40 overruns the record/, 14],
      ["trailing bytes", damaged(good.length, 0), /trailing bytes/, good.length],
    ];
    for (const [name, bytes, message, at] of cases) {
      assert.throws(
        () => visitBatch(bytes, 0, bytes.length, { fileName: "x.log", fileOffset: 100 }, () => {}),
        (e: unknown) =>
          e instanceof CorruptionError && message.test(e.message) && e.file === "x.log" &&
          e.offset === 100 + at,
        name,
      );
    }
  });
  it("visitBatch gives each operation's positions in the bytes it was handed", () => {
    const key = new Uint8Array(200).fill(3); // a two-byte length varint
    const encoded = encodeBatch(new WriteBatch().put(key, "vv").delete("d"), 7);
    const bytes = new Uint8Array(encoded.length + 5);
    bytes.set(encoded, 5);
    const seen: number[][] = [];
    const count = visitBatch(
      bytes,
      5,
      bytes.length,
      { fileName: "x.log", fileOffset: 0 },
      (seq, kind, ks, ke, vs, ve) => seen.push([seq, kind, ks, ke, vs, ve]),
    );
    assert.equal(count, 2);
    // Header 12 bytes, kind 1, key length 2, key 200, value length 1, value 2.
    assert.deepEqual(seen, [[7, 1, 20, 220, 221, 223], [8, 0, 225, 226, 226, 226]]);
  });
  it("copies keys and values so later changes by the caller do not leak in", () => {
    const key = new Uint8Array([1]);
    const b = new WriteBatch().put(key, key);
    key[0] = 9;
    assert.deepEqual([...decodeBatch(encodeBatch(b, 1), "x.log", 0).ops[0].key], [1]);
  });
  it("leaves the batch unchanged when an operation is rejected", () => {
    const b = new WriteBatch().put("a", "1");
    assert.throws(() => b.put(42 as unknown as string, "x"), TypeError);
    assert.throws(() => b.put(new Uint8Array(65537), "x"), RangeError);
    assert.equal(b.length, 1);
  });
});
