/**
 * Memory maps of whole files, made with the C library's `mmap` through the
 * runtime's foreign-function interface: Bun's `bun:ffi`, or Deno's
 * `Deno.dlopen` when the process holds the `ffi` permission. A read from a
 * map is a copy out of the page cache without a system call, about a third
 * of the cost of a positional read of a 4 KiB block. A write into a shared
 * writable map lands in the page cache as a `write` would, so it outlives
 * the process just the same, at about a tenth of the cost of the system
 * call for a 140-byte record.
 *
 * Where no map can be made (another operating system, a Deno process
 * without `--allow-ffi`, a failed `mmap`), {@linkcode mapFile} returns
 * undefined and callers read with positional reads instead. The bytes of a
 * map must not be reached after {@linkcode FileMap.unmap}: whoever hands out
 * views of them must outlive the views (a table keeps its file mapped while
 * any read of it is under way).
 *
 * @module
 */

import process from "node:process";

/** A map of a file's bytes. */
export interface FileMap {
  /**
   * The file's bytes, `[0, size)`; writable only for a map made by
   * {@linkcode mapFileForWriting}.
   */
  readonly bytes: Uint8Array;
  /**
   * Which of the map's pages are in memory now, found without bringing any
   * in; undefined when the system cannot tell.
   */
  residentPages(): ResidentPages | undefined;
  /** Releases the map; `bytes` must not be touched afterwards. */
  unmap(): void;
}

/** The pages of a mapped file held in memory, as {@linkcode FileMap.residentPages} finds them. */
export interface ResidentPages {
  /** Bytes per page. */
  pageSize: number;
  /** One byte per page of the file, in order; bit 0 is set for a page in memory. */
  pages: Uint8Array;
}

interface Mapper {
  // `prot`: PROT_READ, or with PROT_WRITE too.
  map(fd: number, size: number, prot: number): FileMap | undefined;
  // posix_fallocate: 0, or the error number.
  reserve(fd: number, size: number): number;
}

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
// mmap's error result, (void *) -1.
const MAP_FAILED = 0xffffffffffffffffn;

function libcPath(os: string): string | undefined {
  if (os === "linux") return "libc.so.6";
  if (os === "darwin") return "/usr/lib/libSystem.B.dylib";
  return undefined;
}

// The C functions called, in Deno's type names (Bun's differ only in
// spelling "pointer" as "ptr" and "usize" as "u64").
const LIBC_SYMBOLS = {
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  posix_fallocate: { parameters: ["i32", "i64", "i64"], result: "i32" },
  mincore: { parameters: ["pointer", "usize", "buffer"], result: "i32" },
  getpagesize: { parameters: [], result: "i32" },
} as const;

// mincore's answer for a map of `size` bytes, or undefined when it fails.
function residency(size: number, pageSize: number, mincore: (pages: Uint8Array) => number) {
  const pages = new Uint8Array(Math.ceil(size / pageSize));
  return mincore(pages) === 0 ? { pageSize, pages } : undefined;
}

function denoMapper(): Mapper | undefined {
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return undefined;
  const path = libcPath(Deno.build.os);
  if (path === undefined) return undefined;
  const libc = Deno.dlopen(path, LIBC_SYMBOLS);
  const pageSize = libc.symbols.getpagesize();
  return {
    map(fd: number, size: number, prot: number): FileMap | undefined {
      const length = BigInt(size);
      const at = libc.symbols.mmap(null, length, prot, MAP_SHARED, fd, 0n);
      if (at === null || Deno.UnsafePointer.value(at) === MAP_FAILED) return undefined;
      return {
        bytes: new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(at, size)),
        residentPages: () =>
          residency(size, pageSize, (pages) => libc.symbols.mincore(at, length, pages)),
        unmap: () => void libc.symbols.munmap(at, length),
      };
    },
    reserve: (fd: number, size: number) => libc.symbols.posix_fallocate(fd, 0n, BigInt(size)),
  };
}

// The slice of `bun:ffi` used here.
interface BunFfi {
  dlopen(path: string, symbols: Record<string, { args: string[]; returns: string }>): {
    symbols: {
      mmap(at: null, length: number, prot: number, flags: number, fd: number, offset: number):
        | number
        | bigint
        | null;
      munmap(at: number, length: number): number;
      posix_fallocate(fd: number, offset: number, length: number): number;
      mincore(at: number, length: number, pages: Uint8Array): number;
      getpagesize(): number;
    };
  };
  toArrayBuffer(at: number, offset: number, length: number): ArrayBuffer;
}

