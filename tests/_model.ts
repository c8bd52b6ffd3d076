// A plain in-memory model of the store, and a seeded random source, for
// differential tests.

/** A deterministic PRNG (mulberry32), the one the CLI benchmark uses. */
export { rng } from "../_cli_bench.ts";

/** Byte strings as lowercase hex: sortable with < in byte order and usable as Map keys. */
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
