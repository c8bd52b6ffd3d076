/**
 * Sorting many keys at once. A comparison sort of key strings costs a call
 * and a string comparison per step; here each key's leading bytes (after
 * the prefix every key shares) and its index are packed into one unsigned
 * 64-bit integer, those are sorted by the engine's native numeric sort, and
 * only keys whose packed bytes tie are compared in full.
 *
 * @module
 */

import { wordAfter } from "./key_fence.ts";

// Key bits in a word from wordAfter: six bytes.
const WORD_BITS = 48;
// Bits of a packed key and index.
const PACKED_BITS = 64;
// Below this many keys a comparison sort is as quick.
const MIN_PACKED = 64;
// Which 32-bit half of a 64-bit element holds its low bits.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const LOW = LITTLE_ENDIAN ? 0 : 1;
const HIGH = 1 - LOW;

/**
 * The indexes of `keys` in ascending byte order of the keys; equal keys are
 * ordered by `tie` (negative: `a` first), else by index.
 *
 * @example
 * ```ts
 * import { sortedOrder } from "./key_sort.ts";
 * const enc = new TextEncoder();
 * console.log(sortedOrder(["pear", "apple", "kiwi"].map((k) => enc.encode(k)))); // Int32Array [1, 2, 0]
 * ```
 */
export function sortedOrder(
  keys: readonly Uint8Array[],
  tie?: (a: number, b: number) => number,
): Int32Array {
  const n = keys.length;
  const order = new Int32Array(n);
  const indexBits = Math.max(1, Math.ceil(Math.log2(n)));
  if (n < MIN_PACKED || indexBits > 31) {
    for (let i = 0; i < n; i++) order[i] = i;
    return order.sort(fullComparison(keys, 0, tie));
  }
  // Each element is (key bits << indexBits) | index, written as two 32-bit
  // halves: the low one holds the index and the key's last bits.
  const keyBits = Math.min(WORD_BITS, PACKED_BITS - indexBits);
  const p = sharedPrefix(keys);
  const keyScale = 2 ** (WORD_BITS - keyBits);
  const indexScale = 2 ** indexBits;
  const lowScale = 2 ** (32 - indexBits);
  const packed = new BigUint64Array(n);
  const halves = new Uint32Array(packed.buffer);
  for (let i = 0; i < n; i++) {
    const word = Math.floor(wordAfter(keys[i], p) / keyScale);
    const high = Math.floor(word / lowScale);
    halves[2 * i + LOW] = (word - high * lowScale) * indexScale + i;
    halves[2 * i + HIGH] = high;
  }
  packed.sort();
  const compare = fullComparison(keys, p, tie);
  let runStart = 0;
  let runWord = -1;
  for (let i = 0; i < n; i++) {
    const low = halves[2 * i + LOW];
    const lowWord = Math.floor(low / indexScale);
    order[i] = low - lowWord * indexScale;
    const word = halves[2 * i + HIGH] * lowScale + lowWord;
    if (word !== runWord) {
      if (i - runStart > 1) order.subarray(runStart, i).sort(compare);
      runStart = i;
      runWord = word;
    }
  }
  if (n - runStart > 1) order.subarray(runStart, n).sort(compare);
  return order;
}

// The number of leading bytes every key shares.
function sharedPrefix(keys: readonly Uint8Array[]): number {
  const first = keys[0];
  let p = first.length;
  for (let i = 1; i < keys.length && p > 0; i++) {
    const key = keys[i];
    const m = key.length < p ? key.length : p;
    let j = 0;
    while (j < m && key[j] === first[j]) j++;
    p = j;
  }
  return p;
}

// Orders indexes by their keys' bytes from `from` on (the bytes before are
// equal), then by `tie`, then by index.
function fullComparison(
  keys: readonly Uint8Array[],
  from: number,
  tie: ((a: number, b: number) => number) | undefined,
): (a: number, b: number) => number {
  return (a, b) => {
    const ka = keys[a];
    const kb = keys[b];
    const m = ka.length < kb.length ? ka.length : kb.length;
    for (let i = from; i < m; i++) {
      if (ka[i] !== kb[i]) return ka[i] - kb[i];
    }
    if (ka.length !== kb.length) return ka.length - kb.length;
    return (tie === undefined ? 0 : tie(a, b)) || a - b;
  };
}
