import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as nodeFs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { crc32c, readU32, writeU32, xxh32 } from "../lib/coding.ts";
import { CorruptionError } from "../lib/errors.ts";
import {
  defaultFileSystem,
  type FileSystem,
  type RandomAccessFile,
  type ResidentPages,
  type WritableFile,
} from "../lib/fs.ts";
import { type Found, KIND_DELETE, KIND_PUT, MAX_SEQUENCE } from "../lib/internal_key.ts";
import { BlockCache } from "../lib/sstable/block_cache.ts";
import { bloomHash } from "../lib/sstable/bloom.ts";
import {
  FOOTER_SIZE,
  TableBuilder,
  type TableBuilderOptions,
  type TableProperties,
} from "../lib/sstable/table_builder.ts";
import { Table, verifyTable } from "../lib/sstable/table_reader.ts";
import { compare as compareBytes, rng } from "./_model.ts";
import {
  backward,
  bytes,
  compareEntries,
  countingFile,
  current,
  type Entry,
  forward,
  lowerBound,
  randomEntries,
  randomWalk,
} from "./_sstable_entries.ts";

// --- the model: a plain sorted array ---

function modelGet(entries: Entry[], key: Uint8Array, readSeq: number): Found | undefined {
  const e = entries[lowerBound(entries, key, readSeq)];
  if (e === undefined || compareBytes(e.key, key) !== 0) return undefined;
  return { kind: e.kind, seq: e.seq, value: e.value };
}

// --- helpers ---

function sameFound(actual: Found | undefined, expected: Found | undefined): void {
  if (expected === undefined) {
    assert.equal(actual, undefined);
    return;
  }
  assert.notEqual(actual, undefined);
  assert.deepEqual(
    { kind: actual!.kind, seq: actual!.seq, value: actual!.value.slice() },
    expected,
  );
}

function writeTable(
  fs: FileSystem,
  file: string,
  entries: Entry[],
  options: TableBuilderOptions = {},
): TableProperties {
  const w = fs.openWrite(file);
  const b = new TableBuilder(w, options);
  for (const e of entries) b.add(e.key, e.seq, e.kind, e.value);
  const props = b.finish();
  w.sync();
  w.close();
  return props;
}

// A read-only file over bytes in memory, for damaging tables cheaply. An
// `inPlace` one also hands out views of its bytes, as a mapped file does,
// and reports the `resident` pages as in memory.
class MemFile implements RandomAccessFile {
  readonly path: string;
  readonly size: number;
  readonly mapped: boolean;
  readonly view?: (position: number, length: number) => Uint8Array | undefined;
  readonly residentPages?: () => ResidentPages | undefined;
  #bytes: Uint8Array;
  constructor(
    name: string,
    bytes: Uint8Array,
    options: { inPlace?: boolean; resident?: ResidentPages } = {},
  ) {
    this.path = name;
    this.#bytes = bytes;
    this.size = bytes.length;
    this.mapped = options.inPlace ?? false;
    if (options.inPlace) {
      this.view = (position, length) =>
        position + length <= bytes.length ? bytes.subarray(position, position + length) : undefined;
      this.residentPages = () => options.resident;
    }
  }
  read(buf: Uint8Array, position: number): number {
    const part = this.#bytes.subarray(position, position + buf.length);
    buf.set(part);
    return part.length;
  }
  close(): void {}
}

function targetsFor(entries: Entry[], seed: number): Uint8Array[] {
  const r = rng(seed);
  const out: Uint8Array[] = [new Uint8Array(0), new Uint8Array(16).fill(0xff)];
  for (const e of entries) out.push(e.key, Uint8Array.of(...e.key, 0));
  for (let i = 0; i < 100; i++) {
    out.push(Uint8Array.from({ length: Math.floor(r() * 8) }, () => Math.floor(r() * 256)));
  }
  return out;
}

// `cache` is the block cache capacity in bytes, or undefined for none;
// `map` reads the file through a memory map where the runtime can make one.
const configs: { name: string; options: TableBuilderOptions; cache?: number; map?: boolean }[] = [
  { name: "default options with a cache", options: {}, cache: 1 << 20 },
  { name: "read in place through a memory map", options: {}, cache: 1 << 20, map: true },
  { name: "small blocks without a cache", options: { blockSize: 256 } },
  {
    name: "tiny blocks, restart interval 1, no filter",
    options: { blockSize: 64, restartInterval: 1, bloomBitsPerKey: 0 },
    cache: 1 << 20,
  },
  { name: "a cache too small for any block", options: { restartInterval: 7 }, cache: 100 },
  {
    name: "format version 1 (CRC32C block checksums) with a cache",
    options: { formatVersion: 1 },
    cache: 1 << 20,
  },
];

