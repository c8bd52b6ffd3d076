// Temporary directories for tests, removed when the test is done with them.

import * as nodeFs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** A new empty directory under the system's temporary directory. */
export function tempDir(prefix: string): string {
  return nodeFs.mkdtempSync(path.join(os.tmpdir(), `strata-${prefix}-`));
}

/** Runs `fn` with a new temporary directory, then removes it (even when `fn` throws). */
export async function withTempDir(
  prefix: string,
  fn: (dir: string) => void | Promise<void>,
): Promise<void> {
  const dir = tempDir(prefix);
  try {
    await fn(dir);
  } finally {
    nodeFs.rmSync(dir, { recursive: true, force: true });
  }
}
