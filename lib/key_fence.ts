/**
 * A dense search structure over a sorted list of keys: a binary search over
 * a `Float64Array` of six-byte key prefixes (taken after the bytes every key
 * shares) instead of over key objects, so a lookup touches one small array
 * rather than a key object and its bytes per step. Keys whose prefixes tie
 * with the target's are compared in full.
 *
 * @module
 */

import { compareBytes } from "./coding.ts";

// Six bytes fit exactly in a double's 53-bit mantissa.
const WORD_BYTES = 6;

/** Options of a {@linkcode KeyFence}. */
export interface KeyFenceOptions {
  /**
   * The lower ends of ranges whose upper ends are the fence's keys (a
   * level's files: each one's smallest and largest key): ascending, each at
   * most its upper end and above the previous upper end. Needed by
   * {@linkcode KeyFence.rangeHolding}.
   */
  lowerKeys?: readonly Uint8Array[];
}

/**
 * Finds, among sorted keys, the first one at or after a target; or, among
 * sorted disjoint key ranges, the one that holds a target.
 *
 * @example
 * ```ts
 * import { KeyFence } from "./key_fence.ts";
 * const enc = new TextEncoder();
 * const fence = new KeyFence(["apple", "kiwi", "pear"].map((k) => enc.encode(k)));
 * console.log(fence.lowerBound(enc.encode("banana"))); // 1
 * ```
 */
export class KeyFence {
  #keys: readonly Uint8Array[];
  #words: Float64Array;
  #prefix: Uint8Array;
  #lowerKeys: readonly Uint8Array[] | undefined;
  #lowerWords: Float64Array | undefined;

  /** Indexes `keys`, which must be in ascending byte order. */
  constructor(keys: readonly Uint8Array[], options: KeyFenceOptions = {}) {
    const lowerKeys = options.lowerKeys;
    if (lowerKeys !== undefined && lowerKeys.length !== keys.length) {
      throw new RangeError(
        `a key fence needs one lower key per key, got ${lowerKeys.length} for ${keys.length}`,
      );
    }
    this.#keys = keys;
    let p = 0;
    if (keys.length > 0) {
      const first = lowerKeys?.[0] ?? keys[0];
      const last = keys[keys.length - 1];
      // Sorted keys share exactly the prefix their first and last share.
      const max = Math.min(first.length, last.length);
      while (p < max && first[p] === last[p]) p++;
      this.#prefix = first.subarray(0, p);
    } else {
      this.#prefix = new Uint8Array(0);
    }
    this.#words = wordsAfter(keys, p);
    this.#lowerKeys = lowerKeys;
    this.#lowerWords = lowerKeys === undefined ? undefined : wordsAfter(lowerKeys, p);
  }

  /** The index of the first key ≥ `key`, or the number of keys when every key is below it. */
  lowerBound(key: Uint8Array): number {
    const n = this.#keys.length;
    const prefix = this.#prefix;
    const p = prefix.length;
    const m = key.length < p ? key.length : p;
    for (let i = 0; i < m; i++) {
      if (key[i] !== prefix[i]) return key[i] < prefix[i] ? 0 : n;
    }
    if (key.length < p) return 0;
    return this.#lowerBoundOfWord(key, wordAfter(key, p));
  }

  /**
   * The index of the range that holds `key`, or -1 when none does (the
   * fence must have been made with {@linkcode KeyFenceOptions.lowerKeys}).
   * The lower end is compared by its word too, so that a key between two
   * ranges costs no look at either range's bytes.
   */
  rangeHolding(key: Uint8Array): number {
    const lowerWords = this.#lowerWords;
    if (lowerWords === undefined) throw new TypeError("this key fence holds no ranges");
    const prefix = this.#prefix;
    const p = prefix.length;
    // Every range lies within the keys that start with the prefix.
    if (key.length < p) return -1;
    for (let i = 0; i < p; i++) if (key[i] !== prefix[i]) return -1;
    const target = wordAfter(key, p);
    const i = this.#lowerBoundOfWord(key, target);
    if (i === this.#keys.length) return -1;
    const lower = lowerWords[i];
    if (target !== lower) return target > lower ? i : -1;
    return compareBytes(key, this.#lowerKeys![i]) < 0 ? -1 : i;
  }

  // lowerBound of a key that starts with the prefix, whose word is `target`.
  #lowerBoundOfWord(key: Uint8Array, target: number): number {
    const words = this.#words;
    let lo = firstAtLeast(words, target);
    if (lo === words.length || words[lo] !== target) return lo;
    // Unequal words order keys where they differ; among equal ones (a run
    // of keys alike in these bytes) the bytes decide.
    let hi = endOfWordRun(words, lo);
    const keys = this.#keys;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytes(keys[mid], key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function wordsAfter(keys: readonly Uint8Array[], p: number): Float64Array {
  const words = new Float64Array(keys.length);
  for (let i = 0; i < keys.length; i++) words[i] = wordAfter(keys[i], p);
  return words;
}

/**
 * The first index of the ascending numbers `values` whose value is ≥
 * `target`, or `values.length`: a key fence's words, a compaction's snapshot sequence numbers.
 *
 * @example
 * ```ts
 * import { firstAtLeast } from "./key_fence.ts";
 * console.log(firstAtLeast(new Float64Array([1, 3, 3, 7]), 3)); // 1
 * ```
 */
export function firstAtLeast(values: ArrayLike<number>, target: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid] < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The index just past the run of ascending `words` equal to `words[at]`,
 * found by bisection (runs of keys alike in their leading bytes can be long).
 *
 * @example
 * ```ts
 * import { endOfWordRun } from "./key_fence.ts";
 * console.log(endOfWordRun(new Float64Array([1, 3, 3, 7]), 1)); // 3
 * ```
 */
export function endOfWordRun(words: ArrayLike<number>, at: number): number {
  const word = words[at];
  let lo = at + 1;
  let hi = words.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (words[mid] === word) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The six bytes of `key` from `p` on as a number (an integer below 2^48),
 * shorter keys padded with zero bytes: words order keys as their bytes do,
 * except that a key and its zero-padded extensions get equal words, so ties
 * must be resolved by comparing bytes.
 *
 * @example
 * ```ts
 * import { wordAfter } from "./key_fence.ts";
 * console.log(wordAfter(new Uint8Array([9, 1, 2]), 1)); // 0x010200000000
 * ```
 */
export function wordAfter(key: Uint8Array, p: number): number {
  return wordOfRange(key, 0, key.length, p);
}

/**
 * {@linkcode wordAfter} of the key `bytes[start, end)`, without a view of it.
 *
 * @example
 * ```ts
 * import { wordOfRange } from "./key_fence.ts";
 * console.log(wordOfRange(new Uint8Array([7, 9, 1, 2]), 1, 4, 1)); // 0x010200000000
 * ```
 */
export function wordOfRange(bytes: Uint8Array, start: number, end: number, p: number): number {
  let w = 0;
  for (let i = start + p; i < start + p + WORD_BYTES; i++) w = w * 256 + (i < end ? bytes[i] : 0);
  return w;
}
