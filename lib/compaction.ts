/**
 * Leveled compaction: which files to merge next, which versions a merge may
 * drop, and where its output is cut into files.
 *
 * Level 0 holds flushed tables that may overlap; levels 1 to 6 are sorted
 * runs. Level targets are derived from the deepest level, each level about
 * a tenth of the next, so that most data sits in the last level and space
 * amplification stays near 1.1. A compaction takes one bounded slice: all
 * overlapping level-0 files, or one file of a deeper level, plus the files
 * of the next level that overlap it, so its cost does not grow with the
 * database.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { compareBytes } from "./coding.ts";
import { type FileSystem, joinPath, type WritableFile } from "./fs.ts";
import { type InternalIterator, type Kind, KIND_DELETE } from "./internal_key.ts";
import { firstAtLeast } from "./key_fence.ts";
import { LevelIterator } from "./level_iterator.ts";
import { type FileMeta, NUM_LEVELS, overlaps, Version } from "./manifest.ts";
import { MergingIterator } from "./merge_iterator.ts";
import { TableBuilder, type TableProperties } from "./sstable/table_builder.ts";
import { tableName } from "./table_cache.ts";

/** Tuning of leveled compaction. */
export interface CompactionOptions {
  /** Level-0 file count that starts a compaction (default 4). */
  l0CompactionTrigger: number;
  /**
   * Level-0 file count from which each write resolves on a later turn of
   * the event loop, so background work keeps pace (default 8).
   */
  l0SlowdownTrigger: number;
  /** Level-0 file count at which writes wait for compaction (default 12). */
  l0StopTrigger: number;
  /** Capacity of level 1; each deeper level holds `levelMultiplier` times more (default 16 MiB). */
  levelBaseBytes: number;
  /** Size ratio between adjacent levels (default 10). */
  levelMultiplier: number;
  /** Size at which compaction output is cut into a new file (default 2 MiB). */
  targetFileSize: number;
}

/** The defaults of {@linkcode CompactionOptions}. */
export const DEFAULT_COMPACTION_OPTIONS: CompactionOptions = {
  l0CompactionTrigger: 4,
  l0SlowdownTrigger: 8,
  l0StopTrigger: 12,
  levelBaseBytes: 16 * 1024 * 1024,
  levelMultiplier: 10,
  targetFileSize: 2 * 1024 * 1024,
};

/** The deepest level (1 or more) holding files; 1 when levels 1+ are empty. */
export function bottomLevel(version: Version): number {
  for (let l = NUM_LEVELS - 1; l >= 1; l--) if (version.levels[l].length > 0) return l;
  return 1;
}

/**
 * Target bytes of each level (index 0 unused). The bottom level may grow to
 * its capacity, `levelBaseBytes × multiplier^(level-1)`; the levels above it
 * are sized from its actual bytes, each a `multiplier`-th of the next.
 */
export function levelTargets(version: Version, options: CompactionOptions): number[] {
  const bottom = bottomLevel(version);
  const targets = new Array<number>(NUM_LEVELS).fill(Infinity);
  const capacity = (l: number) => options.levelBaseBytes * options.levelMultiplier ** (l - 1);
  targets[bottom] = bottom === NUM_LEVELS - 1 ? Infinity : capacity(bottom);
  let size = version.levelBytes(bottom);
  for (let l = bottom - 1; l >= 1; l--) {
    size /= options.levelMultiplier;
    targets[l] = Math.max(size, options.targetFileSize);
  }
  return targets;
}

/** Compaction score per level: ≥ 1 means the level needs compacting. */
export function levelScores(version: Version, options: CompactionOptions): number[] {
  const targets = levelTargets(version, options);
  const scores = [version.levels[0].length / options.l0CompactionTrigger];
  for (let l = 1; l < NUM_LEVELS; l++) scores.push(version.levelBytes(l) / targets[l]);
  return scores;
}

/** One compaction to run: `inputs` of `level` merged with `overlaps` of `level + 1`. */
export interface CompactionPlan {
  /** The level compacted. */
  level: number;
  /** Its files taking part. */
  inputs: FileMeta[];
  /** Files of `level + 1` overlapping the inputs. */
  overlaps: FileMeta[];
  /** Files of `level + 2` overlapping the inputs' range, to bound future work. */
  grandparents: FileMeta[];
  /** Why it was picked. */
  reason: string;
}

