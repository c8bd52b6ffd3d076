/**
 * Running test helper scripts in child processes, under this runtime or the
 * other one.
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import process from "node:process";

/** The runtime running the tests. */
export const runtime: "deno" | "bun" = "Deno" in globalThis ? "deno" : "bun";
/** The other runtime. */
export const otherRuntime: "deno" | "bun" = runtime === "deno" ? "bun" : "deno";

/** The path of an executable found on PATH, or undefined. */
export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  return undefined;
}

/** The binary of `name`: this process's own when it is the running runtime. */
export function runtimeBinary(name: "deno" | "bun"): string | undefined {
  return name === runtime ? process.execPath : which(name);
}

/** The command line that runs `script` under runtime `name`. */
export function scriptArgs(name: "deno" | "bun", script: string, args: string[]): string[] {
  return name === "deno" ? ["run", "-A", "--quiet", script, ...args] : [script, ...args];
}

/** A running child whose stdout is collected line by line. */
export interface Child {
  proc: ChildProcess;
  /** Complete stdout lines so far. */
  lines: string[];
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves with the first line matching `re` (rejects if the child exits first). */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code (or signal name) once the child has exited. */
  exited: Promise<number | string>;
}

/** Starts `script` with `args` under runtime `name` (default: this one). */
export function startScript(
  script: string,
  args: string[],
  name: "deno" | "bun" = runtime,
): Child {
  const bin = runtimeBinary(name);
  if (bin === undefined) throw new Error(`${name} is not on PATH`);
  const proc = spawn(bin, scriptArgs(name, script, args), {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  const lines: string[] = [];
  let partial = "";
  let err = "";
  const listeners = new Set<() => void>();
  proc.stdout!.setEncoding("utf8");
  proc.stdout!.on("data", (chunk: string) => {
    partial += chunk;
    const parts = partial.split("\n");
    // A line counts only once its newline arrived: a child killed mid-write
    // must not be believed about a half-printed number.
    partial = parts.pop()!;
    lines.push(...parts);
    for (const l of listeners) l();
  });
  proc.stderr!.setEncoding("utf8");
  proc.stderr!.on("data", (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<number | string>((resolve) => {
    proc.on("close", (code, signal) => {
      for (const l of listeners) l();
      resolve(code ?? signal ?? -1);
    });
  });
  let done = false;
  exited.then(() => {
    done = true;
    for (const l of listeners) l();
  });
  const waitForLine = (re: RegExp, timeoutMs = 30_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const hit = lines.find((l) => re.test(l));
        if (hit !== undefined) {
          finish();
          resolve(hit);
        } else if (done) {
          finish();
          reject(new Error(`child exited before printing ${re}; stderr:\n${err}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`no line matching ${re} within ${timeoutMs} ms; stderr:\n${err}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });
  return { proc, lines, stderr: () => err, waitForLine, exited };
}

/** Runs `script` to completion; returns its stdout, or throws with its stderr. */
export async function runScript(
  script: string,
  args: string[],
  name: "deno" | "bun" = runtime,
): Promise<string> {
  const child = startScript(script, args, name);
  const code = await child.exited;
  if (code !== 0) {
    throw new Error(`${name} ${script} ${args.join(" ")} exited with ${code}:\n${child.stderr()}`);
  }
  return child.lines.join("\n");
}
