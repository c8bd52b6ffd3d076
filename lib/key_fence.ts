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

/**
 * Finds, among sorted keys, the first one at or after a target.
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

  /** Indexes `keys`, which must be in ascending byte order. */
  constructor(keys: readonly Uint8Array[]) {
    this.#keys = keys;
    let p = 0;
    if (keys.length > 0) {
      const first = keys[0];
      const last = keys[keys.length - 1];
      // Sorted keys share exactly the prefix their first and last share.
      const max = Math.min(first.length, last.length);
      while (p < max && first[p] === last[p]) p++;
      this.#prefix = first.subarray(0, p);
    } else {
      this.#prefix = new Uint8Array(0);
    }
    this.#words = new Float64Array(keys.length);
    for (let i = 0; i < keys.length; i++) this.#words[i] = wordAfter(keys[i], p);
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
    const words = this.#words;
    const target = wordAfter(key, p);
    let lo = firstAtLeast(words, target);
    if (lo === n || words[lo] !== target) return lo;
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
