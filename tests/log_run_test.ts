import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as nodeFs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CorruptionError } from "../lib/errors.ts";
import { defaultFileSystem } from "../lib/fs.ts";
import { LogRun } from "../lib/log_run.ts";
import { LogWriter, WAL_MAGIC } from "../lib/wal.ts";
import { encodeBatch, WriteBatch } from "../lib/write_batch.ts";
import { rng } from "./_model.ts";

const fs = defaultFileSystem();

function logOf(batches: WriteBatch[]): Uint8Array {
  const dir = nodeFs.mkdtempSync(path.join(os.tmpdir(), "strata-logrun-"));
  const file = path.join(dir, "000001.log");
  const log = LogWriter.create(fs.openWrite(file), WAL_MAGIC);
  let seq = 1;
  for (const b of batches) {
    log.append([encodeBatch(b, seq)]);
    seq += b.length;
  }
  log.close();
  const bytes = fs.readFile(file);
  nodeFs.rmSync(dir, { recursive: true });
  return bytes;
}

function entries(run: LogRun): string[] {
  const out: string[] = [];
  for (run.seekToFirst(); run.valid(); run.next()) {
    out.push(`${[...run.key()]}@${run.seq()}:${run.kind()}:${[...run.value()]}`);
  }
  return out;
}

describe("LogRun", () => {
  it("yields a log's entries by key ascending, newest version first", () => {
    const bytes = logOf([
      new WriteBatch().put("b", "1").put("a", "2"),
      new WriteBatch().delete("b").put("c", "3"),
    ]);
    assert.deepEqual(entries(LogRun.fromLog(bytes, "x.log")), [
      "97@2:1:50",
      "98@3:0:",
      "98@1:1:49",
      "99@4:1:51",
    ]);
  });
  it("orders random binary keys as the byte order of the keys", () => {
    const random = rng(5);
    const batches: WriteBatch[] = [];
    const all: [number[], number][] = [];
    let seq = 1;
    for (let i = 0; i < 50; i++) {
      const b = new WriteBatch();
      for (let j = 0; j < 20; j++) {
        const key = Array.from(
          { length: 1 + Math.floor(random() * 3) },
          () => Math.floor(random() * 256),
        );
        b.put(new Uint8Array(key), "v");
        all.push([key, seq++]);
      }
      batches.push(b);
    }
    const cmp = (a: number[], b: number[]) => {
      for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
      return a.length - b.length;
    };
    all.sort((x, y) => cmp(x[0], y[0]) || y[1] - x[1]);
    const run = LogRun.fromLog(logOf(batches), "x.log");
    const got: string[] = [];
    for (run.seekToFirst(); run.valid(); run.next()) got.push(`${[...run.key()]}@${run.seq()}`);
    assert.deepEqual(got, all.map(([k, s]) => `${k}@${s}`));
  });
  it("yields keys written in ascending order as written", () => {
    const bytes = logOf([
      new WriteBatch().put("a", "1").put("ab", "2"),
      new WriteBatch().put("b", "3"),
    ]);
    assert.deepEqual(entries(LogRun.fromLog(bytes, "x.log")), [
      "97@1:1:49",
      "97,98@2:1:50",
      "98@3:1:51",
    ]);
  });
  it("orders a key written twice in a row newest first", () => {
    const bytes = logOf([new WriteBatch().put("a", "1").put("b", "2").put("b", "3")]);
    assert.deepEqual(entries(LogRun.fromLog(bytes, "x.log")), [
      "97@1:1:49",
      "98@3:1:51",
      "98@2:1:50",
    ]);
  });
  it("orders a key that extends the one before it, written first", () => {
    const bytes = logOf([new WriteBatch().put("ab", "1").put("a", "2")]);
    assert.deepEqual(entries(LogRun.fromLog(bytes, "x.log")), ["97@2:1:50", "97,98@1:1:49"]);
  });
  it("reports a malformed batch inside an intact record as corruption", () => {
    const b = new WriteBatch().put("a", "1");
    const payload = encodeBatch(b, 1);
    payload[8] = 2; // claims two operations
    const dir = nodeFs.mkdtempSync(path.join(os.tmpdir(), "strata-logrun-"));
    const file = path.join(dir, "000001.log");
    const log = LogWriter.create(fs.openWrite(file), WAL_MAGIC);
    log.append([payload]);
    log.close();
    assert.throws(() => LogRun.fromLog(fs.readFile(file), file), CorruptionError);
    nodeFs.rmSync(dir, { recursive: true });
  });
});
