/**
 * Work in progress inside the store: every download or unpack happens in its own entry under
 * `cas/tmp/`, guarded by an flock(2) on a sibling lock file. A process that dies (even SIGKILL)
 * drops its flock, so `sweep` can tell abandoned entries from live ones without guessing from
 * pids or ages.
 */
import { randomBytes } from "node:crypto";
import { fstatSync, lstatSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { FileLock } from "../../sys/file-lock.js";

const STALE_UNLOCKED_MS = 10 * 60 * 1000;

export interface TmpEntry {
  /** A path that does not exist yet: create a file or directory there. */
  readonly path: string;
  /** Removes whatever is left at `path` and releases the lock. Safe to call twice. */
  dispose(): void;
  /** Releases the lock after `path` was renamed away. */
  release(): void;
}

export class TmpArea {
  constructor(private readonly dir: string) {}

  create(label: string): TmpEntry {
    mkdirSync(this.dir, { recursive: true });
    const name = `${label}-${process.pid}-${randomBytes(6).toString("hex")}`;
    const path = join(this.dir, name);
    const lockPath = `${path}.lck`;
    const lock = FileLock.tryAcquire(lockPath, "exclusive");
    if (lock === undefined) throw new Error(`cannot lock fresh temp entry ${lockPath}`);
    // A sweeper may have taken the lock file between our open and flock and unlinked it: then we
    // hold a lock nobody can see. Check that the file we locked is still the one at the path.
    if (fstatSync(lock.descriptor).ino !== statSync(lockPath, { throwIfNoEntry: false })?.ino) {
      lock.release();
      return this.create(label);
    }
    let done = false;
    const release = (): void => {
      if (done) return;
      done = true;
      lock.release();
      rmSync(lockPath, { force: true });
    };
    return {
      path,
      release,
      dispose: () => {
        if (done) return;
        rmSync(path, { recursive: true, force: true });
        release();
      },
    };
  }

  /** Removes entries whose owner is gone. Returns how many were removed. */
  sweep(): number {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return 0;
    }
    let removed = 0;
    const entries = new Set(names);
    for (const name of names) {
      if (name.endsWith(".lck")) {
        const base = name.slice(0, -".lck".length);
        const lock = FileLock.tryAcquire(join(this.dir, name), "exclusive");
        if (lock === undefined) continue;
        try {
          rmSync(join(this.dir, base), { recursive: true, force: true });
          rmSync(join(this.dir, name), { force: true });
          removed++;
        } finally {
          lock.release();
        }
      } else if (!entries.has(`${name}.lck`)) {
        // No lock file: its owner died between removing the entry and its lock, or lost the race
        // above. Leave young ones alone in case the latter is still retrying.
        const st = lstatSync(join(this.dir, name), { throwIfNoEntry: false });
        if (st !== undefined && Date.now() - st.mtimeMs > STALE_UNLOCKED_MS) {
          rmSync(join(this.dir, name), { recursive: true, force: true });
          removed++;
        }
      }
    }
    return removed;
  }
}
