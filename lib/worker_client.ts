/**
 * The main thread's side of the compaction worker: starts it on demand,
 * matches replies to requests, and reports when no worker can run, so the
 * caller compacts on its own thread instead.
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

/**
 * A compaction worker thread.
 *
 * @example
 * ```ts
 * import { WorkerClient } from "./worker_client.ts";
 * const client = WorkerClient.start();
 * client?.stop();
 * ```
 */
export class WorkerClient {
  #worker: Worker | undefined;
  #port: MessagePort | undefined;
  // Replies the current worker has posted, and how many of them were taken.
  #posted = new Int32Array(new SharedArrayBuffer(4));
  #taken = 0;
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #idle: ReturnType<typeof setTimeout> | undefined;
  // Shared with the worker: 1 asks its jobs to stop at the next slice.
  #abort = new Int32Array(new SharedArrayBuffer(4));

  private constructor() {}

  /** A client, or undefined where workers are not supported. */
  static start(): WorkerClient | undefined {
    if (typeof Worker !== "function" || typeof SharedArrayBuffer !== "function") return undefined;
    return new WorkerClient();
  }

  #spawn(): Worker {
    const worker = new Worker(new URL("./compaction_worker.ts", import.meta.url).href, {
      type: "module",
    });
    const channel = new MessageChannel();
    this.#posted = new Int32Array(new SharedArrayBuffer(4));
    this.#taken = 0;
    const setup: WorkerSetup = { replyPort: channel.port2, posted: this.#posted };
    worker.postMessage(setup, [channel.port2]);
    channel.port1.onmessage = (event: MessageEvent<WorkerReply>) => this.#reply(event.data);
    // The port must not keep the process alive any more than the worker does.
    (channel.port1 as unknown as { unref?: () => void }).unref?.();
    this.#port = channel.port1;
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault?.();
      this.#fail();
    };
    // Let the process exit while the worker idles (where the runtime allows).
    (worker as unknown as { unref?: () => void }).unref?.();
    return worker;
  }

  /**
   * Takes the replies that have arrived without waiting for the event loop,
   * so that a caller running a long synchronous loop (of `getSync`, say)
   * still sees finished jobs installed. Costs one shared-memory read when
   * nothing has arrived; true when it took a reply.
   */
  poll(): boolean {
    const port = this.#port;
    if (port === undefined || Atomics.load(this.#posted, 0) === this.#taken) return false;
    let took = false;
    for (;;) {
      const message = receiveMessageOnPort(port as never);
      if (message === undefined) return took;
      this.#reply(message.message as WorkerReply);
      took = true;
    }
  }

  #reply(reply: WorkerReply): void {
    this.#taken++;
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) return;
    this.#pending.delete(reply.id);
    this.#armIdle();
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

  // The worker died or could not start: its jobs go back to the caller.
  #fail(): void {
    this.#terminate();
    for (const p of this.#pending.values()) p.resolve(WORKER_UNAVAILABLE);
    this.#pending.clear();
  }

  #armIdle(): void {
    if (this.#idle !== undefined) clearTimeout(this.#idle);
    if (this.#pending.size > 0) return;
    this.#idle = setTimeout(() => {
      this.#idle = undefined;
      if (this.#pending.size === 0) this.#terminate();
    }, IDLE_MS);
    unrefTimer(this.#idle);
  }

  #terminate(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
    this.#port?.close();
    this.#port = undefined;
  }

  /**
   * Starts the thread if it is not running, so that a job sent soon does not
   * wait for it to load; it stops again if none comes.
   */
  prepare(): void {
    if (this.#worker === undefined) {
      try {
        this.#worker = this.#spawn();
      } catch {
        return;
      }
    }
    this.#armIdle();
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
    try {
      this.#worker ??= this.#spawn();
    } catch {
      return Promise.resolve(WORKER_UNAVAILABLE);
    }
    if (this.#idle !== undefined) clearTimeout(this.#idle);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, settle });
      this.#worker!.postMessage({ ...request, id, abort: this.#abort });
    });
  }

  /**
   * Stops the worker. Jobs under way are asked to stop and awaited, so that
   * no file is written after this resolves; a job that does not answer in
   * time is cut off.
   */
  async stop(): Promise<void> {
    if (this.#idle !== undefined) clearTimeout(this.#idle);
    Atomics.store(this.#abort, 0, 1);
    const pending = [...this.#pending.values()].map((p) =>
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
    this.#terminate();
    for (const p of this.#pending.values()) p.resolve(undefined);
    this.#pending.clear();
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
