// The file-system contract, run against every implementation this runtime
// can load: node:fs everywhere, Deno's own APIs on Deno.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as nodeFs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LockError } from "../lib/errors.ts";
import { canMapFiles } from "../lib/file_map.ts";
import {
  DenoFileSystem,
  type FileSystem,
  isDeno,
  joinPath,
  NodeFileSystem,
  type RandomAccessFile,
} from "../lib/fs.ts";
import { startScript } from "./_spawn.ts";

const implementations: [string, () => FileSystem][] = [["node:fs", () => new NodeFileSystem()]];
if (isDeno) implementations.push(["Deno", () => new DenoFileSystem()]);

function tempDir(): string {
  return nodeFs.mkdtempSync(path.join(os.tmpdir(), "strata-fs-"));
}

// A 10,000-byte file in a new directory, opened with a map and without.
function mappedAndPlain(
  fs: FileSystem,
): { dir: string; bytes: Uint8Array; mapped: RandomAccessFile; plain: RandomAccessFile } {
  const dir = tempDir();
  const file = joinPath(dir, "a");
  const bytes = new Uint8Array(10_000).map((_, i) => (i * 7919) >>> 3);
  nodeFs.writeFileSync(file, bytes);
  return { dir, bytes, mapped: fs.openRead(file, { map: true }), plain: fs.openRead(file) };
}

