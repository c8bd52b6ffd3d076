// Crash safety: a killed process and a machine that loses power must both
// come back with every acknowledged write and no partial batch.
//
// The workload (tests/_workload.ts) is a stream of numbered batches, each a
// pure function of its number, ending with `meta:last = b`. After any crash
// the database must hold exactly the batches 1..p for the p it reports, and
// p must cover every batch whose durability was promised.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setImmediate } from "node:timers";
import { CorruptionError, type DB, open, type OpenOptions, StrataError } from "../mod.ts";
import type { WritableFile } from "../lib/fs.ts";
import { type CrashMode, FaultFileSystem } from "./_fault_fs.ts";
import { BUSY_COMPACTION_OPTIONS, checkPrefixState, writeBatch } from "./_workload.ts";
import { startScript } from "./_spawn.ts";

const WRITER = new URL("./_crash_writer.ts", import.meta.url).pathname;
const DIR = "/db";

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function assertNoFailures(failures: string[]): void {
  if (failures.length > 0) assert.fail(`${failures.length} failed:\n${failures.join("\n")}`);
}

async function assertPrefixState(db: DB, atLeast: number, atMost = Infinity): Promise<number> {
  const { p, problem } = await checkPrefixState(db);
  assert.equal(problem, undefined, problem);
  assert.ok(p >= atLeast, `recovered ${p} batches, but ${atLeast} were acknowledged as durable`);
  assert.ok(p <= atMost, `recovered ${p} batches, but only ${atMost} were ever written`);
  return p;
}

// ------------------------------------------------------------- SIGKILL

// Kills the writer child `kills` times at random moments, reopening the same
// directory each time; returns the highest batch number any run acknowledged.
async function killRepeatedly(dir: string, mode: "sync" | "compaction", kills: number) {
  let acked = 0;
  for (let run = 0; run < kills; run++) {
    const child = startScript(WRITER, [dir, mode]);
    try {
      // The first run is killed after it has written for a while; later ones
      // at any moment from spawn on, recovery itself included.
      if (run === 0) await child.waitForLine(/^start /);
      await sleep(run === 0 ? 400 + Math.random() * 400 : 100 + Math.random() * 900);
    } finally {
      child.proc.kill("SIGKILL");
    }
    await child.exited;
    for (const line of child.lines) {
      const [word, rest] = [line.slice(0, line.indexOf(" ")), line.slice(line.indexOf(" ") + 1)];
      if (word === "bad") assert.fail(`run ${run} recovered an inconsistent state: ${rest}`);
      if (word === "start") {
        const p = Number(rest);
        assert.ok(p >= acked, `run ${run} recovered ${p} batches; ${acked} were acknowledged`);
      }
      if (word === "ack") acked = Math.max(acked, Number(rest));
    }
    assert.doesNotMatch(child.stderr(), /Error/, `writer run ${run} failed:\n${child.stderr()}`);
  }
  return acked;
}

