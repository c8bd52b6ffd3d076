/**
 * The main thread's side of the compaction worker: starts it on demand,
 * matches replies to requests, and reports when no worker can run, so the
 * caller compacts on its own thread instead.
 *
 * @module
 */

import type { WorkerReply, WorkerRequest } from "./compaction_worker.ts";
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
    worker.onmessage = (event: MessageEvent<WorkerReply>) => this.#reply(event.data);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault?.();
      this.#fail();
    };
    // Let the process exit while the worker idles (where the runtime allows).
    (worker as unknown as { unref?: () => void }).unref?.();
    return worker;
  }

  #reply(reply: WorkerReply): void {
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) return;
    this.#pending.delete(reply.id);
    this.#armIdle();
    if (reply.error === undefined) {
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
    this.#worker?.terminate();
    this.#worker = undefined;
    for (const p of this.#pending.values()) p.resolve(WORKER_UNAVAILABLE);
    this.#pending.clear();
  }

  #armIdle(): void {
    if (this.#idle !== undefined) clearTimeout(this.#idle);
    if (this.#pending.size > 0) return;
    this.#idle = setTimeout(() => {
      this.#idle = undefined;
      if (this.#pending.size === 0) {
        this.#worker?.terminate();
        this.#worker = undefined;
      }
    }, IDLE_MS);
    unrefTimer(this.#idle);
  }

  /** Runs a job; resolves with its outputs, or WORKER_UNAVAILABLE. */
  run(
    request: Omit<WorkerRequest, "id" | "abort">,
  ): Promise<FileMeta[] | undefined | typeof WORKER_UNAVAILABLE> {
    try {
      this.#worker ??= this.#spawn();
    } catch {
      return Promise.resolve(WORKER_UNAVAILABLE);
    }
    if (this.#idle !== undefined) clearTimeout(this.#idle);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
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
    this.#worker?.terminate();
    this.#worker = undefined;
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
