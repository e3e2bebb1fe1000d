/**
 * Mounts the engine makes on the host: overlay root filesystems for apps, and the bind mounts that
 * keep a pod's namespaces alive. Syscalls through FFI instead of spawning mount(8): a pod start
 * makes several, and each spawn costs milliseconds.
 */
import { readFileSync } from "node:fs";
import { MNT_DETACH, mount, umount2 } from "./libc.js";

/**
 * Mounts an overlayfs at `target` stacking `lowerDirs` (topmost first) under `upper`/`work`.
 * Lower dirs are passed relative to `lowerBase` (the mount is made with that as the working
 * directory) so that many layers fit in the one-page limit of mount options.
 */
export function mountOverlay(target: string, lowerBase: string, lowerDirs: readonly string[], upper: string, work: string): void {
  const cwd = process.cwd();
  process.chdir(lowerBase);
  try {
    mount("overlay", target, "overlay", 0, `lowerdir=${lowerDirs.join(":")},upperdir=${upper},workdir=${work}`);
  } finally {
    process.chdir(cwd);
  }
}

/** Unmounts `target`, detaching lazily if it is busy. False when nothing was mounted there. */
export function unmount(target: string): boolean {
  try {
    return umount2(target, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EBUSY") return umount2(target, MNT_DETACH);
    throw err;
  }
}

/** Mount points at or below `prefix`, deepest first (the order to unmount them in). */
export function mountsUnder(prefix: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const point = line.split(" ")[4];
    if (point === undefined) continue;
    const path = point.replace(/\\(\d{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
    if (path === prefix || path.startsWith(`${prefix}/`)) out.push(path);
  }
  return out.sort((a, b) => b.length - a.length);
}