function rangeOf(files: readonly FileMeta[]): [Uint8Array, Uint8Array] {
  let lo = files[0].smallest;
  let hi = files[0].largest;
  for (const f of files) {
    if (compareBytes(f.smallest, lo) < 0) lo = f.smallest;
    if (compareBytes(f.largest, hi) > 0) hi = f.largest;
  }
  return [lo, hi];
}

/**
 * The level-0 files overlapping [start, end], grown until closed under
 * overlap: a newer file must never move below an older one it overlaps.
 */
function level0Inputs(version: Version, start?: Uint8Array, end?: Uint8Array): FileMeta[] {
  let inputs = version.overlapping(0, start, end);
  for (;;) {
    if (inputs.length === 0) return inputs;
    const [lo, hi] = rangeOf(inputs);
    const grown = version.overlapping(0, lo, hi);
    if (grown.length === inputs.length) return inputs;
    inputs = grown;
  }
}

function planFor(
  version: Version,
  level: number,
  inputs: FileMeta[],
  reason: string,
): CompactionPlan {
  const [lo, hi] = rangeOf(inputs);
  return {
    level,
    inputs,
    overlaps: version.overlapping(level + 1, lo, hi),
    grandparents: level + 2 < NUM_LEVELS ? version.overlapping(level + 2, lo, hi) : [],
    reason,
  };
}

/**
 * The most urgent compaction, or undefined when every score is below 1.
 * `pointers` remembers, per level, where the last slice ended, so that
 * slices go round the key space.
 */
export function pickCompaction(
  version: Version,
  options: CompactionOptions,
  pointers: Map<number, Uint8Array>,
): CompactionPlan | undefined {
  const scores = levelScores(version, options);
  let best = -1;
  for (let l = 0; l < NUM_LEVELS - 1; l++) {
    if (scores[l] >= 1 && (best < 0 || scores[l] > scores[best])) best = l;
  }
  if (best < 0) return undefined;
  const reason = `level ${best} score ${scores[best].toFixed(2)}`;
  if (best === 0) return planFor(version, 0, level0Inputs(version), reason);
  const files = version.levels[best];
  const after = pointers.get(best);
  const file = (after && files.find((f) => compareBytes(f.smallest, after) > 0)) || files[0];
  return planFor(version, best, [file], reason);
}

/**
 * True when `plan` can move its input files down a level as they are, with
 * no merge: nothing in the next level overlaps them, they do not overlap
 * each other (so no key's versions are split between two of them), and
 * none overlaps more than ten target-sized files of the level after next,
 * which would make its own later compaction large. Sequential loads
 * flush disjoint level-0 files, so they reach the sorted levels without
 * being rewritten.
 *
 * @example
 * ```ts
 * import { canMove, DEFAULT_COMPACTION_OPTIONS, pickCompaction } from "./compaction.ts";
 * import { Version } from "./manifest.ts";
 * const key = (s: string) => new TextEncoder().encode(s);
 * const file = (number: number, smallest: string, largest: string) => ({
 *   number, size: 1024, smallest: key(smallest), largest: key(largest),
 *   minSeq: number, maxSeq: number, entries: 1,
 * });
 * const added = [["a", "b"], ["c", "d"], ["e", "f"], ["g", "h"]]
 *   .map(([lo, hi], i) => ({ level: 0, file: file(i + 1, lo, hi) }));
 * const version = Version.empty().apply({ added });
 * const plan = pickCompaction(version, DEFAULT_COMPACTION_OPTIONS, new Map())!;
 * canMove(plan, DEFAULT_COMPACTION_OPTIONS.targetFileSize); // true
 * ```
 */
export function canMove(plan: CompactionPlan, targetFileSize: number): boolean {
  if (plan.overlaps.length > 0) return false;
  const inputs = [...plan.inputs].sort((a, b) => compareBytes(a.smallest, b.smallest));
  for (let i = 0; i < inputs.length; i++) {
    if (i > 0 && compareBytes(inputs[i - 1].largest, inputs[i].smallest) >= 0) return false;
    let below = 0;
    for (const g of plan.grandparents) {
      if (overlaps(g, inputs[i].smallest, inputs[i].largest)) below += g.size;
    }
    if (below > 10 * targetFileSize) return false;
  }
  return true;
}

/**
 * Plans that move the data of [start, end] down, one per level from the top
 * to just above the deepest level holding any of it.
 */
