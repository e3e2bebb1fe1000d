/**
 * Which pod directories are locked, read from the kernel's table of file locks (/proc/locks)
 * instead of probing each one with flock(2).
 *
 * A pod's state is its directory plus whether its lock is held (pod-store.ts). `rkt list` probes
 * by taking the lock for an instant; a read-only service that answered every ListPods that way
 * would briefly hold the locks of exited and prepared pods, and a `rkt gc`, `rkt rm` or
 * `rkt run-prepared` racing it would fail with "in use by another rkt process". /proc/locks lists
 * every held lock with its device and inode (`1: FLOCK ADVISORY WRITE 4678 fe:00:2154498 0 EOF`),
 * so one read answers for all pods, takes no lock, and needs no access to the pod directories.
 *
 * The kernel shows only the locks of processes in the reader's PID namespace: the service must run
 * in the host's (or rkt's) PID namespace, as rkt's own commands do. Without /proc/locks it falls
 * back to probing.
 *
 * @example
 * const locks = LockTable.read();
 * locks.isLocked("/var/lib/rkt/pods/run/0a1b...");
 */
import { readFileSync, statSync } from "node:fs";
import { FileLock } from "../sys/file-lock.js";

/** A snapshot of the host's file locks. */
export class LockTable {
  private constructor(private readonly keys: ReadonlySet<string> | undefined) {}

  /** Reads /proc/locks now (or, where it cannot be read, prepares to probe each path). */
  static read(): LockTable {
    let text: string;
    try {
      text = readFileSync("/proc/locks", "utf8");
    } catch {
      return new LockTable(undefined);
    }
    const keys = new Set<string>();
    for (const line of text.split("\n")) {
      // `N: [-> ]TYPE MODE ACCESS PID MAJ:MIN:INODE START END`; "->" lines are waiters, not holders.
      if (line.includes("->")) continue;
      const id = /\s([0-9a-f]+):([0-9a-f]+):(\d+)\s/.exec(line);
      if (id === null) continue;
      keys.add(`${parseInt(id[1] ?? "", 16)}:${parseInt(id[2] ?? "", 16)}:${id[3] ?? ""}`);
    }
    return new LockTable(keys);
  }

  /** Whether some process holds a lock on `path` (false when it does not exist). */
  isLocked(path: string): boolean {
    if (this.keys === undefined) {
      try {
        return FileLock.isLocked(path, "shared");
      } catch {
        return false;
      }
    }
    const st = statSync(path, { bigint: true, throwIfNoEntry: false });
    if (st === undefined) return false;
    return this.keys.has(deviceKey(st.dev, st.ino));
  }
}

/** `major:minor:inode` in decimal, with glibc's dev_t encoding. */
function deviceKey(dev: bigint, ino: bigint): string {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major}:${minor}:${ino}`;
}
