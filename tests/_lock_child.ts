/**
 * Child process of lock_test.ts.
 *
 * Usage: <runtime> _lock_child.ts <dir> <try|hold>
 *
 * - `try`: opens the database once and prints `opened` (then closes it) or
 *   `LockError <message>` or `error <name>: <message>`.
 * - `hold`: opens the database, writes `held=yes`, prints `holding`, and
 *   keeps it open until killed.
 *
 * @module
 */

import process from "node:process";
import { LockError, open } from "../mod.ts";

const [dir, mode] = process.argv.slice(2);

try {
  const db = await open(dir);
  if (mode === "hold") {
    await db.put("held", "yes", { sync: true });
    process.stdout.write("holding\n");
    // Stay alive (and hold the lock) until the parent kills us.
    setInterval(() => {}, 1 << 30);
  } else {
    await db.close();
    process.stdout.write("opened\n");
  }
} catch (e) {
  const err = e as Error;
  if (e instanceof LockError) process.stdout.write(`LockError ${err.message}\n`);
  else process.stdout.write(`error ${err.name}: ${err.message}\n`);
}
