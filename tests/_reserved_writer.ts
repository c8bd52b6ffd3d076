// Child of fs_test.ts: appends to a file with a reservation, prints how
// many bytes it appended, then kills itself without closing the file.

import process from "node:process";
import { defaultFileSystem } from "../lib/fs.ts";

const [path, count] = [process.argv[2], Number(process.argv[3])];
const file = defaultFileSystem().openWrite(path, { preallocate: 64 * 1024 });
for (let i = 0; i < count; i++) file.append(new Uint8Array([i & 0xff, (i >> 8) & 0xff]));
console.log(`appended ${file.size}`);
process.kill(process.pid, "SIGKILL");