describe("process crash (SIGKILL of a writing child)", () => {
  it(
    "every acknowledged synced batch survives repeated kills, and none is partly visible",
    { timeout: 60_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "strata-kill-"));
      try {
        const acked = await killRepeatedly(dir, "sync", 4);
        assert.ok(acked > 0, "the writer never got a batch acknowledged");
        const db = await open(dir);
        try {
          await assertPrefixState(db, acked);
        } finally {
          await db.close();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it(
    "a kill while flushes and compactions run constantly loses no acknowledged write, synced or not",
    { timeout: 60_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "strata-kill-compact-"));
      try {
        const acked = await killRepeatedly(dir, "compaction", 4);
        assert.ok(acked > 0, "the writer never got a batch acknowledged");
        const db = await open(dir, BUSY_COMPACTION_OPTIONS);
        try {
          await assertPrefixState(db, acked);
          assert.ok(
            db.stats().levels.some((l) => l.level >= 1 && l.files > 0),
            "no compaction ever ran; the test did not test anything",
          );
        } finally {
          await db.close();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

// ---------------------------------------------------------- power loss

// Small memtables and an eager level 0: a flush or compaction is due every
// few batches.
const BUSY: OpenOptions = {
  memtableSize: 4 * 1024,
  compaction: { l0CompactionTrigger: 2, targetFileSize: 8 * 1024, levelBaseBytes: 32 * 1024 },
};

function newProgress(): Progress {
  return { acked: 0, synced: 0, issued: 0, error: undefined };
}

interface Progress {
  /** Highest batch whose write resolved. */
  acked: number;
  /** Highest batch written with sync: true whose write resolved. */
  synced: number;
  /** Highest batch handed to the database. */
  issued: number;
  /** The first rejected write's error. */
  error: unknown;
}

// Writes batches from..to; every `syncEvery`-th is synced. Stops at the
// first rejected write. Yields to the event loop now and then so that
// background flushes and compactions interleave with the writes.
async function drive(
  db: DB,
  from: number,
  to: number,
  syncEvery: number,
  progress: Progress = newProgress(),
): Promise<Progress> {
  for (let b = from; b <= to; b++) {
    const sync = b % syncEvery === 0;
    progress.issued = b;
    try {
      await writeBatch(db, b, sync);
    } catch (e) {
      progress.error = e;
      return progress;
    }
    progress.acked = b;
    if (sync) progress.synced = b;
    if (b % 3 === 0) await new Promise((r) => setImmediate(r));
  }
  return progress;
}

// Cuts power: the returned file system is what a reboot would find. The
// old handle is then shut down on a dead file system so its background
// work cannot run on.
async function powerLoss(
  fs: FaultFileSystem,
  db: DB,
  mode: CrashMode,
  seed: number,
): Promise<FaultFileSystem> {
  const after = fs.crash(mode, seed);
  fs.failAll();
  await db.close().catch(() => {});
  return after;
}

async function reopenAndCheck(
  fs: FaultFileSystem,
  atLeast: number,
  atMost: number,
): Promise<number> {
  const db = await open(DIR, { ...BUSY, fs });
  try {
    return await assertPrefixState(db, atLeast, atMost);
  } finally {
    await db.close();
  }
}

describe("power loss (fault-injecting file system)", () => {
  it("every acknowledged sync:true batch survives power loss at any moment", async () => {
    const fs = new FaultFileSystem();
    const db = await open(DIR, { ...BUSY, fs });
    const progress = newProgress();
    // Cut power at several moments of one run, each from a copy of the disk.
    for (const upTo of [7, 40, 90, 150, 230]) {
      await drive(db, progress.issued + 1, upTo, 1, progress);
      assert.equal(progress.error, undefined);
      const after = fs.crash("drop", upTo);
      await reopenAndCheck(after, upTo, upTo);
    }
    await db.close();
  });

  for (
    const [mode, what] of [
      ["drop", "unsynced bytes are lost"],
      ["prefix", "a random part of the unsynced bytes survives (a torn write)"],
      ["zeros", "unsynced bytes read back as zeros"],
      ["prefix-zeros", "a torn write is followed by zeros up to the file's full length"],
    ] as const
  ) {
    it(`when ${what}, the database reopens with a prefix of the batches holding every synced one`, async () => {
      const fs = new FaultFileSystem();
      const db = await open(DIR, { ...BUSY, fs });
      const progress = newProgress();
      const failures: string[] = [];
      for (const [i, upTo] of [13, 47, 88, 141, 203, 260].entries()) {
        await drive(db, progress.issued + 1, upTo, 7, progress);
        assert.equal(progress.error, undefined);
        for (let seed = 1; seed <= 3; seed++) {
          try {
            await reopenAndCheck(fs.crash(mode, i * 10 + seed), progress.synced, progress.issued);
          } catch (e) {
            failures.push(`crash after batch ${upTo} (seed ${i * 10 + seed}): ${e}`);
          }
        }
      }
      await db.close();
      assertNoFailures(failures);
    });
  }

  it("a log created at a memtable switch whose header never reached the disk (reads as zeros) counts as empty", async () => {
    const fs = new FaultFileSystem();
    const db = await open(DIR, { ...BUSY, fs });
    const logs = () => fs.list(DIR).filter((n) => n.endsWith(".log")).sort();
    // Synced writes until the memtable switches to a new log; that log then
    // holds only its 8-byte header, written but not yet synced.
    let b = 0;
    const first = logs()[0];
    while (logs().at(-1) === first) await writeBatch(db, ++b, true);
    // The flush of the frozen memtable syncs the directory, which makes the
    // new log's entry durable while its header still is not.
    await db.flush();
    assert.equal(fs.peek(`${DIR}/${logs().at(-1)}`).length, 8, "the new log holds only its header");
    const after = await powerLoss(fs, db, "zeros", 1);
    await reopenAndCheck(after, b, b);
  });

  it("a torn log write whose rest reads as zeros up to the file's length is a torn tail", async () => {
    const fs = new FaultFileSystem();
    const db = await open(DIR, { ...BUSY, memtableSize: 1 << 20, fs });
    for (let b = 1; b <= 5; b++) await writeBatch(db, b, true);
    // Ten unsynced records after the synced ones; power loss keeps a random
    // prefix of them, and the rest of the file's length reads as zeros.
    for (let b = 6; b <= 15; b++) await writeBatch(db, b, false);
    const failures: string[] = [];
    for (let seed = 1; seed <= 6; seed++) {
      try {
        await reopenAndCheck(fs.crash("prefix-zeros", seed), 5, 15);
      } catch (e) {
        failures.push(`seed ${seed}: ${e}`);
      }
    }
    await db.close();
    assertNoFailures(failures);
  });

  it("after close(), every write survives power loss, synced or not", async () => {
    const fs = new FaultFileSystem();
    const db = await open(DIR, { ...BUSY, fs });
    const progress = await drive(db, 1, 150, 1000);
    assert.equal(progress.synced, 0);
    await db.close();
    await reopenAndCheck(fs.crash("drop", 1), 150, 150);
  });

  it("writes after a recovery win over recovered data, through repeated power losses", async () => {
    // Each generation recovers from the last one's crash and writes on from
    // the batch it recovered: a sequence number reused after recovery would
    // let an older version shadow a newer one.
    let fs = new FaultFileSystem();
    let p = 0;
    for (let generation = 0; generation < 5; generation++) {
      const db = await open(DIR, { ...BUSY, fs });
      p = await assertPrefixState(db, p, p);
      const progress = await drive(db, p + 1, p + 60, 6);
      assert.equal(progress.error, undefined);
      const after = await powerLoss(fs, db, generation % 2 === 0 ? "drop" : "prefix", generation);
      const check = await open(DIR, { ...BUSY, fs: after });
      p = await assertPrefixState(check, progress.synced, progress.issued);
      await check.close();
      fs = after;
    }
  });

  it("garbage in the unsynced tail is never returned as data (reopen fails closed or drops it)", async () => {
    const fs = new FaultFileSystem();
    const db = await open(DIR, { ...BUSY, fs });
    const progress = newProgress();
    for (const upTo of [20, 70, 140, 220]) {
      await drive(db, progress.issued + 1, upTo, 5, progress);
      for (let seed = 1; seed <= 3; seed++) {
        try {
          await reopenAndCheck(fs.crash("garbage", upTo + seed), progress.synced, progress.issued);
        } catch (e) {
          // Refusing to open is acceptable for random bytes; any other error
          // type, or wrong data (an assertion error), is not.
          assert.ok(e instanceof CorruptionError, `crash after ${upTo}, seed ${seed}: ${e}`);
        }
      }
    }
    await db.close();
  });

  // Counts the syncs (or other operations) one undisturbed run makes, so the
  // fault points below cover a run from start to end.
  async function dryRunCount(op: "sync" | "syncDir" | "rename", match?: RegExp): Promise<number> {
    const fs = new FaultFileSystem();
    const db = await open(DIR, { ...BUSY, fs });
    await drive(db, 1, 200, 4);
    await db.close();
    return fs.countOf(op, match);
  }

  async function crashAtEachPoint(
    op: "sync" | "syncDir" | "rename" | "write",
    points: number[],
    match: RegExp | undefined,
  ): Promise<string[]> {
    const failures: string[] = [];
    for (const n of points) {
      const fs = new FaultFileSystem();
      fs.failAt(op, n, { match, sticky: true });
      let db: DB;
      try {
        db = await open(DIR, { ...BUSY, fs });
      } catch {
        // Power went out while creating the database: nothing was promised.
        continue;
      }
      const progress = await drive(db, 1, 200, 4);
      for (const mode of ["drop", "prefix"] as const) {
        const after = fs.crash(mode, n);
        try {
          await reopenAndCheck(after, progress.synced, progress.issued);
        } catch (e) {
          failures.push(`power lost at ${op} #${n}${match ? ` of ${match}` : ""} (${mode}): ${e}`);
        }
      }
      fs.failAll();
      await db.close().catch(() => {});
    }
    return failures;
  }

  function spread(total: number, count: number): number[] {
    const points = new Set<number>();
    for (let i = 1; i <= count; i++) points.add(Math.max(1, Math.round((total * i) / count)));
    return [...points];
  }

  it("power loss at any sync during flushes and compactions loses no synced batch", {
    timeout: 60_000,
  }, async () => {
    const total = await dryRunCount("sync");
    assert.ok(total > 50, `only ${total} syncs in the workload`);
    const failures = await crashAtEachPoint("sync", spread(total, 30), undefined);
    assertNoFailures(failures);
  });

  it("power loss at any table-file or manifest sync loses no synced batch", {
    timeout: 60_000,
  }, async () => {
    const failures: string[] = [];
    for (const match of [/\.sst$/, /MANIFEST|CURRENT/]) {
      const total = await dryRunCount("sync", match);
      failures.push(...await crashAtEachPoint("sync", spread(total, 12), match));
    }
    assertNoFailures(failures);
  });

  it("power loss at any directory sync or rename loses no synced batch", {
    timeout: 60_000,
  }, async () => {
    const failures: string[] = [];
    for (const op of ["syncDir", "rename"] as const) {
      const total = await dryRunCount(op);
      failures.push(...await crashAtEachPoint(op, spread(total, 12), undefined));
    }
    assertNoFailures(failures);
  });

  it("power loss during recovery (replaying the log, rewriting the manifest) loses nothing", async () => {
    // A disk left by a crash with a log full of unflushed batches.
    const fs = new FaultFileSystem();
    const db = await open(DIR, { ...BUSY, memtableSize: 1 << 20, fs });
    const progress = await drive(db, 1, 60, 3);
    const crashed = await powerLoss(fs, db, "drop", 1);
    // Count the operations of recovery (and of the work it schedules).
    const probe = crashed.crash();
    const before = { ...probe.counts };
    await (await open(DIR, { ...BUSY, fs: probe })).close();
    const failures: string[] = [];
    for (const op of ["sync", "syncDir", "rename", "write"] as const) {
      const total = probe.counts[op] - before[op];
      for (let n = 1; n <= total; n++) {
        const disk = crashed.crash();
        disk.failAt(op, n, { sticky: true });
        // The fault may also hit background work started by the open, in
        // which case open itself succeeds; either way the disk is what counts.
        await open(DIR, { ...BUSY, fs: disk }).then((db) => db.close().catch(() => {}), () => {});
        for (const mode of ["drop", "prefix"] as const) {
          try {
            await reopenAndCheck(disk.crash(mode, n), progress.synced, progress.issued);
          } catch (e) {
            failures.push(`power lost at ${op} #${n} of recovery (${mode}): ${e}`);
          }
        }
      }
    }
    assertNoFailures(failures);
  });
});

describe("logs synced in the background after a memtable switch", () => {
  const logsOf = (fs: FaultFileSystem) => fs.list(DIR).filter((n) => n.endsWith(".log")).sort();

  // Writes batches from `from` on, unsynced, until the memtable switches to
  // a new log; the old log's sync is then held in flight. Returns the next
  // batch number.
  async function writeUntilSwitch(db: DB, fs: FaultFileSystem, from: number): Promise<number> {
    const first = logsOf(fs).at(-1);
    let b = from;
    while (logsOf(fs).at(-1) === first) await writeBatch(db, b++, false);
    assert.equal(fs.closingSyncs.held, 1, "the replaced log's sync is in flight");
    return b;
  }

  // The disk after power loss, once the kernel wrote back the newest log and
  // the directory on its own while the older log's sync was still in flight.
  function crashWithNewestLogWrittenBack(fs: FaultFileSystem): FaultFileSystem {
    fs.writeBack(`${DIR}/${logsOf(fs).at(-1)}`);
    fs.syncDir(DIR);
    const after = fs.crash("drop");
    assert.deepEqual(logsOf(after), logsOf(fs), "both logs are on the disk");
    return after;
  }

  async function shutDown(fs: FaultFileSystem, db: DB): Promise<void> {
    fs.failAll();
    fs.closingSyncs.release();
    await db.close().catch(() => {});
  }

  // Writes `synced` synced batches, then unsynced ones through a switch
  // and four more into the new log, and cuts power once the kernel wrote
  // back the new log but not the old one's tail. Returns the disk and the
  // last batch written.
  async function loseOlderLogTail(synced: number): Promise<[FaultFileSystem, number]> {
    const fs = new FaultFileSystem();
    fs.closingSyncs.hold = true;
    const db = await open(DIR, { ...BUSY, fs });
    for (let b = 1; b <= synced; b++) await writeBatch(db, b, true);
    let b = await writeUntilSwitch(db, fs, synced + 1);
    const last = b + 3;
    while (b <= last) await writeBatch(db, b++, false);
    const after = crashWithNewestLogWrittenBack(fs);
    await shutDown(fs, db);
    return [after, last];
  }

  it("replay stops at a log that lost its tail, so a newer log adds nothing past the hole", async () => {
    const [after, last] = await loseOlderLogTail(3);
    assert.equal(await reopenAndCheck(after, 3, last), 3);
  });

  it("replay stops at a log that lost every record, when a newer log survived", async () => {
    const [after, last] = await loseOlderLogTail(0);
    assert.equal(await reopenAndCheck(after, 0, last), 0);
  });

  it("a synced write to the new log first makes the older log's tail durable", async () => {
    const fs = new FaultFileSystem();
    fs.closingSyncs.hold = true;
    const db = await open(DIR, { ...BUSY, fs });
    const b = await writeUntilSwitch(db, fs, 1);
    await writeBatch(db, b, true);
    const after = fs.crash("drop");
    await shutDown(fs, db);
    assert.equal(await reopenAndCheck(after, b, b), b);
  });

  it("close() waits for the older logs' syncs, and every write then survives power loss", async () => {
    const fs = new FaultFileSystem();
    const db = await open(DIR, { ...BUSY, fs });
    fs.closingSyncs.hold = true;
    const b = await writeUntilSwitch(db, fs, 1);
    await writeBatch(db, b, false);
    let closed = false;
    const closing = db.close().then(() => closed = true);
    await sleep(20);
    assert.equal(closed, false, "close() returned while a log sync was in flight");
    fs.closingSyncs.release();
    await closing;
    await reopenAndCheck(fs.crash("drop"), b, b);
  });

  it("a failed background sync of the older log stops writes with a StrataError", async () => {
    const fs = new FaultFileSystem();
    fs.closingSyncs.hold = true;
    const db = await open(DIR, { ...BUSY, fs });
    const b = await writeUntilSwitch(db, fs, 1);
    fs.failAt("sync", 1, { match: /\.log$/ });
    fs.closingSyncs.release();
    await sleep(0);
    await assert.rejects(writeBatch(db, b, false), StrataError);
    await db.close().catch(() => {});
  });
});

describe("background log syncs", () => {
  // Counts the background syncs started on each log file.
  class CountingFileSystem extends FaultFileSystem {
    backgroundSyncs = 0;
    override openWrite(path: string, options?: { append?: boolean }): WritableFile {
      const file = super.openWrite(path, options);
      if (!path.endsWith(".log")) return file;
      return {
        path: file.path,
        get size() {
          return file.size;
        },
        append: (data) => file.append(data),
        sync: () => file.sync(),
        close: () => file.close(),
        syncInBackground: () => {
          this.backgroundSyncs++;
        },
      };
    }
  }
  const value = new Uint8Array(1000);

  it("starts a log sync in the background for every MiB of unsynced writes", async () => {
    const fs = new CountingFileSystem();
    const db = await open(DIR, { fs, memtableSize: 64 << 20 });
    for (let i = 0; i < 3500; i++) await db.put(`key${i}`, value);
    assert.equal(fs.backgroundSyncs, 3);
    await db.close();
  });

  it("starts none when every write is synced", async () => {
    const fs = new CountingFileSystem();
    const db = await open(DIR, { fs, memtableSize: 64 << 20 });
    for (let i = 0; i < 1500; i++) await db.put(`key${i}`, value, { sync: true });
    assert.equal(fs.backgroundSyncs, 0);
    await db.close();
  });
});

describe("I/O errors (fault-injecting file system)", () => {
  it("an I/O error while syncing a table stops writes with an error, and a reopen loses nothing", async () => {
    const fs = new FaultFileSystem();
    fs.failAt("sync", 3, { match: /\.sst$/ });
    const db = await open(DIR, { ...BUSY, fs });
    const progress = await drive(db, 1, 400, 4);
    assert.equal(fs.fired.length, 1, "the fault never fired");
    assert.ok(
      progress.error instanceof StrataError,
      `writes after a failed flush should reject with a StrataError, got ${progress.error}`,
    );
    await assert.rejects(db.put("x", "y"), StrataError);
    await db.close();
    // The same disk, healthy again: nothing acknowledged may be missing.
    fs.heal();
    await reopenAndCheck(fs, progress.acked, progress.issued);
  });

  it("after an I/O error while syncing a table, close() leaves no file open", async () => {
    const fs = new FaultFileSystem();
    fs.failAt("sync", 3, { match: /\.sst$/ });
    const db = await open(DIR, { ...BUSY, fs });
    await drive(db, 1, 400, 4);
    assert.equal(fs.fired.length, 1, "the fault never fired");
    await db.close();
    assert.deepEqual([...fs.openFiles.values()], [], "file handles leaked");
  });

  it("an I/O error appending to the log rejects that write and all later ones with a StrataError; a reopen holds exactly the acknowledged ones", async () => {
    const fs = new FaultFileSystem();
    // One log for the whole run, so the 20th log write is a record append.
    fs.failAt("write", 20, { match: /\.log$/ });
    const db = await open(DIR, { ...BUSY, memtableSize: 1 << 20, fs });
    const progress = await drive(db, 1, 200, 4);
    assert.equal(fs.fired.length, 1, "the fault never fired");
    assert.ok(progress.error instanceof StrataError, `got ${progress.error}`);
    await assert.rejects(db.put("x", "y"), StrataError);
    await db.close();
    fs.heal();
    await reopenAndCheck(fs, progress.acked, progress.acked);
    assert.deepEqual([...fs.openFiles.values()], []);
  });

  it("an I/O error creating the next log at a memtable switch rejects the write with a StrataError and does not apply it", async () => {
    const fs = new FaultFileSystem();
    // Log #1 is made by open(); #2 is the first memtable switch.
    fs.failAt("create", 2, { match: /\.log$/ });
    const db = await open(DIR, { ...BUSY, fs });
    const progress = await drive(db, 1, 200, 4);
    assert.equal(fs.fired.length, 1, "the fault never fired");
    // A rejected write must not have happened, now or after a reopen.
    const { p } = await checkPrefixState(db);
    const problems: string[] = [];
    if (!(progress.error instanceof StrataError)) {
      problems.push(`batch ${progress.issued} was rejected with ${progress.error}`);
    }
    if (p !== progress.acked) problems.push(`batch ${progress.issued} was rejected but is visible`);
    assertNoFailures(problems);
    await db.close();
    fs.heal();
    await reopenAndCheck(fs, progress.acked, progress.acked);
  });
});
