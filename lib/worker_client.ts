/**
 * The main thread's side of the worker threads: one per kind of job,
 * started on demand and shared by the databases of the process; each
 * database matches replies to its own requests, and learns when no worker
 * can run, so that it runs the job on its own thread instead.
 *
 * @module
 */

import { receiveMessageOnPort } from "node:worker_threads";
import type { WorkerReply, WorkerRequest, WorkerSetup } from "./compaction_worker.ts";
import { CorruptionError, StrataError } from "./errors.ts";
import type { FileMeta } from "./manifest.ts";

/** Returned by {@linkcode WorkerClient.run} when the worker cannot run the job. */
export const WORKER_UNAVAILABLE: unique symbol = Symbol("worker unavailable");

// The worker stops after this long without work, so an idle database holds
// no thread.
const IDLE_MS = 2000;
// How long stop() waits for jobs under way to notice the abort flag.
const STOP_TIMEOUT_MS = 10_000;

interface Pending {
  resolve: (outputs: FileMeta[] | undefined | typeof WORKER_UNAVAILABLE) => void;
  reject: (e: unknown) => void;
  settle: ((outputs: FileMeta[] | undefined) => void) | undefined;
}

/** Which kind of job a worker thread runs. */
export type WorkerKind = "flush" | "compact" | "scrub";

// Receives a job's reply, or undefined when its thread died.
type ReplyHandler = (reply: WorkerReply | undefined) => void;

/**
 * One worker thread, shared by every database of the process that runs
 * jobs of its kind (as LevelDB's and RocksDB's background threads are): a
 * process opening several databases starts one thread per kind, and a
 * database opened after another finds the thread loaded and its code
 * compiled. It stops after a while without work.
 */
class WorkerThread {
  static #threads = new Map<WorkerKind, WorkerThread>();

  /** The running thread for `kind`, started if need be; throws if it cannot start. */
  static for(kind: WorkerKind): WorkerThread {
    let thread = WorkerThread.#threads.get(kind);
    if (thread === undefined) {
      thread = new WorkerThread(kind);
      WorkerThread.#threads.set(kind, thread);
    }
    return thread;
  }

