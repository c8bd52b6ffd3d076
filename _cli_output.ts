/**
 * Private helpers of `cli.ts`: buffered output, the rendering of bytes as
 * text, hex or JSON, and the progress bar. Not part of the public API.
 *
 * @module
 */

import * as nodeFs from "node:fs";
import process from "node:process";
import { isDeno } from "./lib/fs.ts";

/** Where output bytes go; a returned promise makes the writer wait (backpressure). */
export type Sink = (chunk: Uint8Array) => void | Promise<void>;

/** The reader of stdout went away (`strata export db | head`): stop quietly. */
export class BrokenPipe extends Error {
  /** Creates the error. */
  constructor() {
    super("broken pipe");
    this.name = "BrokenPipe";
  }
}

const encoder = new TextEncoder();
const FLUSH_AT = 1 << 16;

/**
 * Collects text and hands it to a sink in chunks of about 64 KiB, so that a
 * streaming command makes few system calls and, with an asynchronous sink,
 * holds at most one chunk in memory.
 */
export class Output {
  #sink: Sink;
  #pending: string[] = [];
  #chars = 0;

  /** Writes through `sink`. */
  constructor(sink: Sink) {
    this.#sink = sink;
  }

  /** Queues text; returns the sink's promise when a chunk went out. */
  write(text: string): void | Promise<void> {
    this.#pending.push(text);
    this.#chars += text.length;
    if (this.#chars >= FLUSH_AT) return this.flush();
  }

  /** Writes bytes as they are, after any queued text. */
  async writeBytes(bytes: Uint8Array): Promise<void> {
    await this.flush();
    await this.#sink(bytes);
  }

  /** Hands everything queued to the sink. */
  flush(): void | Promise<void> {
    if (this.#pending.length === 0) return;
    const bytes = encoder.encode(this.#pending.join(""));
    this.#pending = [];
    this.#chars = 0;
    return this.#sink(bytes);
  }

  /** Drops queued text (after the sink failed). */
  discard(): void {
    this.#pending = [];
    this.#chars = 0;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * A synchronous sink on file descriptor 1 or 2. Synchronous writes keep a
 * streaming export's memory flat: nothing piles up in a runtime buffer.
 */
export function fdSink(fd: 1 | 2): Sink {
  if (isDeno) {
    const file = fd === 1 ? Deno.stdout : Deno.stderr;
    return (chunk) => {
      try {
        for (let done = 0; done < chunk.length;) done += file.writeSync(chunk.subarray(done));
      } catch (e) {
        if (e instanceof Deno.errors.BrokenPipe) throw new BrokenPipe();
        throw e;
      }
    };
  }
  return (chunk) => {
    for (let done = 0; done < chunk.length;) {
      try {
        done += nodeFs.writeSync(fd, chunk, done, chunk.length - done);
      } catch (e) {
        const code = (e as { code?: string }).code;
        // A non-blocking pipe that is full: wait for the reader.
        if (code === "EAGAIN") {
          sleepSync(1);
          continue;
        }
        if (code === "EPIPE") throw new BrokenPipe();
        throw e;
      }
    }
  };
}

/** True when stderr is a terminal. Bun leaves `isTTY` undefined, not false, for a pipe. */
export function stderrIsTerminal(): boolean {
  try {
    return isDeno ? Deno.stderr.isTerminal() : process.stderr.isTTY === true;
  } catch {
    return false;
  }
}

// ------------------------------------------------------------------ bytes

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The bytes as a string when they are valid UTF-8, else undefined (never U+FFFD mojibake). */
export function tryUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Lower-case hex of the bytes. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]];
  return s;
}

/** The bytes a hex string spells, or undefined when it is not hex. */
export function fromHex(text: string): Uint8Array | undefined {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return undefined;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

// Length of the valid UTF-8 sequence at b[i] (first byte ≥ 0x80), or 0.
function utf8SequenceLength(b: Uint8Array, i: number): number {
  const c = b[i];
  const cont = (j: number, lo = 0x80, hi = 0xbf) => j < b.length && b[j] >= lo && b[j] <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(i + 1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    // Exclude overlong forms (E0) and UTF-16 surrogates (ED).
    const lo = c === 0xe0 ? 0xa0 : 0x80;
    const hi = c === 0xed ? 0x9f : 0xbf;
    return cont(i + 1, lo, hi) && cont(i + 2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const lo = c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xf4 ? 0x8f : 0xbf;
    return cont(i + 1, lo, hi) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}

// Matching control characters is the point: they are what gets escaped.
// deno-lint-ignore no-control-regex
const NEEDS_ESCAPE = /[\x00-\x1f\x7f-\x9f\\]/;

function escapeCodePoint(cp: number): string {
  switch (cp) {
    case 0x09:
      return "\\t";
    case 0x0a:
      return "\\n";
    case 0x0d:
      return "\\r";
    case 0x5c:
      return "\\\\";
  }
  if (cp < 0x20 || cp === 0x7f) return `\\x${HEX[cp]}`;
  if (cp >= 0x80 && cp <= 0x9f) return `\\u00${HEX[cp]}`;
  return String.fromCodePoint(cp);
}

/**
 * Bytes as one line of readable text: valid UTF-8 is shown as text, with
 * backslash, tab, newline, carriage return and other control characters
 * escaped; every byte that is not part of valid UTF-8 is shown as `\xNN`.
 * The result never holds a tab or a newline, so it is safe in TSV output.
 */
export function escapeBytes(bytes: Uint8Array): string {
  const text = tryUtf8(bytes);
  if (text !== undefined && !NEEDS_ESCAPE.test(text)) return text;
  let s = "";
  for (let i = 0; i < bytes.length;) {
    const c = bytes[i];
    if (c < 0x80) {
      s += escapeCodePoint(c);
      i++;
      continue;
    }
    const n = utf8SequenceLength(bytes, i);
    if (n === 0) {
      s += `\\x${HEX[c]}`;
      i++;
      continue;
    }
    s += escapeCodePoint(strictUtf8.decode(bytes.subarray(i, i + n)).codePointAt(0)!);
    i += n;
  }
  return s;
}

/** Bytes in double quotes, escaped as by {@linkcode escapeBytes}, or as hex. */
export function quoteBytes(bytes: Uint8Array, hex: boolean): string {
  if (hex) return toHex(bytes);
  return `"${escapeBytes(bytes).replaceAll('"', '\\"')}"`;
}

/**
 * Sets `obj[name]` to the bytes for JSON output: a string when they are
 * valid UTF-8 (JSON escapes control characters itself), otherwise
 * `obj[name + "Hex"]` to their hex, so nothing is lost; with `hex`, always
 * `obj[name]` as hex.
 */
export function setBytes(
  obj: Record<string, unknown>,
  name: string,
  bytes: Uint8Array,
  hex: boolean,
): void {
  if (hex) {
    obj[name] = toHex(bytes);
    return;
  }
  const text = tryUtf8(bytes);
  if (text !== undefined) obj[name] = text;
  else obj[`${name}Hex`] = toHex(bytes);
}

/** `1 file`, `2 files`. */
export function plural(n: number, word: string, words = `${word}s`): string {
  return `${n} ${n === 1 ? word : words}`;
}

/** A byte count for people: `512 B`, `1.5 KiB`, `3.0 MiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

// --------------------------------------------------------------- progress

const BAR_WIDTH = 30;

/**
 * A one-line progress bar redrawn in place on stderr, at most ten times a
 * second. Without a sink (stderr is not a terminal) it does nothing, so
 * piped output and logs stay clean.
 */
export class Progress {
  #sink: Sink | undefined;
  #label: string;
  #total: number;
  #bytes: boolean;
  #started = performance.now();
  #drawn = 0;
  #visible = false;

  /**
   * `total` 0 means unknown: a counter is shown instead of a bar. With
   * `bytes`, amounts are shown as byte sizes.
   */
  constructor(sink: Sink | undefined, label: string, total: number, bytes = false) {
    this.#sink = sink;
    this.#label = label;
    this.#total = total;
    this.#bytes = bytes;
  }

  /** Reports `done` units of work; redraws when the last draw is old enough. */
  update(done: number): void {
    if (this.#sink === undefined) return;
    const now = performance.now();
    if (now - this.#drawn < 100) return;
    this.#drawn = now;
    const amount = (n: number) => this.#bytes ? formatBytes(n) : String(n);
    const elapsed = `${((now - this.#started) / 1000).toFixed(1)}s`;
    let line: string;
    if (this.#total > 0) {
      const f = Math.min(1, done / this.#total);
      const filled = Math.round(f * BAR_WIDTH);
      line = `${this.#label} [${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}] ${
        Math.floor(f * 100).toString().padStart(3)
      }% ${amount(done)}/${amount(this.#total)} ${elapsed}`;
    } else {
      line = `${this.#label} ${amount(done)} ${elapsed}`;
    }
    this.#visible = true;
    void this.#sink(encoder.encode(`\r${line}\x1b[K`));
  }

  /** Erases the bar. */
  finish(): void {
    if (this.#sink === undefined || !this.#visible) return;
    this.#visible = false;
    void this.#sink(encoder.encode("\r\x1b[K"));
  }
}
