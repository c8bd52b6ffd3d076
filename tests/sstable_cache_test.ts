import { describe, it } from "node:test";
import { countingFile } from "./_sstable_entries.ts";
import { rng } from "./_model.ts";
import assert from "node:assert/strict";
import * as nodeFs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { defaultFileSystem } from "../lib/fs.ts";
import { KIND_PUT, MAX_SEQUENCE } from "../lib/internal_key.ts";
import { Block, BlockBuilder } from "../lib/sstable/block.ts";
import { BlockCache } from "../lib/sstable/block_cache.ts";
import { TableBuilder } from "../lib/sstable/table_builder.ts";
import { Table } from "../lib/sstable/table_reader.ts";

const enc = new TextEncoder();

// A valid block whose contents take exactly `size` bytes (size ≥ 20).
function blockOfSize(size: number): Block {
  for (let valueLen = size - 20; valueLen >= 0; valueLen--) {
    const b = new BlockBuilder();
    b.add(enc.encode("k"), 1, KIND_PUT, new Uint8Array(valueLen));
    const data = b.finish().slice();
    if (data.length === size) return new Block(data);
  }
  throw new Error(`no block of ${size} bytes`);
}

describe("block cache", () => {
  it("returns the block stored for a (file number, offset) and nothing for others", () => {
    const cache = new BlockCache(10_000);
    const a = blockOfSize(100);
    cache.set(1, 0, a);
    assert.equal(cache.get(1, 0), a);
    assert.equal(cache.get(2, 0), undefined);
    assert.equal(cache.get(1, 100), undefined);
  });

  it("evicts the least recently used blocks once usage passes the capacity in bytes", () => {
    const cache = new BlockCache(1000);
    cache.set(1, 0, blockOfSize(400));
    cache.set(1, 400, blockOfSize(400));
    assert.equal(cache.usage, 800);
    cache.set(1, 800, blockOfSize(400));
    assert.equal(cache.usage, 800);
    assert.equal(cache.get(1, 0), undefined);
    assert.notEqual(cache.get(1, 400), undefined);
    assert.notEqual(cache.get(1, 800), undefined);
  });

  it("evicts as many blocks as needed to fit a large one", () => {
    const cache = new BlockCache(1000);
    for (let i = 0; i < 5; i++) cache.set(1, i * 200, blockOfSize(200));
    cache.set(2, 0, blockOfSize(900));
    assert.equal(cache.size, 1);
    assert.equal(cache.usage, 900);
  });

  it("a block read twice is kept over a newer one at the next eviction", () => {
    const cache = new BlockCache(1000);
    cache.set(1, 0, blockOfSize(400));
    cache.set(1, 400, blockOfSize(400));
    cache.get(1, 0);
    cache.get(1, 0);
    cache.set(1, 800, blockOfSize(400));
    assert.notEqual(cache.get(1, 0), undefined);
    assert.equal(cache.get(1, 400), undefined);
  });

  it("a block read only once since it was cached is evicted in its turn", () => {
    const cache = new BlockCache(1000);
    cache.set(1, 0, blockOfSize(400));
    cache.set(1, 400, blockOfSize(400));
    cache.get(1, 0);
    cache.set(1, 800, blockOfSize(400));
    assert.equal(cache.get(1, 0), undefined);
    assert.notEqual(cache.get(1, 400), undefined);
  });

  it("does not keep a block larger than the whole cache", () => {
    const cache = new BlockCache(100);
    cache.set(1, 0, blockOfSize(101));
    assert.equal(cache.size, 0);
    assert.equal(cache.usage, 0);
  });

  it("caches nothing with capacity 0", () => {
    const cache = new BlockCache(0);
    cache.set(1, 0, blockOfSize(50));
    assert.equal(cache.get(1, 0), undefined);
    assert.equal(cache.usage, 0);
    assert.equal(cache.capacity, 0);
  });

  it("replacing a block counts only the new one", () => {
    const cache = new BlockCache(1000);
    cache.set(1, 0, blockOfSize(300));
    const b = blockOfSize(200);
    cache.set(1, 0, b);
    assert.equal(cache.usage, 200);
    assert.equal(cache.get(1, 0), b);
  });

  it("evictFile drops every block of that file and only those", () => {
    const cache = new BlockCache(100_000);
    for (let i = 0; i < 4; i++) {
      cache.set(7, i * 4096, blockOfSize(100));
      cache.set(8, i * 4096, blockOfSize(100));
    }
    cache.evictFile(7);
    assert.equal(cache.size, 4);
    assert.equal(cache.usage, 400);
    assert.equal(cache.get(7, 0), undefined);
    assert.notEqual(cache.get(8, 3 * 4096), undefined);
  });

  it("counts hits and misses", () => {
    const cache = new BlockCache(1000);
    cache.set(1, 0, blockOfSize(100));
    cache.get(1, 0);
    cache.get(1, 0);
    cache.get(1, 1);
    assert.equal(cache.hits, 2);
    assert.equal(cache.misses, 1);
  });

  it("clear drops everything", () => {
    const cache = new BlockCache(1000);
    cache.set(1, 0, blockOfSize(100));
    cache.clear();
    assert.equal(cache.size, 0);
    assert.equal(cache.usage, 0);
    assert.equal(cache.get(1, 0), undefined);
  });

  // Caches a copy of `block` in bytes from the cache's own slabs, as tables do.
  function setInSlab(cache: BlockCache, file: number, key: number, block: Block): Block {
    const bytes = cache.allocate(block.data.length);
    bytes.set(block.data);
    const own = new Block(bytes);
    cache.set(file, key, own);
    return own;
  }

  it("blocks allocated from slabs never hold more memory than the capacity", () => {
    const cache = new BlockCache(1 << 20);
    const block = blockOfSize(4000);
    const random = rng(7);
    for (let i = 0; i < 5000; i++) {
      const key = Math.floor(random() * 1000);
      if (cache.get(1, key) === undefined) setInSlab(cache, 1, key, block);
      assert.ok(cache.usage <= cache.capacity, `usage ${cache.usage} at step ${i}`);
    }
    // Slabs are charged whole, yet blocks fill most of them.
    assert.ok(cache.size * 4000 > 0.8 * cache.capacity, `${cache.size} blocks cached`);
  });

  it("blocks too large for a slab never push the memory held past the capacity", () => {
    const cache = new BlockCache(4 << 20);
    setInSlab(cache, 1, 0, blockOfSize(4000));
    const large = blockOfSize(100_000);
    for (let i = 1; i <= 400; i++) {
      cache.set(1, i, new Block(large.data.slice()));
      assert.ok(cache.usage <= cache.capacity, `usage ${cache.usage} after ${i} large blocks`);
    }
  });

  it("a block read on and on survives the eviction of its slab, bytes intact", () => {
    const cache = new BlockCache(1 << 20);
    const hot = blockOfSize(3000);
    const cold = blockOfSize(4000);
    setInSlab(cache, 1, 0, hot);
    for (let i = 1; i < 2000; i++) {
      assert.deepEqual(cache.get(1, 0)?.data, hot.data, `hot block lost at step ${i}`);
      setInSlab(cache, 2, i, cold);
    }
    assert.equal(cache.get(2, 1), undefined, "cold blocks cycle out");
  });

  it("a block evicted while the cache is pinned keeps its bytes for the reader holding it", () => {
    const cache = new BlockCache(1 << 20);
    const original = blockOfSize(4000);
    cache.pin();
    const held = setInSlab(cache, 1, 0, original);
    const other = blockOfSize(3000);
    for (let i = 1; i < 2000; i++) setInSlab(cache, 1, i, other);
    assert.equal(cache.get(1, 0), undefined);
    assert.deepEqual(held.data, original.data);
    const it = held.iterator();
    it.seekToFirst();
    assert.deepEqual(it.key(), enc.encode("k"));
    cache.unpin();
  });

  // The slab buffer of each of `count` blocks cycled through the cache, in order.
  function slabsUsed(cache: BlockCache, count: number, first: number): ArrayBufferLike[] {
    const block = blockOfSize(4000);
    const buffers: ArrayBufferLike[] = [];
    for (let i = first; i < first + count; i++) {
      buffers.push(setInSlab(cache, 1, i, block).data.buffer);
    }
    return buffers;
  }

  // True when some slab comes back after another took its place: its memory was reused.
  function reusesSlabs(buffers: ArrayBufferLike[]): boolean {
    const left = new Set<ArrayBufferLike>();
    for (let i = 1; i < buffers.length; i++) {
      if (buffers[i] === buffers[i - 1]) continue;
      left.add(buffers[i - 1]);
      if (left.has(buffers[i])) return true;
    }
    return false;
  }

  it("reuses the memory of evicted slabs when no reader pins the cache", () => {
    const cache = new BlockCache(1 << 20);
    const buffers = slabsUsed(cache, 2000, 0);
    assert.ok(reusesSlabs(buffers));
    // 1 MiB of 128 KiB slabs: 8 charged, at most 2 spare beside them, and one being filled.
    const distinct = new Set(buffers).size;
    assert.ok(distinct <= 11, `${distinct} slabs allocated`);
  });

  it("reuses no slab evicted while pinned until the last pin is released", () => {
    const cache = new BlockCache(1 << 20);
    slabsUsed(cache, 500, 0);
    cache.pin();
    cache.pin();
    const pinned = slabsUsed(cache, 2000, 500);
    cache.unpin();
    pinned.push(...slabsUsed(cache, 2000, 2500));
    assert.equal(reusesSlabs(pinned), false);
    cache.unpin();
    assert.ok(reusesSlabs(slabsUsed(cache, 2000, 4500)), "slabs are reused after the last unpin");
  });

  it("unpin without a pin is a RangeError", () => {
    assert.throws(() => new BlockCache(1 << 20).unpin(), RangeError);
  });

  it("a table reads each data block from its file once while the block stays cached", () => {
    const dir = nodeFs.mkdtempSync(path.join(os.tmpdir(), "strata-sst-cache-"));
    try {
      const fs = defaultFileSystem();
      const p = path.join(dir, "000001.sst");
      const w = fs.openWrite(p);
      const builder = new TableBuilder(w, { blockSize: 512 });
      for (let i = 0; i < 500; i++) {
        builder.add(enc.encode(`key${String(i).padStart(5, "0")}`), 1, KIND_PUT, enc.encode("v"));
      }
      const props = builder.finish();
      w.close();

      const counting = countingFile(fs.openRead(p));
      const cache = new BlockCache(1 << 20);
      const table = Table.open(counting.file, { fileNumber: 1, cache });
      const afterOpen = counting.reads();
      for (let round = 0; round < 3; round++) {
        const it = table.iterator();
        for (it.seekToFirst(); it.valid(); it.next());
        for (let i = 0; i < 500; i += 7) {
          table.get(enc.encode(`key${String(i).padStart(5, "0")}`), MAX_SEQUENCE);
        }
      }
      assert.equal(counting.reads() - afterOpen, props.dataBlocks);
      assert.equal(cache.size, props.dataBlocks);
      table.close();
    } finally {
      nodeFs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
