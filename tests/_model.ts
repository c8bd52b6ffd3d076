// A plain in-memory model of the store, and a seeded random source, for
// differential tests.

/** A deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Byte strings as one-char-per-byte strings: sortable with < and usable as Map keys. */
export function hexOf(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export function compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

export interface ModelScan {
  start?: Uint8Array;
  end?: Uint8Array;
  prefix?: Uint8Array;
  reverse?: boolean;
  limit?: number;
}

/** The expected contents: key (hex) → [key, value]. */
export class Model {
  readonly map: Map<string, [Uint8Array, Uint8Array]>;
  constructor(map = new Map<string, [Uint8Array, Uint8Array]>()) {
    this.map = map;
  }
  put(k: Uint8Array, v: Uint8Array): void {
    this.map.set(hexOf(k), [k, v]);
  }
  delete(k: Uint8Array): void {
    this.map.delete(hexOf(k));
  }
  get(k: Uint8Array): Uint8Array | undefined {
    return this.map.get(hexOf(k))?.[1];
  }
  clone(): Model {
    return new Model(new Map(this.map));
  }
  scan(o: ModelScan): [Uint8Array, Uint8Array][] {
    let rows = [...this.map.values()].filter(([k]) =>
      (o.start === undefined || compare(k, o.start) >= 0) &&
      (o.end === undefined || compare(k, o.end) < 0) &&
      (o.prefix === undefined ||
        (k.length >= o.prefix.length && o.prefix.every((b, i) => k[i] === b)))
    );
    rows.sort((a, b) => compare(a[0], b[0]));
    if (o.reverse) rows.reverse();
    if (o.limit !== undefined) rows = rows.slice(0, o.limit);
    return rows;
  }
}
