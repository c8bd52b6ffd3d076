// Child of file_map_test.ts: run by Deno without the ffi permission, it
// writes a table, reads it back and prints what it saw as one JSON line.

import process from "node:process";
import { canMapFiles } from "../lib/file_map.ts";
import { open } from "../mod.ts";

const db = await open(process.argv[2], { compactionWorker: false });
for (let i = 0; i < 100; i++) await db.put(`k${i}`, `v${i}`);
await db.flush();
let found = 0;
for (let i = 0; i < 100; i++) if (db.getSync(`k${i}`) !== undefined) found++;
const { tables } = db.stats();
await db.close();
console.log(JSON.stringify({ canMap: canMapFiles(), found, ...tables }));
