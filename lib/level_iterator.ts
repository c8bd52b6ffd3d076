/**
 * A cursor over one sorted level (1 and up): its files do not overlap, so
 * they are walked one after another, each opened only when reached and let
 * go once the cursor has moved on to another.
 *
 * @module
 */

import { compareBytes } from "./coding.ts";
import type { InternalIterator, Kind } from "./internal_key.ts";
import type { FileMeta } from "./manifest.ts";

/** Options for a {@linkcode LevelIterator}. */
export interface LevelIteratorOptions {
  /**
   * Called for a file once the cursor has opened another one, so a long walk
   * holds one file at a time. The file the cursor ends on is not released:
   * its entries may still be referenced, and the owner lets it go.
   */
  release?: (file: FileMeta) => void;
}

/**
 * Concatenates the iterators of a level's files.
 *
 * @example
 * ```ts
 * import { LevelIterator } from "./level_iterator.ts";
 * const it = new LevelIterator([], () => { throw new Error("no files"); });
 * it.seekToFirst();
 * console.log(it.valid()); // false
 * ```
 */
export class LevelIterator implements InternalIterator {
  #files: readonly FileMeta[];
  #open: (file: FileMeta) => InternalIterator;
  #release: ((file: FileMeta) => void) | undefined;
  #index = -1;
  #current: InternalIterator | undefined;
  // The file opened last, held until another one is opened.
  #held: FileMeta | undefined;

  /** Walks `files` (sorted, disjoint), opening each with `open`. */
  constructor(
    files: readonly FileMeta[],
    open: (file: FileMeta) => InternalIterator,
    options: LevelIteratorOptions = {},
  ) {
    this.#files = files;
    this.#open = open;
    this.#release = options.release;
  }

  #at(index: number): InternalIterator | undefined {
    if (index !== this.#index) {
      this.#index = index;
      if (index >= 0 && index < this.#files.length) {
        const file = this.#files[index];
        this.#current = this.#open(file);
        const held = this.#held;
        this.#held = file;
        if (held !== undefined) this.#release?.(held);
      } else {
        this.#current = undefined;
      }
    }
    return this.#current;
  }

  #forwardFrom(index: number): void {
    while (this.#current !== undefined && !this.#current.valid()) {
      const it = this.#at(++index);
      it?.seekToFirst();
    }
  }

  #backwardFrom(index: number): void {
    while (this.#current !== undefined && !this.#current.valid()) {
      const it = this.#at(--index);
      it?.seekToLast();
    }
  }

  valid(): boolean {
    return this.#current !== undefined && this.#current.valid();
  }
  seekToFirst(): void {
    this.#at(0)?.seekToFirst();
    this.#forwardFrom(0);
  }
  seekToLast(): void {
    const last = this.#files.length - 1;
    this.#at(last)?.seekToLast();
    this.#backwardFrom(last);
  }
  seek(key: Uint8Array): void {
    // The first file whose largest key is ≥ key.
    let lo = 0;
    let hi = this.#files.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytes(this.#files[mid].largest, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    this.#at(lo)?.seek(key);
    this.#forwardFrom(lo);
  }
  seekBefore(key: Uint8Array): void {
    // The last file whose smallest key is < key.
    let lo = 0;
    let hi = this.#files.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytes(this.#files[mid].smallest, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    this.#at(lo - 1)?.seekBefore(key);
    this.#backwardFrom(lo - 1);
  }
  next(): void {
    this.#current!.next();
    this.#forwardFrom(this.#index);
  }
  prev(): void {
    this.#current!.prev();
    this.#backwardFrom(this.#index);
  }
  key(): Uint8Array {
    return this.#current!.key();
  }
  seq(): number {
    return this.#current!.seq();
  }
  kind(): Kind {
    return this.#current!.kind();
  }
  value(): Uint8Array {
    return this.#current!.value();
  }
}
