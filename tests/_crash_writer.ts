/**
 * Child process of crash_test.ts: opens the database in `dir`, checks that
 * what it recovered is a consistent prefix of the batch stream, then writes
 * batches until it is killed.
 *
 * Usage: <runtime> _crash_writer.ts <dir> <sync|compaction>
 *
 * Prints, one per line:
 *   start <p>            recovered state is exactly batches 1..p
 *   bad <description>    recovered state is not a prefix (then exits 1)
 *   ack <b>              batch b's write promise resolved (in "sync" mode four
 *                        batches are in flight at once, so acks may interleave)
 *
 * @module
 */

import process from "node:process";
import { open, type OpenOptions } from "../mod.ts";
import { BUSY_COMPACTION_OPTIONS, checkPrefixState, writeBatch } from "./_workload.ts";

const [dir, mode] = process.argv.slice(2);
if (dir === undefined || (mode !== "sync" && mode !== "compaction")) {
  console.error("usage: _crash_writer.ts <dir> <sync|compaction>");
  process.exit(2);
}

const options: OpenOptions = mode === "sync"
  ? { memtableSize: 32 * 1024 }
  : BUSY_COMPACTION_OPTIONS;

function say(line: string): void {
  process.stdout.write(line + "\n");
}

const db = await open(dir, options);
const { p, problem } = await checkPrefixState(db);
if (problem !== undefined) {
  say(`bad ${problem}`);
  process.exit(1);
}
say(`start ${p}`);
if (mode === "sync") {
  // Four synced batches in flight at a time, so that group commit puts
  // several records in one log write and one fdatasync.
  for (let b = p + 1;; b += 4) {
    await Promise.all(
      [0, 1, 2, 3].map((i) => writeBatch(db, b + i, true).then(() => say(`ack ${b + i}`))),
    );
  }
} else {
  for (let b = p + 1;; b++) {
    // Most writes are not synced: a process crash must not lose them
    // either, once the write has resolved.
    await writeBatch(db, b, b % 5 === 0);
    say(`ack ${b}`);
  }
}