for (const [name, make] of implementations) {
  describe(`the ${name} file system`, () => {
    it("appends, reports the size and reads back at any position", () => {
      const fs = make();
      const dir = tempDir();
      const file = joinPath(dir, "a");
      const w = fs.openWrite(file);
      w.append(new Uint8Array([1, 2, 3]));
      w.append(new Uint8Array([4, 5]));
      w.sync();
      assert.equal(w.size, 5);
      w.close();
      const r = fs.openRead(file);
      assert.equal(r.size, 5);
      const buf = new Uint8Array(3);
      assert.equal(r.read(buf, 1), 3);
      assert.deepEqual(buf, new Uint8Array([2, 3, 4]));
      assert.equal(r.read(buf, 4), 1, "a read past the end returns what there is");
      r.close();
      nodeFs.rmSync(dir, { recursive: true });
    });
    it("reads through a memory map the bytes positional reads see, up to the end", () => {
      const { dir, mapped, plain } = mappedAndPlain(make());
      assert.equal(mapped.mapped, canMapFiles());
      assert.equal(plain.mapped ?? false, false);
      for (const [position, length] of [[0, 10_000], [1, 4096], [9_990, 10], [9_995, 64]]) {
        const a = new Uint8Array(length).fill(0xee);
        const b = new Uint8Array(length).fill(0xee);
        assert.equal(mapped.read(a, position), plain.read(b, position), `length at ${position}`);
        assert.deepEqual(a, b, `bytes at ${position}`);
      }
      assert.equal(mapped.read(new Uint8Array(8), 10_000), 0, "nothing past the end");
      assert.equal(mapped.read(new Uint8Array(8), 20_000), 0, "nothing far past the end");
      mapped.close();
      plain.close();
      assert.throws(() => mapped.read(new Uint8Array(8), 0), "a read after close");
      nodeFs.rmSync(dir, { recursive: true });
    });
    it("views the bytes of a mapped file in place, and gives no view out of range, unmapped or after close", () => {
      const { dir, bytes, mapped, plain } = mappedAndPlain(make());
      assert.equal(plain.view?.(0, 10), undefined, "no view without a map");
      if (canMapFiles()) {
        assert.deepEqual(mapped.view!(0, 10_000), bytes);
        assert.deepEqual(mapped.view!(4_097, 5), bytes.subarray(4_097, 4_102));
        assert.deepEqual(mapped.view!(10_000, 0), new Uint8Array(0));
      }
      assert.equal(mapped.view?.(9_999, 2), undefined, "a range past the end");
      assert.equal(mapped.view?.(-1, 2), undefined, "a negative position");
      mapped.close();
      plain.close();
      assert.equal(mapped.view?.(0, 10), undefined, "after close");
      nodeFs.rmSync(dir, { recursive: true });
    });
    it("opens an empty file asked to map without a map", () => {
      const fs = make();
      const dir = tempDir();
      const file = joinPath(dir, "empty");
      nodeFs.writeFileSync(file, "");
      const r = fs.openRead(file, { map: true });
      assert.equal(r.mapped, false);
      assert.equal(r.read(new Uint8Array(4), 0), 0);
      r.close();
      nodeFs.rmSync(dir, { recursive: true });
    });
    it("keeps existing bytes when opened for append, and truncates otherwise", () => {
      const fs = make();
      const dir = tempDir();
      const file = joinPath(dir, "a");
      nodeFs.writeFileSync(file, "abc");
      const a = fs.openWrite(file, { append: true });
      assert.equal(a.size, 3);
      a.append(new TextEncoder().encode("d"));
      a.close();
      assert.equal(nodeFs.readFileSync(file, "utf8"), "abcd");
      fs.openWrite(file).close();
      assert.equal(nodeFs.readFileSync(file, "utf8"), "");
      nodeFs.rmSync(dir, { recursive: true });
    });
    it("appends into a reservation and past it, and cuts the file to what was appended on close", () => {
      const fs = make();
      const dir = tempDir();
      const file = joinPath(dir, "a");
      const w = fs.openWrite(file, { preallocate: 10 });
      const parts = [[1, 2, 3, 4], [5, 6, 7, 8, 9, 10, 11, 12, 13, 14], [15, 16]];
      for (const p of parts) w.append(new Uint8Array(p));
      w.sync();
      assert.equal(w.size, 16);
      const whileOpen = nodeFs.readFileSync(file);
      assert.deepEqual(
        whileOpen.subarray(0, 16),
        Buffer.from(parts.flat()),
        "appended bytes are in the file before it is closed",
      );
      w.close();
      assert.deepEqual(nodeFs.readFileSync(file), Buffer.from(parts.flat()));
      nodeFs.rmSync(dir, { recursive: true });
    });
    for (const preallocate of [0, 64]) {
      it(`closes a file${preallocate ? " with a reservation" : ""} once its bytes are synced, cut to what was appended`, async () => {
        const fs = make();
        const dir = tempDir();
        const file = joinPath(dir, "a");
        const w = fs.openWrite(file, { preallocate });
        w.append(new Uint8Array([1, 2, 3]));
        const closed = w.closeWhenSynced!();
        // Until the sync is done, sync() waits for the same bytes, appends
        // are refused, and close() leaves the closing to it.
        w.sync();
        assert.throws(() => w.append(new Uint8Array([4])));
        w.close();
        await closed;
        w.sync();
        assert.deepEqual([...nodeFs.readFileSync(file)], [1, 2, 3]);
        assert.throws(() => w.append(new Uint8Array([4])));
        nodeFs.rmSync(dir, { recursive: true });
      });
    }
    it("reads a reserved file whose writer was killed as its appended bytes, then zeros", async () => {
      const dir = tempDir();
      const file = joinPath(dir, "a");
      const child = startScript(new URL("./_reserved_writer.ts", import.meta.url).pathname, [
        file,
        "1000",
      ]);
      await child.waitForLine(/^appended 2000$/);
      await child.exited;
      const bytes = nodeFs.readFileSync(file);
      assert.ok(bytes.length >= 2000, `${bytes.length} bytes`);
      for (let i = 0; i < 1000; i++) {
        assert.equal(bytes[2 * i] | (bytes[2 * i + 1] << 8), i, `append ${i}`);
      }
      assert.ok(bytes.subarray(2000).every((b) => b === 0), "the rest of the reservation is zeros");
      nodeFs.rmSync(dir, { recursive: true });
    });
    it("renames over an existing file, lists, truncates and removes", () => {
      const fs = make();
      const dir = tempDir();
      nodeFs.writeFileSync(joinPath(dir, "x"), "new");
      nodeFs.writeFileSync(joinPath(dir, "y"), "old");
      fs.rename(joinPath(dir, "x"), joinPath(dir, "y"));
      assert.deepEqual(fs.list(dir).sort(), ["y"]);
      assert.equal(new TextDecoder().decode(fs.readFile(joinPath(dir, "y"))), "new");
      fs.truncate(joinPath(dir, "y"), 1);
      assert.equal(nodeFs.readFileSync(joinPath(dir, "y"), "utf8"), "n");
      fs.syncDir(dir);
      fs.remove(joinPath(dir, "y"));
      fs.remove(joinPath(dir, "y"));
      assert.equal(fs.exists(joinPath(dir, "y")), false);
      fs.mkdirp(joinPath(dir, "p/q"));
      assert.equal(fs.exists(joinPath(dir, "p/q")), true);
      nodeFs.rmSync(dir, { recursive: true });
    });
    it("removes a file in the background, a missing one without error, and reports other failures", async () => {
      const fs = make();
      const dir = tempDir();
      nodeFs.writeFileSync(joinPath(dir, "x"), new Uint8Array(1 << 20));
      await fs.removeInBackground!(joinPath(dir, "x"));
      assert.equal(fs.exists(joinPath(dir, "x")), false);
      await fs.removeInBackground!(joinPath(dir, "x"));
      fs.mkdirp(joinPath(dir, "d/e"));
      await assert.rejects(fs.removeInBackground!(joinPath(dir, "d")));
      assert.equal(fs.exists(joinPath(dir, "d/e")), true);
      nodeFs.rmSync(dir, { recursive: true });
    });
    it("syncs in the background while appends go on, and a later sync covers them all", async () => {
      const fs = make();
      const dir = tempDir();
      const file = joinPath(dir, "a");
      const w = fs.openWrite(file);
      w.append(new Uint8Array(100_000).fill(1));
      w.syncInBackground?.();
      w.append(new Uint8Array([2, 3]));
      await new Promise((resolve) => setTimeout(resolve, 20));
      w.sync();
      w.close();
      const bytes = fs.readFile(file);
      assert.equal(bytes.length, 100_002);
      assert.deepEqual([...bytes.subarray(99_999)], [1, 2, 3]);
      assert.equal(typeof w.syncInBackground, "function");
      nodeFs.rmSync(dir, { recursive: true });
    });
    it("refuses a second lock on the same path until the first is released", () => {
      const fs = make();
      const dir = tempDir();
      const lock = fs.lock(joinPath(dir, "LOCK"));
      assert.throws(() => fs.lock(joinPath(dir, "LOCK")), LockError);
      assert.throws(() => make().lock(joinPath(dir, "./LOCK")), LockError);
      lock.release();
      lock.release();
      fs.lock(joinPath(dir, "LOCK")).release();
      nodeFs.rmSync(dir, { recursive: true });
    });
  });
}