function bunMapper(): Mapper | undefined {
  const path = libcPath(process.platform);
  if (path === undefined) return undefined;
  const meta = import.meta as unknown as { require(id: string): unknown };
  const ffi = meta.require("bun:ffi") as BunFfi;
  const bunType = (type: string) =>
    type === "pointer" || type === "buffer" ? "ptr" : type === "usize" ? "u64" : type;
  const symbols = Object.fromEntries(
    Object.entries(LIBC_SYMBOLS).map(([name, { parameters, result }]) => [
      name,
      { args: parameters.map(bunType), returns: bunType(result) },
    ]),
  );
  const libc = ffi.dlopen(path, symbols);
  const pageSize = libc.symbols.getpagesize();
  return {
    map(fd: number, size: number, prot: number): FileMap | undefined {
      const at = libc.symbols.mmap(null, size, prot, MAP_SHARED, fd, 0);
      // A pointer past 2^53 (the error result among them) comes back as a bigint.
      if (typeof at !== "number" || at <= 0) return undefined;
      return {
        bytes: new Uint8Array(ffi.toArrayBuffer(at, 0, size)),
        residentPages: () =>
          residency(size, pageSize, (pages) => libc.symbols.mincore(at, size, pages)),
        unmap: () => void libc.symbols.munmap(at, size),
      };
    },
    reserve: (fd: number, size: number) => libc.symbols.posix_fallocate(fd, 0, size),
  };
}

let mapper: Mapper | null | undefined;

function loadMapper(): Mapper | null {
  try {
    if ("Deno" in globalThis) return denoMapper() ?? null;
    if ("Bun" in globalThis) return bunMapper() ?? null;
  } catch {
    // No C library to call into: reads fall back to positional reads.
  }
  return null;
}

/**
 * True when this process can map files (see the module notes).
 *
 * @example
 * ```ts
 * import { canMapFiles } from "./file_map.ts";
 * console.log(canMapFiles()); // true with `deno run -A` on Linux
 * ```
 */
export function canMapFiles(): boolean {
  mapper ??= loadMapper();
  return mapper !== null;
}

/**
 * Maps the first `size` bytes of the open file `fd` (a `node:fs` file
 * descriptor) read-only, or returns undefined when it cannot be mapped.
 * The file must not shrink while mapped: reading a page past its new end
 * would kill the process (SIGBUS), so only files that never change are
 * worth mapping.
 *
 * @example
 * ```ts
 * import * as fs from "node:fs";
 * import { mapFile } from "./file_map.ts";
 * const path = await Deno.makeTempFile();
 * fs.writeFileSync(path, "hello");
 * const fd = fs.openSync(path, "r");
 * const map = mapFile(fd, 5);
 * console.log(map ? new TextDecoder().decode(map.bytes) : "not mapped"); // "hello"
 * map?.unmap();
 * fs.closeSync(fd);
 * ```
 */
export function mapFile(fd: number, size: number): FileMap | undefined {
  if (!(size > 0) || !canMapFiles()) return undefined;
  try {
    return mapper!.map(fd, size, PROT_READ);
  } catch {
    return undefined;
  }
}

/**
 * Reserves the first `size` bytes of the open, empty file `fd` (a
 * `node:fs` descriptor opened for reading and writing) on disk and maps
 * them for writing, or returns undefined (leaving the file as it was, or
 * zero-filled to `size`) when that cannot be done. The reservation comes
 * first because a write into a map has no way to report a full disk: the
 * process would be killed instead. Writes through the map reach the page
 * cache at once, and `fdatasync` on the descriptor makes them durable; that
 * holds on Linux, so other systems get no writable map.
 *
 * @example
 * ```ts
 * import * as fs from "node:fs";
 * import { mapFileForWriting } from "./file_map.ts";
 * const path = await Deno.makeTempFile();
 * const fd = fs.openSync(path, "w+");
 * const map = mapFileForWriting(fd, 4096);
 * map?.bytes.set(new TextEncoder().encode("hello"));
 * map?.unmap();
 * fs.closeSync(fd);
 * ```
 */
export function mapFileForWriting(fd: number, size: number): FileMap | undefined {
  if (!(size > 0) || process.platform !== "linux" || !canMapFiles()) return undefined;
  try {
    if (mapper!.reserve(fd, size) !== 0) return undefined;
    return mapper!.map(fd, size, PROT_READ | PROT_WRITE);
  } catch {
    return undefined;
  }
}