describe("table", () => {
  let dir = "";
  const fs = defaultFileSystem();
  before(() => {
    dir = nodeFs.mkdtempSync(path.join(os.tmpdir(), "strata-sst-"));
  });
  after(() => {
    nodeFs.rmSync(dir, { recursive: true, force: true });
  });

  const entries = randomEntries(11, 800);
  const distinctSeqs = [...new Set(entries.map((e) => e.seq))];

  for (const config of configs) {
    describe(config.name, () => {
      let table: Table;
      let props: TableProperties;
      before(() => {
        const file = path.join(dir, `${config.name.replace(/\W+/g, "_")}.sst`);
        props = writeTable(fs, file, entries, config.options);
        table = Table.open(fs.openRead(file, { map: config.map }), {
          fileNumber: 3,
          cache: config.cache === undefined ? undefined : new BlockCache(config.cache),
        });
      });
      after(() => table.close());

      it("get returns the newest version at or below readSeq, tombstones included", () => {
        const r = rng(5);
        const readSeqs = [0, 1, MAX_SEQUENCE];
        for (let i = 0; i < 10; i++) {
          readSeqs.push(distinctSeqs[Math.floor(r() * distinctSeqs.length)]);
        }
        for (const e of entries) {
          for (const readSeq of [...readSeqs, e.seq, e.seq - 1]) {
            sameFound(table.get(e.key, readSeq), modelGet(entries, e.key, readSeq));
          }
        }
      });

      it("get finds nothing for absent keys", () => {
        for (const t of targetsFor(entries, 6)) {
          sameFound(table.get(t, MAX_SEQUENCE), modelGet(entries, t, MAX_SEQUENCE));
        }
      });

      it("get accepts a precomputed bloom hash", () => {
        for (const e of entries.slice(0, 200)) {
          sameFound(
            table.get(e.key, MAX_SEQUENCE, bloomHash(e.key)),
            modelGet(entries, e.key, MAX_SEQUENCE),
          );
        }
      });

      it("forward iteration yields every entry in internal-key order", () => {
        assert.deepEqual(forward(table.iterator()), entries);
      });

      it("reverse iteration yields every entry in reverse order", () => {
        assert.deepEqual(backward(table.iterator()), [...entries].reverse());
      });

      it("seek lands on the newest version of the first user key ≥ the target", () => {
        const it = table.iterator();
        for (const t of targetsFor(entries, 7)) {
          const want = lowerBound(entries, t, MAX_SEQUENCE);
          it.seek(t);
          if (want === entries.length) assert.equal(it.valid(), false);
          else assert.deepEqual(current(it), entries[want]);
        }
      });

      it("seekInternal lands on the first entry ≥ (key, seq)", () => {
        const it = table.iterator();
        for (const e of entries) {
          for (const seq of [e.seq + 1, e.seq, e.seq - 1, 0]) {
            const want = lowerBound(entries, e.key, seq);
            it.seekInternal(e.key, seq);
            if (want === entries.length) assert.equal(it.valid(), false);
            else assert.deepEqual(current(it), entries[want]);
          }
        }
      });

      it("seekBefore lands on the oldest version of the last user key < the target", () => {
        const it = table.iterator();
        for (const t of targetsFor(entries, 8)) {
          const want = lowerBound(entries, t, MAX_SEQUENCE) - 1;
          it.seekBefore(t);
          if (want < 0) assert.equal(it.valid(), false);
          else assert.deepEqual(current(it), entries[want]);
        }
      });

      it("a random walk of seeks, next and prev matches the model", () => {
        randomWalk(table.iterator(), entries, rng(9), { steps: 5000, reseek: 0.01 });
      });

      it("next and prev past either end leave the iterator invalid", () => {
        const it = table.iterator();
        it.seekToLast();
        it.next();
        assert.equal(it.valid(), false);
        it.next();
        assert.equal(it.valid(), false);
        it.seekToFirst();
        it.prev();
        assert.equal(it.valid(), false);
        it.prev();
        assert.equal(it.valid(), false);
      });

      it("properties describe the entries", () => {
        const last = entries[entries.length - 1];
        const seqs = entries.map((e) => e.seq);
        const expected: TableProperties = {
          entries: entries.length,
          deletions: entries.filter((e) => e.kind === KIND_DELETE).length,
          dataBlocks: props.dataBlocks,
          fileSize: nodeFs.statSync(path.join(dir, `${config.name.replace(/\W+/g, "_")}.sst`))
            .size,
          smallestKey: entries[0].key,
          smallestSeq: entries[0].seq,
          largestKey: last.key,
          largestSeq: last.seq,
          minSeq: Math.min(...seqs),
          maxSeq: Math.max(...seqs),
        };
        assert.deepEqual(props, expected);
        assert.deepEqual(table.properties, expected);
        assert.equal(table.fileSize, expected.fileSize);
        assert.equal(table.blockCount, props.dataBlocks);
      });

      it("verify() reads every block and agrees with the properties", () => {
        assert.deepEqual(table.verify(), {
          dataBlocks: props.dataBlocks,
          entries: props.entries,
          deletions: props.deletions,
        });
      });
    });
  }

  describe("builder", () => {
    it("cuts data blocks near blockSize", () => {
      const file = path.join(dir, "blocks.sst");
      const list = Array.from({ length: 1000 }, (_, i): Entry => ({
        key: bytes(`key${String(i).padStart(6, "0")}`),
        seq: 1,
        kind: KIND_PUT,
        value: new Uint8Array(90),
      }));
      const props = writeTable(fs, file, list, { blockSize: 1024 });
      const table = Table.open(fs.openRead(file), { fileNumber: 1 });
      const blocks = table.describe().dataBlocks;
      assert.equal(blocks.length, props.dataBlocks);
      for (const b of blocks.slice(0, -1)) assert.ok(b.size >= 1024 && b.size < 1024 + 200);
      table.close();
    });

    it("rejects a format version it cannot write", () => {
      const file = fs.openWrite(path.join(dir, "version.sst"));
      assert.throws(
        () => new TableBuilder(file, { formatVersion: 3 as 2 }),
        (e: unknown) => e instanceof RangeError && /formatVersion: 3/.test(e.message),
      );
      file.close();
    });

    it("writes format version 2 by default and version 1 when asked", () => {
      for (const version of [undefined, 1, 2] as const) {
        const file = path.join(dir, `v${version}.sst`);
        writeTable(fs, file, entries.slice(0, 50), { formatVersion: version });
        const table = Table.open(fs.openRead(file), { fileNumber: 1 });
        assert.equal(table.formatVersion, version ?? 2);
        assert.equal(table.describe().formatVersion, version ?? 2);
        table.close();
      }
    });

    it("rejects entries that are not in strictly increasing internal-key order", () => {
      const file = path.join(dir, "order.sst");
      const cases: [string, number][][] = [
        [["b", 1], ["a", 1]],
        [["a", 1], ["a", 1]],
        [["a", 1], ["a", 2]],
      ];
      for (const pairs of cases) {
        const w = fs.openWrite(file);
        const b = new TableBuilder(w);
        b.add(bytes(pairs[0][0]), pairs[0][1], KIND_PUT, bytes("x"));
        assert.throws(() => b.add(bytes(pairs[1][0]), pairs[1][1], KIND_PUT, bytes("x")), Error);
        w.close();
      }
    });

    it("rejects sequence numbers that are not integers in [0, 2^53 - 1]", () => {
      const w = fs.openWrite(path.join(dir, "seq.sst"));
      const b = new TableBuilder(w);
      for (const seq of [-1, 1.5, 2 ** 53, Number.NaN]) {
        assert.throws(() => b.add(bytes("a"), seq, KIND_PUT, bytes("x")));
      }
      w.close();
    });

    it("round-trips sequence numbers up to 2^53 - 1", () => {
      const file = path.join(dir, "bigseq.sst");
      const list = randomEntries(12, 200, MAX_SEQUENCE - 2000);
      writeTable(fs, file, list, { blockSize: 512 });
      const table = Table.open(fs.openRead(file), { fileNumber: 1 });
      assert.deepEqual(forward(table.iterator()), list);
      assert.equal(table.properties.maxSeq, Math.max(...list.map((e) => e.seq)));
      table.close();
    });

    it("does not store the value of a tombstone", () => {
      const file = path.join(dir, "tomb.sst");
      writeTable(fs, file, [{ key: bytes("a"), seq: 1, kind: KIND_DELETE, value: bytes("junk") }]);
      const table = Table.open(fs.openRead(file), { fileNumber: 1 });
      sameFound(table.get(bytes("a"), MAX_SEQUENCE), {
        kind: KIND_DELETE,
        seq: 1,
        value: new Uint8Array(0),
      });
      table.close();
    });

    it("handles keys and values much larger than a block", () => {
      const file = path.join(dir, "large.sst");
      const big = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 31) % 256);
      const list: Entry[] = [
        { key: big.subarray(0, 5000), seq: 3, kind: KIND_PUT, value: big },
        { key: big.subarray(0, 5001), seq: 2, kind: KIND_PUT, value: bytes("small") },
        { key: bytes("\xff"), seq: 1, kind: KIND_PUT, value: big.subarray(7) },
      ];
      writeTable(fs, file, list);
      const table = Table.open(fs.openRead(file), { fileNumber: 1 });
      assert.deepEqual(forward(table.iterator()), list);
      assert.deepEqual(backward(table.iterator()), [...list].reverse());
      sameFound(table.get(list[1].key, MAX_SEQUENCE), {
        kind: KIND_PUT,
        seq: 2,
        value: list[1].value,
      });
      table.close();
    });

    it("an empty table opens, has no entries and finds nothing", () => {
      const file = path.join(dir, "empty.sst");
      const props = writeTable(fs, file, []);
      assert.equal(props.entries, 0);
      assert.equal(props.dataBlocks, 0);
      const table = Table.open(fs.openRead(file), { fileNumber: 1 });
      assert.equal(table.get(bytes("a"), MAX_SEQUENCE), undefined);
      assert.deepEqual(forward(table.iterator()), []);
      assert.deepEqual(backward(table.iterator()), []);
      const it = table.iterator();
      it.seek(bytes("a"));
      assert.equal(it.valid(), false);
      it.seekBefore(bytes("a"));
      assert.equal(it.valid(), false);
      assert.equal(table.verify().entries, 0);
      table.close();
    });

    it("finish() writes everything but neither syncs nor closes the file", () => {
      const inner = fs.openWrite(path.join(dir, "nosync.sst"));
      let syncs = 0;
      let closes = 0;
      const file: WritableFile = {
        path: inner.path,
        get size() {
          return inner.size;
        },
        append: (d) => inner.append(d),
        sync: () => syncs++,
        close: () => closes++,
      };
      const b = new TableBuilder(file);
      b.add(bytes("a"), 1, KIND_PUT, bytes("1"));
      const props = b.finish();
      assert.equal(syncs, 0);
      assert.equal(closes, 0);
      assert.equal(inner.size, props.fileSize);
      inner.close();
    });

    it("writes to the file in chunks of at least 64 KiB (all but the last)", () => {
      const inner = fs.openWrite(path.join(dir, "chunks.sst"));
      const appends: number[] = [];
      const file: WritableFile = {
        path: inner.path,
        get size() {
          return inner.size;
        },
        append: (d) => {
          appends.push(d.length);
          inner.append(d);
        },
        sync: () => inner.sync(),
        close: () => inner.close(),
      };
      const b = new TableBuilder(file);
      for (let i = 0; i < 20_000; i++) {
        b.add(bytes(`k${String(i).padStart(8, "0")}`), 1, KIND_PUT, new Uint8Array(50));
      }
      const props = b.finish();
      file.close();
      assert.ok(appends.length > 2);
      for (const n of appends.slice(0, -1)) assert.ok(n >= 64 * 1024, `append of ${n}`);
      assert.equal(appends.reduce((a, b) => a + b, 0), props.fileSize);
    });

    it("estimatedSize() grows with the data and ends near the file size", () => {
      const w = fs.openWrite(path.join(dir, "estimate.sst"));
      const b = new TableBuilder(w);
      let last = b.estimatedSize();
      for (let i = 0; i < 5000; i++) {
        b.add(bytes(`k${String(i).padStart(8, "0")}`), 1, KIND_PUT, new Uint8Array(20));
        const now = b.estimatedSize();
        assert.ok(now >= last);
        last = now;
      }
      const props = b.finish();
      w.close();
      assert.ok(
        last <= props.fileSize && last > props.fileSize * 0.8,
        `${last} vs ${props.fileSize}`,
      );
    });
  });

  describe("reader", () => {
    it("the bloom filter spares reading blocks for absent keys", () => {
      const file = path.join(dir, "bloom.sst");
      const list = Array.from({ length: 2000 }, (_, i): Entry => ({
        key: bytes(`present${i}`),
        seq: 1,
        kind: KIND_PUT,
        value: bytes("v"),
      })).sort(compareEntries);
      writeTable(fs, file, list);
      const counting = countingFile(fs.openRead(file));
      const table = Table.open(counting.file, { fileNumber: 1 });
      const afterOpen = counting.reads();
      for (let i = 0; i < 2000; i++) {
        assert.equal(table.get(bytes(`absent${i}`), MAX_SEQUENCE), undefined);
      }
      const reads = counting.reads() - afterOpen;
      assert.ok(reads < 60, `${reads} block reads for 2000 absent keys`);
      assert.equal(table.mayContain(bloomHash(bytes("present7"))), true);
      table.close();
    });

    it("index keys are shortened separators, and keys between a block's last key and its separator are found nowhere", () => {
      const file = path.join(dir, "separators.sst");
      const list: Entry[] = [
        { key: bytes("apple"), seq: 5, kind: KIND_PUT, value: bytes("1") },
        { key: bytes("apple"), seq: 4, kind: KIND_PUT, value: bytes("2") },
        { key: bytes("cherry"), seq: 3, kind: KIND_PUT, value: bytes("3") },
        { key: bytes("date"), seq: 2, kind: KIND_PUT, value: bytes("4") },
      ];
      // Every entry gets a block of its own.
      writeTable(fs, file, list, { blockSize: 1 });
      const table = Table.open(fs.openRead(file), { fileNumber: 1 });
      const index = table.describe().dataBlocks.map((
        b,
      ) => [new TextDecoder().decode(b.indexKey), b.indexSeq]);
      assert.deepEqual(index, [["apple", 5], ["b", MAX_SEQUENCE], ["ci", MAX_SEQUENCE], [
        "date",
        2,
      ]]);
      const it = table.iterator();
      for (const between of ["apple\x00", "az", "b", "b\x00", "cherry\x00", "ch\xff", "ci", "d"]) {
        const key = bytes(between);
        const want = lowerBound(list, key, MAX_SEQUENCE);
        assert.equal(table.get(key, MAX_SEQUENCE), undefined, between);
        it.seek(key);
        assert.deepEqual(current(it), list[want], between);
        it.seekBefore(key);
        assert.deepEqual(current(it), list[want - 1], between);
        it.seekInternal(key, MAX_SEQUENCE);
        assert.deepEqual(current(it), list[want], between);
      }
      table.close();
    });

    it("describe() lists the footer handles, every data block and the properties", () => {
      const file = path.join(dir, "describe.sst");
      const props = writeTable(fs, file, entries, { blockSize: 512 });
      const table = Table.open(fs.openRead(file), { fileNumber: 9, fileName: "000009.sst" });
      const d = table.describe();
      assert.equal(d.fileName, "000009.sst");
      assert.equal(d.fileNumber, 9);
      assert.equal(d.formatVersion, 2);
      assert.equal(d.fileSize, props.fileSize);
      assert.equal(d.dataBlocks.length, props.dataBlocks);
      assert.equal(d.dataBlocks[0].offset, 0);
      for (let i = 1; i < d.dataBlocks.length; i++) {
        const prev = d.dataBlocks[i - 1];
        assert.equal(d.dataBlocks[i].offset, prev.offset + prev.size + 5);
        assert.ok(compareBytes(prev.indexKey, d.dataBlocks[i].indexKey) <= 0);
      }
      assert.deepEqual(d.properties, props);
      assert.ok(d.filter.bits >= entries.length);
      assert.equal(d.index.offset + d.index.size + 5 + FOOTER_SIZE, props.fileSize);
      table.close();
    });

    it("errors name the file given in the options, else the path", () => {
      const good = fs.readFile(path.join(dir, "describe.sst"));
      const bad = good.slice(0, good.length - 1);
      for (const [fileName, want] of [["000123.sst", "000123.sst"], [undefined, "mem.sst"]]) {
        try {
          Table.open(new MemFile("mem.sst", bad), { fileNumber: 1, fileName });
          assert.fail("expected a CorruptionError");
        } catch (e) {
          assert.ok(e instanceof CorruptionError);
          assert.equal(e.file, want);
          assert.equal(typeof e.offset, "number");
        }
      }
    });

    it("verifyTable reports a damaged data block by file and offset", () => {
      const good = fs.readFile(path.join(dir, "describe.sst"));
      const bad = good.slice();
      bad[700] ^= 0x10;
      assert.equal(verifyTable(new MemFile("ok.sst", good)).entries, entries.length);
      try {
        verifyTable(new MemFile("bad.sst", bad), { fileName: "bad.sst" });
        assert.fail("expected a CorruptionError");
      } catch (e) {
        assert.ok(e instanceof CorruptionError);
        assert.equal(e.file, "bad.sst");
        assert.ok(e.offset! <= 700);
      }
    });

    it("verify() rejects bytes that no block covers", () => {
      const good = fs.readFile(path.join(dir, "describe.sst"));
      const footerAt = good.length - FOOTER_SIZE;
      const padded = new Uint8Array(good.length + 4);
      padded.set(good.subarray(0, footerAt));
      padded.set(good.subarray(footerAt), footerAt + 4);
      const table = Table.open(new MemFile("padded.sst", padded), { fileNumber: 1 });
      assert.equal(table.get(entries[0].key, MAX_SEQUENCE)?.seq, entries[0].seq);
      assert.throws(() => table.verify(), CorruptionError);
    });

    it("rejects a file that is not a table", () => {
      assert.throws(
        () => Table.open(new MemFile("x", new Uint8Array(4096)), { fileNumber: 1 }),
        CorruptionError,
      );
      assert.throws(
        () => Table.open(new MemFile("x", new Uint8Array(10)), { fileNumber: 1 }),
        CorruptionError,
      );
    });
  });

  describe("scrub", () => {
    const many = randomEntries(31, 400, 0, 24);
    let good: Uint8Array;
    before(() => {
      const file = path.join(dir, "scrub.sst");
      writeTable(fs, file, many, { blockSize: 100 });
      good = fs.readFile(file);
    });
    const PAGE = 256;
    const allPages = (bytes: Uint8Array): ResidentPages => ({
      pageSize: PAGE,
      pages: new Uint8Array(Math.ceil(bytes.length / PAGE)).fill(1),
    });
    // The table a reader uses, with its checks in shared memory.
    const reader = (bytes: Uint8Array) =>
      Table.open(new MemFile("t.sst", bytes, { inPlace: true }), {
        fileNumber: 1,
        shareChecks: true,
      });
    // A second table of the same file, as another thread opens it, marking the reader's checks.
    const scrubber = (bytes: Uint8Array, checks: Uint8Array, resident = allPages(bytes)) =>
      Table.open(new MemFile("t.sst", bytes, { inPlace: true, resident }), {
        fileNumber: 1,
        checks,
      });

    it("checks each in-memory block once, marking it in the checks the reader shares", () => {
      const table = reader(good);
      assert.ok(table.checks.buffer instanceof SharedArrayBuffer);
      assert.ok(table.blockCount > 64);
      const other = scrubber(good, table.checks);
      assert.equal(other.scrub(), table.blockCount);
      assert.deepEqual([...new Set(table.checks)], [1]);
      assert.equal(other.scrub(), 0);
      for (const e of many) sameFound(table.get(e.key, e.seq), modelGet(many, e.key, e.seq));
    });

    it("leaves the blocks whose pages are not all in memory to their reads", () => {
      const table = reader(good);
      const resident = allPages(good);
      resident.pages.fill(0, 3, 9);
      const blocks = table.describe().dataBlocks;
      const expected = blocks.map((b) => {
        const first = Math.floor(b.offset / PAGE);
        const last = Math.floor((b.offset + b.size + 4) / PAGE);
        return last < 3 || first >= 9 ? 1 : 0;
      });
      assert.ok(expected.includes(0) && expected.includes(1));
      scrubber(good, table.checks, resident).scrub();
      assert.deepEqual([...table.checks], expected);
    });

    it("stops at a damaged block, leaving it unmarked for the read that needs it to report", () => {
      const table = reader(good);
      const damaged = table.describe().dataBlocks[5];
      const bad = good.slice();
      bad[damaged.offset + 3] ^= 0x10;
      assert.throws(
        () => scrubber(bad, table.checks).scrub(),
        (e: unknown) => e instanceof CorruptionError && e.message.includes("checksum"),
      );
      assert.deepEqual([...table.checks.subarray(0, 6)], [1, 1, 1, 1, 1, 0]);
      const damagedTable = Table.open(new MemFile("t.sst", bad, { inPlace: true }), {
        fileNumber: 1,
        checks: table.checks,
      });
      assert.throws(
        () => {
          for (const e of many) damagedTable.get(e.key, MAX_SEQUENCE);
        },
        (e: unknown) => e instanceof CorruptionError,
      );
    });

    it("stops when asked, every 64 blocks", () => {
      const table = reader(good);
      let asked = 0;
      assert.equal(scrubber(good, table.checks).scrub(() => ++asked === 2), 127);
      assert.equal(asked, 2);
    });

    it("marks the blocks in memory of a table just written as checked, and leaves the rest", () => {
      const resident = allPages(good);
      resident.pages.fill(0, 3, 9);
      const expected = scrubber(good, new Uint8Array(0), resident).describe().dataBlocks.map((b) =>
        Math.floor((b.offset + b.size + 4) / PAGE) < 3 || Math.floor(b.offset / PAGE) >= 9 ? 1 : 0
      );
      assert.ok(expected.includes(0) && expected.includes(1));
      const table = Table.open(new MemFile("t.sst", good, { inPlace: true, resident }), {
        fileNumber: 1,
        justWritten: true,
      });
      assert.deepEqual([...table.checks], expected);
      const opened = Table.open(new MemFile("t.sst", good, { inPlace: true, resident }), {
        fileNumber: 1,
      });
      assert.deepEqual([...new Set(opened.checks)], [0]);
    });

    it("checks nothing of a table read without a map", () => {
      const table = Table.open(new MemFile("t.sst", good, { resident: allPages(good) }), {
        fileNumber: 1,
        shareChecks: true,
      });
      assert.equal(table.scrub(), 0);
      assert.equal(table.checks.length, 0);
    });
  });

  describe("corruption", () => {
    const small = randomEntries(21, 30, 0, 24);
    let good: Uint8Array;
    before(() => {
      const file = path.join(dir, "small.sst");
      writeTable(fs, file, small, { blockSize: 200, restartInterval: 4 });
      good = fs.readFile(file);
    });

    // `inPlace` reads data blocks as views (as from a map); `verify: false`
    // leaves finding damage to the reads alone.
    interface ReadOptions {
      cache?: BlockCache;
      inPlace?: boolean;
      verify?: boolean;
    }

    // Opens the bytes as a table and reads all of it every way; throws on
    // any difference from `small`.
    function readEverything(data: Uint8Array, o: ReadOptions = {}): void {
      const table = Table.open(new MemFile("t.sst", data, o), { fileNumber: 1, cache: o.cache });
      if (o.verify ?? true) table.verify();
      assert.deepEqual(forward(table.iterator()), small);
      assert.deepEqual(backward(table.iterator()), [...small].reverse());
      const it = table.iterator();
      for (const e of small) {
        sameFound(table.get(e.key, MAX_SEQUENCE), modelGet(small, e.key, MAX_SEQUENCE));
        sameFound(table.get(e.key, e.seq - 1), modelGet(small, e.key, e.seq - 1));
        it.seek(e.key);
        assert.deepEqual(current(it), small[lowerBound(small, e.key, MAX_SEQUENCE)]);
        it.seekBefore(e.key);
        const before = lowerBound(small, e.key, MAX_SEQUENCE) - 1;
        if (before < 0) assert.equal(it.valid(), false);
        else assert.deepEqual(current(it), small[before]);
      }
    }

    // The outcome of reading damaged bytes: "corrupt" or "ok"; anything
    // else (another error, wrong data) fails the test.
    function outcome(data: Uint8Array, o: ReadOptions = {}): "corrupt" | "ok" {
      try {
        readEverything(data, o);
        return "ok";
      } catch (e) {
        if (e instanceof CorruptionError) return "corrupt";
        throw e;
      }
    }

    it("the undamaged table reads back exactly", () => {
      const table = Table.open(new MemFile("t.sst", good), { fileNumber: 1 });
      assert.ok(table.blockCount >= 5, "several data blocks to damage");
      assert.equal(outcome(good), "ok");
    });

    it("a table truncated at any byte offset throws CorruptionError", () => {
      for (let n = 0; n < good.length; n++) {
        assert.equal(outcome(good.slice(0, n)), "corrupt", `truncated to ${n} bytes`);
      }
    });

    it("a table with any byte flipped throws CorruptionError or reads back exactly", () => {
      let detected = 0;
      for (let i = 0; i < good.length; i++) {
        for (const mask of [0x01, 0xff]) {
          const bad = good.slice();
          bad[i] ^= mask;
          if (outcome(bad, { cache: new BlockCache(1 << 20) }) === "corrupt") detected++;
        }
      }
      // Every byte is covered by a checksum, the magic or the footer CRC.
      assert.equal(detected, good.length * 2);
    });

    it("read in place, a flipped byte in any data block is found by the reads alone", () => {
      const d = Table.open(new MemFile("t.sst", good), { fileNumber: 1 }).describe();
      for (const b of d.dataBlocks) {
        // The contents, the compression byte and the checksum.
        for (let i = b.offset; i < b.offset + b.size + 5; i++) {
          const bad = good.slice();
          bad[i] ^= 0x01;
          assert.equal(
            outcome(bad, { inPlace: true, verify: false }),
            "corrupt",
            `byte ${i} flipped`,
          );
        }
      }
      assert.equal(outcome(good, { inPlace: true, verify: false }), "ok");
    });

    it("read in place, a damaged data block is reported on every read, not only the first", () => {
      const block = Table.open(new MemFile("t.sst", good), { fileNumber: 1 }).describe()
        .dataBlocks[2];
      const bad = good.slice();
      bad[block.offset + 3] ^= 0x01;
      const table = Table.open(new MemFile("t.sst", bad, { inPlace: true }), { fileNumber: 1 });
      const it = table.iterator();
      for (let round = 0; round < 3; round++) {
        assert.throws(() => forward(it), CorruptionError, `round ${round}`);
      }
    });

    it("read in place, data blocks come from the file's views, not its reads or the block cache", () => {
      const inner = new MemFile("t.sst", good, { inPlace: true });
      const counting = countingFile(inner);
      let views = 0;
      const file: RandomAccessFile = {
        ...counting.file,
        mapped: true,
        view(position, length) {
          views++;
          return inner.view!(position, length);
        },
      };
      const cache = new BlockCache(1 << 20);
      const table = Table.open(file, { fileNumber: 1, cache });
      const readsAtOpen = counting.reads();
      assert.deepEqual(forward(table.iterator()), small);
      for (const e of small) {
        sameFound(table.get(e.key, MAX_SEQUENCE), modelGet(small, e.key, MAX_SEQUENCE));
      }
      assert.equal(counting.reads(), readsAtOpen);
      assert.ok(views >= table.blockCount, `${views} views`);
      assert.equal(cache.size, 0);
    });

    it("block checksums are XXH32 of contents and compression byte (CRC32C in version 1)", () => {
      const file = path.join(dir, "small_v1.sst");
      writeTable(fs, file, small, { blockSize: 200, restartInterval: 4, formatVersion: 1 });
      const v1 = fs.readFile(file);
      const d = Table.open(new MemFile("t.sst", good), { fileNumber: 1 }).describe();
      for (const b of [...d.dataBlocks, d.index, d.filter, d.propertiesBlock]) {
        const end = b.offset + b.size + 1;
        assert.equal(readU32(good, end), xxh32(good, b.offset, end));
        assert.equal(readU32(v1, end), crc32c(v1, b.offset, end));
      }
    });

    it("a version-1 table with any byte flipped throws CorruptionError or reads back exactly", () => {
      const file = path.join(dir, "small_v1.sst");
      writeTable(fs, file, small, { blockSize: 200, restartInterval: 4, formatVersion: 1 });
      const v1 = fs.readFile(file);
      assert.equal(outcome(v1), "ok");
      for (let i = 0; i < v1.length; i++) {
        const bad = v1.slice();
        bad[i] ^= 0x01;
        assert.equal(
          outcome(bad, { cache: new BlockCache(1 << 20) }),
          "corrupt",
          `byte ${i} flipped`,
        );
      }
    });

    it("with checksums recomputed, damaged block contents still never raise another error", () => {
      const table = Table.open(new MemFile("t.sst", good), { fileNumber: 1 });
      const d = table.describe();
      const blocks = [...d.dataBlocks, d.index, d.filter, d.propertiesBlock];
      for (const b of blocks) {
        for (let i = 0; i < b.size; i++) {
          readExpectingOnlyCorruption(damagedInBlock(b, i), { verifyFirst: true });
        }
      }
    });

    it("with checksums recomputed, lookups and iteration without verify() raise nothing but CorruptionError", () => {
      const table = Table.open(new MemFile("t.sst", good), { fileNumber: 1 });
      for (const b of table.describe().dataBlocks) {
        for (let i = 0; i < b.size; i++) {
          const bad = damagedInBlock(b, i);
          readExpectingOnlyCorruption(bad, {});
          readExpectingOnlyCorruption(bad, { cache: new BlockCache(1 << 20) });
          readExpectingOnlyCorruption(bad, { inPlace: true });
        }
      }
    });

    it("with checksums recomputed, a damaged index opens only if it still places every data block where it is", () => {
      const d = Table.open(new MemFile("t.sst", good), { fileNumber: 1 }).describe();
      const placed = (blocks: { offset: number; size: number }[]) =>
        blocks.map((b) => `${b.offset}+${b.size}`).join(" ");
      let rejected = 0;
      for (let i = 0; i < d.index.size; i++) {
        for (const mask of [0x01, 0x02, 0x40]) {
          let table: Table;
          try {
            const bad = damagedInBlock(d.index, i, mask);
            table = Table.open(new MemFile("t.sst", bad), { fileNumber: 1 });
          } catch (e) {
            assert.ok(e instanceof CorruptionError, `${e}`);
            rejected++;
            continue;
          }
          // A handle moved by the damage would leave a gap or an overlap.
          const where = `index byte ${i} ^ ${mask}`;
          assert.equal(placed(table.describe().dataBlocks), placed(d.dataBlocks), where);
        }
      }
      assert.ok(rejected > 0);
    });

    // The table with byte i of block b damaged and the block's checksum recomputed.
    function damagedInBlock(
      b: { offset: number; size: number },
      i: number,
      mask = [0x01, 0x80, 0xff][i % 3],
    ): Uint8Array {
      const bad = good.slice();
      bad[b.offset + i] ^= mask;
      writeU32(bad, b.offset + b.size + 1, xxh32(bad, b.offset, b.offset + b.size + 1));
      return bad;
    }

    // Opens and reads `bad` every way there is; any error must be a CorruptionError.
    function readExpectingOnlyCorruption(
      bad: Uint8Array,
      o: { verifyFirst?: boolean; cache?: BlockCache; inPlace?: boolean },
    ): void {
      try {
        const t = Table.open(new MemFile("t.sst", bad, o), { fileNumber: 1, cache: o.cache });
        if (o.verifyFirst) t.verify();
        forward(t.iterator());
        backward(t.iterator());
        const it = t.iterator();
        for (const e of small) {
          t.get(e.key, MAX_SEQUENCE);
          it.seek(e.key);
          if (it.valid()) it.next();
          it.seekBefore(e.key);
          if (it.valid()) it.prev();
        }
      } catch (e) {
        assert.ok(e instanceof CorruptionError, `${e}`);
      }
    }

    it("truncated files on disk throw CorruptionError when opened", () => {
      for (const n of [0, 1, FOOTER_SIZE - 1, FOOTER_SIZE, good.length >> 1, good.length - 1]) {
        const file = path.join(dir, `trunc-${n}.sst`);
        nodeFs.writeFileSync(file, good);
        fs.truncate(file, n);
        const f = fs.openRead(file);
        try {
          assert.throws(() => Table.open(f, { fileNumber: 1 }), CorruptionError);
        } finally {
          f.close();
        }
      }
    });
  });
});