  /** The kinds with a running thread. */
  static running(): WorkerKind[] {
    return [...WorkerThread.#threads.keys()];
  }

  /** Stops every running thread. */
  static endAll(): void {
    for (const thread of [...WorkerThread.#threads.values()]) thread.end();
  }

  #kind: WorkerKind;
  #worker: Worker;
  #port: MessagePort;
  // Replies the worker has posted, and how many of them were taken.
  #posted = new Int32Array(new SharedArrayBuffer(4));
  #taken = 0;
  #jobs = new Map<number, ReplyHandler>();
  #nextId = 1;
  #idle: ReturnType<typeof setTimeout> | undefined;
  #ended = false;

  private constructor(kind: WorkerKind) {
    this.#kind = kind;
    const worker = new Worker(new URL("./compaction_worker.ts", import.meta.url).href, {
      type: "module",
    });
    const channel = new MessageChannel();
    const setup: WorkerSetup = { replyPort: channel.port2, posted: this.#posted };
    worker.postMessage(setup, [channel.port2]);
    channel.port1.onmessage = (event: MessageEvent<WorkerReply>) => this.#reply(event.data);
    // The port must not keep the process alive any more than the worker does.
    (channel.port1 as unknown as { unref?: () => void }).unref?.();
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault?.();
      this.end();
    };
    // Let the process exit while the worker idles (where the runtime allows).
    (worker as unknown as { unref?: () => void }).unref?.();
    this.#worker = worker;
    this.#port = channel.port1;
    this.keep();
  }

  /** Sends a job; `onReply` receives its reply, or undefined if the thread dies first. */
  run(request: Omit<WorkerRequest, "id">, onReply: ReplyHandler): void {
    if (this.#idle !== undefined) clearTimeout(this.#idle);
    const id = this.#nextId++;
    this.#jobs.set(id, onReply);
    this.#worker.postMessage({ ...request, id });
  }

  /** Takes the replies that have arrived. */
  poll(): void {
    if (this.#ended || Atomics.load(this.#posted, 0) === this.#taken) return;
    for (;;) {
      const message = receiveMessageOnPort(this.#port as never);
      if (message === undefined) return;
      this.#reply(message.message as WorkerReply);
    }
  }

  #reply(reply: WorkerReply): void {
    this.#taken++;
    const onReply = this.#jobs.get(reply.id);
    this.#jobs.delete(reply.id);
    this.keep();
    onReply?.(reply);
  }

  /** Keeps the thread, when it has no job, for another idle period. */
  keep(): void {
    if (this.#idle !== undefined) clearTimeout(this.#idle);
    if (this.#jobs.size > 0) return;
    this.#idle = setTimeout(() => {
      this.#idle = undefined;
      if (this.#jobs.size === 0) this.end();
    }, IDLE_MS);
    unrefTimer(this.#idle);
  }

  /** Stops the thread at once; its jobs' owners are told it died. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (WorkerThread.#threads.get(this.#kind) === this) WorkerThread.#threads.delete(this.#kind);
    if (this.#idle !== undefined) clearTimeout(this.#idle);
    this.#worker.terminate();
    this.#port.close();
    const jobs = [...this.#jobs.values()];
    this.#jobs.clear();
    for (const onReply of jobs) onReply(undefined);
  }
}

/**
 * The kinds of job whose worker thread is running now, shared by every
 * database of the process.
 *
 * @example
 * ```ts
 * import { runningWorkerThreads } from "./worker_client.ts";
 * console.log(runningWorkerThreads()); // [] before any database needs one
 * ```
 */
export function runningWorkerThreads(): WorkerKind[] {
  return WorkerThread.running();
}

/**
 * Stops every worker thread now. Jobs under way go back to their databases,
 * which run them on their own threads; later jobs start new threads.
 *
 * @example
 * ```ts
 * import { endWorkerThreads, runningWorkerThreads } from "./worker_client.ts";
 * endWorkerThreads();
 * console.log(runningWorkerThreads()); // []
 * ```
 */
export function endWorkerThreads(): void {
  WorkerThread.endAll();
}

/**
 * A database's access to the worker thread of one kind of job: it matches
 * replies to its own requests and can abandon its own jobs.
 *
 * @example
 * ```ts
 * import { WorkerClient } from "./worker_client.ts";
 * const client = WorkerClient.start("flush");
 * await client?.stop();
 * ```
 */
export class WorkerClient {
  #kind: WorkerKind;
  // The thread this client's jobs were sent to (a new one replaces a dead one).
  #thread: WorkerThread | undefined;
  #pending = new Set<Pending>();
  #replies = 0;
  // Shared with the worker: 1 asks this client's jobs to stop at the next slice.
  #abort = new Int32Array(new SharedArrayBuffer(4));

  private constructor(kind: WorkerKind) {
    this.#kind = kind;
  }

  /** A client, or undefined where workers are not supported. */
  static start(kind: WorkerKind): WorkerClient | undefined {
    if (typeof Worker !== "function" || typeof SharedArrayBuffer !== "function") return undefined;
    return new WorkerClient(kind);
  }

  /**
   * Takes the replies that have arrived without waiting for the event loop,
   * so that a caller running a long synchronous loop (of `getSync`, say)
   * still sees finished jobs installed. Costs one shared-memory read when
   * nothing has arrived; true when it took a reply to this client.
   */
  poll(): boolean {
    const replies = this.#replies;
    this.#thread?.poll();
    return this.#replies !== replies;
  }

  /**
   * Starts the thread if it is not running, so that a job sent soon does not
   * wait for it to load; it stops again if none comes.
   */
  prepare(): void {
    try {
      this.#thread = WorkerThread.for(this.#kind);
    } catch {
      return;
    }
    this.#thread.keep();
  }

  /**
   * Runs a job; resolves with its outputs, or WORKER_UNAVAILABLE. `settle`,
   * when given, receives the outputs of a successful job as soon as its
   * reply is taken (by the event loop or by {@linkcode WorkerClient.poll}),
   * before the promise resolves; if it throws, the promise rejects.
   */
  run(
    request: Omit<WorkerRequest, "id" | "abort">,
    settle?: (outputs: FileMeta[] | undefined) => void,
  ): Promise<FileMeta[] | undefined | typeof WORKER_UNAVAILABLE> {
    let thread: WorkerThread;
    try {
      thread = this.#thread = WorkerThread.for(this.#kind);
    } catch {
      return Promise.resolve(WORKER_UNAVAILABLE);
    }
    return new Promise((resolve, reject) => {
      const pending: Pending = { resolve, reject, settle };
      this.#pending.add(pending);
      thread.run({ ...request, abort: this.#abort }, (reply) => {
        this.#pending.delete(pending);
        this.#replies++;
        this.#reply(pending, reply);
      });
    });
  }

  #reply(pending: Pending, reply: WorkerReply | undefined): void {
    if (reply === undefined) {
      // The thread died: the job goes back to the caller.
      pending.resolve(WORKER_UNAVAILABLE);
      return;
    }
    if (reply.error === undefined) {
      try {
        pending.settle?.(reply.outputs);
      } catch (e) {
        pending.reject(e);
        return;
      }
      pending.resolve(reply.outputs);
      return;
    }
    const { name, message, file, offset } = reply.error;
    pending.reject(
      name === "CorruptionError"
        ? new CorruptionError(message.replace(/ \(file .*\)$/, ""), { file, offset })
        : new StrataError(`compaction failed: ${name}: ${message}`),
    );
  }

  /**
   * Abandons this client's jobs: they are asked to stop and awaited, so that
   * no file is written for them after this resolves. A job that does not
   * answer in time is cut off with its thread.
   */
  async stop(): Promise<void> {
    Atomics.store(this.#abort, 0, 1);
    const pending = [...this.#pending].map((p) =>
      new Promise<void>((done) => {
        const { resolve, reject } = p;
        p.resolve = (v) => {
          resolve(v);
          done();
        };
        p.reject = (e) => {
          reject(e);
          done();
        };
      })
    );
    if (pending.length > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all(pending),
        new Promise((r) => timer = setTimeout(r, STOP_TIMEOUT_MS)),
      ]);
      clearTimeout(timer);
    }
    if (this.#pending.size > 0) {
      // Abandoned here, before the thread's end would hand them back to be
      // run on the caller's thread.
      for (const p of this.#pending) p.resolve(undefined);
      this.#pending.clear();
      this.#thread?.end();
    }
  }
}

/** Lets the process exit while `timer` is pending. */
export function unrefTimer(timer: ReturnType<typeof setTimeout>): void {
  if (typeof timer === "number") {
    (globalThis as { Deno?: { unrefTimer(id: number): void } }).Deno?.unrefTimer(timer);
  } else {
    (timer as { unref?: () => void }).unref?.();
  }
}
