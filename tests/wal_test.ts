import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as nodeFs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CorruptionError } from "../lib/errors.ts";
import { defaultFileSystem } from "../lib/fs.ts";
import { LogWriter, MANIFEST_MAGIC, readLog, WAL_MAGIC } from "../lib/wal.ts";
import { decodeBatch, encodeBatch, WriteBatch } from "../lib/write_batch.ts";

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
});

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
