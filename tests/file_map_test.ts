// Memory maps of files, and the positional reads that replace them where
// none can be made.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as nodeFs from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { canMapFiles, mapFile, mapFileForWriting } from "../lib/file_map.ts";
import { withTempDir } from "./_temp.ts";

describe("memory maps", () => {
  it("are available on Linux to tests run with every permission", () => {
    if (process.platform !== "linux") return;
    assert.equal(canMapFiles(), true);
  });

  it("show a file's bytes until unmapped", async () => {
    await withTempDir("map", (dir) => {
      const path = join(dir, "f");
      const bytes = new Uint8Array(70_000).map((_, i) => i % 251);
      nodeFs.writeFileSync(path, bytes);
      const fd = nodeFs.openSync(path, "r");
      try {
        const map = mapFile(fd, bytes.length);
        if (!canMapFiles()) return assert.equal(map, undefined);
        assert.ok(map !== undefined);
        assert.deepEqual(map.bytes, bytes);
        map.unmap();
      } finally {
        nodeFs.closeSync(fd);
      }
    });
  });

  it("made for writing reserve the file's blocks and pass writes to the file", async () => {
    await withTempDir("map", (dir) => {
      const path = join(dir, "w");
      const fd = nodeFs.openSync(path, "w+");
      try {
        const map = mapFileForWriting(fd, 8192);
        if (!canMapFiles() || process.platform !== "linux") return assert.equal(map, undefined);
        assert.ok(map !== undefined);
        const stat = nodeFs.fstatSync(fd);
        assert.equal(stat.size, 8192);
        assert.ok(stat.blocks * 512 >= 8192, `${stat.blocks} blocks reserved`);
        map.bytes.set([1, 2, 3], 4096);
        map.unmap();
        const bytes = nodeFs.readFileSync(path);
        assert.deepEqual([...bytes.subarray(4094, 4100)], [0, 0, 1, 2, 3, 0]);
      } finally {
        nodeFs.closeSync(fd);
      }
    });
  });

  it("are not made of empty files", async () => {
    await withTempDir("map", (dir) => {
      const path = join(dir, "empty");
      nodeFs.writeFileSync(path, "");
      const fd = nodeFs.openSync(path, "r");
      assert.equal(mapFile(fd, 0), undefined);
      nodeFs.closeSync(fd);
    });
  });

  it("tell which of their pages are in memory, a byte per page", async () => {
    if (!canMapFiles()) return;
    await withTempDir("map", (dir) => {
      const path = join(dir, "f");
      const size = 3 * 65536 + 10;
      // Just written, so every page is in the file cache.
      nodeFs.writeFileSync(path, new Uint8Array(size).fill(7));
      const fd = nodeFs.openSync(path, "r");
      try {
        const map = mapFile(fd, size)!;
        const resident = map.residentPages();
        map.unmap();
        assert.ok(resident !== undefined);
        assert.equal(resident.pageSize % 4096, 0);
        assert.equal(resident.pages.length, Math.ceil(size / resident.pageSize));
        assert.deepEqual(new Set([...resident.pages].map((p) => p & 1)), new Set([1]));
      } finally {
        nodeFs.closeSync(fd);
      }
    });
  });

  it("are not made of a descriptor that names no file", () => {
    assert.equal(mapFile(1_000_000, 4096), undefined);
  });

  it("are not made without the ffi permission, and tables are read all the same", async () => {
    if (!("Deno" in globalThis)) return;
    await withTempDir("map", (dir) => {
      const child = new URL("./_unmapped_child.ts", import.meta.url).pathname;
      const r = spawnSync(
        process.execPath,
        ["run", "--quiet", "--allow-read", "--allow-write", child, join(dir, "db")],
        { encoding: "utf8" },
      );
      assert.equal(r.status, 0, r.stderr);
      const seen = JSON.parse(r.stdout.trim().split("\n").pop()!);
      assert.deepEqual(seen, { canMap: false, found: 100, open: 1, mapped: 0, scrubbed: 0 });
    });
  });
});
