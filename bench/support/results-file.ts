/** Raw benchmark results kept as JSON under bench/out/results/ (gitignored), one file per run. */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { REPO_ROOT } from "./rkt-snapshot.js";

/**
 * Writes `data` to bench/out/results/<name>-<UTC timestamp>.json and returns the path.
 *
 * @example
 * const file = await saveResults("cached-fetch", { samples });
 */
export async function saveResults(name: string, data: unknown): Promise<string> {
  const dir = join(REPO_ROOT, "bench", "out", "results");
  await mkdir(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const file = join(dir, `${name}-${stamp}.json`);
  await writeFile(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}
