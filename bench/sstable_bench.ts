/**
 * Micro-benchmarks of the SSTable layer: point gets on cached blocks,
 * iteration and building. Keys are 16 bytes and values 100, as in db_bench.
 * Each bench runs a batch of operations; divide by the batch size for the
 * cost of one.
 *
 * @module
 */

import { defaultFileSystem, joinPath } from "../lib/fs.ts";
import { KIND_PUT, MAX_SEQUENCE } from "../lib/internal_key.ts";
import { BlockCache } from "../lib/sstable/block_cache.ts";
import { bloomHash } from "../lib/sstable/bloom.ts";
import { TableBuilder } from "../lib/sstable/table_builder.ts";
import { Table } from "../lib/sstable/table_reader.ts";

const N = 100_000;
const BATCH = 1000;
const fs = defaultFileSystem();
const dir = Deno.makeTempDirSync({ prefix: "strata-sst-bench-" });
const enc = new TextEncoder();
const keys = Array.from({ length: N }, (_, i) => enc.encode(String(i).padStart(16, "0")));
const value = new Uint8Array(100).fill(0x61);

function build(path: string): void {
  const file = fs.openWrite(path);
  const b = new TableBuilder(file);
  for (let i = 0; i < N; i++) b.add(keys[i], N - i, KIND_PUT, value);
  b.finish();
  file.close();
}

const tablePath = joinPath(dir, "000001.sst");
build(tablePath);
const table = Table.open(fs.openRead(tablePath), {
  fileNumber: 1,
  cache: new BlockCache(64 << 20),
});
const iter = table.iterator();
for (iter.seekToFirst(); iter.valid(); iter.next()); // warm the cache

// 64 keys in 64 different blocks: the blocks stay in the CPU caches.
const hot = Array.from({ length: 64 }, (_, i) => keys[(i * 1543) % N]);
// Keys spread over the whole table: every get touches a different block.
const spread = Array.from({ length: BATCH }, (_, i) => keys[(i * 7919) % N]);
const absent = spread.map((k) => Uint8Array.of(...k, 0x21));
const hotHashes = hot.map(bloomHash);

globalThis.addEventListener("unload", () => {
  table.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.bench(`sstable get, hot cached blocks (×${BATCH})`, { group: "get" }, () => {
  for (let i = 0; i < BATCH; i++) table.get(hot[i & 63], MAX_SEQUENCE);
});

Deno.bench(`sstable get, hot, precomputed hash (×${BATCH})`, { group: "get" }, () => {
  for (let i = 0; i < BATCH; i++) table.get(hot[i & 63], MAX_SEQUENCE, hotHashes[i & 63]);
});

Deno.bench(`sstable get, spread over a 11 MB cached table (×${BATCH})`, { group: "get" }, () => {
  for (let i = 0; i < BATCH; i++) table.get(spread[i], MAX_SEQUENCE);
});

Deno.bench(`sstable get, absent key rejected by bloom (×${BATCH})`, { group: "get" }, () => {
  for (let i = 0; i < BATCH; i++) table.get(absent[i], MAX_SEQUENCE);
});

Deno.bench(`sstable iterate forward, cached (×${N})`, { group: "scan" }, () => {
  for (iter.seekToFirst(); iter.valid(); iter.next());
});

Deno.bench(`sstable iterate backward, cached (×${N})`, { group: "scan" }, () => {
  for (iter.seekToLast(); iter.valid(); iter.prev());
});

Deno.bench(`sstable seek, cached (×${BATCH})`, { group: "scan" }, () => {
  for (let i = 0; i < BATCH; i++) iter.seek(spread[i]);
});

Deno.bench(`sstable build (×${N})`, { group: "build" }, () => {
  build(joinPath(dir, "000002.sst"));
});
