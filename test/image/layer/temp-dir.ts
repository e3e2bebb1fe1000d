/** Test helpers: a temp dir removed afterwards, and overlayfs mounts unmounted afterwards. */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Runs `fn` with a fresh directory under the system temp dir, then removes it, whatever happens. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "rkt-layer-test-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Mounts a read-only overlayfs of `lowerDirs` (topmost first) on `target`, runs `fn`, then
 * unmounts, whatever happens.
 */
export async function withOverlayMount<T>(lowerDirs: readonly string[], target: string, fn: () => Promise<T>): Promise<T> {
  await run("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${lowerDirs.join(":")}`, target]);
  try {
    return await fn();
  } finally {
    await run("umount", [target]);
  }
}
