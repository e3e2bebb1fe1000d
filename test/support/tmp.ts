/**
 * Temporary directories for tests, removed when the test ends. Removal refuses to recurse into a
 * directory that still has something mounted under it: a leaked bind mount of `/` inside a pod
 * directory would otherwise turn cleanup into `rm -rf /`.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { TestContext } from "node:test";

/**
 * Creates a fresh directory under the system temp dir and removes it (recursively) after the
 * test `t`, whether it passed or not.
 *
 * @example
 * test("fetch writes blobs", async (t) => {
 *   const dir = await tempDir(t);
 *   // ... use dir; it is gone after the test
 * });
 */
export async function tempDir(t: TestContext, prefix = "rkt-test-"): Promise<string> {
  const dir = await makeTempDir(prefix);
  t.after(() => removeTempDir(dir));
  return dir;
}

/**
 * Runs `fn` with a fresh temp directory and removes the directory afterwards, also when `fn`
 * throws. For code outside a test context (hooks, fixtures built once per file).
 *
 * @example
 * const digest = await withTempDir(async (dir) => (await busyboxImage({ dir })).descriptor.digest);
 */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>, prefix = "rkt-test-"): Promise<T> {
  const dir = await makeTempDir(prefix);
  try {
    return await fn(dir);
  } finally {
    await removeTempDir(dir);
  }
}

/** Creates a temp directory that the caller removes with {@link removeTempDir}. */
export async function makeTempDir(prefix = "rkt-test-"): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/**
 * Removes a temp directory recursively; throws instead if a mount point lies inside it (the
 * test leaked a mount, and recursing would delete through it into whatever it shows).
 */
export async function removeTempDir(dir: string): Promise<void> {
  const root = resolve(dir);
  const inside = (await mountPoints()).filter((m) => m === root || m.startsWith(`${root}/`));
  if (inside.length > 0) {
    throw new Error(`not removing ${root}: still mounted under it: ${inside.join(", ")}`);
  }
  await rm(root, { recursive: true, force: true });
}

/** Mount points of this process's mount namespace, from /proc/self/mountinfo (field 5). */
async function mountPoints(): Promise<string[]> {
  let text: string;
  try {
    text = await readFile("/proc/self/mountinfo", "utf8");
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const field = line.split(" ")[4];
    // mountinfo escapes space, tab, newline and backslash as \ooo octal.
    if (field !== undefined) out.push(field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return out;
}
