/**
 * Child process of cross_runtime_test.ts, run under the other runtime.
 *
 * Usage:
 *   <runtime> _cross_runtime_child.ts write <dir> <base|extend>
 *     applies that workload phase and closes; prints `done`.
 *   <runtime> _cross_runtime_child.ts read <dir> <phase,phase...>
 *     prints the JSON digest of what it reads (keys chosen by the model of
 *     those phases).
 *
 * @module
 */

import process from "node:process";
import { open } from "../mod.ts";
import { CROSS_OPTIONS, model, readDigest, writeWorkload } from "./_cross_workload.ts";

const [mode, dir, phases] = process.argv.slice(2);
const db = await open(dir, CROSS_OPTIONS);
try {
  if (mode === "write") {
    await writeWorkload(db, phases as "base" | "extend");
    process.stdout.write("done\n");
  } else {
    const m = model(phases.split(",") as ("base" | "extend")[]);
    process.stdout.write(JSON.stringify(await readDigest(db, m)) + "\n");
  }
} finally {
  await db.close();
}
