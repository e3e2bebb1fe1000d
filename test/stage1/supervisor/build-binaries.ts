/**
 * Builds rkt-launch and rkt-supervisor from this checkout with their own build script, once per
 * test file, into a temp dir removed when the file's tests are done.
 */
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { execTool } from "../../support/exec-tool.js";
import { makeTempDir, removeTempDir } from "../../support/tmp.js";

/** Where {@link buildBinaries} put the programs. */
export interface Binaries {
  readonly launch: string;
  readonly supervisor: string;
  /** Removes the build directory. */
  readonly remove: () => Promise<void>;
}

const BUILD_SH = fileURLToPath(new URL("../../../src/stage1/supervisor/build.sh", import.meta.url));

/**
 * Runs `src/stage1/supervisor/build.sh` into a fresh temp dir.
 *
 * @example
 * let bin: Binaries;
 * before(async () => { bin = await buildBinaries(); });
 * after(() => bin.remove());
 */
export async function buildBinaries(): Promise<Binaries> {
  const dir = await makeTempDir("rkt-supervisor-build-");
  await execTool("/bin/sh", [BUILD_SH, dir]);
  return {
    launch: join(dir, "rkt-launch"),
    supervisor: join(dir, "rkt-supervisor"),
    remove: () => removeTempDir(dir),
  };
}
