/**
 * Peers leave cgroup directories behind: podman with the cgroupfs manager creates
 * `libpod_parent/` (and `libpod_parent/conmon/`) in every hierarchy and never removes them. Like
 * host-paths-guard.ts for files, a guard notes which of the named groups are absent before the
 * benchmark and removes exactly those afterwards (rmdir, innermost first: a cgroup directory can
 * only be removed empty of processes and children, so a group still in use is reported, not
 * forced).
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { execTool } from "../../test/support/exec-tool.js";

const CGROUP_ROOT = "/sys/fs/cgroup";

/** The group names podman (cgroupfs manager) creates under every hierarchy. */
export const PODMAN_CGROUPS: readonly string[] = ["libpod_parent"];

/**
 * Records which of `names` are missing from each hierarchy now; the returned function removes
 * those that exist by then.
 *
 * @example
 * const restore = guardCgroups(PODMAN_CGROUPS);
 * cleanup.defer("remove the cgroups podman created", restore);
 */
export function guardCgroups(names: readonly string[]): () => Promise<void> {
  let hierarchies: string[] = [];
  try {
    hierarchies = readdirSync(CGROUP_ROOT).map((h) => join(CGROUP_ROOT, h));
  } catch {
    // no cgroup file system
  }
  const absent = hierarchies.flatMap((h) => names.map((n) => join(h, n))).filter((p) => !existsSync(p));
  return async () => {
    const failed: string[] = [];
    for (const p of absent) {
      if (!existsSync(p)) continue;
      await execTool("find", [p, "-depth", "-type", "d", "-exec", "rmdir", "{}", ";"]).catch(() => failed.push(p));
    }
    if (failed.length > 0) throw new Error(`cgroups still in use, left in place: ${failed.join(", ")}`);
  };
}