export function planRange(
  version: Version,
  level: number,
  start?: Uint8Array,
  end?: Uint8Array,
): CompactionPlan | undefined {
  const inputs = level === 0
    ? level0Inputs(version, start, end)
    : version.overlapping(level, start, end);
  if (inputs.length === 0) return undefined;
  return planFor(version, level, inputs, `manual, level ${level}`);
}

/** The deepest level holding a file that overlaps [start, end]. */
export function deepestOverlapping(version: Version, start?: Uint8Array, end?: Uint8Array): number {
  for (let l = NUM_LEVELS - 1; l >= 0; l--) {
    if (version.overlapping(l, start, end).length > 0) return l;
  }
  return 0;
}

/**
 * Answers "may a level below the output hold this key?" for keys presented
 * in ascending order, walking each deeper level's files once.
 */
export class DeeperLevels {
  #levels: (readonly FileMeta[])[];
  #positions: number[];

  /** Watches the levels of `version` deeper than `outputLevel`. */
  constructor(version: Version, outputLevel: number) {
    this.#levels = version.levels.slice(outputLevel + 1).filter((files) => files.length > 0);
    this.#positions = this.#levels.map(() => 0);
  }

  /** True when some deeper file's range holds `key`. Keys must not decrease between calls. */
  mayHold(key: Uint8Array): boolean {
    for (let i = 0; i < this.#levels.length; i++) {
      const files = this.#levels[i];
      let p = this.#positions[i];
      while (p < files.length && compareBytes(files[p].largest, key) < 0) p++;
      this.#positions[i] = p;
      if (p < files.length && compareBytes(files[p].smallest, key) <= 0) return true;
    }
    return false;
  }
}

/**
 * Decides, entry by entry in internal-key order, which versions a merge
 * keeps. A version is kept when some reader can see it: the latest state,
 * or a live snapshot reading at a sequence number from the version up to
 * (not including) the next newer version of the key. A tombstone is dropped
 * when no snapshot predates it and no deeper level may hold the key.
 *
 * @example
 * ```ts
 * import { VersionFilter } from "./compaction.ts";
 * import { KIND_PUT } from "./internal_key.ts";
 * const f = new VersionFilter([], () => false);
 * const k = new Uint8Array([1]);
 * console.log(f.keep(k, 9, KIND_PUT, true), f.keep(k, 3, KIND_PUT, false)); // true false
 * ```
 */
export class VersionFilter {
  #snapshots: readonly number[];
  #deeperMayHold: (key: Uint8Array) => boolean;
  #newerSeq = Infinity;

  /**
   * `snapshots`: live snapshot sequence numbers, ascending.
   * `deeperMayHold`: whether a level below the output may hold a key.
   */
  constructor(snapshots: readonly number[], deeperMayHold: (key: Uint8Array) => boolean) {
    this.#snapshots = snapshots;
    this.#deeperMayHold = deeperMayHold;
  }

  /**
   * True when the entry must be written to the output. `firstOfKey` says
   * the entry is the newest version of its user key in the merge.
   */
  keep(key: Uint8Array, seq: number, kind: Kind, firstOfKey: boolean): boolean {
    if (firstOfKey) this.#newerSeq = Infinity;
    const newer = this.#newerSeq;
    this.#newerSeq = seq;
    if (newer !== Infinity && !this.#snapshotIn(seq, newer)) return false;
    if (kind === KIND_DELETE) {
      const oldestSnapshot = this.#snapshots.length > 0 ? this.#snapshots[0] : Infinity;
      if (oldestSnapshot >= seq && !this.#deeperMayHold(key)) return false;
    }
    return true;
  }

  // True when a snapshot reads at a sequence number in [from, to).
  #snapshotIn(from: number, to: number): boolean {
    const s = this.#snapshots;
    const at = firstAtLeast(s, from);
    return at < s.length && s[at] < to;
  }
}

/**
 * Decides where compaction output is cut into files: after `targetFileSize`
 * bytes, or when the file would overlap too much of the level below its
 * output (which bounds the cost of compacting it later). Cuts fall only
 * between user keys, so a key's versions never span two files of a level.
 */
export class OutputSplitter {
  #grandparents: readonly FileMeta[];
  #index = 0;
  #overlapBytes = 0;
  #maxOverlap: number;
  #targetSize: number;
  #seenKey = false;

