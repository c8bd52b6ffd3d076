/**
 * Error classes raised by Strata.
 *
 * @module
 */

/**
 * The base class of every error Strata raises on purpose.
 *
 * @example
 * ```ts
 * import { StrataError } from "./errors.ts";
 * try {
 *   throw new StrataError("something went wrong");
 * } catch (e) {
 *   console.log(e instanceof StrataError); // true
 * }
 * ```
 */
export class StrataError extends Error {
  /** Creates an error with the given message. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StrataError";
  }
}

/**
 * Bytes read from disk failed a check: a checksum, a magic number, a length or
 * an ordering. The message names the file and the offset.
 *
 * @example
 * ```ts
 * import { CorruptionError } from "./errors.ts";
 * const e = new CorruptionError("bad block checksum", { file: "000007.sst", offset: 4096 });
 * console.log(e.message); // "bad block checksum (file 000007.sst, offset 4096)"
 * ```
 */
export class CorruptionError extends StrataError {
  /** The file holding the damaged bytes, when known. */
  readonly file: string | undefined;
  /** The byte offset of the damage within the file, when known. */
  readonly offset: number | undefined;
  /** Creates a corruption error naming where the damage was found. */
  constructor(message: string, where: { file?: string; offset?: number } = {}) {
    const parts: string[] = [];
    if (where.file !== undefined) parts.push(`file ${where.file}`);
    if (where.offset !== undefined) parts.push(`offset ${where.offset}`);
    super(parts.length > 0 ? `${message} (${parts.join(", ")})` : message);
    this.name = "CorruptionError";
    this.file = where.file;
    this.offset = where.offset;
  }
}

/**
 * The database, snapshot or iterator was used after it was closed or released.
 *
 * @example
 * ```ts
 * import { ClosedError } from "./errors.ts";
 * const e = new ClosedError("database is closed: ./data");
 * console.log(e.name); // "ClosedError"
 * ```
 */
export class ClosedError extends StrataError {
  /** Creates a closed error. */
  constructor(message: string) {
    super(message);
    this.name = "ClosedError";
  }
}

/**
 * The database directory is already open, in this process or another one.
 *
 * @example
 * ```ts
 * import { LockError } from "./errors.ts";
 * const e = new LockError("database ./data is locked by process 1234");
 * console.log(e.name); // "LockError"
 * ```
 */
export class LockError extends StrataError {
  /** Creates a lock error. */
  constructor(message: string) {
    super(message);
    this.name = "LockError";
  }
}
