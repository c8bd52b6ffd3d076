/**
 * The compaction worker: runs compaction jobs off the main thread, so the
 * CPU work of a merge does not delay reads and writes. It reads input
 * tables and writes output tables itself (through the runtime's file
 * system); the main thread installs the result.
 *
 * It also flushes: given the write-ahead log of a frozen memtable, it
 * rebuilds that memtable from the log (whose bytes the main thread has
 * already handed to the OS) and writes it as a level-0 table.
 *
 * And it scrubs: it checks the in-memory blocks of a table the main thread
 * reads through a map, marking them in checks the two threads share.
 *
 * Messages in: {@linkcode WorkerRequest}; out: {@linkcode WorkerReply}.
 *
 * @module
 */

import {
  buildTables,
  type CompactionJob,
  directorySink,
  type InputTables,
  runCompaction,
  type TableSink,
  VersionFilter,
} from "./compaction.ts";
import { defaultFileSystem, joinPath } from "./fs.ts";
import type { InternalIterator } from "./internal_key.ts";
import { LogRun } from "./log_run.ts";
import type { FileMeta } from "./manifest.ts";
import { Table } from "./sstable/table_reader.ts";
import { tableName } from "./table_cache.ts";
import { walName } from "./wal.ts";

/** A request to the worker. */
export interface WorkerRequest {
  /** Matches the reply to the request. */
  id: number;
  /** The database directory. */
  dir: string;
  /** What to compact; absent for a flush or a scrub. */
  job?: CompactionJob;
  /**
   * A table to scrub (see `Table.scrub`): its file number and the shared
   * marks of its checked blocks.
   */
  scrub?: { number: number; checks: Uint8Array };
  /** For a flush: the write-ahead log number of the frozen memtable. */
  walNumber?: number;
  /** For a flush: live snapshot sequence numbers, ascending. */
  snapshots?: number[];
  /** File numbers reserved for outputs. */
  numbers: number[];
  /** Data block size of new tables. */
  blockSize: number;
  /** Entries between restart points in the data blocks of new tables. */
  blockRestartInterval: number;
  /** Bloom filter bits per key of new tables. */
  bloomBitsPerKey: number;
  /** Set to 1 by the main thread to abandon the job (checked between slices). */
  abort: Int32Array;
}

/**
 * The first message to a new worker: where to send replies. After posting
 * each reply the worker adds one to `posted[0]`, so the main thread can
 * see that a reply waits without running its event loop, and take it with
 * `receiveMessageOnPort`.
 */
export interface WorkerSetup {
  /** The port replies go to. */
  replyPort: MessagePort;
  /** Count of replies posted. */
  posted: Int32Array;
}

/** The worker's answer. */
export interface WorkerReply {
  /** The request's id. */
  id: number;
  /** The tables written, when the job succeeded. */
  outputs?: FileMeta[];
  /** What went wrong, when it failed. */
  error?: { name: string; message: string; file?: string; offset?: number };
}

interface WorkerScope {
  onmessage: ((event: MessageEvent<WorkerRequest | WorkerSetup>) => void) | null;
}

const scope = globalThis as unknown as WorkerScope;
const fs = defaultFileSystem();

function sinkFor(request: WorkerRequest): TableSink {
  return directorySink(fs, request.dir, request.numbers, {
    blockSize: request.blockSize,
    blockRestartInterval: request.blockRestartInterval,
    bloomBitsPerKey: request.bloomBitsPerKey,
    pause: () => Promise.resolve(Atomics.load(request.abort, 0) === 0),
  });
}

/** Reads a frozen memtable's log, sorted, and writes it as one table. */
function flush(request: WorkerRequest, walNumber: number): Promise<FileMeta[] | undefined> {
  const path = joinPath(request.dir, walName(walNumber));
  const run = LogRun.fromLog(fs.readFile(path), path);
  const filter = new VersionFilter(request.snapshots ?? [], () => true);
  return buildTables(run, filter, undefined, sinkFor(request));
}

/** Opens table `number` of `dir`; the file is closed again if the table cannot be opened. */
function openTable(
  dir: string,
  number: number,
  options: { map?: boolean; checks?: Uint8Array } = {},
): Table {
  const name = joinPath(dir, tableName(number));
  const file = fs.openRead(name, { map: options.map });
  try {
    return Table.open(file, { fileNumber: number, fileName: name, checks: options.checks });
  } catch (e) {
    file.close();
    throw e;
  }
}

/** Checks the in-memory blocks of a table that the main thread reads through a map. */
function scrub(request: WorkerRequest, number: number, checks: Uint8Array): void {
  const table = openTable(request.dir, number, { map: true, checks });
  try {
    table.scrub(() => Atomics.load(request.abort, 0) !== 0);
  } finally {
    table.close();
  }
}

async function run(request: WorkerRequest): Promise<WorkerReply> {
  const { id, dir, job } = request;
  // Open input tables by file number; a file a level walk has passed is closed.
  const tables = new Map<number, Table>();
  try {
    if (request.scrub !== undefined) {
      scrub(request, request.scrub.number, request.scrub.checks);
      return { id };
    }
    if (job === undefined) return { id, outputs: await flush(request, request.walNumber!) };
    const inputs: InputTables = {
      open(f: FileMeta): InternalIterator {
        const table = openTable(dir, f.number);
        tables.set(f.number, table);
        return table.iterator();
      },
      release(f: FileMeta): void {
        tables.get(f.number)?.close();
        tables.delete(f.number);
      },
    };
    const outputs = await runCompaction(job, inputs, sinkFor(request));
    return { id, outputs };
  } catch (e) {
    const err = e as { name?: string; message?: string; file?: string; offset?: number };
    return {
      id,
      error: {
        name: err?.name ?? "Error",
        message: err?.message ?? String(e),
        file: err?.file,
        offset: err?.offset,
      },
    };
  } finally {
    for (const t of tables.values()) t.close();
  }
}

let setup: WorkerSetup | undefined;

scope.onmessage = (event) => {
  const message = event.data;
  if ("replyPort" in message) {
    setup = message;
    return;
  }
  run(message).then((reply) => {
    setup!.replyPort.postMessage(reply);
    Atomics.add(setup!.posted, 0, 1);
  });
};