  /** Cuts at `targetFileSize`, or at 10× that of overlap with `grandparents`. */
  constructor(grandparents: readonly FileMeta[], targetFileSize: number) {
    this.#grandparents = grandparents;
    this.#targetSize = targetFileSize;
    this.#maxOverlap = 10 * targetFileSize;
  }

  /**
   * Called with each new user key (not each version) before it is added;
   * true when the current output should be finished first.
   */
  cutBefore(key: Uint8Array, currentSize: number): boolean {
    const gp = this.#grandparents;
    while (this.#index < gp.length && compareBytes(key, gp[this.#index].largest) > 0) {
      if (this.#seenKey) this.#overlapBytes += gp[this.#index].size;
      this.#index++;
    }
    this.#seenKey = true;
    if (currentSize >= this.#targetSize || this.#overlapBytes > this.#maxOverlap) {
      this.#overlapBytes = 0;
      return currentSize > 0;
    }
    return false;
  }
}

/** A positioned cursor that table building walks forward. */
export interface EntrySource {
  /** True when positioned on an entry. */
  valid(): boolean;
  /** Moves to the next entry. */
  next(): void;
  /** The current user key. */
  key(): Uint8Array;
  /** The current sequence number. */
  seq(): number;
  /** The current kind. */
  kind(): Kind;
  /** The current value. */
  value(): Uint8Array;
}

/** Where built tables go, and how building shares the thread. */
export interface TableSink {
  /** Opens a new, empty output file numbered `number`. */
  create(number: number): WritableFile;
  /** Removes an output file that will not be used. */
  remove(number: number): void;
  /** Output file numbers, used in order. */
  numbers: number[];
  /** Data block size of new tables. */
  blockSize: number;
  /** Entries between restart points in the data blocks of new tables. */
  blockRestartInterval: number;
  /** Bloom filter bits per key of new tables. */
  bloomBitsPerKey: number;
  /** Called between slices of work; resolves false to abandon the job. */
  pause?: () => Promise<boolean>;
}

/**
 * A sink writing tables named by number into `dir`, with the given table
 * settings and, optionally, a `pause` between slices of work.
 */
export function directorySink(
  fs: FileSystem,
  dir: string,
  numbers: readonly number[],
  settings: Pick<TableSink, "blockSize" | "blockRestartInterval" | "bloomBitsPerKey" | "pause">,
): TableSink {
  return {
    create: (n) => fs.openWrite(joinPath(dir, tableName(n))),
    remove: (n) => fs.remove(joinPath(dir, tableName(n))),
    numbers: [...numbers],
    blockSize: settings.blockSize,
    blockRestartInterval: settings.blockRestartInterval,
    bloomBitsPerKey: settings.bloomBitsPerKey,
    pause: settings.pause,
  };
}

// Entries merged between two calls to `pause`.
const ENTRIES_PER_SLICE = 4096;
// Bytes of a table written between syncs started in the background, so the
// sync that finishes the table has little left to wait for.
const BACKGROUND_SYNC_BYTES = 1024 * 1024;

/** The file description of a finished table. */
export function fileMetaOf(number: number, p: TableProperties): FileMeta {
  return {
    number,
    size: p.fileSize,
    smallest: p.smallestKey,
    largest: p.largestKey,
    minSeq: p.minSeq,
    maxSeq: p.maxSeq,
    entries: p.entries,
  };
}

function sameBytes(buf: Uint8Array, length: number, key: Uint8Array): boolean {
  if (length !== key.length) return false;
  for (let i = length - 1; i >= 0; i--) if (buf[i] !== key[i]) return false;
  return true;
}

/**
 * Streams `source` through `filter` into new tables (synced and closed),
 * cut by `splitter` (one table when undefined). Returns undefined when
 * `sink.pause` abandons the job; then, as on an error, every file it made is
 * removed.
 */
export async function buildTables(
  source: EntrySource,
  filter: VersionFilter,
  splitter: OutputSplitter | undefined,
  sink: TableSink,
): Promise<FileMeta[] | undefined> {
  const outputs: FileMeta[] = [];
  const made: number[] = [];
  let current:
    | { number: number; builder: TableBuilder; file: WritableFile; syncedUpTo: number }
    | undefined;
  const finish = () => {
    const { number, builder, file } = current!;
    current = undefined;
    try {
      const p = builder.finish();
      file.sync();
      outputs.push(fileMetaOf(number, p));
    } finally {
      file.close();
    }
  };
  const discard = () => {
    current?.file.close();
    current = undefined;
    for (const n of made) sink.remove(n);
  };
  try {
    // The previous user key, copied into a reused buffer: source views do
    // not survive next().
    let last = new Uint8Array(256);
    let lastLength = -1;
    let count = 0;
    while (source.valid()) {
      const key = source.key();
      const firstOfKey = !sameBytes(last, lastLength, key);
      if (firstOfKey) {
        if (current !== undefined && splitter?.cutBefore(key, current.builder.estimatedSize())) {
          finish();
        }
        if (key.length > last.length) last = new Uint8Array(key.length * 2);
        last.set(key);
        lastLength = key.length;
      }
      const seq = source.seq();
      const kind = source.kind();
      if (filter.keep(key, seq, kind, firstOfKey)) {
        if (current === undefined) {
          const number = sink.numbers.shift();
          if (number === undefined) throw new Error("compaction ran out of output file numbers");
          made.push(number);
          const file = sink.create(number);
          current = {
            number,
            file,
            builder: new TableBuilder(file, {
              blockSize: sink.blockSize,
              restartInterval: sink.blockRestartInterval,
              bloomBitsPerKey: sink.bloomBitsPerKey,
            }),
            syncedUpTo: 0,
          };
        }
        current.builder.add(key, seq, kind, source.value());
        if (current.file.size - current.syncedUpTo >= BACKGROUND_SYNC_BYTES) {
          current.syncedUpTo = current.file.size;
          current.file.syncInBackground?.();
        }
      }
      source.next();
      if (++count % ENTRIES_PER_SLICE === 0 && sink.pause !== undefined && !(await sink.pause())) {
        discard();
        return undefined;
      }
    }
    if (current !== undefined) finish();
    return outputs;
  } catch (e) {
    discard();
    throw e;
  }
}

/** Everything a compaction needs, as plain data (it may run in a worker). */
export interface CompactionJob {
  /** The level compacted; output goes to the next one. */
  level: number;
  /** Files of `level` taking part. */
  inputs: FileMeta[];
  /** Files of `level + 1` taking part. */
  overlaps: FileMeta[];
  /** Files of `level + 2` under the inputs' range. */
  grandparents: FileMeta[];
  /** The files of every level, for the tombstone check below the output. */
  levels: FileMeta[][];
  /** Live snapshot sequence numbers, ascending. */
  snapshots: number[];
  /** Output size at which files are cut. */
  targetFileSize: number;
}

/** How many output files a compaction can make at most. */
export function maxOutputs(plan: CompactionPlan, targetFileSize: number): number {
  let bytes = 0;
  for (const f of plan.inputs) bytes += f.size;
  for (const f of plan.overlaps) bytes += f.size;
  // Cuts by size come at most once per target size; cuts by overlap at most
  // once per grandparent file.
  return Math.ceil(bytes / targetFileSize) + plan.grandparents.length + 2;
}

/** How a compaction opens its input files and lets them go. */
export interface InputTables {
  /** Opens a cursor over an input file. */
  open(file: FileMeta): InternalIterator;
  /** Lets go of a file whose entries have all been merged. */
  release(file: FileMeta): void;
}

/**
 * Merges a compaction's input files into new tables for the next level,
 * dropping what no reader can see. Level-0 inputs stay open throughout; of
 * a sorted level's files, one at a time is.
 */
export function runCompaction(
  job: CompactionJob,
  inputs: InputTables,
  sink: TableSink,
): Promise<FileMeta[] | undefined> {
  const open = (f: FileMeta) => inputs.open(f);
  const level = { release: (f: FileMeta) => inputs.release(f) };
  const sources: InternalIterator[] = job.level === 0
    ? job.inputs.map(open)
    : [new LevelIterator(job.inputs, open, level)];
  if (job.overlaps.length > 0) sources.push(new LevelIterator(job.overlaps, open, level));
  const merge = new MergingIterator(sources, false);
  merge.seekToStart();
  const deeper = new DeeperLevels(new Version(job.levels), job.level + 1);
  const filter = new VersionFilter(job.snapshots, (k) => deeper.mayHold(k));
  return buildTables(merge, filter, new OutputSplitter(job.grandparents, job.targetFileSize), sink);
}

/** Resolves on a later turn of the event loop. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
